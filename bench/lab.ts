/**
 * bench:lab — the lab at training-class scale, and the dashboard watching it.
 *
 * (1) Wall time to play the agent-reinstall scenario with 1,000 Macs: enroll them (profiles,
 *     Authenticate, TokenUpdate, the agent's install), then ten virtual days of 15-minute agent
 *     check-ins, daily inventory, the fault on day 2 and the reinstall on day 9, every request
 *     real HTTPS on loopback, all in one process (startLab). Its expectations must hold.
 *     The event ring is sized to keep the whole story (about a million events), since the
 *     expectations read it from the first enrollment on.
 * (2) Dashboard event throughput: the page open in Debian's Chromium (headless) on the same
 *     lab, a device chosen so its sequence view draws too. Two runs:
 *     (a) the lab plays one more virtual day: events the page took in per second against the
 *         rate the server produced them in the same run (the baseline), and whether it took
 *         in every one (its last event id and count against the server's); the day before,
 *         played with no page open, shows what watching costs the lab;
 *     (b) a flood: events recorded as fast as the server can stream them (realistic agent
 *         check-ins of the fleet's devices), to find the rate the page sustains without
 *         dropping, again against the server's rate of producing them.
 *     (c) paced: events at a steady rate, from 40,000/s down, until the page follows one with
 *         no cut-off by the server's slow-subscriber limit and under a second behind at the end:
 *         the rate it renders without dropping.
 *     "Took in" = parsed off the WebSocket, counted, and handed to the table, the sequence view
 *     and the clock in the page's batches (window.mdmsimDashboard).
 *
 * Knobs: BENCH_LAB_MACS (1000), BENCH_FLOOD (200000), BENCH_ONLY=1|2.
 */
import { existsSync } from 'node:fs';
import { chromium, type Page } from 'playwright-core';
import { startLab } from '../lab/lab';
import { playScenario } from '../lab/scenario';
import { agentReinstall } from '../lab/scenarios';
import { MemoryStorage } from '../server/storage/memory';

const MACS = Number(process.env.BENCH_LAB_MACS ?? 1000);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 200_000);
const ONLY = process.env.BENCH_ONLY;
const CHROMIUM = process.env.MDMSIM_CHROMIUM ?? '/usr/bin/chromium';
const DAY = 86_400_000;
/** Tried from the fastest down; the first the page follows is its sustained rate. */
const PACED_RATES = [40_000, 30_000, 20_000, 15_000, 12_000, 10_000, 8_000, 6_000, 4_000];
const PACED_SECONDS = Number(process.env.BENCH_PACED_SECONDS ?? 5);

const failures: string[] = [];
const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });

interface PageStats {
  received: number;
  rendered: number;
  firstId: number;
  lastId: number;
  batches: number;
  deviceFetchRounds: number;
  connects: number;
}

const pageStats = async (page: Page) => (await page.evaluate('({ ...window.mdmsimDashboard })')) as PageStats;

/** Polls the page until it has taken in event `lastId`; resolves with the wall time it did (ms, performance.now()). */
async function caughtUp(page: Page, lastId: number, timeoutMs = 600_000): Promise<number> {
  const deadline = performance.now() + timeoutMs;
  for (;;) {
    const s = await pageStats(page);
    if (s.lastId >= lastId) return performance.now();
    if (performance.now() > deadline) throw new Error(`the page stopped at event ${s.lastId} of ${lastId}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** The newest event's id and how many were recorded, followed live. */
const recorded = { lastId: 0, count: 0 };
const lastEventId = () => recorded.lastId;

async function main(): Promise<void> {
  const wallStart = performance.now();
  // About 96 agent check-ins per Mac per day for ten days plus enrollment: keep them all.
  const store = new MemoryStorage({ eventCapacity: Math.max(200_000, MACS * 12 * 96) });
  const lab = await startLab({ devices: 0, server: { store } });
  lab.server.events.subscribe((e) => {
    recorded.lastId = e.id;
    recorded.count++;
  });
  try {
    if (ONLY !== '2') {
      const report = await playScenario({ ...agentReinstall, devices: MACS }, { lab });
      const virtualDays = report.virtualMs / DAY;
      const wallS = (performance.now() - wallStart) / 1000;
      const events = recorded.count;
      console.log(`(1) agent-reinstall, ${fmt(MACS)} Macs: ${fmt(wallS, 1)} s wall (enrollment and ${fmt(virtualDays)} virtual days; the story alone ${fmt(report.wallMs / 1000, 1)} s)`);
      console.log(`    ${fmt((MACS * virtualDays) / (report.wallMs / 1000))} device-days per wall second; ${fmt(events)} events recorded`);
      for (const x of report.expectations) console.log(`    ${x.ok ? '✓' : '✗'} ${x.describe}${x.ok ? '' : `: ${x.failures.slice(0, 3).join('; ')}`}`);
      if (!report.passed) failures.push('(1) the agent-reinstall scenario did not pass');
    } else {
      await lab.enroll(MACS);
    }
    if (ONLY === '1') return;

    if (!existsSync(CHROMIUM)) throw new Error(`(2) needs Chromium at ${CHROMIUM}: sudo apt-get install -y chromium`);
    // What a virtual day costs the lab with nobody watching: the dashboard's cost shows against it.
    const idleFrom = recorded.count;
    const tIdle = performance.now();
    await lab.advance('1d');
    const idleS = (performance.now() - tIdle) / 1000;
    const idleEvents = recorded.count - idleFrom;
    const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox'] });
    try {
      const page = await (await browser.newContext({ ignoreHTTPSErrors: true, viewport: { width: 1400, height: 950 } })).newPage();
      const pageErrors: string[] = [];
      page.on('pageerror', (e) => pageErrors.push(e.message));
      await page.goto(lab.server.info.dashboard);
      await page.locator('#devices tbody tr').nth(MACS - 1).waitFor({ timeout: 60_000 });
      await page.locator('#live-status', { hasText: 'live' }).waitFor();
      await page.locator(`#devices tbody tr[data-udid="${lab.mac(1).udid}"]`).click();
      await page.locator('#sequence-rows .seq-row').first().waitFor();
      // The page's own fetches settle before the measured runs start; a marker shows it is listening.
      await new Promise((r) => setTimeout(r, 1500));
      lab.server.events.record({ type: 'bench.mark', from: 'operator', to: 'mdm', summary: 'bench:lab measures from here' });
      let lastSeenId = lastEventId();
      await caughtUp(page, lastSeenId, 30_000);

      // (a) one more virtual day of the lab, the page watching.
      const before = await pageStats(page);
      const firstA = lastSeenId + 1;
      const t0 = performance.now();
      await lab.advance('1d');
      const tServer = performance.now();
      const lastA = lastEventId();
      lastSeenId = lastA;
      const tPage = await caughtUp(page, lastA);
      const afterA = await pageStats(page);
      const sentA = lastA - firstA + 1;
      const tookA = afterA.rendered - before.rendered;
      const serverRateA = sentA / ((tServer - t0) / 1000);
      const pageRateA = tookA / ((tPage - t0) / 1000);
      console.log(`(2a) one virtual day of ${fmt(MACS)} Macs with the dashboard open: ${fmt(sentA)} events`);
      console.log(`     baseline: the server produced them at ${fmt(serverRateA)} events/s (${fmt((tServer - t0) / 1000, 1)} s); with no page open the day before took ${fmt(idleS, 1)} s (${fmt(idleEvents / idleS)} events/s)`);
      console.log(`     the page took in ${fmt(tookA)} of ${fmt(sentA)} (${tookA === sentA ? 'none dropped' : `${fmt(sentA - tookA)} missing`}) at ${fmt(pageRateA)} events/s, caught up ${fmt(tPage - tServer)} ms after the server finished; ${fmt(afterA.deviceFetchRounds - before.deviceFetchRounds)} device fetch rounds, ${fmt(afterA.batches - before.batches)} batches`);
      if (tookA !== sentA) failures.push(`(2a) the page took in ${tookA} of ${sentA} events`);

      // (b) a flood of realistic events, as fast as the server can record and stream them.
      const firstB = lastSeenId + 1;
      const udids = lab.macs.map((m) => m.udid);
      let n = 0;
      const recordOne = () => {
        lab.server.events.record({
          type: 'agent.checkin',
          udid: udids[n++ % udids.length]!,
          from: 'agent',
          to: 'mdm',
          summary: 'agent 1.4.2 recurring check-in',
          data: { kind: 'recurring', version: '1.4.2', auth: 'session', apps: null },
        });
      };
      const beforeB = await pageStats(page);
      const t1 = performance.now();
      for (let i = 0; i < FLOOD; i++) {
        recordOne();
        // Let the sockets drain now and then, as a real burst would.
        if (i % 2000 === 1999) await new Promise((r) => setImmediate(r));
      }
      const tServerB = performance.now();
      const lastB = lastEventId();
      const tPageB = await caughtUp(page, lastB);
      const afterB = await pageStats(page);
      const sentB = lastB - firstB + 1;
      const tookB = afterB.rendered - beforeB.rendered;
      const serverRateB = sentB / ((tServerB - t1) / 1000);
      const pageRateB = tookB / ((tPageB - t1) / 1000);
      console.log(`(2b) flood: ${fmt(sentB)} agent check-in events recorded back to back`);
      console.log(`     baseline: the server produced and streamed them at ${fmt(serverRateB)} events/s`);
      const cuts = afterB.connects - beforeB.connects;
      console.log(
        `     the page took in ${fmt(tookB)} of ${fmt(sentB)} (${tookB === sentB ? 'none dropped' : `${fmt(sentB - tookB)} missing`}) at ${fmt(pageRateB)} events/s` +
          (cuts > 0 ? `; the server cut the stream ${cuts}× (over 32 MiB waiting for the page) and the page resumed with since=, losing nothing` : '; never cut off'),
      );
      if (tookB !== sentB) failures.push(`(2b) the page took in ${tookB} of ${sentB} events`);

      // (c) paced: the fastest steady rate the page follows with no cut-off and under a second behind.
      let sustained = 0;
      for (const rate of PACED_RATES) {
        await caughtUp(page, lastEventId());
        const before = await pageStats(page);
        const from = lastEventId() + 1;
        const tStart = performance.now();
        const tEnd = tStart + PACED_SECONDS * 1000;
        let done = 0;
        for (let now = tStart; now < tEnd; now = performance.now()) {
          const due = Math.floor(((now - tStart) / 1000) * rate);
          while (done < due) {
            recordOne();
            done++;
          }
          await new Promise((r) => setTimeout(r, 5));
        }
        const tLast = performance.now();
        const last = lastEventId();
        let lagMs: number;
        try {
          lagMs = (await caughtUp(page, last, 120_000)) - tLast;
        } catch {
          lagMs = Infinity;
        }
        const after = await pageStats(page);
        const took = after.rendered - before.rendered;
        const ok = took === last - from + 1 && after.connects === before.connects && lagMs < 1000;
        console.log(`(2c) paced at ${fmt(rate)} events/s for ${PACED_SECONDS} s: the page took in ${fmt(took)} of ${fmt(last - from + 1)}, ${after.connects === before.connects ? 'never cut off' : 'cut off'}, ${Number.isFinite(lagMs) ? `${fmt(lagMs)} ms behind at the end` : 'never caught up'} ${ok ? 'PASS' : '(too fast)'}`);
        if (ok) {
          sustained = rate;
          break;
        }
      }
      console.log(`     the page renders ${fmt(sustained)} events/s without dropping or falling behind; the server produced ${fmt(serverRateB)} events/s flat out and ${fmt(serverRateA)} events/s playing the lab`);
      if (sustained < serverRateA) failures.push(`(2c) the page keeps up with ${sustained} events/s, less than the lab produces (${Math.round(serverRateA)})`);
      if (pageErrors.length > 0) failures.push(`page errors: ${pageErrors.join('; ')}`);
    } finally {
      await browser.close();
    }
  } finally {
    await lab.stop();
  }
}

main().then(
  () => {
    if (failures.length > 0) {
      console.log(`\nFAILED: ${failures.join('; ')}`);
      process.exit(1);
    }
    process.exit(0);
  },
  (error) => {
    console.error(error);
    process.exit(1);
  },
);
