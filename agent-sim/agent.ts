/**
 * The vendor agent of every Mac of a fleet. Started when its app is installed
 * (InstallEnterpriseApplication's `start-agent`): an `install` check-in at once, then a
 * `recurring` one every interval (15 min) and, once a day, an `inventory` one carrying the app
 * list, all on the clock through one fleet-wide BucketScheduler.
 *
 * A Mac's check-ins sit on a grid: the interval, offset by a whole number of minutes drawn from
 * its seed, so about 1/15 of a fleet checks in at each minute and a virtual-clock instant runs
 * that many requests at once.
 *
 * Each check-in is `POST <checkinUrl>` with the JSON body and `Mdm-Signature`: the detached CMS
 * of the exact body bytes, signed by the Mac's MDM identity (protocol/agent.ts). The body's
 * constant part is built once per agent start; a check-in only appends the kind and the time.
 *
 * A signed check-in earns a session token (protocol/agent.ts): the running agent keeps it (one
 * string, one number) and sends `Authorization: Bearer` instead of signing until less than
 * AGENT_SESSION_REFRESH_MARGIN_MS of its life remains; a 401 to a token drops it and sends the
 * same body again, signed, once. The install check-in always signs, and a restart (reinstall,
 * erase) starts without a token.
 */
import {
  AGENT_CHECKIN_CONTENT_TYPE,
  AGENT_CHECKIN_INTERVAL_MS,
  AGENT_CHECKIN_PATH,
  AGENT_INVENTORY_INTERVAL_MS,
  AGENT_SESSION_REFRESH_MARGIN_MS,
  AGENT_SESSION_SCHEME,
  AGENT_VERSION,
  type AgentCheckinKind,
  type AgentCheckinResponse,
} from '../protocol/agent';
import type { Clock } from '../protocol/clock';
import type { HttpResponse } from './http';
import { PinFailureError } from './network/pin';
import { BucketScheduler, nextOnGrid } from './scheduler';
import type { SimulatedMac } from './mac';

export interface AgentRunnerOptions {
  clock: Clock;
  onError?: (error: unknown) => void;
}

/** What the agent runner keeps on a Mac (a few numbers and strings). */
export interface AgentRuntime {
  /** When its next scheduled check-in is due; undefined when the agent is not running. */
  dueAt: number | undefined;
  inventoryDueAt: number;
  intervalMs: number;
  /** `{"udid":…,"kind":"` — everything of the body before the kind. */
  prefix: string;
  checkinUrl: string;
  /** The session token a signed check-in earned; undefined: sign. */
  session: string | undefined;
  /** Until when (this Mac's clock) the agent sends `session` rather than signing: its expiry less the refresh margin. */
  sessionUntil: number;
}

const MINUTE = 60_000;

export class AgentRunner {
  readonly scheduler: BucketScheduler<SimulatedMac>;
  private readonly clock: Clock;

  constructor(options: AgentRunnerOptions) {
    this.clock = options.clock;
    this.scheduler = new BucketScheduler<SimulatedMac>(options.clock, (mac, at) => this.tick(mac, at), 'agent check-ins', options.onError);
  }

  /** The minute (within the interval) this Mac's recurring check-ins fall on. */
  private phaseOf(mac: SimulatedMac, intervalMs: number): number {
    const minutes = Math.max(1, Math.floor(intervalMs / MINUTE));
    return (mac.phaseSeed % minutes) * MINUTE;
  }

  /**
   * Starts (or restarts) the agent from `state.agent`: an install check-in now, recurring ones
   * on the Mac's grid. Returns the install check-in's promise.
   */
  start(mac: SimulatedMac): Promise<void> {
    const a = mac.state.agent;
    const now = this.clock.now();
    const intervalMs = a.intervalMs && a.intervalMs >= 1000 ? a.intervalMs : AGENT_CHECKIN_INTERVAL_MS;
    const checkinUrl = a.checkinUrl ?? mac.defaultAgentCheckinUrl();
    const installedAt = new Date(a.installedAt ?? now).toISOString();
    const id = mac.identity;
    // One flat string (a template literal would stay a tree of concatenations in memory).
    const prefix = [
      '{"udid":', JSON.stringify(id.udid),
      ',"serial_number":', JSON.stringify(id.serialNumber),
      ',"agent_version":', JSON.stringify(a.version ?? AGENT_VERSION),
      ',"installed_at":"', installedAt,
      '","os_version":', JSON.stringify(id.osVersion),
      ',"kind":"',
    ].join('');
    const rt: AgentRuntime = { dueAt: undefined, inventoryDueAt: now + AGENT_INVENTORY_INTERVAL_MS, intervalMs, prefix, checkinUrl, session: undefined, sessionUntil: 0 };
    mac.agentRuntime = rt;
    this.scheduleNext(mac, rt, nextOnGrid(now + 1, intervalMs, this.phaseOf(mac, intervalMs)));
    mac.emit('mac.agent.started', `agent ${a.version ?? AGENT_VERSION} started; checks in every ${Math.round(intervalMs / MINUTE)} min at ${checkinUrl}`, { version: a.version ?? AGENT_VERSION, checkinUrl });
    return this.checkin(mac, 'install');
  }

  /** Stops the agent's check-ins (the app may stay installed: a crash). */
  stop(mac: SimulatedMac, reason: string): void {
    if (!mac.agentRuntime) return;
    mac.agentRuntime = undefined;
    mac.emit('mac.agent.stopped', `agent stopped: ${reason}`, { reason });
  }

  private scheduleNext(mac: SimulatedMac, rt: AgentRuntime, at: number): void {
    rt.dueAt = at;
    this.scheduler.schedule(at, mac);
  }

  private tick(mac: SimulatedMac, at: number): Promise<void> | undefined {
    const rt = mac.agentRuntime;
    if (!rt || rt.dueAt !== at) return undefined; // stopped or rescheduled since
    let kind: AgentCheckinKind = 'recurring';
    if (at >= rt.inventoryDueAt) {
      kind = 'inventory';
      while (rt.inventoryDueAt <= at) rt.inventoryDueAt += AGENT_INVENTORY_INTERVAL_MS;
    }
    this.scheduleNext(mac, rt, at + rt.intervalMs);
    if (mac.poweredOff) return undefined; // a Mac that is off runs no agent
    return this.checkin(mac, kind);
  }

  /** One check-in now (the scheduled ones keep their times). */
  async checkin(mac: SimulatedMac, kind: AgentCheckinKind): Promise<void> {
    const rt = mac.agentRuntime;
    if (!rt) return;
    const signer = mac.signer;
    const now = this.clock.now();
    let body = `${rt.prefix}${kind}","sent_at":"${new Date(now).toISOString()}"`;
    if (kind !== 'recurring') {
      const apps: Array<{ bundle_id: string; name: string; version: string; path: string }> = [];
      for (const app of mac.state.apps.values()) apps.push({ bundle_id: app.bundleId, name: app.name, version: app.shortVersion || app.version, path: app.path });
      body += `,"apps":${JSON.stringify(apps)}`;
    }
    body += '}';
    if (!signer) {
      mac.emit('mac.agent.checkin.failed', `agent ${kind} check-in not sent: the Mac has no MDM identity to sign it with`, { kind, error: 'no identity' });
      return;
    }
    const bytes = Buffer.from(body);
    // The install check-in always signs; the others use the session token while it lasts.
    let bearer = kind !== 'install' && rt.session !== undefined && now < rt.sessionUntil ? rt.session : undefined;
    let status: number;
    let answer: Buffer;
    try {
      let res = await this.post(mac, rt, bytes, bearer === undefined ? signer.sign(bytes) : undefined, bearer);
      if (res.status === 401 && bearer !== undefined) {
        // Expired, or revoked (re-enrollment, server restart): drop it and sign, once.
        if (rt.session === bearer) rt.session = undefined;
        if (mac.listening) mac.emit('mac.agent.session.refused', `agent ${kind} check-in: session token refused (${res.body.toString('utf8', 0, 200)}); signing`, { kind, status: res.status });
        bearer = undefined;
        res = await this.post(mac, rt, bytes, signer.sign(bytes), undefined);
      }
      status = res.status;
      answer = res.body;
    } catch (error) {
      if (error instanceof PinFailureError) {
        // Nothing was sent: the agent refused the connection itself (TLS inspection, most likely).
        mac.emit('agent.pin-failure', `agent ${kind} check-in refused by the agent: ${error.host} presented key ${error.presented} (issuer ${error.issuer}), not the pinned ${error.expected}`, {
          kind,
          host: error.host,
          expected: error.expected,
          presented: error.presented,
          issuer: error.issuer,
        });
        return;
      }
      mac.emit('mac.agent.checkin.failed', `agent ${kind} check-in failed: ${(error as Error).message}`, { kind, error: (error as Error).message });
      return;
    }
    if (status !== 200) {
      mac.emit('mac.agent.checkin.failed', `POST ${AGENT_CHECKIN_PATH} (${kind}) → ${status} ${answer.toString('utf8', 0, 200)}`, { kind, status });
      return;
    }
    let reply: Partial<AgentCheckinResponse> = {};
    try {
      reply = JSON.parse(answer.toString('utf8')) as Partial<AgentCheckinResponse>;
    } catch {
      mac.emit('mac.agent.checkin.failed', `POST ${AGENT_CHECKIN_PATH} (${kind}) → 200 with a body that is not JSON`, { kind, status });
      return;
    }
    if (bearer === undefined) this.keepSession(rt, reply, now);
    if (mac.listening) mac.emit('mac.agent.checkin', `agent ${kind} check-in → 200`, { kind });
    if (reply.uninstall === true) {
      mac.removeAgent('the server asked the agent to uninstall itself');
      return;
    }
    // The server may ask for a later next check-in; the Mac keeps its minute on the grid.
    const next = typeof reply.next_checkin_seconds === 'number' && reply.next_checkin_seconds > 0 ? now + reply.next_checkin_seconds * 1000 : undefined;
    const live = mac.agentRuntime;
    if (next !== undefined && live === rt && rt.dueAt !== undefined && next > rt.dueAt + MINUTE) {
      this.scheduleNext(mac, rt, nextOnGrid(next, rt.intervalMs, this.phaseOf(mac, rt.intervalMs)));
    }
  }

  /** One POST of the check-in body, signed or with the session token. */
  private post(mac: SimulatedMac, rt: AgentRuntime, bytes: Buffer, signature: string | undefined, bearer: string | undefined): Promise<HttpResponse> {
    const headers: Record<string, string> =
      signature !== undefined
        ? { 'content-type': AGENT_CHECKIN_CONTENT_TYPE, 'mdm-signature': signature }
        : { 'content-type': AGENT_CHECKIN_CONTENT_TYPE, authorization: `${AGENT_SESSION_SCHEME} ${bearer!}` };
    return mac.request({ method: 'POST', url: rt.checkinUrl, body: bytes, headers }, 'agent');
  }

  /**
   * After a signed check-in: the token it earned, used until its life (as the server measures
   * it, so clock skew does not matter) less the margin has passed on this Mac's clock; none if
   * the server issued none (auth none, another server) or one too short-lived to use.
   */
  private keepSession(rt: AgentRuntime, reply: Partial<AgentCheckinResponse>, sentAt: number): void {
    rt.session = undefined;
    rt.sessionUntil = 0;
    if (typeof reply.session_token !== 'string' || reply.session_token === '' || typeof reply.session_expires_at !== 'string' || typeof reply.server_time !== 'string') return;
    const life = Date.parse(reply.session_expires_at) - Date.parse(reply.server_time);
    if (!(life > AGENT_SESSION_REFRESH_MARGIN_MS)) return;
    rt.session = reply.session_token;
    rt.sessionUntil = sentAt + life - AGENT_SESSION_REFRESH_MARGIN_MS;
  }
}

/** The agent's check-in URL when its install named none: AGENT_CHECKIN_PATH on this origin. */
export function agentCheckinUrlFor(origin: string): string {
  return new URL(AGENT_CHECKIN_PATH, origin).toString();
}
