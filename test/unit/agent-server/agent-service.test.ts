import { AGENT_VERSION } from '../../../protocol/agent';
import { VirtualClock } from '../../../protocol/clock';
import { ProblemError } from '../../../protocol/problem';
import { AgentService } from '../../../server/agent/agent-service';
import { EventLog } from '../../../server/service/event-log';
import { MemoryStorage } from '../../../server/storage/memory';

const T0 = Date.UTC(2026, 0, 5, 9);
const TOPIC = 'com.apple.mgmt.External.x';

function setup() {
  const store = new MemoryStorage();
  const clock = new VirtualClock({ start: T0 });
  const events = new EventLog(store, clock);
  const service = new AgentService({ store, clock, events });
  store.storeAuthenticate({ id: 'A', udid: 'A', topic: TOPIC, platform: 'macOS', identityCertSha256: 'aa'.repeat(32) }, T0);
  store.storeTokenUpdate('A', { topic: TOPIC, token: '11'.repeat(32), pushMagic: 'M' }, T0);
  store.storeAuthenticate({ id: 'B', udid: 'B', topic: TOPIC, platform: 'macOS', identityCertSha256: 'bb'.repeat(32) }, T0);
  store.storeTokenUpdate('B', { topic: TOPIC, token: '22'.repeat(32), pushMagic: 'M' }, T0);
  return { store, clock, events, service };
}

const body = (udid: string, kind = 'recurring', extra: Record<string, unknown> = {}) => ({
  udid,
  serial_number: 'C02XK1ABJGH5',
  agent_version: AGENT_VERSION,
  kind,
  installed_at: '2026-01-01T00:00:00Z',
  sent_at: '2026-01-05T09:00:00Z',
  ...extra,
});
const signer = (sha256: string) => ({ sha256, subject: 'CN=test', serialNumber: '01' });

function statusOf(fn: () => unknown): number {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return error.problem.status;
    throw error;
  }
  return 200;
}

describe('AgentService', () => {
  it('records the check-in against the server clock and answers next_checkin_seconds 900', async () => {
    const { service, store, clock } = setup();
    await clock.advance(1000);
    const answer = JSON.parse(service.checkin(body('A', 'install'), signer('aa'.repeat(32))));
    expect(answer).toEqual({
      ok: true,
      server_time: new Date(T0 + 1000).toISOString(),
      next_checkin_seconds: 900,
      session_token: expect.stringMatching(/^v1\.[0-9a-z]+\.a{16}\.A\.[A-Za-z0-9_-]{43}$/),
      session_expires_at: new Date(T0 + 1000 + 24 * 3_600_000).toISOString(),
    });
    expect(store.getEnrollment('A')).toMatchObject({ agentLastCheckinAt: T0 + 1000, agentVersion: AGENT_VERSION, agentInstalledAt: Date.parse('2026-01-01T00:00:00Z'), agentLastCheckinKind: 'install' });
  });

  it('400 / 403 / 404 / 409 as documented', () => {
    const { service, store } = setup();
    expect(statusOf(() => service.checkin({ udid: 'A' }, undefined))).toBe(400);
    expect(statusOf(() => service.checkin(body('NOPE'), signer('aa'.repeat(32))))).toBe(404);
    expect(statusOf(() => service.checkin(body('A'), signer('bb'.repeat(32))))).toBe(403);
    expect(statusOf(() => service.checkin(body('A'), signer('cc'.repeat(32))))).toBe(403);
    store.disable('A', T0);
    expect(statusOf(() => service.checkin(body('A'), signer('aa'.repeat(32))))).toBe(409);
    // Without signatures (auth none) nobody is checked.
    expect(statusOf(() => service.checkin(body('B'), undefined))).toBe(200);
    expect(store.getEnrollment('A')!.agentLastCheckinAt).toBeUndefined();
  });

  it('shares one summary and one data object between events of the same version and kind (the hot path builds none)', () => {
    const { service, events } = setup();
    service.checkin(body('A'), undefined);
    service.checkin(body('B'), undefined);
    service.checkin(body('A', 'install'), undefined);
    const [a, b, c] = events.query({ types: ['agent.checkin'] });
    expect(a!.summary).toBe(`agent ${AGENT_VERSION} recurring check-in`);
    expect(a!.data).toBe(b!.data);
    expect(a!.summary).toBe(b!.summary);
    expect(Object.isFrozen(a!.data)).toBe(true);
    expect(c!.data).toEqual({ kind: 'install', agentVersion: AGENT_VERSION, auth: 'none' });
  });

  it('keeps the latest inventory only, and one copy of a version string across the fleet', () => {
    const { service, store } = setup();
    service.checkin(body('A', 'inventory', { apps: [{ bundle_id: 'a.b', name: 'AB', version: '1' }] }), undefined);
    service.checkin(body('A', 'inventory', { apps: [] }), undefined);
    expect(store.agentInventory('A')).toEqual({ at: T0, apps: [] });
    service.checkin(JSON.parse(JSON.stringify(body('B'))), undefined);
    expect(store.getEnrollment('A')!.agentVersion).toBe(store.getEnrollment('B')!.agentVersion);
  });

  it('a signed check-in earns a token that authenticates the next ones (shared event data per auth); none without a signer or with sessionTtlMs 0', async () => {
    const { service, store, clock, events } = setup();
    const token = JSON.parse(service.checkin(body('A', 'install'), signer('aa'.repeat(32)))).session_token as string;
    await clock.advance(900_000);
    const claim = service.verifySession(`Bearer ${token}`);
    expect(claim).toEqual({ udid: 'A', certPrefix: 'a'.repeat(16), expiresAt: T0 + 24 * 3_600_000 });
    expect(JSON.parse(service.checkin(body('A'), undefined, claim))).toEqual({ ok: true, server_time: new Date(T0 + 900_000).toISOString(), next_checkin_seconds: 900 });
    expect(store.getEnrollment('A')!.agentLastCheckinAt).toBe(T0 + 900_000);
    service.checkin(body('A'), undefined, claim);
    service.checkin(body('A'), signer('aa'.repeat(32)));
    const [, s1, s2, signed] = events.query({ types: ['agent.checkin'] });
    expect(s1!.data).toEqual({ kind: 'recurring', agentVersion: AGENT_VERSION, auth: 'session' });
    expect(s1!.data).toBe(s2!.data);
    expect(signed!.data).toEqual({ kind: 'recurring', agentVersion: AGENT_VERSION, auth: 'signature' });
    // A signer wins over a claim.
    expect(JSON.parse(service.checkin(body('A'), signer('aa'.repeat(32)), claim)).session_token).toEqual(expect.any(String));
    expect(JSON.parse(service.checkin(body('B'), undefined)).session_token).toBeUndefined();
    const off = new AgentService({ store, clock, events, sessionTtlMs: 0 });
    expect(off.sessions).toBeUndefined();
    expect(JSON.parse(off.checkin(body('A'), signer('aa'.repeat(32)))).session_token).toBeUndefined();
    expect(codeOf(() => off.verifySession(`Bearer ${token}`))).toBe('401 bad-session-token');
  });

  it('refuses (401) a claim for another body, another identity, or a disabled or unknown enrollment', () => {
    const { service, store } = setup();
    const claim = { udid: 'A', certPrefix: 'a'.repeat(16), expiresAt: T0 + 1 };
    expect(codeOf(() => service.checkin(body('B'), undefined, claim))).toBe('401 bad-session-token');
    expect(codeOf(() => service.checkin(body('A'), undefined, { ...claim, certPrefix: 'b'.repeat(16) }))).toBe('401 session-revoked');
    expect(codeOf(() => service.checkin(body('NOPE'), undefined, { ...claim, udid: 'NOPE' }))).toBe('401 session-revoked');
    store.storeAuthenticate({ id: 'A', udid: 'A', topic: TOPIC, platform: 'macOS', identityCertSha256: 'cc'.repeat(32) }, T0);
    expect(codeOf(() => service.checkin(body('A'), undefined, claim))).toBe('401 session-revoked');
    expect(codeOf(() => service.checkin(body('A'), undefined, { ...claim, certPrefix: 'c'.repeat(16) }))).toBe('401 session-revoked'); // not enabled until TokenUpdate
    store.storeTokenUpdate('A', { topic: TOPIC, token: '11'.repeat(32), pushMagic: 'M' }, T0);
    expect(codeOf(() => service.checkin(body('A'), undefined, { ...claim, certPrefix: 'c'.repeat(16) }))).toBe('200');
    expect(store.getEnrollment('B')!.agentLastCheckinAt).toBeUndefined();
  });
});

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return `${error.problem.status} ${error.problem.code}`;
    throw error;
  }
  return '200';
}
