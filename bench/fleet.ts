/**
 * bench:fleet — simulated Macs against the real server, on this one machine.
 *
 * (a) Enrollment to first agent check-in: `mdmsim serve` (real clock) in a child process on
 *     one core, a Fleet of N Macs (default 10,000) in this process on the other. Every Mac
 *     downloads its profile, sends Authenticate and TokenUpdate, subscribes on the courier,
 *     is pushed, connects, gets InstallEnterpriseApplication, downloads the manifest and the
 *     package, checks the hashes, installs, acknowledges, and its agent checks in. The clock
 *     stops when the server has recorded N agent check-ins.
 *     Targets: ≤ 60 s wall; ≤ 100 KB resident per Mac (server and fleet RSS together, divided by N).
 *     Baseline, same run: the two processes' RSS before any Mac exists, and the wall time of
 *     the same number of HTTPS round trips to the same server (GET /agent/manifest.plist) —
 *     the transport's floor.
 * (b) Device-days: a lab (server, 1,000 Macs, one virtual clock, one process) plays 30 days:
 *     every Mac's agent checks in every 15 minutes and the server sends daily inventory, all
 *     real requests over loopback HTTPS. The server runs in a worker thread on a mirror of
 *     the lab's clock (lab/threaded), the fleet and the clock in the main thread, so the two
 *     sides' TLS, HTTP and CMS work use both cores. Target ≥ 100 simulated device-days per
 *     wall second. Baseline, same run: the same number of agent check-in requests sent
 *     straight from a keep-alive client in the main thread to the same server thread,
 *     without the clock or the Macs.
 *
 * Knobs: BENCH_MACS (10000), BENCH_LAB_MACS (1000), BENCH_DAYS (30), BENCH_ONLY=a|b, BENCH_PIN=0.
 */
import { execSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { Agent as UndiciAgent, type Dispatcher } from 'undici';
import { RealClock } from '../protocol/clock';
import { Fleet } from '../agent-sim';
import { startThreadedLab } from '../lab/threaded';

const MACS = Number(process.env.BENCH_MACS ?? 10_000);
const LAB_MACS = Number(process.env.BENCH_LAB_MACS ?? 1_000);
const DAYS = Number(process.env.BENCH_DAYS ?? 30);
const ONLY = process.env.BENCH_ONLY;
const root = join(__dirname, '../..');

const failures: string[] = [];

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) * 1024 : NaN;
}

/** Pins every thread of a process to the CPU set `set` ("1", or "0-1" to free it again). */
function pin(pid: number, set: number | string): void {
  if (process.env.BENCH_PIN === '0') return;
  try {
    execSync(`taskset -a -p -c ${set} ${pid}`, { stdio: 'ignore' });
  } catch {
    // No taskset, or one core: leave it to the scheduler.
  }
}

const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(0)} MB`;

interface Served {
  child: ChildProcess;
  info: { mdm: string; courier: string; caCert: string; apiToken: string };
  stop(): Promise<void>;
}

async function serve(dataDir: string): Promise<Served> {
  const child = spawn(process.execPath, [join(root, 'bin/mdmsim.js'), 'serve', '--port', '0', '--clock', 'real', '--data-dir', dataDir, '--api-token', 'bench', '--log-level', 'warn'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const info = await new Promise<Served['info']>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => resolve(JSON.parse(line)));
    child.once('exit', (code) => reject(new Error(`mdmsim serve exited with ${code}`)));
  });
  return {
    child,
    info,
    stop: () =>
      new Promise((resolve) => {
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
      }),
  };
}

/**
 * N requests over one keep-alive pool of 64 connections, 64 at a time: the transport's floor,
 * with the HTTP client the fleet itself uses (undici) and nothing else.
 */
async function roundTrips(url: string, ca: Buffer, n: number, method = 'GET', body?: Buffer): Promise<number> {
  const target = new URL(url);
  const agent = new UndiciAgent({ connections: 64, pipelining: 1, connect: { ca } });
  const started = performance.now();
  let next = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const res = await agent.request({ origin: target.origin, path: target.pathname, method: method as Dispatcher.HttpMethod, headers: body ? { 'content-type': 'application/json' } : {}, body });
      await res.body.arrayBuffer();
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  await agent.close();
  return (performance.now() - started) / 1000;
}

async function enrollmentBench(): Promise<void> {
  console.log(`\n(a) ${MACS.toLocaleString('en-US')} Macs from nothing to their agent's first check-in (server: child process, core 0; fleet: this process, core 1)`);
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-bench-fleet-'));
  const server = await serve(dataDir);
  pin(server.child.pid!, 0);
  pin(process.pid, 1);
  try {
    const ca = readFileSync(server.info.caCert);
    const origin = new URL(server.info.mdm).origin;
    global.gc?.();
    const idleRss = rssOf(server.child.pid!) + rssOf(process.pid);
    let checkedIn = 0;
    let resolveAll!: () => void;
    const all = new Promise<void>((r) => (resolveAll = r));
    const counted = new Set<string>();
    const started = performance.now();
    const fleet = await Fleet.start({
      server: origin,
      ca,
      courier: server.info.courier,
      count: MACS,
      seed: 'bench-fleet',
      keyType: 'ec',
      clock: new RealClock(),
      onEvent: (e) => {
        if (e.type === 'mac.agent.checkin' && !counted.has(e.udid)) {
          counted.add(e.udid);
          if (++checkedIn === MACS) resolveAll();
        }
      },
    });
    let lastPrint = 0;
    const report = await fleet.enrollAll({
      onProgress: (done, total) => {
        if (done - lastPrint >= total / 10) {
          lastPrint = done;
          console.log(`   enrolled ${done}/${total} after ${((performance.now() - started) / 1000).toFixed(1)} s; agents checked in: ${checkedIn}`);
        }
      },
    });
    if (report.failed.length > 0) failures.push(`(a) ${report.failed.length} enrollments failed, e.g. ${report.failed[0]!.error}`);
    const timeout = setTimeout(() => resolveAll(), 300_000);
    await all;
    clearTimeout(timeout);
    const wall = (performance.now() - started) / 1000;
    const rss = rssOf(server.child.pid!) + rssOf(process.pid);
    const perMac = rss / MACS;
    const deltaPerMac = (rss - idleRss) / MACS;
    await fleet.stop();
    const trips = MACS * 10;
    const floor = await roundTrips(`${origin}/agent/manifest.plist`, ca, trips);
    console.log(`   agents checked in: ${checkedIn}/${MACS}`);
    console.log(`   wall time:        ${wall.toFixed(1)} s  (target ≤ 60 s)  ${wall <= 60 && checkedIn === MACS ? 'PASS' : 'FAIL'}`);
    console.log(`   baseline:         ${floor.toFixed(1)} s for ${trips.toLocaleString('en-US')} bare HTTPS round trips to the same server (about ten per Mac)`);
    console.log(`   resident per Mac: ${kb(perMac)} (server ${mb(rssOf(server.child.pid!))} + fleet ${mb(rssOf(process.pid))}, over ${MACS}) (target ≤ 100 KB)  ${perMac <= 100 * 1024 ? 'PASS' : 'FAIL'}`);
    console.log(`   baseline:         ${mb(idleRss)} for both processes before any Mac; growth ${kb(deltaPerMac)} per Mac`);
    if (!(wall <= 60) || checkedIn !== MACS) failures.push(`(a) wall ${wall.toFixed(1)} s, ${checkedIn}/${MACS} checked in`);
    if (!(perMac <= 100 * 1024)) failures.push(`(a) ${kb(perMac)} per Mac`);
  } finally {
    await server.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function deviceDaysBench(): Promise<void> {
  console.log(`\n(b) ${LAB_MACS.toLocaleString('en-US')} Macs for ${DAYS} virtual days: agent check-ins every 15 minutes, daily MDM inventory (one process: server in a worker thread, fleet and virtual clock in the main thread)`);
  // (a) pinned this process to one core; the lab's server thread must get the other one.
  pin(process.pid, `0-${cpus().length - 1}`); // not availableParallelism(): it counts the pinned set
  const lab = await startThreadedLab({ devices: 0, seed: 'bench-lab', onError: (error) => failures.push(`(b) server thread: ${(error as Error)?.message ?? String(error)}`) });
  try {
    const enrollStarted = performance.now();
    await lab.enroll(LAB_MACS);
    console.log(`   ${LAB_MACS} Macs enrolled with their agents in ${((performance.now() - enrollStarted) / 1000).toFixed(1)} s`);
    // Counted by the server thread as it records them (its event log is a bounded ring).
    const before = await lab.eventCounts();
    const mainElu = performance.eventLoopUtilization();
    const workerElu = lab.worker.performance.eventLoopUtilization();
    const started = performance.now();
    for (let day = 1; day <= DAYS; day++) {
      await lab.advance('1d');
      if (day % 10 === 0) console.log(`   day ${day}: ${((performance.now() - started) / 1000).toFixed(1)} s`);
    }
    const wall = (performance.now() - started) / 1000;
    const after = await lab.eventCounts();
    const delta = (type: string) => (after[type] ?? 0) - (before[type] ?? 0);
    const agentCheckins = delta('agent.checkin');
    const connects = delta('mdm.connect.idle');
    const busyMain = performance.eventLoopUtilization(mainElu).utilization;
    const busyServer = lab.worker.performance.eventLoopUtilization(workerElu).utilization;
    const deviceDays = LAB_MACS * DAYS;
    const rate = deviceDays / wall;
    const expected = LAB_MACS * DAYS * 96;
    console.log(`   requests over the wire: ${agentCheckins.toLocaleString('en-US')} agent check-ins (${expected.toLocaleString('en-US')} due), ${connects.toLocaleString('en-US')} MDM connects`);
    console.log(`   event loops busy: main (fleet, clock) ${(busyMain * 100).toFixed(0)}%, server thread ${(busyServer * 100).toFixed(0)}%`);
    console.log(`   ${deviceDays.toLocaleString('en-US')} device-days in ${wall.toFixed(1)} s = ${rate.toFixed(0)} device-days per wall second (target ≥ 100)  ${rate >= 100 && agentCheckins >= expected * 0.99 ? 'PASS' : 'FAIL'}`);
    const ca = readFileSync(lab.info.caCert);
    const sample = Math.min(agentCheckins, 200_000);
    const body = Buffer.from(JSON.stringify({ udid: 'bench', serial_number: 'C02BENCH0001', agent_version: '1.4.2', kind: 'recurring', installed_at: new Date().toISOString(), sent_at: new Date().toISOString() }));
    const floor = await roundTrips(`${lab.url}/agent/v1/checkin`, ca, sample, 'POST', body);
    const floorRate = sample / floor;
    console.log(`   baseline: bare keep-alive POSTs to /agent/v1/checkin from this thread to the server thread (no clock, no Macs, rejected unsigned): ${floorRate.toFixed(0)} requests/s; the lab ran ${(agentCheckins / wall).toFixed(0)} agent check-ins/s`);
    if (!(rate >= 100) || agentCheckins < expected * 0.99) failures.push(`(b) ${rate.toFixed(0)} device-days/s, ${agentCheckins}/${expected} check-ins`);
  } finally {
    await lab.stop();
  }
}

async function main(): Promise<void> {
  console.log(`bench:fleet on ${cpus().length} cores, Node ${process.version}`);
  if (ONLY !== 'b') await enrollmentBench();
  if (ONLY !== 'a') await deviceDaysBench();
  if (failures.length > 0) {
    console.log(`\ntargets missed:\n  ${failures.join('\n  ')}`);
    process.exit(1);
  }
  console.log('\nall targets met');
  process.exit(0);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
