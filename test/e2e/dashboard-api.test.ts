/**
 * The dashboard's server side over real HTTPS: the page and its modules at `/` (bundled, no
 * CDN, locked down by CSP), the scenario panel's contract (GET /sim/v1/scenario fed by
 * server.setScenarioSource) and the operator's agent reinstall for one device.
 * What the page does with them is test/browser's job.
 */
import { readdirSync } from 'node:fs';
import type { ScenarioState } from '../../protocol/scenario-state';
import { dashboardStaticDir } from '../../server/dashboard';
import { startLab, type Lab } from '../../lab/lab';
import { HttpsClient } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';

jest.setTimeout(60_000);

describe('the dashboard page', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());

  it('serves the page at / with a strict CSP, and every module it loads, without a token', async () => {
    const page = await t.http.send('GET', '/');
    expect(page.status).toBe(200);
    expect(page.headers['content-type']).toMatch(/^text\/html/);
    const csp = String(page.headers['content-security-policy']);
    expect(csp).toContain("script-src 'self'");
    expect(csp).toContain("connect-src 'self'");
    expect(page.headers['referrer-policy']).toBe('no-referrer');
    const html = page.body.toString();
    expect(html).toContain('<script type="module" src="/dashboard/app.js">');
    // Nothing from elsewhere: the lab machine may have no internet.
    expect(html).not.toMatch(/(src|href)="https?:/);

    for (const file of readdirSync(dashboardStaticDir()).filter((f) => f !== 'index.html')) {
      const asset = await t.http.send('GET', `/dashboard/${file}`);
      expect([file, asset.status]).toEqual([file, 200]);
      expect(asset.headers['content-type']).toMatch(file.endsWith('.js') ? /javascript/ : /text\/css/);
      const text = asset.body.toString();
      expect(text).not.toMatch(/(from|import)\s*['"]https?:/);
      // Each relative import resolves to a file that is served.
      for (const [, dep] of text.matchAll(/from '\.\/([\w-]+\.js)'/g)) expect(readdirSync(dashboardStaticDir())).toContain(dep);
    }
  });

  it('answers a missing asset 404 as JSON, and the ready line carries the token in the fragment', async () => {
    const missing = await t.http.send('GET', '/dashboard/nope.js');
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString()).error.code).toBe('not-found');
    expect(t.server.info.dashboard).toBe(`${t.server.url}/#token=test-token`);
  });
});

describe('GET /sim/v1/scenario', () => {
  let t: TestServer;
  beforeAll(async () => {
    t = await startTestServer();
  });
  afterAll(() => t.stop());

  const story: ScenarioState = {
    name: 'agent-reinstall',
    title: 'The 7-day agent-reinstall rule',
    description: 'Mac 2 loses its agent on day 2.',
    startedAt: '2026-01-05T09:00:00.000Z',
    endsAt: '2026-01-15T09:00:00.000Z',
    state: 'playing',
    steps: [{ at: 'day 2', describe: "Mac 2's agent is uninstalled", done: true }],
    expectations: [
      { describe: 'the rule fires for Mac 2 alone', status: 'held', failures: [] },
      { describe: 'Macs 1 and 3 see no reinstall', status: 'failed', failures: ['Mac 1: InstallEnterpriseApplication was delivered 2 times'] },
      { describe: 'Mac 2 checks in again', status: 'pending', failures: [] },
    ],
  };

  it('answers {"scenario": null} until a source is set, then what the source says on each request', async () => {
    expect((await t.http.api('GET', '/sim/v1/scenario', t.token)).json).toEqual({ scenario: null });
    let current: ScenarioState | undefined = story;
    t.server.setScenarioSource(() => current);
    const first = await t.http.api('GET', '/sim/v1/scenario', t.token);
    expect(first.status).toBe(200);
    expect(first.json).toEqual({ scenario: story });
    current = { ...story, state: 'done' };
    expect((await t.http.api('GET', '/sim/v1/scenario', t.token)).json.scenario.state).toBe('done');
    current = undefined;
    expect((await t.http.api('GET', '/sim/v1/scenario', t.token)).json).toEqual({ scenario: null });
    t.server.setScenarioSource(undefined);
  });

  it('needs the bearer token like the rest of /sim/v1, and leaves other routes to the control API', async () => {
    const none = await t.http.send('GET', '/sim/v1/scenario');
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="mdmsim"');
    expect((await t.http.api('GET', '/sim/v1/scenario', 'wrong')).json.error.message).toBe('the bearer token is not valid');
    // Routes it does not own fall through untouched.
    expect((await t.http.api('GET', '/sim/v1/clock', t.token)).json.mode).toBe('virtual');
    expect((await t.http.api('GET', '/sim/v1/nope', t.token)).json.error.code).toBe('not-found');
  });
});

describe('POST /sim/v1/devices/{udid}/agent/reinstall', () => {
  let lab: Lab;
  let http: HttpsClient;
  beforeAll(async () => {
    lab = await startLab({ devices: 2 });
    http = HttpsClient.for(lab.server);
  });
  afterAll(async () => {
    http.close();
    await lab.stop();
  });

  it('queues the agent install for that Mac now, pushes it, and the Mac installs it and its agent checks in', async () => {
    const udid = lab.mac(0).udid;
    const before = lab.events({ type: 'agent.checkin', udid }).length;
    const answer = await http.api('POST', `/sim/v1/devices/${udid}/agent/reinstall`, lab.server.apiToken);
    expect(answer.status).toBe(201);
    expect(answer.json).toMatchObject({ udid, RequestType: 'InstallEnterpriseApplication', attempt: expect.any(Number), push: { requested: true } });
    expect(answer.json.push.results[udid].status).toBe('sent');
    const queued = lab.events({ type: 'agent.install.queued', udid }).at(-1)!;
    expect(queued.data).toMatchObject({ reason: 'request', by: 'operator reinstall', commandUUID: answer.json.CommandUUID });

    await lab.settle();
    const acked = lab.events({ type: 'mdm.command.result', udid }).find((e) => (e.data as { commandUUID?: string }).commandUUID === answer.json.CommandUUID);
    expect(acked?.data).toMatchObject({ status: 'Acknowledged' });
    expect(lab.events({ type: 'agent.checkin', udid }).length).toBeGreaterThan(before);
    // The other Mac was left alone.
    expect(lab.events({ type: 'agent.install.queued', udid: lab.mac(1).udid }).filter((e) => (e.data as { reason?: string }).reason === 'request')).toEqual([]);
  });

  it('answers 409 while an install is still queued, and 404 for an unknown device', async () => {
    const udid = lab.mac(1).udid;
    await lab.fault(udid, { kind: 'offline' });
    expect((await http.api('POST', `/sim/v1/devices/${udid}/agent/reinstall`, lab.server.apiToken)).status).toBe(201);
    const again = await http.api('POST', `/sim/v1/devices/${udid}/agent/reinstall`, lab.server.apiToken);
    expect(again.status).toBe(409);
    expect(again.json.error).toMatchObject({ code: 'install-pending', message: `an agent install is already queued for ${udid}` });
    await lab.clearFaults(udid);

    const unknown = await http.api('POST', '/sim/v1/devices/NOPE/agent/reinstall', lab.server.apiToken);
    expect(unknown.status).toBe(404);
    expect(unknown.json.error.code).toBe('unknown-enrollment');
    expect((await http.send('POST', `/sim/v1/devices/${udid}/agent/reinstall`)).status).toBe(401);
  });
});
