/**
 * What an agent check-in means: which Mac it speaks for, whether it may, and what the server
 * records (last agent check-in on the server's clock, version, install date, inventory).
 * Transport stays in ./handler; facts stay in storage.
 *
 * This runs for every check-in of every Mac (a benchmark sends millions), so it keeps to a
 * lookup, a few field writes and one event, and builds nothing per request that it can share:
 * event summaries and data objects are made once per (version, kind, auth) and reused (the
 * event log keeps references, and nobody mutates event data).
 *
 * A check-in is authenticated by its Mdm-Signature (`signer`) or by a session token an earlier
 * signed check-in earned (`session`, see ./session); a signed one that succeeds answers a fresh
 * token. With auth `none` there is neither, and no token is issued.
 */
import { parseAgentCheckin, type AgentCheckin, type AgentCheckinKind } from '../../protocol/agent';
import type { Clock } from '../../protocol/clock';
import { problem } from '../../protocol/problem';
import type { VerifiedSigner } from '../auth/mdm-signature';
import type { EventLog } from '../service/event-log';
import type { Storage } from '../storage/types';
import { AgentSessions, sessionRefusal, type AgentSessionClaim } from './session';

/** Seconds the server asks the agent to wait before its next check-in. */
export const NEXT_CHECKIN_SECONDS = 900;

/** How a check-in was authenticated, as its `agent.checkin` event says (`data.auth`). */
export type AgentCheckinAuth = 'signature' | 'session' | 'none';

interface Shared {
  summary: string;
  data: Readonly<Record<string, unknown>>;
}

type SharedByAuth = Partial<Record<AgentCheckinAuth, Shared>>;

export interface AgentServiceOptions {
  store: Storage;
  clock: Clock;
  events: EventLog;
  /** Session token lifetime in ms (default 24 h); 0 issues none (every check-in signs). */
  sessionTtlMs?: number;
}

export class AgentService {
  private readonly store: Storage;
  private readonly clock: Clock;
  private readonly events: EventLog;
  /** version → kind → auth → the summary and data every such event shares (three lookups, no key string built). */
  private readonly shared = new Map<string, Partial<Record<AgentCheckinKind, SharedByAuth>>>();
  private answerAt = Number.NaN;
  /** The answer at answerAt without its closing brace (a session token may follow). */
  private answerHead = '';
  private answer = '';
  /** Issues and checks session tokens; its HMAC key is made here, when the server starts. Undefined with sessionTtlMs 0. */
  readonly sessions: AgentSessions | undefined;

  constructor(options: AgentServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.events = options.events;
    const ttlMs = options.sessionTtlMs;
    this.sessions = ttlMs === 0 ? undefined : new AgentSessions(ttlMs === undefined ? {} : { ttlMs });
  }

  /**
   * Handles a parsed JSON body; `signer` is the verified Mdm-Signature certificate, or
   * `session` the claims of a verified session token (neither when the server runs without
   * signatures). Returns the JSON answer (with a new session token after a signature); throws
   * a ProblemError (400 bad field, 403 another device's identity, 404 unknown Mac, 409 not
   * enrolled now; 401 for a session token that does not fit the body or the enrollment).
   */
  checkin(value: unknown, signer: VerifiedSigner | undefined, session?: AgentSessionClaim): string {
    const c = parseAgentCheckin(value);
    if (session !== undefined && !signer) return this.sessionCheckin(c, session);
    const e = this.store.getEnrollment(c.udid);
    if (!e) {
      throw problem(404, 'unknown-enrollment', `no enrollment ${c.udid}`, {
        field: 'udid',
        hint: 'the agent checks in for the Mac it runs on, which must have enrolled first (Authenticate, TokenUpdate to the MDM CheckInURL)',
      });
    }
    if (signer && e.identityCertSha256 !== signer.sha256) {
      const holder = this.store.enrollmentIdForCertificate(signer.sha256);
      throw problem(403, 'certificate-not-bound', `the check-in for ${c.udid} is signed by certificate ${signer.sha256.slice(0, 16)}… (${signer.subject}), ${holder === undefined ? 'which no enrollment is bound to' : `which is bound to ${holder}`}`, {
        field: 'Mdm-Signature',
        expected: `the identity certificate ${c.udid} bound at its Authenticate`,
        hint: "sign with the Mac's own MDM identity (the one from its enrollment profile); after a re-enrollment, the new one",
      });
    }
    // Deleted through the API: told to uninstall, even once MDM has already left (checked out).
    if (e.removedAt !== undefined) return this.uninstall(e.id, c, signer ? 'signature' : 'none');
    if (!e.enabled) {
      throw problem(409, 'enrollment-disabled', `the enrollment for ${c.udid} is not enabled`, {
        field: 'udid',
        hint: e.tokenUpdateTally === 0 ? 'the Mac has sent Authenticate but no TokenUpdate yet' : 'the Mac checked out (or was erased): it must enroll again before its agent is heard',
      });
    }
    const now = this.accept(e.id, c, signer ? 'signature' : 'none');
    const issued = signer && this.sessions ? this.sessions.issue(c.udid, signer.sha256, now) : undefined;
    if (issued === undefined) return this.answer;
    return `${this.answerHead},"session_token":"${issued.token}","session_expires_at":"${new Date(issued.expiresAt).toISOString()}"}`;
  }

  /** The claims of an `Authorization: Bearer` session token (format, MAC, expiry on the server's clock), or a 401 ProblemError. */
  verifySession(authorization: string): AgentSessionClaim {
    if (!this.sessions) throw sessionRefusal('bad-session-token', 'this server issues no session tokens');
    return this.sessions.verify(authorization, this.clock.now());
  }

  /**
   * A check-in carrying a session token whose MAC and expiry the handler verified: it must name
   * this body's Mac, whose enrollment must still be bound to the identity the token was issued
   * for (a new Authenticate binds a new one) and be enabled. Every refusal is a 401: the agent
   * drops the token and signs, and a signed check-in gets the precise answer (404, 409).
   */
  private sessionCheckin(c: AgentCheckin, session: AgentSessionClaim): string {
    if (session.udid !== c.udid) {
      throw sessionRefusal('bad-session-token', `the session token was issued to ${session.udid}, not to ${c.udid}`);
    }
    const e = this.store.getEnrollment(c.udid);
    if (!e || e.identityCertSha256 === undefined || !e.identityCertSha256.startsWith(session.certPrefix)) {
      throw sessionRefusal('session-revoked', `the session token of ${c.udid} is for an identity its enrollment is no longer bound to (the Mac re-enrolled, was erased, or was deleted)`);
    }
    if (e.removedAt !== undefined) return this.uninstall(e.id, c, 'session');
    if (!e.enabled) {
      throw sessionRefusal('session-revoked', `the enrollment of ${c.udid} is not enabled: its session ended`);
    }
    this.accept(e.id, c, 'session');
    return this.answer;
  }

  /**
   * A check-in from the agent of a device deleted through the API (DELETE /api/v1/devices/{id}):
   * stored like any other, answered with `uninstall: true`, recorded as `agent.uninstall.requested`
   * (the API pushes the device's RemoveProfile on it). No session token: the agent is leaving.
   *
   * The server then knows the agent is gone (agentGoneAt, event `agent.gone` the first time):
   * the agent history survives a re-enrollment, and without this the Mac enrolling again would
   * read as agent_installed true with no agent on it.
   */
  private uninstall(id: string, c: AgentCheckin, auth: AgentCheckinAuth): string {
    const wasGone = this.store.getEnrollment(id)?.agentGoneAt !== undefined;
    const now = this.accept(id, c, auth);
    this.store.markAgentGone(id, now);
    this.events.record({
      type: 'agent.uninstall.requested',
      udid: id,
      from: 'mdm',
      to: 'agent',
      summary: 'device deleted: the agent is told to uninstall itself',
      data: { kind: c.kind },
    });
    if (!wasGone) {
      this.events.record({
        type: 'agent.gone',
        udid: id,
        from: 'mdm',
        to: 'policy',
        summary: 'device deleted: its agent was told to uninstall itself (agent_installed false, also if the Mac enrolls again)',
        data: { reason: 'device-deleted' },
      });
    }
    return `${this.answerHead},"uninstall":true}`;
  }

  /** Stores and records the check-in; keeps `answer` (and its head) current for now. Returns now. */
  private accept(id: string, c: AgentCheckin, auth: AgentCheckinAuth): number {
    const now = this.clock.now();
    const installedAt = Date.parse(c.installed_at);
    this.store.storeAgentCheckin(id, { version: c.agent_version, kind: c.kind, installedAt, apps: c.apps }, now);
    this.record(id, c, auth);
    if (now !== this.answerAt) {
      this.answerAt = now;
      this.answerHead = `{"ok":true,"server_time":"${new Date(now).toISOString()}","next_checkin_seconds":${NEXT_CHECKIN_SECONDS}`;
      this.answer = `${this.answerHead}}`;
    }
    return now;
  }

  private record(udid: string, c: AgentCheckin, auth: AgentCheckinAuth): void {
    // The enrollment's own strings, not the body's: the version string is interned in storage.
    const version = this.store.getEnrollment(udid)?.agentVersion ?? c.agent_version;
    if (c.apps !== undefined) {
      const n = c.apps.length;
      this.events.record({
        type: 'agent.checkin',
        udid,
        from: 'agent',
        to: 'mdm',
        summary: `agent ${version} ${c.kind} check-in (${n} app${n === 1 ? '' : 's'})`,
        data: { kind: c.kind, agentVersion: version, apps: n, auth },
      });
      return;
    }
    const s = this.sharedFor(version, c.kind, auth);
    this.events.record({ type: 'agent.checkin', udid, from: 'agent', to: 'mdm', summary: s.summary, data: s.data as Record<string, unknown> });
  }

  private sharedFor(version: string, kind: AgentCheckinKind, auth: AgentCheckinAuth): Shared {
    let byKind = this.shared.get(version);
    if (byKind === undefined) {
      byKind = {};
      // Versions come from devices: bound the cache rather than trust them to be few.
      if (this.shared.size < 1000) this.shared.set(version, byKind);
    }
    const byAuth = (byKind[kind] ??= {});
    let s = byAuth[auth];
    if (s === undefined) {
      s = { summary: `agent ${version} ${kind} check-in`, data: Object.freeze({ kind, agentVersion: version, auth }) };
      byAuth[auth] = s;
    }
    return s;
  }
}
