/**
 * npm run bench:apns
 *
 * The APNs mock (startApnsMock: HTTP/2 provider API, courier WebSocket, hub, real clock,
 * default in-memory event log), each figure next to a baseline measured in the same run:
 *
 *   1. Throughput, end to end: provider → courier subscriber → ack. A lean HTTP/2 load
 *      generator (bench/lib/apns-h2.ts, the push certificate as client certificate) keeps a
 *      fixed number of pushes in flight over a few connections, POST /3/device/<token>
 *      {"mdm":"<PushMagic>"} round robin over subscribed tokens; courier subscribers on a few
 *      WebSocket connections in the same process receive the push frames and acknowledge them
 *      (batched: one ack frame per connection per event-loop turn). A push counts once its
 *      response has ended and a subscriber has received it; latency = subscriber receive time
 *      − send time (one process, one clock). Baseline: a bare node:http2 echo (same certificate,
 *      same TLS and HTTP/2 settings, requestCert) that reads each body and answers 200 with an
 *      apns-id, driven by the identical load. Target: the mock's push rate ≥ 50% of the echo's
 *      request rate. The server runs in one process pinned to one core, the load in another
 *      pinned to the other (taskset; BENCH_PIN=0 to leave scheduling to the kernel). The lean
 *      client matters: node:http2's own client costs about as much per request as the echo
 *      server, so with it the echo is client-bound and the ratio reads far too kind (try
 *      BENCH_H2_CLIENT=node).
 *   2. Memory per live courier connection: as many idle connections as the open-file limit
 *      allows, up to 20,000, each hello + one subscribed token (one Mac, one connection), held
 *      by client processes; the server process's RSS and heap (after gc) before and after.
 *      Baseline: a bare `ws` WebSocketServer on the same kind of http server, clients just
 *      connecting. Target: ≤ 8 KB (8,192 B) RSS per connection.
 *   3. Memory per subscribed token: 100,000 tokens over 10 connections (subscribe frames of
 *      10,000 devices); for context, a bare Map<string, object> of 100,000 64-character hex
 *      keys in the same process.
 *
 * Environment: BENCH_SESSIONS, BENCH_STREAMS (in flight per session), BENCH_TOKENS,
 * BENCH_SUBSCRIBERS, BENCH_WARMUP_MS, BENCH_MEASURE_MS, BENCH_ROUNDS, BENCH_CONNECTIONS,
 * BENCH_H2_CLIENT=node (node:http2's client instead of the lean one, to cross-check),
 * BENCH_ONLY=throughput|connections|tokens (comma-separated), BENCH_PIN=0, BENCH_PROFILE_DIR=dir
 * (a CPU profile of each server's measured throughput window). The machine's own speed can
 * drift by ±15% within a minute, hence interleaved rounds and the best of each. Exits non-zero
 * when a target is missed, as bench:connect does.
 */
import { execSync, fork, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadOrCreateCa, loadOrCreatePushCert, loadOrCreateServerCert } from '../server/pki';
import type { OpenResult } from './lib/apns-courier-clients';
import type { DrainReport, LoadConfig, LoadReport } from './lib/apns-load';
import type { ApnsServerKind, MemSample, ServerReady } from './lib/apns-server';

const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 2);
const STREAMS = Number(process.env.BENCH_STREAMS ?? 128);
const TOKENS = Number(process.env.BENCH_TOKENS ?? 1000);
const SUBSCRIBERS = Number(process.env.BENCH_SUBSCRIBERS ?? 4);
const WARMUP_MS = Number(process.env.BENCH_WARMUP_MS ?? 1500);
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 3500);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4);
const WANTED_CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 20_000);
const CLIENT = (process.env.BENCH_H2_CLIENT ?? 'raw') as LoadConfig['client'];
const ONLY = (process.env.BENCH_ONLY ?? 'throughput,connections,tokens').split(',');
const TOKEN_COUNT = 100_000;
const TOKEN_CONNECTIONS = 10;
const TOKENS_PER_FRAME = 10_000;
/** Open files a server process keeps for itself (listening sockets, IPC, stdio, libuv, V8). */
const FD_RESERVE = 64;
/** Connections per client process: well under its own open-file limit. */
const PER_CLIENT_PROCESS = 7_000;
const RATE_TARGET = 0.5;
const CONNECTION_TARGET = 8192;
/** Throughput runs: the server on core 0, the load on core 1 (taskset), unless BENCH_PIN=0 or there is no taskset. */
let PIN = process.env.BENCH_PIN !== '0' && cpus().length >= 2 && hasTaskset();

function hasTaskset(): boolean {
  try {
    execSync('taskset -p $$', { stdio: 'ignore', shell: '/bin/sh' });
    return true;
  } catch {
    return false;
  }
}

const children = new Set<ChildProcess>();
let failed = false;

interface Pki {
  dataDir: string;
  ca: string;
  cert: string;
  key: string;
  topic: string;
}

function spawnChild(script: string, args: string[], cpu?: number): ChildProcess {
  const child = fork(join(__dirname, 'lib', script), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: ['--expose-gc'] });
  children.add(child);
  child.once('exit', () => children.delete(child));
  // Every thread of the process (V8's GC helpers included) on one core; threads started later inherit it.
  if (cpu !== undefined && PIN) {
    try {
      execSync(`taskset -a -p -c ${cpu} ${child.pid}`, { stdio: 'ignore' });
    } catch {
      PIN = false;
      console.log('   (taskset failed: processes are not pinned from here on)');
    }
  }
  return child;
}

function ask<T>(child: ChildProcess, message?: object): Promise<T> {
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null) => reject(new Error(`a child process exited (${code}) before answering ${JSON.stringify(message)}`));
    child.once('exit', onExit);
    child.once('message', (m) => {
      child.off('exit', onExit);
      resolve(m as T);
    });
    if (message) child.send(message);
  });
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  if (child.connected) child.send({ cmd: 'exit' });
  const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
  await exited;
  clearTimeout(timer);
}

async function startServer(kind: ApnsServerKind, pki: Pki, profile?: string, cpu?: number): Promise<{ child: ChildProcess; ready: ServerReady }> {
  const child = spawnChild('apns-server.js', [kind, pki.dataDir, ...(profile ? [profile] : [])], cpu);
  const ready = await ask<ServerReady>(child);
  return { child, ready };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

function bytes(n: number): string {
  return `${fmt(n)} B`;
}

// ---------------------------------------------------------------------------------------------
// 1. Throughput

interface Throughput {
  kind: 'echo' | 'mock';
  rate: number;
  report: LoadReport;
  serverCpuMicros: number;
  drain: DrainReport;
  /** Pushes the mock still had unacknowledged after the drain. */
  unacked: number;
}

async function throughputRun(kind: 'echo' | 'mock', pki: Pki, round: number): Promise<Throughput> {
  const profile = process.env.BENCH_PROFILE_DIR ? join(process.env.BENCH_PROFILE_DIR, `apns-${kind}-round${round + 1}.cpuprofile`) : undefined;
  const { child: server, ready } = await startServer(kind, pki, profile, 0);
  const load = spawnChild('apns-load.js', [], 1);
  try {
    const config: LoadConfig = {
      mode: kind,
      providerUrl: ready.providerUrl!,
      courierUrl: ready.courierUrl,
      ca: pki.ca,
      cert: pki.cert,
      key: pki.key,
      topic: pki.topic,
      tokens: TOKENS,
      subscribers: SUBSCRIBERS,
      sessions: SESSIONS,
      streams: STREAMS,
      client: CLIENT,
    };
    await ask(load, { cmd: 'setup', config });
    await ask(load, { cmd: 'run' });
    await sleep(WARMUP_MS);
    await ask(server, { cmd: 'cpu-start' });
    await ask(load, { cmd: 'measure' });
    await sleep(MEASURE_MS);
    const report = await ask<LoadReport>(load, { cmd: 'report' });
    const { cpuMicros } = await ask<{ cpuMicros: number }>(server, { cmd: 'cpu' });
    const drain = await ask<DrainReport>(load, { cmd: 'drain' });
    // Every push a subscriber received was acknowledged: the mock holds none unacknowledged.
    await sleep(100);
    const { unacked } = await ask<MemSample>(server, { cmd: 'mem' });
    return { kind, rate: report.completed / report.seconds, report, serverCpuMicros: cpuMicros, drain, unacked };
  } finally {
    await stop(load);
    await stop(server);
  }
}

async function throughput(pki: Pki): Promise<void> {
  console.log(`1. pushes end to end: provider → courier subscriber → ack`);
  console.log(
    `   load: ${SESSIONS} HTTP/2 connection(s) × ${STREAMS} pushes in flight (${CLIENT === 'raw' ? 'lean client, bench/lib/apns-h2.ts' : 'node:http2 client'}), ${fmt(TOKENS)} tokens round robin; ` +
      `mock: ${SUBSCRIBERS} subscriber connections, acks batched per event-loop turn`,
  );
  console.log(
    `   ${fmt(WARMUP_MS)} ms warm-up, ${fmt(MEASURE_MS)} ms measured, best of ${ROUNDS} interleaved rounds each; ` +
      (PIN ? 'server pinned to core 0, load generator to core 1 (every thread, GC helpers included)' : 'processes not pinned'),
  );
  const best = new Map<string, Throughput>();
  for (let round = 0; round < ROUNDS; round++) {
    for (const kind of ['echo', 'mock'] as const) {
      const t = await throughputRun(kind, pki, round);
      const r = t.report;
      const serverCpu = t.serverCpuMicros / r.completed;
      const clientCpu = r.clientCpuMicros / r.completed;
      console.log(
        `   round ${round + 1} ${kind.padEnd(4)} ${fmt(t.rate).padStart(7)} /s  p50 ${fmt(r.p50 / 1000, 2)} ms  p99 ${fmt(r.p99 / 1000, 2)} ms  ` +
          `server CPU ${fmt(serverCpu, 1)} µs/push (${fmt((t.serverCpuMicros / r.seconds / 1e6) * 100)}% of a core), client ${fmt(clientCpu, 1)} µs (${fmt((r.clientCpuMicros / r.seconds / 1e6) * 100)}%)` +
          (r.errors ? `  ${fmt(r.errors)} ERRORS` : ''),
      );
      const d = t.drain;
      if (d.errors > 0 || d.stuck > 0 || d.errorFrames.length > 0) {
        console.log(`   ${kind}: ${fmt(d.errors)} refused, ${fmt(d.stuck)} never completed, frames: ${d.errorFrames.join(' | ')}`);
        failed = true;
      }
      if (kind === 'mock' && (t.unacked !== 0 || d.received !== d.sent || d.acked !== d.received)) {
        console.log(`   mock: ${fmt(d.sent)} sent, ${fmt(d.received)} received, ${fmt(d.acked)} acked, ${fmt(t.unacked)} still unacknowledged in the mock: MISMATCH`);
        failed = true;
      }
      const prev = best.get(kind);
      if (!prev || t.rate > prev.rate) best.set(kind, t);
    }
  }
  const echo = best.get('echo')!;
  const mock = best.get('mock')!;
  const ratio = mock.rate / echo.rate;
  const ok = ratio >= RATE_TARGET;
  if (!ok) failed = true;
  const perPush = (t: Throughput) => t.serverCpuMicros / t.report.completed;
  console.log(`   baseline  bare node:http2 echo : ${fmt(echo.rate)} requests/s, request-to-response p50 ${fmt(echo.report.p50 / 1000, 2)} ms, p99 ${fmt(echo.report.p99 / 1000, 2)} ms, server CPU ${fmt(perPush(echo), 1)} µs/request`);
  console.log(
    `   measured  APNs mock            : ${fmt(mock.rate)} pushes/s, push-to-delivery p50 ${fmt(mock.report.p50 / 1000, 2)} ms, p99 ${fmt(mock.report.p99 / 1000, 2)} ms ` +
      `(its HTTP/2 response p50 ${fmt(mock.report.responseP50 / 1000, 2)} ms), server CPU ${fmt(perPush(mock), 1)} µs/push`,
  );
  console.log(`   ratio     mock / echo          : ${fmt(ratio * 100, 1)}% of the echo's request rate (target ≥ ${RATE_TARGET * 100}%) ${ok ? 'PASS' : 'FAIL'}`);
  console.log(`             server CPU per push  : the mock costs ${fmt(perPush(mock) / perPush(echo), 2)}× the echo, ${fmt(perPush(mock) - perPush(echo), 1)} µs more`);
  console.log('');
}

// ---------------------------------------------------------------------------------------------
// 2. Memory per courier connection

function softNofile(): number {
  try {
    return Number(execSync('ulimit -Sn', { shell: '/bin/sh', encoding: 'utf8' }).trim());
  } catch {
    return 1024;
  }
}

interface ConnMeasure {
  n: number;
  rss: number;
  heap: number;
  before: MemSample;
  after: MemSample;
  ms: number;
}

async function connectionRun(kind: 'ws' | 'mock', pki: Pki, n: number): Promise<ConnMeasure> {
  const { child: server, ready } = await startServer(kind, pki);
  const processes = Math.max(2, Math.ceil(n / PER_CLIENT_PROCESS));
  const clients = Array.from({ length: processes }, () => spawnChild('apns-courier-clients.js', []));
  try {
    await sleep(200);
    const before = await ask<MemSample>(server, { cmd: 'mem' });
    const share = (i: number) => Math.floor(n / processes) + (i < n % processes ? 1 : 0);
    const results = await Promise.all(
      clients.map((c, i) => ask<OpenResult>(c, { cmd: 'open', url: ready.courierUrl, n: share(i), topic: pki.topic, mode: kind === 'mock' ? 'subscribe' : 'connect' })),
    );
    const opened = results.reduce((a, r) => a + r.opened, 0);
    const bad = results.find((r) => r.failed > 0);
    if (bad) throw new Error(`${kind}: ${results.reduce((a, r) => a + r.failed, 0)} connections failed, e.g. ${bad.firstError}`);
    await sleep(300);
    const after = await ask<MemSample>(server, { cmd: 'mem' });
    if (after.connections !== opened) throw new Error(`${kind}: the server holds ${after.connections} connections, the clients ${opened}`);
    return {
      n: opened,
      rss: (after.rss - before.rss) / opened,
      heap: (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / opened,
      before,
      after,
      ms: Math.max(...results.map((r) => r.ms)),
    };
  } finally {
    await Promise.all(clients.map(stop));
    await stop(server);
  }
}

async function connections(pki: Pki): Promise<void> {
  const soft = softNofile();
  const n = Math.min(WANTED_CONNECTIONS, soft - FD_RESERVE);
  console.log(`2. memory per live courier WebSocket connection (idle; each sent hello and subscribed one token)`);
  if (n < WANTED_CONNECTIONS) {
    console.log(
      `   ${fmt(n)} connections, not ${fmt(WANTED_CONNECTIONS)}: a process may hold ${fmt(soft)} open files here (ulimit -n; the hard limit cannot be raised) ` +
        `and the server needs ${FD_RESERVE} for itself (listening sockets, IPC, stdio, epoll); clients are spread over several processes`,
    );
  } else console.log(`   ${fmt(n)} connections, clients spread over several processes`);
  const bare = await connectionRun('ws', pki, n);
  const mock = await connectionRun('mock', pki, n);
  const ok = mock.rss <= CONNECTION_TARGET;
  if (!ok) failed = true;
  const line = (label: string, m: ConnMeasure) =>
    `   ${label}: RSS ${bytes(m.rss).padStart(8)} per connection, heap+buffers ${bytes(m.heap).padStart(8)} (RSS ${fmt(m.before.rss / 2 ** 20, 1)} → ${fmt(m.after.rss / 2 ** 20, 1)} MiB, heap ${fmt(m.before.heapUsed / 2 ** 20, 1)} → ${fmt(m.after.heapUsed / 2 ** 20, 1)} MiB; ${fmt(m.n)} opened in ${fmt(m.ms / 1000, 1)} s)`;
  console.log(line('baseline  bare ws server', bare));
  console.log(line('measured  APNs courier  ', mock));
  console.log(`   target    ≤ ${fmt(CONNECTION_TARGET)} B RSS per connection (Fleet's mock): ${ok ? 'PASS' : 'FAIL'}; the courier costs ${bytes(mock.rss - bare.rss)} RSS and ${bytes(mock.heap - bare.heap)} heap more than a bare ws connection`);
  console.log('');
}

// ---------------------------------------------------------------------------------------------
// 3. Memory per subscribed token

async function tokens(pki: Pki): Promise<void> {
  console.log(`3. memory per subscribed token: ${fmt(TOKEN_COUNT)} tokens over ${TOKEN_CONNECTIONS} courier connections, subscribe frames of ${fmt(TOKENS_PER_FRAME)} devices`);
  const { child: server, ready } = await startServer('mock', pki);
  const client = spawnChild('apns-courier-clients.js', []);
  try {
    await sleep(200);
    const before = await ask<MemSample>(server, { cmd: 'mem' });
    const r = await ask<OpenResult>(client, { cmd: 'tokens', url: ready.courierUrl, connections: TOKEN_CONNECTIONS, perConnection: TOKEN_COUNT / TOKEN_CONNECTIONS, perFrame: TOKENS_PER_FRAME, topic: pki.topic });
    if (r.failed > 0) throw new Error(`tokens: ${r.failed} connections failed, e.g. ${r.firstError}`);
    await sleep(300);
    const after = await ask<MemSample>(server, { cmd: 'mem' });
    const heap = (after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers) / TOKEN_COUNT;
    const rss = (after.rss - before.rss) / TOKEN_COUNT;
    const map = await ask<{ heap: number; rss: number }>(server, { cmd: 'map', n: TOKEN_COUNT });
    console.log(`   measured  APNs hub    : heap+buffers ${bytes(heap)} per token, RSS ${bytes(rss)} (subscribed in ${fmt(r.ms / 1000, 1)} s, ${r.opened} connections included)`);
    console.log(`             (RSS keeps the high-water mark of reading ${fmt(TOKEN_COUNT / TOKENS_PER_FRAME)} subscribe frames of ~1 MB each; the heap figure is what stays)`);
    console.log(`   context   bare Map    : Map<string, {topic, peer}> of ${fmt(TOKEN_COUNT)} 64-char hex keys: heap+buffers ${bytes(map.heap / TOKEN_COUNT)} per entry, RSS ${bytes(map.rss / TOKEN_COUNT)}, same process`);
    console.log(`             the hub costs ${fmt(heap / (map.heap / TOKEN_COUNT), 2)}× the bare map per token`);
  } finally {
    await stop(client);
    await stop(server);
  }
  console.log('');
}

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const t0 = Date.now();
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-bench-apns-'));
  if (process.env.BENCH_PROFILE_DIR) mkdirSync(process.env.BENCH_PROFILE_DIR, { recursive: true });
  try {
    // Made once, before any server starts, so every server of the run loads the same files.
    const ca = await loadOrCreateCa(dataDir);
    await loadOrCreateServerCert(dataDir, ca, ['127.0.0.1']);
    const push = await loadOrCreatePushCert(dataDir, ca);
    const pki: Pki = { dataDir, ca: ca.certPem, cert: push.certPem, key: push.keyPem, topic: push.topic };
    console.log(`APNs mock vs bare baselines, same run, same machine (${cpus().length} cores, node ${process.version})`);
    console.log('');
    if (ONLY.includes('throughput')) await throughput(pki);
    if (ONLY.includes('connections')) await connections(pki);
    if (ONLY.includes('tokens')) await tokens(pki);
  } finally {
    await Promise.all([...children].map(stop));
    rmSync(dataDir, { recursive: true, force: true });
  }
  console.log(`done in ${fmt((Date.now() - t0) / 1000, 1)} s`);
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  for (const c of children) c.kill('SIGKILL');
  process.exit(1);
});
