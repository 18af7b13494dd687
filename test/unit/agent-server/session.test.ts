import { ProblemError } from '../../../protocol/problem';
import { AGENT_SESSION_TTL_MS, AgentSessions, bearerToken, isBearer } from '../../../server/agent/session';

const T0 = Date.UTC(2026, 0, 5, 9);
const SHA = 'ab'.repeat(32);
const UDID = '0000FE00-5A6B-4C1D-8E2F-112233445566';

function refusal(fn: () => unknown): string {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) {
      expect(error.problem).toMatchObject({ status: 401, field: 'Authorization', hint: expect.stringMatching(/Mdm-Signature/) });
      return error.problem.code;
    }
    throw error;
  }
  return 'accepted';
}

describe('AgentSessions', () => {
  const sessions = new AgentSessions({ secret: Buffer.alloc(32, 7) });

  it('issues a token68 token naming the udid, the identity prefix and the expiry (24 h by default)', () => {
    const issued = sessions.issue(UDID, SHA, T0)!;
    expect(issued.expiresAt).toBe(T0 + AGENT_SESSION_TTL_MS);
    expect(issued.token).toMatch(/^[A-Za-z0-9\-._~+/]+$/);
    expect(issued.token).toBe(`v1.${issued.expiresAt.toString(36)}.${SHA.slice(0, 16)}.${UDID}.${issued.token.slice(-43)}`);
    expect(sessions.verify(`Bearer ${issued.token}`, T0 + 1)).toEqual({ udid: UDID, certPrefix: SHA.slice(0, 16), expiresAt: issued.expiresAt });
    // Deterministic under one key; another key refuses it.
    expect(sessions.issue(UDID, SHA, T0)!.token).toBe(issued.token);
    expect(refusal(() => new AgentSessions().verify(`Bearer ${issued.token}`, T0))).toBe('bad-session-token');
    // A udid with dots survives; one that cannot travel in a header gets no token.
    const dotted = sessions.issue('a.b.c', SHA, T0)!;
    expect(sessions.verify(`Bearer ${dotted.token}`, T0).udid).toBe('a.b.c');
    expect(sessions.issue('a b', SHA, T0)).toBeUndefined();
    expect(sessions.issue('ü', SHA, T0)).toBeUndefined();
  });

  it('expires at the expiry on the given clock', () => {
    const s = new AgentSessions({ ttlMs: 1000 });
    const { token } = s.issue(UDID, SHA, T0)!;
    expect(refusal(() => s.verify(`Bearer ${token}`, T0 + 999))).toBe('accepted');
    expect(refusal(() => s.verify(`Bearer ${token}`, T0 + 1000))).toBe('session-expired');
  });

  it('refuses anything altered, in any part', () => {
    const { token } = sessions.issue(UDID, SHA, T0)!;
    const variants = new Set<string>();
    for (let i = 0; i < token.length; i++) {
      for (const c of ['A', 'z', '0', '.', '-', '+', '=']) variants.add(token.slice(0, i) + c + token.slice(i + 1));
      variants.add(token.slice(0, i) + token.slice(i + 1));
    }
    variants.delete(token);
    for (const v of variants) expect([v, refusal(() => sessions.verify(`Bearer ${v}`, T0))]).toEqual([v, 'bad-session-token']);
    for (const v of ['', 'Bearer', 'Bearer ', 'Bearer x', `Bearer ${token}.`, `Bearer ${token} ${token}`]) expect(refusal(() => sessions.verify(v, T0))).toBe('bad-session-token');
  });

  it('reads the Bearer scheme case-insensitively', () => {
    expect(bearerToken('bearer abc')).toBe('abc');
    expect(bearerToken('BEARER  abc ')).toBe('abc');
    expect(bearerToken('Basic abc')).toBeUndefined();
    expect(isBearer('Bearer abc')).toBe(true);
    expect(isBearer('Bearerabc')).toBe(false);
    expect(isBearer(undefined)).toBe(false);
  });
});
