/**
 * npm run bench:connect
 *
 * A full connect cycle — Idle → command plist → Acknowledged → empty 200 — over keep-alive
 * HTTPS, against mdmsim and against a bare node:https handler doing the same I/O, in the
 * same run on the same machine. Each server runs in its own process; the load comes from a
 * lean raw-TLS client so the servers, not the client, are measured. Each connection cycles
 * through its own devices, each holding exactly one queued command; after a pass it queues
 * the next command for them through the control API (work the bare handler skips, so the
 * ratio is, if anything, unfair to mdmsim). Two comparisons, each against its own baseline:
 *
 *   (a) unsigned requests: mdmsim with --auth none vs the bare handler;
 *   (b) every MDM request signed as a Mac signs it (Mdm-Signature: a detached CMS made with
 *       the device's own EC P-256 identity, issued by the servers' CA): mdmsim with its default
 *       signature checks vs the bare handler plus one crypto.verify of the Mdm-Signature per
 *       request, so that both pay the same cryptography and the ratio shows mdmsim's own cost.
 *
 * Reported: cycles/s, requests/s, server CPU per cycle, and the ratios (target: mdmsim ≥ 50%
 * of its baseline, in both). Then the heap per enrollment with 100,000 enrollments in the
 * in-memory store. BENCH_PROFILE_DIR=dir writes there a CPU profile of each server's measured
 * window; BENCH_COMPARE=a or b runs one comparison only.
 */
import { fork, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMdmSigner, type MdmSigner } from '../protocol/cms';
import { openEnrollmentProfile } from '../protocol/enrollment-profile';
import { buildPlistBuffer } from '../protocol/plist';
import { issueDeviceIdentity, loadOrCreateCa, loadOrCreatePushCert, type Ca } from '../server/pki';
import type { ServerKind } from './connect-server';
import { RawHttpsConnection } from './lib/raw-client';

const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1500);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 5000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
const DEVICES_PER_CONNECTION = Number(process.env.BENCH_DEVICES_PER_CONNECTION ?? 250);
const COMPARE = process.env.BENCH_COMPARE ?? 'ab';
const CHECKIN = 'application/x-apple-aspen-mdm-checkin';
const CONNECT = 'application/x-apple-aspen-mdm';

/** Which requests are signed, and by what the server is compared against. */
const SIGNED: Record<ServerKind, boolean> = { bare: false, 'mdmsim-none': false, 'bare-verify': true, mdmsim: true };

interface Measurement {
  kind: ServerKind;
  cycles: number;
  seconds: number;
  cpuMicros: number;
  /** The load generator's (this process's) CPU over the measurement. */
  clientCpuMicros: number;
  dry: number;
}

/** A simulated Mac: its identity's signer, and its Idle report signed once (the body never changes). */
interface Device {
  udid: string;
  serial: string;
  signer: MdmSigner;
  idle: Buffer;
  idleSignature: string;
}

/** Identities and the CA they chain to, shared by every server of the run (one data dir). */
interface Fleet {
  dataDir: string;
  ca: Ca;
  topic: string;
  devices: Device[][];
}

function message<T>(child: ChildProcess): Promise<T> {
  return new Promise((resolve) => child.once('message', (m) => resolve(m as T)));
}

async function run(kind: ServerKind, fleet: Fleet, round: number): Promise<Measurement> {
  // The measured window of each server, as a .cpuprofile (open it in Chrome DevTools).
  const profile = process.env.BENCH_PROFILE_DIR ? [join(process.env.BENCH_PROFILE_DIR, `${kind}-round${round + 1}.cpuprofile`)] : [];
  const child = fork(join(__dirname, 'connect-server.js'), [kind, fleet.dataDir, ...profile], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  const signed = SIGNED[kind];
  try {
    const { port, ca } = await message<{ port: number; ca: string }>(child);
    const connections = await Promise.all(
      fleet.devices.map(async (devices) => ({ conn: await RawHttpsConnection.open('127.0.0.1', port, Buffer.from(ca)), devices })),
    );
    // Every server gets the same requests, enrollment included (only mdmsim needs it to mean
    // anything): so a verifying server has seen each certificate before the measurement.
    const topic = kind.startsWith('mdmsim') ? await topicFromProfile(connections[0]!.conn, fleet) : fleet.topic;
    await Promise.all(connections.map(({ conn, devices }) => enroll(conn, devices, topic, signed)));
    if (signed) await mustRefuseUnsigned(kind, connections[0]!.conn, fleet.devices[0]![0]!);
    await Promise.all(connections.map(({ conn, devices }) => enqueueNext(conn, devices)));

    let measuring = false;
    let stopped = false;
    let cycles = 0;
    let dry = 0;
    const loops = connections.map(async ({ conn, devices }) => {
      const idleHeaders = devices.map((d) => headers(CONNECT, signed ? d.idleSignature : undefined));
      while (!stopped) {
        for (let i = 0; i < devices.length && !stopped; i++) {
          const { udid, serial, signer, idle } = devices[i]!;
          const r1 = await conn.request('PUT', '/mdm/connect', idleHeaders[i]!, idle);
          const uuid = /<key>CommandUUID<\/key>\s*<string>([^<]+)<\/string>/.exec(r1.body.toString('latin1'))?.[1];
          if (r1.status !== 200 || !uuid) {
            if (r1.status !== 200) console.error(`${kind}: Idle answered ${r1.status} ${r1.body}`);
            dry++;
            stopped = true;
            break;
          }
          const ack = buildPlistBuffer({ UDID: udid, CommandUUID: uuid, Status: 'Acknowledged', QueryResponses: { OSVersion: '14.4.1', SerialNumber: serial } });
          // The acknowledgement carries the CommandUUID, so it is signed as it is sent.
          const r2 = await conn.request('PUT', '/mdm/connect', headers(CONNECT, signed ? signer.sign(ack) : undefined), ack);
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
    const clientCpu = process.cpuUsage();
    await sleep(MEASURE_MS);
    measuring = false;
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const { user, system } = process.cpuUsage(clientCpu);
    child.send({ cmd: 'cpu' });
    const { cpuMicros } = await message<{ cpuMicros: number }>(child);
    stopped = true;
    await Promise.all(loops);
    for (const c of connections) c.conn.close();
    return { kind, cycles, seconds, cpuMicros, clientCpuMicros: user + system, dry };
  } finally {
    if (child.connected) child.send({ cmd: 'exit' });
    await new Promise((r) => setTimeout(r, 300));
    child.kill();
  }
}

function headers(contentType: string, signature: string | undefined): Record<string, string> {
  return signature === undefined ? { 'content-type': contentType } : { 'content-type': contentType, 'mdm-signature': signature };
}

/**
 * The push Topic devices check in with, from an enrollment profile downloaded as a Mac would
 * (GET /mdm/enroll), checked as a Mac checks it: signed by a signer of the servers' CA.
 */
async function topicFromProfile(conn: RawHttpsConnection, fleet: Fleet): Promise<string> {
  const r = await conn.request('GET', '/mdm/enroll?key=ec', {}, Buffer.alloc(0));
  if (r.status !== 200) throw new Error(`GET /mdm/enroll answered ${r.status} ${r.body}`);
  const { mdm } = openEnrollmentProfile(r.body, { trustedCaCerts: [fleet.ca.certDer] });
  if (!mdm.SignMessage) throw new Error('the enrollment profile does not ask devices to sign their messages');
  if (mdm.Topic !== fleet.topic) throw new Error(`the profile's Topic ${mdm.Topic} is not the data dir's push topic ${fleet.topic}`);
  return mdm.Topic;
}

/** A signature-checking server must refuse an unsigned request: else (b) would measure nothing. */
async function mustRefuseUnsigned(kind: ServerKind, conn: RawHttpsConnection, device: Device): Promise<void> {
  const r = await conn.request('PUT', '/mdm/connect', headers(CONNECT, undefined), device.idle);
  if (r.status !== 400) throw new Error(`${kind}: an unsigned Idle answered ${r.status}, expected 400`);
}

/** One EC P-256 identity per device, issued by the CA the servers load from the shared data dir. */
async function makeFleet(): Promise<Fleet> {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-bench-connect-'));
  const ca = await loadOrCreateCa(dataDir);
  // Made before any server starts, so that every mdmsim server of the run reuses it and its topic.
  const { topic } = await loadOrCreatePushCert(dataDir, ca);
  const issuedAt = Date.now();
  const devices: Device[][] = [];
  for (let c = 0; c < CONCURRENCY; c++) {
    const row: Device[] = [];
    for (let i = 0; i < DEVICES_PER_CONNECTION; i++) {
      const udid = randomUUID().toUpperCase();
      const identity = await issueDeviceIdentity(ca, { keyType: 'ec', now: issuedAt });
      const signer = createMdmSigner(identity);
      const idle = buildPlistBuffer({ UDID: udid, Status: 'Idle' });
      row.push({ udid, serial: `C02B${String(c).padStart(3, '0')}${String(i).padStart(5, '0')}`, signer, idle, idleSignature: signer.sign(idle) });
    }
    devices.push(row);
  }
  return { dataDir, ca, topic, devices };
}

/** Enroll devices over the wire, as a Mac does: Authenticate, then TokenUpdate. */
async function enroll(conn: RawHttpsConnection, devices: Device[], topic: string, signed: boolean): Promise<void> {
  for (const { udid, serial, signer } of devices) {
    const auth = { MessageType: 'Authenticate', Topic: topic, UDID: udid, DeviceName: 'Bench Mac', Model: 'MacBookPro18,3', ModelName: 'MacBook Pro', ProductName: 'MacBookPro18,3', SerialNumber: serial, OSVersion: '14.4.1', BuildVersion: '23E224' };
    const tok = { MessageType: 'TokenUpdate', Topic: topic, UDID: udid, Token: randomBytes(32), PushMagic: randomUUID().toUpperCase() };
    for (const m of [auth, tok]) {
      const body = buildPlistBuffer(m);
      const r = await conn.request('PUT', '/mdm/checkin', headers(CHECKIN, signed ? signer.sign(body) : undefined), body);
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

interface Comparison {
  title: string;
  baseline: ServerKind;
  baselineLabel: string;
  measured: ServerKind;
  measuredLabel: string;
  notes: string[];
}

const ALL_COMPARISONS: Comparison[] = [
  {
    title: '(a) unsigned requests',
    baseline: 'bare',
    baselineLabel: 'bare node:https handler',
    measured: 'mdmsim-none',
    measuredLabel: 'mdmsim --auth none',
    notes: ['the bare handler reads each body and answers the same bytes, nothing else'],
  },
  {
    title: '(b) every MDM request signed (Mdm-Signature, EC P-256 device identities, SHA-256)',
    baseline: 'bare-verify',
    baselineLabel: 'bare handler + crypto.verify',
    measured: 'mdmsim',
    measuredLabel: 'mdmsim, signatures checked',
    notes: [
      'the bare handler also decodes each Mdm-Signature, finds certificate and signature by a minimal DER walk,',
      'takes the certificate\'s KeyObject from a per-certificate cache and crypto.verify()s the body: one verify',
      'per request, as mdmsim; mdmsim also checks the CA chain (cached), validity and the enrollment\'s binding',
    ],
  },
];
const COMPARISONS = ALL_COMPARISONS.filter((_, i) => COMPARE.includes('ab'[i]!));

async function main(): Promise<void> {
  console.log(`connect cycle: Idle → command → Acknowledged → empty 200, keep-alive HTTPS`);
  console.log(`${CONCURRENCY} keep-alive connections × ${DEVICES_PER_CONNECTION} devices, ${WARMUP_MS} ms warm-up, ${MEASURE_MS} ms measured, best of ${ROUNDS} rounds each`);
  if (process.env.BENCH_PROFILE_DIR) mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
  const t = Date.now();
  const fleet = await makeFleet();
  console.log(`${fmt(CONCURRENCY * DEVICES_PER_CONNECTION)} devices, each with its own EC P-256 identity from the servers' CA (issued in ${fmt((Date.now() - t) / 1000, 1)} s)`);
  const kinds = COMPARISONS.flatMap((c) => [c.baseline, c.measured]);
  const best = new Map<ServerKind, Measurement>();
  try {
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of kinds) {
        const m = await run(kind, fleet, round);
        const rate = m.cycles / m.seconds;
        console.log(`  round ${round + 1} ${kind.padEnd(11)} ${fmt(rate).padStart(6)} cycles/s, server CPU ${fmt(m.cpuMicros / m.cycles, 1).padStart(5)} µs/cycle (client ${fmt(m.clientCpuMicros / m.cycles, 1)})`);
        if (m.dry) throw new Error(`${kind}: an Idle found no queued command`);
        const prev = best.get(kind);
        if (!prev || rate > prev.cycles / prev.seconds) best.set(kind, m);
      }
    }
  } finally {
    rmSync(fleet.dataDir, { recursive: true, force: true });
  }
  let ok = true;
  for (const c of COMPARISONS) {
    const bare = best.get(c.baseline)!;
    const sim = best.get(c.measured)!;
    const bareRate = bare.cycles / bare.seconds;
    const simRate = sim.cycles / sim.seconds;
    const bareCpu = bare.cpuMicros / bare.cycles;
    const simCpu = sim.cpuMicros / sim.cycles;
    const ratio = simRate / bareRate;
    ok &&= ratio >= 0.5;
    console.log('');
    console.log(c.title);
    for (const note of c.notes) console.log(`  ${note}`);
    console.log(`baseline  ${c.baselineLabel.padEnd(28)}: ${fmt(bareRate)} cycles/s (${fmt(bareRate * 2)} req/s), server CPU ${fmt(bareCpu, 1)} µs/cycle`);
    console.log(`measured  ${c.measuredLabel.padEnd(28)}: ${fmt(simRate)} cycles/s (${fmt(simRate * 2)} req/s), server CPU ${fmt(simCpu, 1)} µs/cycle`);
    console.log(`ratio     ${'mdmsim / baseline'.padEnd(28)}: ${fmt(ratio * 100, 1)}% of the baseline's throughput (target ≥ 50%) ${ratio >= 0.5 ? 'PASS' : 'FAIL'}`);
    console.log(`          ${'server CPU per cycle'.padEnd(28)}: mdmsim costs ${fmt(simCpu / bareCpu, 2)}× the baseline, ${fmt(simCpu - bareCpu, 1)} µs more`);
  }
  console.log('');

  // Heap needs --expose-gc and a quiet process of its own.
  const heap = spawnSync(process.execPath, ['--expose-gc', join(__dirname, 'heap.js')], { stdio: 'inherit' });
  if (heap.status !== 0) process.exitCode = 1;
  if (!ok) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
