/**
 * bench:api — the Kandji-compatible API over 10,000 devices, beside a bare node:https server.
 *
 * One process: the real mdmsim server (HTTPS, real clock, policies off, rate limits off so the
 * bench measures the API and not the limiter) with BENCH_DEVICES (10,000) devices written
 * straight into its storage (seedDevices: Authenticate, TokenUpdate, agent check-ins, dates
 * spread over months; this measures the API, not enrollment), and one keep-alive undici client.
 *
 * Measured, each a full pagination at limit=300, repeated BENCH_ROUNDS (5) times, median:
 * - GET /api/v1/devices?limit=300&offset=k until the empty array (a bench whose /devices does
 *   not answer 200 fails at once),
 * - GET /api/v1/prism/device_information following cursors from cursor= until a null cursor,
 * - the baseline: a bare node:https server (same TLS certificate, same client) answering the
 *   same pages: each request JSON.stringify()s that page's records, held in memory, which is
 *   the least any JSON server does. Also shown, not a target: the same pages as prebuilt
 *   Buffers (TLS and the client's JSON.parse alone).
 * The client parses every body in all three, as a real client does.
 *
 * Targets: a full pagination of /devices (and of Prism) within 2x the baseline's time; memory
 * flat while paging: heap (JS heap + array buffers, after GC) after BENCH_ROUNDS full passes
 * within 2 MB of the heap before them, i.e. nothing retained per page or per pass. RSS before,
 * at the peak while paging, and after, for information. Run with --expose-gc.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Agent, request } from 'undici';
import { startServer } from '../server/server';
import { seedDevices } from './lib/seed-devices';

const DEVICES = Number(process.env.BENCH_DEVICES ?? 10_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const LIMIT = 300;
const TARGET_RATIO = 2;
const FLAT_BYTES = 2 * 1024 * 1024;
const gc = (globalThis as { gc?: () => void }).gc;

interface Pass {
  ms: number;
  requests: number;
  bytes: number;
  records: number;
}

const mb = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;

function heapNow(): number {
  for (let i = 0; i < 3; i++) gc!();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with node --expose-gc (npm run bench:api does)');
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-bench-api-'));
  const server = await startServer({
    port: 0,
    dataDir,
    clock: 'real',
    apns: false,
    apiRateLimits: { perSecond: 0, perHour: 0 },
    agentPolicy: { installOnEnrollment: false, reinstall: false, inventoryInterval: false },
    onError: (e) => {
      throw e;
    },
  });
  const seedStart = performance.now();
  seedDevices(server.store, DEVICES, Date.now());
  const seedMs = performance.now() - seedStart;

  const ca = readFileSync(server.info.caCert);
  const dispatcher = new Agent({ connect: { ca }, connections: 1, pipelining: 1 });
  const auth = { authorization: `Bearer ${server.apiToken}` };

  const getJson = async (url: string, stats: Pass): Promise<any> => {
    const r = await request(url, { headers: auth, dispatcher });
    const text = await r.body.text();
    if (r.statusCode !== 200) throw new Error(`${url}: ${r.statusCode} ${text.slice(0, 200)}`);
    stats.requests += 1;
    stats.bytes += Buffer.byteLength(text);
    return JSON.parse(text);
  };

  const devicesPass = async (base: string, onPage?: () => void): Promise<Pass> => {
    const stats: Pass = { ms: 0, requests: 0, bytes: 0, records: 0 };
    const t0 = performance.now();
    for (let offset = 0; ; offset += LIMIT) {
      const page = (await getJson(`${base}/api/v1/devices?limit=${LIMIT}&offset=${offset}`, stats)) as unknown[];
      onPage?.();
      if (page.length === 0) break;
      stats.records += page.length;
    }
    stats.ms = performance.now() - t0;
    return stats;
  };

  const prismPass = async (base: string, onPage?: () => void): Promise<Pass> => {
    const stats: Pass = { ms: 0, requests: 0, bytes: 0, records: 0 };
    const t0 = performance.now();
    let cursor = '';
    for (;;) {
      const page = (await getJson(`${base}/api/v1/prism/device_information?limit=${LIMIT}&cursor=${encodeURIComponent(cursor)}`, stats)) as { cursor: string | null; data: unknown[] };
      onPage?.();
      stats.records += page.data.length;
      if (page.cursor === null) break;
      cursor = page.cursor;
    }
    stats.ms = performance.now() - t0;
    return stats;
  };

  // The device routes must answer: a bench that measured Prism alone could print PASS.
  const probe = await request(`${server.url}/api/v1/devices?limit=1`, { headers: auth, dispatcher });
  const probeBody = await probe.body.text();
  if (probe.statusCode !== 200) throw new Error(`FAIL: GET /api/v1/devices?limit=1 answered ${probe.statusCode} ${probeBody.slice(0, 200)}; the bench measures /devices and Prism both`);

  // Warm-up passes, which also capture the pages the baseline serves.
  const devicePages: unknown[][] = [];
  for (let offset = 0; ; offset += LIMIT) {
    const page = (await getJson(`${server.url}/api/v1/devices?limit=${LIMIT}&offset=${offset}`, { ms: 0, requests: 0, bytes: 0, records: 0 })) as unknown[];
    devicePages.push(page);
    if (page.length === 0) break;
  }
  const prismPages: unknown[] = [];
  {
    let cursor = '';
    for (;;) {
      const page = await getJson(`${server.url}/api/v1/prism/device_information?limit=${LIMIT}&cursor=${encodeURIComponent(cursor)}`, { ms: 0, requests: 0, bytes: 0, records: 0 });
      prismPages.push(page);
      if (page.cursor === null) break;
      cursor = page.cursor;
    }
  }

  // The baseline: the same pages from a bare node:https server with the same certificate.
  const tls = { key: readFileSync(join(dataDir, 'server-key.pem')), cert: readFileSync(join(dataDir, 'server.pem')) };
  const prebuilt = {
    devices: devicePages.map((p) => Buffer.from(JSON.stringify(p))),
    prism: prismPages.map((p) => Buffer.from(JSON.stringify(p))),
  };
  const bare: Server = createServer(tls, (req, res) => {
    const url = new URL(req.url ?? '/', 'https://x');
    const kind = url.pathname.includes('prism') ? 'prism' : 'devices';
    const i = Number(url.searchParams.get('page'));
    const body = url.searchParams.get('prebuilt') === '1' ? prebuilt[kind][i]! : JSON.stringify(kind === 'prism' ? prismPages[i] : devicePages[i]);
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
  await new Promise<void>((r) => bare.listen(0, '127.0.0.1', () => r()));
  const bareUrl = `https://127.0.0.1:${(bare.address() as AddressInfo).port}`;
  const barePass = async (kind: 'devices' | 'prism', pages: number, extra = ''): Promise<Pass> => {
    const stats: Pass = { ms: 0, requests: 0, bytes: 0, records: 0 };
    const t0 = performance.now();
    for (let i = 0; i < pages; i++) {
      const path = kind === 'prism' ? '/api/v1/prism/device_information' : '/api/v1/devices';
      const page = await getJson(`${bareUrl}${path}?page=${i}${extra}`, stats);
      stats.records += Array.isArray(page) ? page.length : page.data.length;
    }
    stats.ms = performance.now() - t0;
    return stats;
  };
  // The bare server's certificate names 127.0.0.1 as the mdmsim server's does.
  await barePass('prism', prismPages.length);
  await barePass('devices', devicePages.length);

  // Measured rounds, interleaved so that machine noise hits all of them alike.
  const rssBefore = process.memoryUsage().rss;
  const heapBefore = heapNow();
  let rssPeak = rssBefore;
  let heapPeak = 0;
  const sample = () => {
    const m = process.memoryUsage();
    if (m.rss > rssPeak) rssPeak = m.rss;
    if (m.heapUsed + m.arrayBuffers > heapPeak) heapPeak = m.heapUsed + m.arrayBuffers;
  };
  const runs = { devices: [] as Pass[], prism: [] as Pass[], bareDevices: [] as Pass[], barePrism: [] as Pass[], prebuiltDevices: [] as Pass[], prebuiltPrism: [] as Pass[] };
  const heapAfterRound: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    runs.bareDevices.push(await barePass('devices', devicePages.length));
    runs.devices.push(await devicesPass(server.url, sample));
    runs.prebuiltDevices.push(await barePass('devices', devicePages.length, '&prebuilt=1'));
    runs.barePrism.push(await barePass('prism', prismPages.length));
    runs.prism.push(await prismPass(server.url, sample));
    runs.prebuiltPrism.push(await barePass('prism', prismPages.length, '&prebuilt=1'));
    heapAfterRound.push(heapNow());
  }
  const heapAfter = heapNow();
  const rssAfter = process.memoryUsage().rss;

  const median = (xs: Pass[]) => [...xs].sort((a, b) => a.ms - b.ms)[Math.floor(xs.length / 2)]!;
  const failures: string[] = [];
  const line = (label: string, p: Pass) =>
    `  ${label.padEnd(44)} ${p.ms.toFixed(1).padStart(8)} ms  ${String(p.requests).padStart(3)} requests  ${String(p.records).padStart(6)} records  ${mb(p.bytes)}`;

  console.log(`bench:api — ${DEVICES} devices (seeded through Storage in ${seedMs.toFixed(0)} ms), limit ${LIMIT}, median of ${ROUNDS} full paginations, one keep-alive HTTPS connection`);
  const compare = (name: string, api: Pass[], baseline: Pass[], prebuiltRuns: Pass[]) => {
    const a = median(api);
    const b = median(baseline);
    const ratio = a.ms / b.ms;
    console.log(line(`${name} (mdmsim)`, a));
    console.log(line(`baseline: bare node:https, same pages`, b));
    console.log(line(`reference: bare node:https, prebuilt bodies`, median(prebuiltRuns)));
    const ok = ratio < TARGET_RATIO;
    console.log(`  → ${ratio.toFixed(2)}x the baseline (target < ${TARGET_RATIO}x): ${ok ? 'PASS' : 'FAIL'}`);
    if (!ok) failures.push(`${name}: ${ratio.toFixed(2)}x the baseline`);
    if (a.records !== DEVICES) failures.push(`${name}: paged ${a.records} records, expected ${DEVICES}`);
  };
  compare('GET /api/v1/devices, offset paging', runs.devices, runs.bareDevices, runs.prebuiltDevices);
  compare('GET /api/v1/prism/device_information, cursors', runs.prism, runs.barePrism, runs.prebuiltPrism);

  const growth = heapAfter - heapBefore;
  const flat = growth < FLAT_BYTES;
  console.log(
    `memory: heap after GC ${mb(heapBefore)} before paging, ${heapAfterRound.map(mb).join(' / ')} after each round, ${mb(heapAfter)} after (growth ${mb(growth)}; flat = under ${mb(FLAT_BYTES)}): ${flat ? 'PASS' : 'FAIL'}`,
  );
  console.log(`        peak while paging ${mb(heapPeak)} heap; RSS ${mb(rssBefore)} before, ${mb(rssPeak)} peak, ${mb(rssAfter)} after`);
  if (!flat) failures.push(`heap grew ${mb(growth)} over ${ROUNDS} rounds`);

  await dispatcher.close();
  await new Promise<void>((r) => bare.close(() => r()));
  await server.stop();
  rmSync(dataDir, { recursive: true, force: true });
  console.log(failures.length === 0 ? 'PASS' : `FAIL: ${failures.join('; ')}`);
  process.exit(failures.length === 0 ? 0 : 1);
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
