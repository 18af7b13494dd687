/**
 * The dashboard in a real browser (Debian's Chromium, headless, driven by playwright-core)
 * against a real lab: server and simulated Macs on a virtual clock, over real sockets. Each
 * state the tests reach is saved as a screenshot under test-artifacts/dashboard/.
 */
import type { Browser, Page, WebSocketRoute } from 'playwright-core';
import type { ScenarioState } from '../../protocol/scenario-state';
import { startLab, type Lab } from '../../lab/lab';
import { startTestServer } from '../helpers/server';
import { launchChromium, openPage, snapshot } from './chromium';

jest.setTimeout(120_000);

const DAY = 86_400_000;

let browser: Browser;
beforeAll(async () => {
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
});

/** Errors thrown in the page: any is a bug, and fails the test that saw it. */
let pageErrors: string[] = [];
beforeEach(() => {
  pageErrors = [];
});
afterEach(() => {
  expect(pageErrors).toEqual([]);
});

const rows = (page: Page) => page.locator('#devices tbody tr');
const row = (page: Page, udid: string) => page.locator(`#devices tbody tr[data-udid="${udid}"]`);
const cellAt = (page: Page, udid: string, column: 'mdm-checkin' | 'agent-checkin') => row(page, udid).locator(`td.${column}`).getAttribute('data-at');

async function openDashboard(lab: Lab): Promise<Page> {
  const page = await openPage(browser, pageErrors);
  await page.goto(lab.server.info.dashboard);
  await page.locator('#devices tbody tr').nth(lab.macs.length - 1).waitFor();
  // Live: the stream is open before anything is clicked.
  await page.locator('#live-status', { hasText: 'live' }).waitFor();
  return page;
}

/** Clicks an advance button and waits until the page shows the clock there and its buttons are back. */
async function advance(page: Page, button: '#advance-1h' | '#advance-1d' | '#advance-7d', lab: Lab): Promise<void> {
  await page.click(button);
  await page.locator('#advance-1h:not([disabled])').waitFor();
  const now = new Date(lab.now()).toISOString();
  await page.locator(`#clock-now[data-now="${now}"]`).waitFor();
}

describe('the dashboard with a lab of three Macs', () => {
  let lab: Lab;
  beforeEach(async () => {
    lab = await startLab({ devices: 3 });
  });
  afterEach(async () => {
    await lab?.stop();
  });

  it('loads with the fleet listed, takes the token out of the address bar, and shows the clock', async () => {
    const page = await openDashboard(lab);
    await expect(rows(page).count()).resolves.toBe(3);
    const devices = lab.macs.map((m) => lab.server.store.getEnrollment(m.udid)!);
    for (const d of devices) {
      const cells = await row(page, d.id).locator('td').allTextContents();
      expect(cells.slice(0, 3)).toEqual([d.deviceName, d.serialNumber, `macOS ${d.osVersion}`]);
      await expect(cellAt(page, d.id, 'mdm-checkin')).resolves.toBe(new Date(d.lastSeenAt).toISOString());
      await expect(cellAt(page, d.id, 'agent-checkin')).resolves.toBe(new Date(d.agentLastCheckinAt!).toISOString());
      expect(cells[5]).toMatch(/^ok · v/);
    }
    // The token went from the URL into this tab's session storage.
    expect(page.url()).toBe(`${lab.server.url}/`);
    await expect(page.evaluate('sessionStorage.getItem("mdmsim.apiToken")')).resolves.toBe(lab.server.apiToken);
    await expect(page.locator('#clock-now').getAttribute('data-now')).resolves.toBe(new Date(lab.now()).toISOString());
    await expect(page.locator('#clock-mode').textContent()).resolves.toBe('(virtual)');
    await expect(page.locator('#scenario-body').textContent()).resolves.toContain('No scenario is playing');
    await snapshot(page, '01-fleet-listed');
  });

  it('"advance 7 days" moves the clock and updates the check-in columns from the live stream', async () => {
    const page = await openDashboard(lab);
    const before = await Promise.all(lab.macs.map(async (m) => [await cellAt(page, m.udid, 'mdm-checkin'), await cellAt(page, m.udid, 'agent-checkin')]));
    const start = lab.now();
    await advance(page, '#advance-7d', lab);
    expect(lab.now()).toBe(start + 7 * DAY);
    for (const [i, m] of lab.macs.entries()) {
      const d = lab.server.store.getEnrollment(m.udid)!;
      // What the server recorded, shown in the page (the daily inventory and the agent's 15-minute check-ins).
      const mdm = new Date(d.lastSeenAt).toISOString();
      const agent = new Date(d.agentLastCheckinAt!).toISOString();
      await row(page, m.udid).locator(`td.mdm-checkin[data-at="${mdm}"]`).waitFor();
      await row(page, m.udid).locator(`td.agent-checkin[data-at="${agent}"]`).waitFor();
      expect(Date.parse(mdm)).toBeGreaterThan(start + 6 * DAY);
      expect(Date.parse(agent)).toBeGreaterThan(start + 7 * DAY - 3_600_000);
      expect([mdm, agent]).not.toEqual(before[i]);
    }
    const count = Number(await page.locator('#live-count').getAttribute('data-rendered'));
    expect(count).toBeGreaterThan(1000);
    await snapshot(page, '02-after-7-days');
  });

  it('injecting "agent uninstalled" and advancing makes the reinstall appear in the sequence view', async () => {
    const page = await openDashboard(lab);
    const mac2 = lab.mac(1).udid;
    await row(page, mac2).click();
    await page.locator('#device-detail').waitFor();
    await page.locator('#sequence-rows .seq-row').first().waitFor();
    await page.selectOption('#fault-kind', 'agent-uninstalled');
    await page.click('#inject-fault');
    await page.locator('#action-result', { hasText: 'fault injected: agent-uninstalled' }).waitFor();
    await page.locator('#device-faults', { hasText: 'agent not-installed' }).waitFor();
    await page.locator('#sequence-rows .seq-row[data-type="sim.fault"]').waitFor();
    await snapshot(page, '03-agent-uninstalled');

    await advance(page, '#advance-7d', lab);
    await advance(page, '#advance-1d', lab);
    const fired = lab.events({ type: 'agent.reinstall.fired', udid: mac2 });
    expect(fired).toHaveLength(1);
    // The story, as rows of the sequence view: the rule, the install reaching the Mac, the agent back.
    const seq = page.locator('#sequence-rows');
    await seq.locator(`.seq-row[data-id="${fired[0]!.id}"]`).waitFor();
    const delivered = lab.events({ type: 'mdm.command.delivered', udid: mac2 }).filter((e) => e.at >= fired[0]!.at && (e.data as { requestType?: string }).requestType === 'InstallEnterpriseApplication');
    expect(delivered).toHaveLength(1);
    await seq.locator(`.seq-row[data-id="${delivered[0]!.id}"]`).waitFor();
    await expect(seq.locator(`.seq-row[data-id="${delivered[0]!.id}"] .arrow`).getAttribute('class')).resolves.toBe('arrow left from-mdm');
    await expect(seq.locator(`.seq-row[data-id="${delivered[0]!.id}"]`).textContent()).resolves.toContain('InstallEnterpriseApplication');
    const install = lab.events({ type: 'agent.checkin', udid: mac2 }).find((e) => e.at >= fired[0]!.at)!;
    await seq.locator(`.seq-row[data-id="${install.id}"] .arrow.from-agent`).waitFor();
    // Only this Mac's exchanges are drawn.
    const shownIds = await seq.locator('.seq-row').evaluateAll((els) => els.map((el) => Number(el.getAttribute('data-id'))));
    const mine = new Set(lab.events({ udid: mac2 }).map((e) => e.id));
    expect(shownIds.every((id) => mine.has(id))).toBe(true);
    // The table says so too: the agent checks in again.
    await row(page, mac2).locator('td.agent-state[data-kind="ok"]').waitFor();
    await seq.locator(`.seq-row[data-id="${fired[0]!.id}"]`).scrollIntoViewIfNeeded();
    await snapshot(page, '04-reinstall-in-sequence');
  });

  it('device actions reach the Mac: DeviceInformation, push and reinstall agent', async () => {
    const page = await openDashboard(lab);
    const mac1 = lab.mac(0).udid;
    await row(page, mac1).click();
    await page.locator('#device-detail').waitFor();
    await page.click('#action-devinfo');
    await page.locator('#action-result', { hasText: /^DeviceInformation .* queued$/ }).waitFor();
    const uuid = (await page.locator('#action-result').textContent())!.split(' ')[1]!;
    const result = lab.events({ type: 'mdm.command.result', udid: mac1 }).find((e) => (e.data as { commandUUID?: string }).commandUUID === uuid);
    expect(result?.data).toMatchObject({ status: 'Acknowledged', requestType: 'DeviceInformation' });
    await page.locator(`#sequence-rows .seq-row[data-id="${result!.id}"]`).waitFor();

    await page.click('#action-reinstall');
    await page.locator('#action-result', { hasText: /^agent InstallEnterpriseApplication .* queued \(attempt \d+\) and pushed$/ }).waitFor();
    expect(lab.events({ type: 'agent.install.queued', udid: mac1 }).at(-1)?.data).toMatchObject({ reason: 'request' });

    const pushesBefore = lab.events({ type: 'mdm.push.sent', udid: mac1 }).length;
    await page.click('#action-push');
    await page.locator('#action-result', { hasText: 'pushed: 1 sent' }).waitFor();
    expect(lab.events({ type: 'mdm.push.sent', udid: mac1 }).length).toBe(pushesBefore + 1);

    // A fault from the menu, then cleared: the Mac's own fault state is shown each time.
    await page.selectOption('#fault-kind', 'offline');
    await page.fill('#fault-param', '2h');
    await page.click('#inject-fault');
    await page.locator('#device-faults', { hasText: 'Mac offline, agent running; faults: offline' }).waitFor();
    await expect(lab.fleet.faults.get(mac1)).resolves.toMatchObject({ online: false });
    await page.click('#clear-faults');
    await page.locator('#action-result', { hasText: 'faults cleared' }).waitFor();
    await page.locator('#device-faults', { hasText: 'Mac online, agent running; faults: none' }).waitFor();
    await snapshot(page, '05-device-actions');
  });

  it('play advances the clock a step at a time until paused', async () => {
    const page = await openDashboard(lab);
    const start = lab.now();
    await page.selectOption('#play-step', '1h');
    await page.click('#play');
    await expect(page.locator('#play').getAttribute('aria-pressed')).resolves.toBe('true');
    // While playing, the one-off advance buttons wait.
    await expect(page.locator('#advance-1d').isDisabled()).resolves.toBe(true);
    await page.locator(`#clock-now[data-now="${new Date(start + 2 * 3_600_000).toISOString()}"]`).waitFor();
    await page.click('#play');
    await page.locator('#play', { hasText: 'play' }).waitFor();
    await page.locator('#advance-1d:not([disabled])').waitFor();
    const moved = lab.now() - start;
    expect(moved % 3_600_000).toBe(0);
    expect(moved).toBeGreaterThanOrEqual(2 * 3_600_000);
    const advances = lab.events({ type: 'clock.advance' });
    expect(advances.length).toBe(moved / 3_600_000);
    expect(advances.every((e) => (e.data as { by?: string }).by === '1h')).toBe(true);
  });

  it('shows server errors in a banner and keeps working, and says so when the server goes away', async () => {
    const page = await openDashboard(lab);
    await row(page, lab.mac(0).udid).click();
    await page.locator('#device-detail').waitFor();
    // A fault the server refuses: its own words reach the page.
    await page.selectOption('#fault-kind', 'notnow');
    await page.fill('#fault-param', 'many');
    await page.click('#inject-fault');
    const banner = page.locator('#banners .banner[data-key="request"]');
    await banner.waitFor();
    await expect(banner.locator('.message').textContent()).resolves.toBe('fault.connects must be a whole number from 1 to 1000000');
    await expect(banner.locator('.code').textContent()).resolves.toBe('400 bad-fault');
    await snapshot(page, '06-server-error-banner');
    await banner.locator('button').click();
    await expect(banner.count()).resolves.toBe(0);

    // No simulator to take faults (mdmsim serve): 501 with its hint.
    lab.server.setDeviceFaultHandler(undefined);
    await page.selectOption('#fault-kind', 'agent-crashed');
    await page.click('#inject-fault');
    await banner.locator('.code', { hasText: '501 no-simulator' }).waitFor();
    await expect(banner.locator('.hint').textContent()).resolves.toContain('setDeviceFaultHandler');
    lab.server.setDeviceFaultHandler(lab.fleet.faults);

    // The server stops: the page says it lost the stream, and stays usable.
    const serial = lab.device(2)!.serialNumber!;
    await lab.stop();
    const stream = page.locator('#banners .banner[data-key="stream"]');
    await stream.waitFor();
    await page.locator('#live-status', { hasText: 'disconnected' }).waitFor();
    await page.click('#advance-1h');
    await banner.locator('.code', { hasText: 'unreachable' }).waitFor();
    await expect(banner.locator('.message').textContent()).resolves.toMatch(/^cannot reach the mdmsim server/);
    await page.fill('#device-filter', serial);
    await expect(rows(page).locator('visible=true').count()).resolves.toBe(1);
    await stream.locator('.message', { hasText: /cannot reach the mdmsim server|Live updates interrupted/ }).waitFor();
    await snapshot(page, '07-server-gone');
  });

  it('reconnects a dropped event stream from the last event it saw, missing nothing', async () => {
    const sockets: WebSocketRoute[] = [];
    const urls: string[] = [];
    const page = await openPage(browser, pageErrors);
    await page.routeWebSocket(/\/sim\/v1\/events\/stream/, (ws) => {
      urls.push(ws.url());
      sockets.push(ws);
      ws.connectToServer();
    });
    await page.goto(lab.server.info.dashboard);
    await page.locator('#live-status', { hasText: 'live' }).waitFor();
    await lab.push(0);
    const seen = lab.events().at(-1)!.id;
    await page.locator(`#live-count[data-last-id="${seen}"]`).waitFor();

    // The connection drops; while the page waits to reconnect, the lab moves on.
    await sockets[0]!.close({ code: 1012, reason: 'test: dropped' });
    await page.locator('#banners .banner[data-key="stream"]', { hasText: 'Live updates interrupted: test: dropped' }).waitFor();
    await lab.advance('2h');
    const last = lab.events().at(-1)!.id;
    await page.locator('#live-status', { hasText: 'live' }).waitFor();
    await page.locator(`#live-count[data-last-id="${last}"]`).waitFor();
    expect(urls).toHaveLength(2);
    expect(new URL(urls[1]!).searchParams.get('since')).toBe(String(seen));
    // Every event once, none missed: from the first event the page saw to the last, the replay filling the gap.
    const stats = (await page.evaluate('({ ...window.mdmsimDashboard })')) as { rendered: number; firstId: number; lastId: number };
    expect(stats.lastId).toBe(last);
    expect(stats.rendered).toBe(lab.events().filter((e) => e.id >= stats.firstId && e.id <= last).length);
    expect(stats.firstId).toBeLessThanOrEqual(seen);
    await expect(page.locator('#banners .banner[data-key="stream"]').count()).resolves.toBe(0);
  });
});

describe('the dashboard elsewhere', () => {
  it('asks for the token when the URL has none, refuses a wrong one, and opens with the right one', async () => {
    const lab = await startLab({ devices: 1 });
    try {
      const page = await openPage(browser, pageErrors);
      await page.goto(`${lab.server.url}/`);
      await page.locator('#token-form').waitFor();
      await expect(page.locator('#main').isHidden()).resolves.toBe(true);
      await page.fill('#token-input', 'not-the-token');
      await page.click('#token-form button[type="submit"]');
      await page.locator('#token-error', { hasText: 'The server refused this token.' }).waitFor();
      await snapshot(page, '08-token-asked');
      await page.fill('#token-input', lab.server.apiToken);
      await page.click('#token-form button[type="submit"]');
      await rows(page).first().waitFor();
      await expect(rows(page).count()).resolves.toBe(1);

      // A URL with a token the server refuses (an old server's): asked again, with the reason.
      const stale = await openPage(browser, pageErrors);
      await stale.goto(`${lab.server.url}/#token=an-old-token`);
      await stale.locator('#token-error', { hasText: 'The server refused the token this page had' }).waitFor();
      await expect(stale.evaluate('sessionStorage.getItem("mdmsim.apiToken")')).resolves.toBeNull();
    } finally {
      await lab.stop();
    }
  });

  it('disables the clock controls with a note on a real-time server', async () => {
    const t = await startTestServer({ clock: 'real' });
    try {
      const page = await openPage(browser, pageErrors);
      await page.goto(t.server.info.dashboard);
      await page.locator('#clock-mode', { hasText: '(real)' }).waitFor();
      for (const id of ['#advance-1h', '#advance-1d', '#advance-7d', '#play']) await expect(page.locator(id).isDisabled()).resolves.toBe(true);
      await expect(page.locator('#clock-note').textContent()).resolves.toContain('real time');
      await snapshot(page, '09-real-clock');
    } finally {
      await t.stop();
    }
  });

  it('shows the scenario and turns its expectations green or red as scenario events arrive', async () => {
    const t = await startTestServer();
    try {
      const story: ScenarioState = {
        name: 'agent-reinstall',
        title: 'The 7-day agent-reinstall rule',
        description: 'Mac 2 loses its agent on day 2; seven days later MDM reinstalls it.',
        startedAt: '2026-01-05T09:00:00.000Z',
        endsAt: '2026-01-15T09:00:00.000Z',
        state: 'playing',
        steps: [{ at: 'day 2', describe: "Mac 2's agent is uninstalled", done: false }],
        expectations: [
          { describe: 'the rule fires for Mac 2 alone', status: 'pending', failures: [] },
          { describe: 'Macs 1 and 3 see no reinstall', status: 'pending', failures: [] },
        ],
      };
      let current = story;
      t.server.setScenarioSource(() => current);
      const page = await openPage(browser, pageErrors);
      await page.goto(t.server.info.dashboard);
      await page.locator('#scenario-body .title', { hasText: story.title }).waitFor();
      await expect(page.locator('#scenario .expectation.pending').count()).resolves.toBe(2);

      current = {
        ...story,
        state: 'done',
        steps: [{ ...story.steps[0]!, done: true }],
        expectations: [
          { describe: 'the rule fires for Mac 2 alone', status: 'held', failures: [] },
          { describe: 'Macs 1 and 3 see no reinstall', status: 'failed', failures: ['Mac 1: InstallEnterpriseApplication was delivered 2 times'] },
        ],
      };
      t.server.events.record({ type: 'scenario.expectation', from: 'operator', to: 'mdm', summary: 'the rule fires for Mac 2 alone: held', data: { describe: 'the rule fires for Mac 2 alone', status: 'held' } });
      await page.locator('#scenario .expectation.held', { hasText: 'the rule fires for Mac 2 alone' }).waitFor();
      await page.locator('#scenario .expectation.failed .failures', { hasText: 'delivered 2 times' }).waitFor();
      await page.locator('#scenario li.done', { hasText: "Mac 2's agent is uninstalled" }).waitFor();
      await expect(page.locator('#scenario-body').getAttribute('data-state')).resolves.toBe('done');
      await snapshot(page, '10-scenario-expectations');
    } finally {
      await t.stop();
    }
  });
});
