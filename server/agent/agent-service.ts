/**
 * What an agent check-in means: which Mac it speaks for, whether it may, and what the server
 * records (last agent check-in on the server's clock, version, install date, inventory).
 * Transport stays in ./handler; facts stay in storage.
 *
 * This runs for every check-in of every Mac (a benchmark sends millions), so it keeps to a
 * lookup, a few field writes and one event, and builds nothing per request that it can share:
 * event summaries and data objects are made once per (version, kind) and reused (the event
 * log keeps references, and nobody mutates event data).
 */
import { parseAgentCheckin, type AgentCheckin, type AgentCheckinKind } from '../../protocol/agent';
import type { Clock } from '../../protocol/clock';
import { problem } from '../../protocol/problem';
import type { VerifiedSigner } from '../auth/mdm-signature';
import type { EventLog } from '../service/event-log';
import type { Storage } from '../storage/types';

/** Seconds the server asks the agent to wait before its next check-in. */
export const NEXT_CHECKIN_SECONDS = 900;

interface Shared {
  summary: string;
  data: Readonly<Record<string, unknown>>;
}

export interface AgentServiceOptions {
  store: Storage;
  clock: Clock;
  events: EventLog;
}

export class AgentService {
  private readonly store: Storage;
  private readonly clock: Clock;
  private readonly events: EventLog;
  /** version → kind → the summary and data every such event shares (two lookups, no key string built). */
  private readonly shared = new Map<string, Partial<Record<AgentCheckinKind, Shared>>>();
  private answerAt = Number.NaN;
  private answer = '';

  constructor(options: AgentServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.events = options.events;
  }

  /**
   * Handles a parsed JSON body; `signer` is the verified Mdm-Signature certificate (undefined
   * when the server runs without signatures). Returns the JSON answer; throws a ProblemError
   * (400 bad field, 403 another device's identity, 404 unknown Mac, 409 not enrolled now).
   */
  checkin(value: unknown, signer: VerifiedSigner | undefined): string {
    const c = parseAgentCheckin(value);
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
    if (!e.enabled) {
      throw problem(409, 'enrollment-disabled', `the enrollment for ${c.udid} is not enabled`, {
        field: 'udid',
        hint: e.tokenUpdateTally === 0 ? 'the Mac has sent Authenticate but no TokenUpdate yet' : 'the Mac checked out (or was erased): it must enroll again before its agent is heard',
      });
    }
    const now = this.clock.now();
    const installedAt = Date.parse(c.installed_at);
    this.store.storeAgentCheckin(e.id, { version: c.agent_version, kind: c.kind, installedAt, apps: c.apps }, now);
    this.record(e.id, c);
    if (now !== this.answerAt) {
      this.answerAt = now;
      this.answer = `{"ok":true,"server_time":"${new Date(now).toISOString()}","next_checkin_seconds":${NEXT_CHECKIN_SECONDS}}`;
    }
    return this.answer;
  }

  private record(udid: string, c: AgentCheckin): void {
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
        data: { kind: c.kind, agentVersion: version, apps: n },
      });
      return;
    }
    const s = this.sharedFor(version, c.kind);
    this.events.record({ type: 'agent.checkin', udid, from: 'agent', to: 'mdm', summary: s.summary, data: s.data as Record<string, unknown> });
  }

  private sharedFor(version: string, kind: AgentCheckinKind): Shared {
    let byKind = this.shared.get(version);
    if (byKind === undefined) {
      byKind = {};
      // Versions come from devices: bound the cache rather than trust them to be few.
      if (this.shared.size < 1000) this.shared.set(version, byKind);
    }
    let s = byKind[kind];
    if (s === undefined) {
      s = { summary: `agent ${version} ${kind} check-in`, data: Object.freeze({ kind, agentVersion: version }) };
      byKind[kind] = s;
    }
    return s;
  }
}
