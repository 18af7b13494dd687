/**
 * bench:soak — a lab's fleet against one server for a fixed wall time, with faults injected,
 * to show it holds up: requests served, errors by kind, p99 latency, RSS after warm-up and at
 * the end (target: no more than 10% growth), and zero lost commands (every command the
 * operator queued has a result or is still queued).
 *
 * Each round moves the virtual clock 15 minutes (every Mac's agent checks in; daily inventory
 * and the reinstall rule run when due), queues a command for a few Macs with a push, and
 * injects or clears a fault on a few: offline, notnow, agent-network-blocked, package-download
 * fail. Latency is the server's, from a request's arrival to its answer's last byte.
 *
 * The store: SOAK_STORE (`sqlite:PATH` or `memory`), by default SQLite in a temp file. A
 * memory store keeps a ring of SOAK_EVENTS events (default 20,000), full by the end of warm-up.
 *
 * Knobs: SOAK_SECONDS (60), SOAK_MACS (200), SOAK_WARMUP (share of the time, 0.25), SOAK_STORE.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import type { Server } from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startLab, type Lab } from '../lab/lab';
import { commands } from '../protocol/command';
import type { DeviceFault } from '../protocol/faults';
import { MemoryStorage } from '../server/storage/memory';
import { openStore } from '../server/storage/open';
import type { Storage } from '../server/storage/types';

const SECONDS = Number(process.env.SOAK_SECONDS ?? 60);
const MACS = Number(process.env.SOAK_MACS ?? 200);
const WARMUP = Number(process.env.SOAK_WARMUP ?? 0.25);
const EVENTS = Number(process.env.SOAK_EVENTS ?? 20_000);
const RSS_GROWTH_LIMIT = 0.1;

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / 1024 / 1024, 1)} MB`;

/** The store to soak, and what to call it in the report: SQLite in a temp file unless SOAK_STORE says. */
function openSoakStore(tempDir: string): { store: Storage; name: string } {
  const wanted = process.env.SOAK_STORE || `sqlite:${join(tempDir, 'soak.db')}`;
  if (wanted === 'memory') return { store: new MemoryStorage({ eventCapacity: EVENTS }), name: `memory (event ring ${fmt(EVENTS)})` };
  return { store: openStore(wanted), name: wanted };
}

class Requests {
  served = 0;
  readonly byKind = new Map<string, number>();
  private latencies: number[] = [];

  watch(server: Server): void {
    server.on('request', (req, res) => {
      const started = process.hrtime.bigint();
      res.on('close', () => {
        this.served++;
        this.latencies.push(Number(process.hrtime.bigint() - started) / 1e6);
        if (res.statusCode >= 400 || !res.writableFinished) {
          const path = (req.url ?? '').split('?')[0]!.replace(/\/[0-9A-F-]{36}(?=\/|$)/gi, '/{id}');
          const kind = `${res.writableFinished ? res.statusCode : 'aborted'} ${req.method} ${path}`;
          this.byKind.set(kind, (this.byKind.get(kind) ?? 0) + 1);
        }
      });
    });
  }

  /** The p-th percentile (0-100) of latencies since the last reset, in ms. */
  percentile(p: number): number {
    if (this.latencies.length === 0) return 0;
    const sorted = Float64Array.from(this.latencies).sort();
    return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  }

  resetLatencies(): void {
    this.latencies = [];
  }
}

function rss(): number {
  (globalThis as { gc?: () => void }).gc?.();
  return process.memoryUsage().rss;
}

const FAULTS: DeviceFault[] = [
  { kind: 'offline', forMs: 2 * 3_600_000 },
  { kind: 'notnow', connects: 2 },
  { kind: 'agent-network-blocked' },
  { kind: 'package-download', mode: 'fail', count: 1 },
];

async function main(): Promise<void> {
  const tempDir = mkdtempSync(join(tmpdir(), 'mdmsim-soak-'));
  const { store, name } = openSoakStore(tempDir);
  const failures: string[] = [];
  const macErrors = new Map<string, number>();
  let lab: Lab | undefined;
  try {
    console.log(`bench:soak — ${MACS} Macs for ${SECONDS} s (warm-up ${fmt(WARMUP * 100)}%), store ${name}`);
    const setupStarted = performance.now();
    lab = await startLab({ devices: MACS, server: { store, apiRateLimits: { perSecond: 0, perHour: 0 } } });
    console.log(`  lab up, ${MACS} Macs enrolled in ${fmt((performance.now() - setupStarted) / 1000, 1)} s`);
    const requests = new Requests();
    requests.watch((lab.server as unknown as { httpServer: Server }).httpServer);
    lab.server.events.subscribe((e) => {
      let kind: string | undefined;
      if (e.type === 'mdm.rejected' || e.type === 'agent.rejected') kind = `${e.type} ${String((e.data as { code?: string })?.code)}`;
      // What the faults show up as: commands a Mac put off or failed (a failed package download, say).
      const status = (e.data as { status?: unknown })?.status;
      if (e.type === 'mdm.command.result' && status !== 'Acknowledged') kind = `result ${String(status)} ${String((e.data as { requestType?: unknown })?.requestType)}`;
      if (kind) macErrors.set(kind, (macErrors.get(kind) ?? 0) + 1);
    });

    const queued: Array<{ udid: string; commandUUID: string }> = [];
    const started = performance.now();
    const warmupEnds = started + SECONDS * 1000 * WARMUP;
    const ends = started + SECONDS * 1000;
    let rssStart: number | undefined;
    let servedAtWarmup = 0;
    let rounds = 0;
    const pick = () => Math.floor(Math.random() * MACS);
    while (performance.now() < ends) {
      rounds++;
      // Faults in and out, a few Macs a round.
      for (let i = 0; i < 2; i++) await lab.fault(pick(), FAULTS[(rounds + i) % FAULTS.length]!);
      if (rounds % 3 === 0) for (let i = 0; i < 3; i++) await lab.clearFaults(pick());
      // The operator queues a command for a few Macs, pushed.
      const udids = [pick(), pick(), pick()].map((n) => lab!.macs[n]!.udid);
      const result = lab.server.service.enqueue(udids, commands.DeviceInformation({ Queries: ['OSVersion', 'SerialNumber'] }));
      for (const udid of result.queued) queued.push({ udid, commandUUID: result.commandUUID });
      await lab.server.pushes?.push(result.queued, 'operator');
      await lab.advance('15m');
      if (rssStart === undefined && performance.now() >= warmupEnds) {
        rssStart = rss();
        servedAtWarmup = requests.served;
        requests.resetLatencies();
      }
    }
    const wall = (performance.now() - started) / 1000;
    const measured = (performance.now() - warmupEnds) / 1000;
    // Every Mac back online and pushed once more, so queued commands get their chance to finish.
    for (let i = 0; i < MACS; i++) await lab.clearFaults(i);
    await lab.advance('4h');
    const rssEnd = rss();

    // Lost: queued by the operator, yet neither answered nor still queued.
    let answered = 0;
    let stillQueued = 0;
    const lost: string[] = [];
    for (const { udid, commandUUID } of queued) {
      if (lab.server.store.listResults({ id: udid, commandUUID }).length > 0) answered++;
      else if (lab.server.store.listQueue(udid).some((q) => q.commandUUID === commandUUID)) stillQueued++;
      else lost.push(`${commandUUID} for ${udid}`);
    }

    const served = requests.served - servedAtWarmup;
    const growth = rssStart === undefined ? NaN : (rssEnd - rssStart) / rssStart;
    console.log(`  ${fmt(rounds)} rounds (${fmt(rounds * 0.25, 1)} virtual hours) in ${fmt(wall, 1)} s`);
    console.log(`  requests served: ${fmt(requests.served)} in all, ${fmt(served)} after warm-up (${fmt(served / measured)}/s)`);
    console.log(`  p99 latency after warm-up: ${fmt(requests.percentile(99), 1)} ms (p50 ${fmt(requests.percentile(50), 2)} ms)`);
    console.log(`  HTTP errors by kind: ${requests.byKind.size === 0 ? 'none' : ''}`);
    for (const [kind, n] of [...requests.byKind].sort(([, a], [, b]) => b - a)) console.log(`    ${fmt(n).padStart(7)}  ${kind}`);
    console.log(`  refusals and unsuccessful results by kind: ${macErrors.size === 0 ? 'none' : ''}`);
    for (const [kind, n] of [...macErrors].sort(([, a], [, b]) => b - a)) console.log(`    ${fmt(n).padStart(7)}  ${kind}`);
    console.log(`  RSS after warm-up ${rssStart === undefined ? 'n/a' : mb(rssStart)}, at the end ${mb(rssEnd)}: ${fmt(growth * 100, 1)}% (target ≤ ${fmt(RSS_GROWTH_LIMIT * 100)}%)`);
    console.log(`  commands queued by the operator: ${fmt(queued.length)}; answered ${fmt(answered)}, still queued ${fmt(stillQueued)}, lost ${fmt(lost.length)}`);

    if (rssStart === undefined) failures.push('the run ended before warm-up did: raise SOAK_SECONDS');
    else if (growth > RSS_GROWTH_LIMIT) failures.push(`RSS grew ${fmt(growth * 100, 1)}% after warm-up (limit ${fmt(RSS_GROWTH_LIMIT * 100)}%)`);
    if (lost.length > 0) failures.push(`${lost.length} command(s) lost, e.g. ${lost.slice(0, 3).join('; ')}`);
    if (requests.byKind.has('500')) failures.push('the server answered 500');
    for (const kind of requests.byKind.keys()) if (kind.startsWith('5')) failures.push(`server errors: ${kind}`);
  } finally {
    await lab?.stop();
    rmSync(tempDir, { recursive: true, force: true });
  }
  console.log(failures.length === 0 ? 'PASS' : `FAIL\n  ${failures.join('\n  ')}`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
