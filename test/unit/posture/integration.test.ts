/**
 * The integration's behaviour against a fake Prism on a virtual clock: sync at creation, on a
 * configuration change and every 15 minutes; cursor paging to the end; attributes written,
 * changed and removed with an audit event each; allow/deny per node; 401/403 pause it for 24
 * hours and an update resumes it; other failures keep the attributes and the schedule.
 */
import { VirtualClock } from '../../../protocol/clock';
import { startPostureSync, type PostureEvent, type PostureSync, type PostureSyncOptions } from '../../../posture-sim';
import { startFakePrism, type FakePrism, type FakeRecord } from './fake-prism';

const T0 = Date.UTC(2026, 0, 5, 9);
const MIN = 60_000;
const HOUR = 60 * MIN;

const mac = (serial: string, over: Partial<FakeRecord> = {}): FakeRecord => ({ device_id: `dev-${serial}`, serial_number: serial, mdm_enabled: true, agent_installed: true, ...over });

const NODES = [
  { id: 'n1', name: 'ada-mbp', serialNumbers: ['c02aaa000001'] },
  { id: 'n2', name: 'bo-mba', serialNumbers: [' C02AAA000002 '] },
  { id: 'n3', name: 'personal', serialNumbers: ['NOTINKANDJI1'] },
  { id: 'n4', name: 'linux', serialNumbers: [] },
];

let fake: FakePrism;
let clock: VirtualClock;
let sync: PostureSync | undefined;
let events: PostureEvent[];

beforeEach(async () => {
  fake = await startFakePrism([mac('C02AAA000001'), mac('C02AAA000002')]);
  clock = new VirtualClock({ start: T0 });
  events = [];
});

afterEach(async () => {
  await sync?.stop();
  sync = undefined;
  await fake.close();
});

function start(over: Partial<PostureSyncOptions> = {}): Promise<PostureSync> {
  return startPostureSync({ apiUrl: fake.url, token: 'good-token', clock, nodes: NODES, rules: ['kandji:agentInstalled == true'], onEvent: (e) => events.push(e), ...over }).then((s) => (sync = s));
}

const prismRequests = () => fake.requests.filter((r) => r.path === '/api/v1/prism/device_information').length;

describe('creating the integration', () => {
  it('audits the creation, syncs at once, writes both attributes on matched nodes and decides per node', async () => {
    const s = await start();
    expect(s.audit()[0]).toMatchObject({ target: 'Integration', action: 'Create posture integration', actor: 'admin@example.com', at: T0 });
    expect(fake.requests[0]!.authorization).toBe('Bearer good-token');
    expect(s.status()).toMatchObject({ state: 'active', lastSyncAt: T0, lastSuccessAt: T0, matched: 2, unmatched: 2, devices: 2, error: null, pausedUntil: null, nextSyncAt: T0 + 15 * MIN });
    const byId = Object.fromEntries(s.nodes().map((n) => [n.id, n]));
    expect(byId.n1).toMatchObject({ deviceId: 'dev-C02AAA000001', attributes: { 'kandji:mdmEnabled': true, 'kandji:agentInstalled': true }, allowed: true, failing: [] });
    expect(byId.n2).toMatchObject({ deviceId: 'dev-C02AAA000002', allowed: true });
    expect(byId.n3).toMatchObject({ deviceId: null, attributes: {}, allowed: false, failing: ['kandji:agentInstalled == true'] });
    expect(byId.n4).toMatchObject({ deviceId: null, allowed: false });
    const nodeAudits = s.audit().filter((a) => a.target === 'Node');
    expect(nodeAudits).toHaveLength(4);
    expect(nodeAudits[0]).toMatchObject({ action: 'Update node attribute', nodeId: 'n1', nodeName: 'ada-mbp', attribute: 'kandji:mdmEnabled', old: null, new: true, summary: 'Update node attribute ada-mbp: kandji:mdmEnabled (unset) → true' });
    expect(events.filter((e) => e.type === 'access')).toEqual([
      { type: 'access', at: T0, nodeId: 'n1', nodeName: 'ada-mbp', allowed: true, failing: [] },
      { type: 'access', at: T0, nodeId: 'n2', nodeName: 'bo-mba', allowed: true, failing: [] },
    ]);
  });

  it('refuses a bad rule before it sends anything, naming the rule', async () => {
    await expect(start({ rules: ['kandji:agentInstalled == yes'] })).rejects.toThrow(/posture rule "kandji:agentInstalled == yes"/);
    expect(fake.requests).toHaveLength(0);
  });
});

describe('reading Prism', () => {
  it('follows the cursor to the end, asking the first page without one', async () => {
    fake.records.push(...Array.from({ length: 5 }, (_, i) => mac(`X${String(i).padStart(11, '0')}`)));
    const s = await start({ pageSize: 2 });
    expect(fake.requests).toHaveLength(4);
    expect(fake.requests[0]!.query.has('cursor')).toBe(false);
    expect(fake.requests.map((r) => r.query.get('limit'))).toEqual(['2', '2', '2', '2']);
    expect(fake.requests.slice(1).every((r) => (r.query.get('cursor') ?? '') !== '')).toBe(true);
    expect(s.status()).toMatchObject({ devices: 7, matched: 2 });
  });

  it('a server that hands back the same cursor twice fails the sync instead of paging forever', async () => {
    fake.records.push(mac('X00000000001'), mac('X00000000002'));
    fake.stuckCursor = 'same';
    const s = await start({ pageSize: 1 });
    expect(s.status().error).toMatchObject({ kind: 'bad-answer', message: expect.stringContaining('cursor same twice') });
    expect(fake.requests).toHaveLength(2);
  });

  it('an answer without a data array is an error, not an empty fleet', async () => {
    fake.force = { status: 200, body: { results: [] } };
    const s = await start();
    expect(s.status().error).toMatchObject({ kind: 'bad-answer', message: expect.stringContaining('without a data array') });
    expect(s.nodes().every((n) => Object.keys(n.attributes).length === 0)).toBe(true);
  });
});

describe('the schedule', () => {
  it('syncs every 15 minutes on the clock, and a change is audited old → new and flips the decision', async () => {
    const s = await start();
    await clock.advance(14 * MIN);
    expect(prismRequests()).toBe(1);
    fake.records[1]!.agent_installed = false;
    await clock.advance(1 * MIN);
    expect(prismRequests()).toBe(2);
    expect(s.node('n2')).toMatchObject({ attributes: { 'kandji:agentInstalled': false }, allowed: false, failing: ['kandji:agentInstalled == true'] });
    expect(s.audit().at(-1)).toMatchObject({ nodeId: 'n2', attribute: 'kandji:agentInstalled', old: true, new: false, at: T0 + 15 * MIN });
    expect(events.at(-1)).toEqual({ type: 'access', at: T0 + 15 * MIN, nodeId: 'n2', nodeName: 'bo-mba', allowed: false, failing: ['kandji:agentInstalled == true'] });
    await clock.advance(2 * HOUR);
    expect(prismRequests()).toBe(10);
    // Nothing changed since: no more audit events.
    expect(s.audit()).toHaveLength(1 + 4 + 1);
  });

  it('the interval is a setting', async () => {
    await start({ intervalMs: '1h' });
    await clock.advance(59 * MIN);
    expect(prismRequests()).toBe(1);
    await clock.advance(1 * MIN);
    expect(prismRequests()).toBe(2);
  });

  it('syncs never overlap: one asked for while another waits on Prism starts after it', async () => {
    const s = await start();
    let release!: () => void;
    fake.hold = new Promise((resolve) => (release = resolve));
    const first = s.syncNow();
    while (prismRequests() < 2) await new Promise((resolve) => setImmediate(resolve));
    const second = s.syncNow();
    // Give the second every chance to send early: it must not.
    for (let i = 0; i < 20; i++) await new Promise((resolve) => setImmediate(resolve));
    expect(prismRequests()).toBe(2);
    expect(s.busy).toBe(true);
    fake.hold = undefined;
    release();
    expect(await first).toMatchObject({ ok: true, trigger: 'manual' });
    expect(await second).toMatchObject({ ok: true, trigger: 'manual' });
    expect(prismRequests()).toBe(3);
    expect(s.busy).toBe(false);
  });

  it('a node whose device left Kandji loses its kandji: attributes (audited with new = null) and is denied', async () => {
    const s = await start();
    fake.records.splice(0, 1);
    await s.syncNow();
    expect(s.node('n1')).toMatchObject({ deviceId: null, attributes: {}, allowed: false });
    expect(s.audit().slice(-2).map((a) => a.target === 'Node' && [a.attribute, a.old, a.new])).toEqual([
      ['kandji:mdmEnabled', true, null],
      ['kandji:agentInstalled', true, null],
    ]);
    expect(s.status()).toMatchObject({ matched: 1, unmatched: 3 });
  });

  it('after stop(): the removal is audited and the clock runs no more syncs', async () => {
    const s = await start();
    await s.stop();
    sync = undefined;
    await clock.advance(2 * HOUR);
    expect(prismRequests()).toBe(1);
    expect(s.audit().at(-1)).toMatchObject({ target: 'Integration', action: 'Removed posture integration' });
    expect(s.status()).toMatchObject({ state: 'stopped', nextSyncAt: null });
    await expect(s.update({ token: 'x' })).rejects.toThrow(/removed/);
  });
});

describe('errors and pausing', () => {
  it('401 records the error, keeps the attributes and pauses for 24 hours; the pause ends with one try', async () => {
    const s = await start();
    fake.tokens.clear();
    await clock.advance(15 * MIN);
    const failedAt = T0 + 15 * MIN;
    expect(s.status()).toMatchObject({ state: 'paused', lastSyncAt: failedAt, lastSuccessAt: T0, pausedUntil: failedAt + 24 * HOUR, nextSyncAt: failedAt + 24 * HOUR });
    expect(s.status().error).toEqual({ at: failedAt, kind: 'unauthorized', status: 401, message: expect.stringContaining('Invalid token.') });
    expect(s.node('n1')).toMatchObject({ attributes: { 'kandji:agentInstalled': true }, allowed: true });
    expect(events.find((e) => e.type === 'paused')).toMatchObject({ at: failedAt, until: failedAt + 24 * HOUR });
    await clock.advance(24 * HOUR - MIN);
    expect(prismRequests()).toBe(2);
    expect(await s.syncNow()).toMatchObject({ ok: false, skipped: 'paused' });
    expect(prismRequests()).toBe(2);
    // The pause elapses with the token still refused: one try, paused again.
    await clock.advance(MIN);
    expect(prismRequests()).toBe(3);
    expect(s.status()).toMatchObject({ state: 'paused', pausedUntil: failedAt + 48 * HOUR });
    // The token is valid again when the next pause ends: it resumes by itself.
    fake.tokens.add('good-token');
    await clock.advance(24 * HOUR);
    expect(s.status()).toMatchObject({ state: 'active', error: null, pausedUntil: null, lastSuccessAt: failedAt + 48 * HOUR });
    expect(events.find((e) => e.type === 'resumed')).toEqual({ type: 'resumed', at: failedAt + 48 * HOUR, trigger: 'schedule', pausedSince: failedAt });
  });

  it('an update with a new token resumes at once, audited without the token', async () => {
    const s = await start();
    fake.tokens = new Set(['new-token']);
    await clock.advance(15 * MIN);
    expect(s.status().state).toBe('paused');
    await clock.advance(HOUR);
    const report = await s.update({ token: 'new-token' });
    expect(report).toMatchObject({ ok: true, trigger: 'update', at: T0 + 75 * MIN });
    expect(fake.requests.at(-1)!.authorization).toBe('Bearer new-token');
    expect(s.status()).toMatchObject({ state: 'active', error: null, pausedUntil: null, nextSyncAt: T0 + 90 * MIN });
    const update = s.audit().find((a) => a.action === 'Update posture integration');
    expect(update).toMatchObject({ target: 'Integration', changed: ['token'] });
    expect(JSON.stringify(s.audit())).not.toContain('new-token');
    expect(events.find((e) => e.type === 'resumed')).toMatchObject({ trigger: 'update', pausedSince: T0 + 15 * MIN });
  });

  it('an update while a sync with the old token is still waiting for its 401 resumes at once, not 24 hours later', async () => {
    const s = await start();
    fake.tokens = new Set(['new-token']);
    let release!: () => void;
    fake.hold = new Promise((resolve) => (release = resolve));
    // The scheduled sync sends its request with the old token; the answer is slow to come.
    const scheduled = clock.advance(15 * MIN);
    while (prismRequests() < 2) await new Promise((resolve) => setImmediate(resolve));
    fake.hold = undefined;
    const updated = s.update({ token: 'new-token' });
    release();
    await scheduled;
    const report = await updated;
    expect(report).toMatchObject({ ok: true, trigger: 'update' });
    expect(fake.requests.map((r) => r.authorization)).toEqual(['Bearer good-token', 'Bearer good-token', 'Bearer new-token']);
    expect(s.status()).toMatchObject({ state: 'active', error: null, pausedUntil: null, nextSyncAt: T0 + 30 * MIN });
    // The stale 401 is reported, but paused nothing.
    expect(events.filter((e) => e.type === 'sync').map((e) => e.type === 'sync' && e.report.error?.status)).toEqual([undefined, 401, undefined]);
    expect(events.some((e) => e.type === 'paused')).toBe(false);
  });

  it('a retry after the pause that fails otherwise (500) leaves the integration active, and its later success still reports the resume', async () => {
    const s = await start({ pauseOnAuthErrorMs: '1h' });
    fake.tokens.clear();
    await clock.advance(15 * MIN);
    expect(s.status().state).toBe('paused');
    fake.force = { status: 500, body: { detail: 'A server error occurred.' } };
    await clock.advance(HOUR);
    expect(s.status()).toMatchObject({ state: 'active', pausedUntil: null, error: { status: 500 }, nextSyncAt: T0 + 90 * MIN });
    fake.force = undefined;
    fake.tokens.add('good-token');
    await clock.advance(15 * MIN);
    expect(s.status()).toMatchObject({ state: 'active', error: null });
    expect(events.filter((e) => e.type === 'resumed')).toEqual([{ type: 'resumed', at: T0 + 90 * MIN, trigger: 'schedule', pausedSince: T0 + 15 * MIN }]);
  });

  it('a zero pause or interval is refused (a 401 would retry at once, forever)', async () => {
    await expect(start({ pauseOnAuthErrorMs: 0 })).rejects.toThrow(/pauseOnAuthErrorMs: expected a positive duration/);
    await expect(start({ pauseOnAuthErrorMs: '0s' })).rejects.toThrow(/pauseOnAuthErrorMs/);
    await expect(start({ intervalMs: 0 })).rejects.toThrow(/intervalMs: expected a positive duration/);
    expect(fake.requests).toHaveLength(0);
  });

  it('an update with a bad URL throws and changes nothing: the old configuration keeps syncing', async () => {
    const s = await start();
    await expect(s.update({ apiUrl: 'bad' })).rejects.toThrow();
    expect(s.status().apiUrl).toBe(fake.url);
    expect(s.audit().some((a) => a.action === 'Update posture integration')).toBe(false);
    await clock.advance(15 * MIN);
    expect(prismRequests()).toBe(2);
    expect(s.status()).toMatchObject({ state: 'active', error: null, lastSuccessAt: T0 + 15 * MIN });
  });

  it('a configuration change syncs out of schedule even when all is well', async () => {
    const s = await start();
    await clock.advance(5 * MIN);
    await s.update({ apiUrl: `${fake.url}/api/v1` });
    expect(prismRequests()).toBe(2);
    expect(s.status().nextSyncAt).toBe(T0 + 20 * MIN);
  });

  it('403 pauses too (a token without the Prism permission does not heal by retrying); pauseOnStatus changes that', async () => {
    fake.force = { status: 403, body: { detail: 'You do not have permission to perform this action.' } };
    const s = await start();
    expect(s.status()).toMatchObject({ state: 'paused', error: { kind: 'forbidden', status: 403 } });
    await s.stop();
    const t = await start({ pauseOnStatus: [401] });
    expect(t.status()).toMatchObject({ state: 'active', nextSyncAt: T0 + 15 * MIN, error: { status: 403 } });
  });

  it('the pause length is a setting', async () => {
    fake.tokens.clear();
    const s = await start({ pauseOnAuthErrorMs: '2h' });
    expect(s.status().pausedUntil).toBe(T0 + 2 * HOUR);
  });

  it('500 and network failures keep the attributes and the 15-minute schedule', async () => {
    const s = await start();
    fake.force = { status: 500, body: { detail: 'A server error occurred.' } };
    await clock.advance(15 * MIN);
    expect(s.status()).toMatchObject({ state: 'active', error: { kind: 'http', status: 500 }, nextSyncAt: T0 + 30 * MIN, failures: 1 });
    expect(s.node('n1')!.attributes).toEqual({ 'kandji:mdmEnabled': true, 'kandji:agentInstalled': true });
    await fake.close();
    await clock.advance(15 * MIN);
    expect(s.status()).toMatchObject({ state: 'active', error: { kind: 'network' }, failures: 2 });
    fake = await startFakePrism();
  });

  it('429 keeps the schedule, or waits longer when the server asks (retry-after), never retrying sooner', async () => {
    fake.force = { status: 429, body: { detail: 'Request was throttled. Expected available in 1 second.' }, headers: { 'ratelimit-reset': '1' } };
    const s = await start();
    expect(s.status()).toMatchObject({ state: 'active', error: { kind: 'rate-limited', status: 429 }, nextSyncAt: T0 + 15 * MIN });
    fake.force = { status: 429, body: { detail: 'Request was throttled. Expected available in 3600 seconds.' }, headers: { 'retry-after': '3600' } };
    await clock.advance(15 * MIN);
    expect(s.status()).toMatchObject({ error: { kind: 'rate-limited' }, nextSyncAt: T0 + 15 * MIN + HOUR });
    fake.force = undefined;
    await clock.advance(HOUR);
    expect(s.status()).toMatchObject({ error: null, matched: 2, lastSuccessAt: T0 + 75 * MIN });
    expect(prismRequests()).toBe(3);
  });
});
