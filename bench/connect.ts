/**
 * npm run bench:connect
 *
 * A full connect cycle — Idle → command plist → Acknowledged → empty 200 — over keep-alive
 * HTTPS, against mdmsim and against a bare node:https handler doing the same I/O, in the
 * same run on the same machine. Each server runs in its own process; the load comes from a
 * lean raw-TLS client so the servers, not the client, are measured. Each connection cycles
 * through its own devices, each holding exactly one queued command; after a pass it queues
 * the next command for them through the control API (work the bare handler skips, so the
 * ratio is, if anything, unfair to mdmsim). Reported: cycles/s,
 * requests/s, server CPU per cycle, and the ratio (target: mdmsim ≥ 50% of bare).
 * Then the heap per enrollment with 100,000 enrollments in the in-memory store.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildPlistBuffer } from '../protocol/plist';
import { RawHttpsConnection } from './lib/raw-client';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1500);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DEVICES_PER_CONNECTION = Number(process.env.BENCH_DEVICES_PER_CONNECTION ?? 250);
const TOPIC = 'com.apple.mgmt.External.5b2a1a3c-0f4e-4f7e-9a57-2f5d7c9e1b11';
const CHECKIN = { 'content-type': 'application/x-apple-aspen-mdm-checkin' };
const CONNECT = { 'content-type': 'application/x-apple-aspen-mdm' };

interface Measurement {
  kind: 'bare' | 'mdmsim';
  cycles: number;
  seconds: number;
  cpuMicros: number;
  dry: number;
}

function message<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve) => child.once('message', (m) => resolve(m as T)));
}

async function run(kind: 'bare' | 'mdmsim'): Promise<Measurement> {
  const dataDir = mkdtempSync(join(tmpdir(), `mdmsim-bench-${kind}-`));
  const child = fork(join(__dirname, 'connect-server.js'), [kind, dataDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: process.env.BENCH_PROFILE_DIR && kind === 'mdmsim' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROFILE_DIR}`] : [] });
  try {
    const { port, ca } = await message<{ port: number; ca: string }>(child);
    const connections = await Promise.all(
      Array.from({ length: CONCURRENCY }, async (_, c) => ({
        conn: await RawHttpsConnection.open('127.0.0.1', port, Buffer.from(ca)),
        devices: Array.from({ length: DEVICES_PER_CONNECTION }, (_, i) => ({ udid: randomUUID().toUpperCase(), serial: `C02B${String(c).padStart(3, '0')}${String(i).padStart(5, '0')}` })),
      })),
    );
    // Both servers get the same requests; only mdmsim needs the enrollments to mean anything.
    if (kind === 'mdmsim') await Promise.all(connections.map(({ conn, devices }) => enroll(conn, devices)));
    await Promise.all(connections.map(({ conn, devices }) => enqueueNext(conn, devices)));

    let measuring = false;
    let stopped = false;
    let cycles = 0;
    let dry = 0;
    const loops = connections.map(async ({ conn, devices }) => {
      const idles = devices.map((d) => buildPlistBuffer({ UDID: d.udid, Status: 'Idle' }));
      while (!stopped) {
        for (let i = 0; i < devices.length && !stopped; i++) {
          const { udid, serial } = devices[i]!;
          const r1 = await conn.request('PUT', '/mdm/connect', CONNECT, idles[i]!);
          const uuid = /<key>CommandUUID<\/key>\s*<string>([^<]+)<\/string>/.exec(r1.body.toString('latin1'))?.[1];
          if (r1.status !== 200 || !uuid) {
            dry++;
            stopped = true;
            break;
          }
          const ack = buildPlistBuffer({ UDID: udid, CommandUUID: uuid, Status: 'Acknowledged', QueryResponses: { OSVersion: '14.4.1', SerialNumber: serial } });
          const r2 = await conn.request('PUT', '/mdm/connect', CONNECT, ack);
          if (r2.status !== 200 || r2.body.length !== 0) throw new Error(`${kind}: Acknowledged answered ${r2.status} ${r2.body}`);
          if (measuring) cycles++;
        }
        if (!stopped) await enqueueNext(conn, devices);
      }
    });
    await sleep(WARMUP_MS);
    child.send({ cmd: 'cpu-start' });
    await message(child);
    measuring = true;
    const t0 = process.hrtime.bigint();
    await sleep(MEASURE_MS);
    measuring = false;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    child.send({ cmd: 'cpu' });
    const { cpuMicros } = await message<{ cpuMicros: number }>(child);
    stopped = true;
    await Promise.all(loops);
    for (const c of connections) c.conn.close();
    return { kind, cycles, seconds, cpuMicros, dry };
  } finally {
    // A clean exit lets --cpu-prof write its profile.
    if (child.connected) child.send({ cmd: 'exit' });
    await new Promise((r) => setTimeout(r, 300));
    child.kill();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

type Device = { udid: string; serial: string };

/** Enroll devices over the wire, as a Mac does: Authenticate, then TokenUpdate. */
async function enroll(conn: RawHttpsConnection, devices: Device[]): Promise<void> {
  for (const { udid, serial } of devices) {
    const auth = { MessageType: 'Authenticate', Topic: TOPIC, UDID: udid, DeviceName: 'Bench Mac', Model: 'MacBookPro18,3', ModelName: 'MacBook Pro', ProductName: 'MacBookPro18,3', SerialNumber: serial, OSVersion: '14.4.1', BuildVersion: '23E224' };
    const tok = { MessageType: 'TokenUpdate', Topic: TOPIC, UDID: udid, Token: randomBytes(32), PushMagic: randomUUID().toUpperCase() };
    for (const m of [auth, tok]) {
      const r = await conn.request('PUT', '/mdm/checkin', CHECKIN, buildPlistBuffer(m));
      if (r.status !== 200) throw new Error(`enrollment failed: ${r.status} ${r.body}`);
    }
  }
}

/** One new command for each of these devices, through the control API. */
async function enqueueNext(conn: RawHttpsConnection, devices: Device[]): Promise<void> {
  const body = Buffer.from(JSON.stringify({ udids: devices.map((d) => d.udid), command: { RequestType: 'DeviceInformation', Queries: ['OSVersion', 'SerialNumber'] } }));
  const r = await conn.request('POST', '/sim/v1/commands?push=false', { 'content-type': 'application/json', authorization: 'Bearer bench-token' }, body);
  if (r.status !== 201) throw new Error(`enqueue failed: ${r.status} ${r.body}`);
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

async function main(): Promise<void> {
  console.log(`connect cycle: Idle → command → Acknowledged → empty 200, keep-alive HTTPS`);
  console.log(`${CONCURRENCY} keep-alive connections × ${DEVICES_PER_CONNECTION} devices, ${WARMUP_MS} ms warm-up, ${MEASURE_MS} ms measured, best of ${ROUNDS} rounds each`);
  const best: Record<'bare' | 'mdmsim', Measurement | undefined> = { bare: undefined, mdmsim: undefined };
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['bare', 'mdmsim'] as const) {
      const m = await run(kind);
      const rate = m.cycles / m.seconds;
      console.log(`  round ${round + 1} ${kind.padEnd(6)} ${fmt(rate)} cycles/s, server CPU ${fmt(m.cpuMicros / m.cycles, 1)} µs/cycle`);
      if (m.dry) throw new Error(`${kind}: an Idle found no queued command`);
      const prev = best[kind];
      if (!prev || rate > prev.cycles / prev.seconds) best[kind] = m;
    }
  }
  const bare = best.bare!;
  const sim = best.mdmsim!;
  const bareRate = bare.cycles / bare.seconds;
  const simRate = sim.cycles / sim.seconds;
  const bareCpu = bare.cpuMicros / bare.cycles;
  const simCpu = sim.cpuMicros / sim.cycles;
  console.log('');
  console.log(`baseline  bare node:https handler : ${fmt(bareRate)} cycles/s (${fmt(bareRate * 2)} req/s), server CPU ${fmt(bareCpu, 1)} µs/cycle`);
  console.log(`measured  mdmsim                  : ${fmt(simRate)} cycles/s (${fmt(simRate * 2)} req/s), server CPU ${fmt(simCpu, 1)} µs/cycle`);
  const ratio = simRate / bareRate;
  console.log(`ratio     mdmsim / bare           : ${fmt(ratio * 100, 1)}% of the baseline's throughput (target ≥ 50%) ${ratio >= 0.5 ? 'PASS' : 'FAIL'}`);
  console.log(`          server CPU per cycle    : mdmsim costs ${fmt(simCpu / bareCpu, 2)}× the bare handler`);
  console.log('');

  // Heap needs --expose-gc and a quiet process of its own.
  const heap = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'heap.js')], { stdio: 'inherit' });
  if (heap.status !== 0) process.exitCode = 1;
  if (ratio < 0.5) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
