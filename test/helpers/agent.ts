/**
 * Test-side pieces for the agent and its policies: a server with the policies configured
 * explicitly (so tests do not depend on defaults elsewhere), a TestMac whose token is
 * subscribed on the courier (it sees the pushes the server sends), and the agent's signed
 * check-in.
 */
import { randomUUID } from 'node:crypto';
import { AGENT_CHECKIN_CONTENT_TYPE, AGENT_CHECKIN_PATH, AGENT_VERSION, type AgentCheckin } from '../../protocol/agent';
import type { Command } from '../../protocol/command';
import type { PushFrame } from '../../protocol/apns';
import type { ServerOptions } from '../../server/server';
import type { AgentPolicyOptions } from '../../server/policy/settings';
import { CourierClient, newDevice, type TestDevice } from './apns';
import { TestMac, macIdentity, type HttpResult, type MacIdentity } from './mdm-client';
import { startTestServer, type TestServer } from './server';

/** The policies on (as by default), the inventory off unless a test asks: each test sees only what it asks for. */
export async function startAgentServer(options: ServerOptions & { agentPolicy?: AgentPolicyOptions } = {}): Promise<TestServer> {
  return startTestServer({ ...options, agentPolicy: { installOnEnrollment: true, reinstall: true, inventoryInterval: false, ...options.agentPolicy } });
}

export interface EventJson {
  id: number;
  time: string;
  type: string;
  udid?: string;
  summary: string;
  data: Record<string, any>;
}

export function apiOf(t: TestServer) {
  return async (method: string, path: string, body?: unknown, contentType?: string) => {
    const r = await t.http.api(method, `/sim/v1${path}`, t.token, body, contentType);
    return { status: r.status, body: r.json, headers: r.headers };
  };
}

export async function eventsOf(t: TestServer, type: string, udid?: string): Promise<EventJson[]> {
  const r = await t.http.api('GET', `/sim/v1/events?type=${type}${udid ? `&udid=${udid}` : ''}&limit=10000`, t.token);
  return r.json.events as EventJson[];
}

/** A signed TestMac whose push token is subscribed on the courier. */
export class PushableMac extends TestMac {
  device!: TestDevice;
  courier!: CourierClient;
  private acked = 0;

  static async create(t: TestServer, id: MacIdentity = macIdentity()): Promise<PushableMac> {
    const mac = new PushableMac(t.http, id);
    await mac.installProfile();
    mac.device = newDevice(mac.topic);
    mac.token = Buffer.from(mac.device.token, 'hex');
    mac.courier = await CourierClient.connect(t.server.info.courier!, mac.udid);
    await mac.courier.subscribe([mac.device]);
    return mac;
  }

  /** Pushes received so far. */
  pushes(): PushFrame[] {
    return this.courier.pushes();
  }

  /** Waits for the next push and acknowledges it, as a Mac's courier client does. */
  async nextPush(timeoutMs = 5000): Promise<PushFrame> {
    const push = await this.courier.next('push', timeoutMs);
    this.courier.ack(push.id);
    this.acked++;
    return push;
  }

  /** Connects (Idle) and returns the first command, if any. */
  async firstCommand(): Promise<Command | undefined> {
    return this.idle();
  }

  /** The agent's check-in, signed with this Mac's MDM identity (or another signer's). */
  agentCheckin(kind: AgentCheckin['kind'] = 'recurring', overrides: Partial<AgentCheckin> & Record<string, unknown> = {}, signWith: TestMac = this): Promise<HttpResult> {
    return agentCheckin(this, kind, overrides, signWith);
  }

  close(): Promise<void> {
    return this.courier.close();
  }
}

export function checkinBody(mac: TestMac, kind: AgentCheckin['kind'] = 'recurring', overrides: Record<string, unknown> = {}, now = Date.now()): AgentCheckin & Record<string, unknown> {
  return {
    udid: mac.udid,
    serial_number: mac.id.serial,
    agent_version: AGENT_VERSION,
    kind,
    installed_at: new Date(now - 3600_000).toISOString(),
    sent_at: new Date(now).toISOString(),
    os_version: mac.id.osVersion,
    ...overrides,
  };
}

/** POST /agent/v1/checkin as the agent on `mac` would, signed by `signWith` (default: the Mac itself). */
export async function agentCheckin(mac: TestMac, kind: AgentCheckin['kind'] = 'recurring', overrides: Record<string, unknown> = {}, signWith: TestMac = mac): Promise<HttpResult> {
  const body = Buffer.from(JSON.stringify(checkinBody(mac, kind, overrides)));
  return mac.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': AGENT_CHECKIN_CONTENT_TYPE, ...(await signWith.signatureHeaders(body)) });
}

/** POST /agent/v1/checkin with `Authorization: Bearer <token>` instead of a signature (plus `headers`, e.g. a signature too). */
export async function agentCheckinWithSession(mac: TestMac, token: string, kind: AgentCheckin['kind'] = 'recurring', overrides: Record<string, unknown> = {}, headers: Record<string, string> = {}): Promise<HttpResult> {
  const body = Buffer.from(JSON.stringify(checkinBody(mac, kind, overrides)));
  return mac.http.send('POST', AGENT_CHECKIN_PATH, body, { 'content-type': AGENT_CHECKIN_CONTENT_TYPE, authorization: `Bearer ${token}`, ...headers });
}

/** The session token and expiry of a check-in's 200 answer (undefined when it carries none). */
export function sessionOf(r: HttpResult): { token: string; expiresAt: string } | undefined {
  const body = JSON.parse(r.body.toString()) as { session_token?: string; session_expires_at?: string };
  return body.session_token === undefined ? undefined : { token: body.session_token, expiresAt: body.session_expires_at! };
}

export function freshId(n: number, overrides: Partial<MacIdentity> = {}): MacIdentity {
  return macIdentity(n, { udid: randomUUID().toUpperCase(), ...overrides });
}

export const DAY = 86_400_000;
export const HOUR = 3_600_000;

/**
 * For tests about the MDM protocol itself: no agent install on enrollment, no reinstall rule,
 * no inventory, so the queue holds only what the test puts there.
 * `startTestServer(POLICIES_OFF)` or `startTestServer({ ...POLICIES_OFF, auth: 'none' })`.
 */
export const POLICIES_OFF: ServerOptions = Object.freeze({ agentPolicy: Object.freeze({ installOnEnrollment: false, reinstall: false, inventoryInterval: false }) });
