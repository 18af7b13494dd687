/**
 * Test-side device: speaks the check-in and connect protocol to a running server over
 * real HTTPS sockets (keep-alive), and checks every message both sides emit against
 * Apple's schema in strict mode.
 */
import { randomBytes, randomUUID, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE, type Command } from '../../protocol/command';
import { createMdmSigner, type MdmSigner } from '../../protocol/cms';
import { openEnrollmentProfile, type OpenedEnrollmentProfile } from '../../protocol/enrollment-profile';
import { buildPlistBuffer, parsePlist } from '../../protocol/plist';
import type { PlistDict } from '../../protocol/plist/types';
import { reports, type CommandResults } from '../../protocol/result';
import { validateCheckin, validateCommand, validateCommandResponse, type ValidationContext, type ValidationResult } from '../../protocol/schema';
import type { MdmsimServer } from '../../server/server';

export interface HttpResult {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

export class HttpsClient {
  readonly agent: Agent;
  /** The CA the server's certificates chain to (DER), which enrollment profiles must be signed under. */
  readonly caCertDer: Buffer;
  constructor(
    readonly baseUrl: string,
    caFile: string,
  ) {
    const ca = readFileSync(caFile);
    this.agent = new Agent({ keepAlive: true, ca, maxSockets: 16 });
    this.caCertDer = new X509Certificate(ca).raw;
  }

  static for(server: MdmsimServer): HttpsClient {
    return new HttpsClient(server.url, server.info.caCert);
  }

  send(method: string, path: string, body?: Buffer | string, headers: Record<string, string> = {}): Promise<HttpResult> {
    return new Promise((resolve, reject) => {
      const payload = body === undefined ? undefined : Buffer.isBuffer(body) ? body : Buffer.from(body);
      const req = request(
        new URL(path, this.baseUrl),
        { method, agent: this.agent, headers: { ...(payload ? { 'content-length': String(payload.length) } : {}), ...headers } },
        (res) => {
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => chunks.push(c));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
          res.on('error', reject);
        },
      );
      req.on('error', reject);
      req.end(payload);
    });
  }

  api(method: string, path: string, token: string, body?: unknown, contentType = 'application/json'): Promise<HttpResult & { json: any }> {
    const payload = body === undefined ? undefined : typeof body === 'string' || Buffer.isBuffer(body) ? body : JSON.stringify(body);
    return this.send(method, path, payload, { authorization: `Bearer ${token}`, ...(payload !== undefined ? { 'content-type': contentType } : {}) }).then((r) => ({
      ...r,
      json: r.body.length > 0 && String(r.headers['content-type']).includes('json') ? JSON.parse(r.body.toString()) : undefined,
    }));
  }

  close(): void {
    this.agent.destroy();
  }
}

export function expectValid(result: ValidationResult, what: string): void {
  if (!result.ok) throw new Error(`${what} is not valid against Apple's schema:\n${result.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
}

export interface MacIdentity {
  udid: string;
  serial: string;
  osVersion: string;
  build: string;
  model: string;
  modelName: string;
  deviceName: string;
}

export const TOPIC = 'com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9';

export function macIdentity(n = 0, overrides: Partial<MacIdentity> = {}): MacIdentity {
  return {
    udid: randomUUID().toUpperCase(),
    serial: `C02TEST${String(n).padStart(5, '0')}`.slice(0, 12),
    osVersion: '14.4.1',
    build: '23E224',
    model: 'MacBookPro18,3',
    modelName: 'MacBook Pro',
    deviceName: `Test Mac ${n}`,
    ...overrides,
  };
}

export type IdentityKeyType = 'rsa' | 'ec';

/**
 * Fetches an enrollment profile and checks it as a Mac would (signature under the server's CA,
 * MDM payload valid, identity opens): the signer and profile a test device uses.
 */
export async function downloadProfile(http: HttpsClient, keyType?: IdentityKeyType): Promise<{ profile: OpenedEnrollmentProfile; signer: MdmSigner }> {
  // Without a key type the server's default applies.
  const r = await http.send('GET', keyType ? `/mdm/enroll?key=${keyType}` : '/mdm/enroll');
  if (r.status !== 200) throw new Error(`GET /mdm/enroll → ${r.status} ${r.body}`);
  const profile = openEnrollmentProfile(r.body, { trustedCaCerts: [http.caCertDer] });
  return { profile, signer: createMdmSigner(profile.identity) };
}

export interface TestMacOptions {
  /** Sign every request with an identity from GET /mdm/enroll (default true), as a real Mac does. */
  sign?: boolean;
  /** Key type of that identity (default ec: cheap). */
  keyType?: IdentityKeyType;
}

/** A macOS device channel, as a real Mac would talk. */
export class TestMac {
  /** The push token its TokenUpdate sends (a courier-derived one when it subscribes for pushes). */
  token: Buffer = randomBytes(32);
  pushMagic = randomUUID().toUpperCase();
  readonly sent: PlistDict[] = [];
  /** Set once the Mac has installed an enrollment profile. */
  profile?: OpenedEnrollmentProfile;
  signer?: MdmSigner;

  constructor(
    readonly http: HttpsClient,
    readonly id: MacIdentity = macIdentity(),
    readonly options: TestMacOptions = {},
  ) {}

  /** Downloads and installs a (new) enrollment profile: later requests are signed with its identity. */
  async installProfile(keyType: IdentityKeyType = this.options.keyType ?? 'ec'): Promise<OpenedEnrollmentProfile> {
    const { profile, signer } = await downloadProfile(this.http, keyType);
    this.profile = profile;
    this.signer = signer;
    return profile;
  }

  /** Headers for a body: the Mdm-Signature once a profile is installed (installed on first use when signing). */
  async signatureHeaders(body: Buffer): Promise<Record<string, string>> {
    if (!this.signer && this.options.sign !== false) await this.installProfile();
    return this.signer ? { 'mdm-signature': this.signer.sign(body) } : {};
  }

  get topic(): string {
    return this.profile?.mdm.Topic ?? TOPIC;
  }

  get udid(): string {
    return this.id.udid;
  }

  get ctx(): ValidationContext {
    return { platform: 'macOS', osVersion: this.id.osVersion, strict: true };
  }

  authenticateMessage(): PlistDict {
    return {
      MessageType: 'Authenticate',
      Topic: this.topic,
      UDID: this.id.udid,
      DeviceName: this.id.deviceName,
      Model: this.id.model,
      ModelName: this.id.modelName,
      ProductName: this.id.model,
      SerialNumber: this.id.serial,
      OSVersion: this.id.osVersion,
      BuildVersion: this.id.build,
    };
  }

  tokenUpdateMessage(): PlistDict {
    return { MessageType: 'TokenUpdate', Topic: this.topic, UDID: this.id.udid, Token: this.token, PushMagic: this.pushMagic, AwaitingConfiguration: false };
  }

  async checkin(message: PlistDict, path = '/mdm/checkin'): Promise<HttpResult> {
    expectValid(validateCheckin(message, this.ctx), `${String(message.MessageType)} sent by the test Mac`);
    this.sent.push(message);
    const body = buildPlistBuffer(message);
    return this.http.send('PUT', path, body, { 'content-type': CHECKIN_CONTENT_TYPE, ...(await this.signatureHeaders(body)) });
  }

  async enroll(): Promise<void> {
    // Installed first, so the messages carry the profile's Topic.
    if (!this.signer && this.options.sign !== false) await this.installProfile();
    const a = await this.checkin(this.authenticateMessage());
    if (a.status !== 200) throw new Error(`Authenticate → ${a.status} ${a.body}`);
    const t = await this.checkin(this.tokenUpdateMessage());
    if (t.status !== 200) throw new Error(`TokenUpdate → ${t.status} ${t.body}`);
  }

  /** Sends a report and returns the command the server answered with (undefined for an empty 200). */
  async report(results: CommandResults, requestType?: string, path = '/mdm/connect'): Promise<Command | undefined> {
    const r = await this.sendReport(results, requestType, path);
    if (r.status !== 200) throw new Error(`${results.Status} → ${r.status} ${r.body}`);
    if (r.body.length === 0) return undefined;
    const command = parsePlist(r.body) as unknown as Command;
    expectValid(validateCommand(command as unknown as PlistDict, this.ctx), `command ${command.Command?.RequestType} sent by the server`);
    return command;
  }

  async sendReport(results: CommandResults, requestType?: string, path = '/mdm/connect'): Promise<HttpResult> {
    expectValid(validateCommandResponse(requestType, results as PlistDict, this.ctx), `${results.Status} report sent by the test Mac`);
    const body = buildPlistBuffer(results as PlistDict);
    return this.http.send('PUT', path, body, { 'content-type': COMMAND_CONTENT_TYPE, ...(await this.signatureHeaders(body)) });
  }

  idle(): Promise<Command | undefined> {
    return this.report(reports.Idle({ UDID: this.udid }));
  }

  ack(commandUUID: string, response: PlistDict = {}, requestType?: string): Promise<Command | undefined> {
    return this.report(reports.Acknowledged({ UDID: this.udid }, commandUUID, response), requestType);
  }

  notNow(commandUUID: string): Promise<Command | undefined> {
    return this.report(reports.NotNow({ UDID: this.udid }, commandUUID));
  }
}

/**
 * Signs raw test bodies as the device they name would: one identity per UDID (from
 * GET /mdm/enroll), or the registered TestMac's own; bodies naming no readable UDID are
 * signed with a spare identity, so the server gets past the signature to the body.
 */
export class Keyring {
  private readonly byUdid = new Map<string, MdmSigner>();
  private spare?: MdmSigner;

  constructor(readonly http: HttpsClient) {}

  add(mac: TestMac): void {
    if (!mac.signer) throw new Error(`TestMac ${mac.udid} has no identity yet: enroll it first`);
    this.byUdid.set(mac.udid, mac.signer);
  }

  async headersFor(body: Buffer | string): Promise<Record<string, string>> {
    const bytes = Buffer.isBuffer(body) ? body : Buffer.from(body);
    const udid = udidOf(bytes);
    let signer = udid === undefined ? this.spare : this.byUdid.get(udid);
    if (!signer) {
      signer = (await downloadProfile(this.http, 'ec')).signer;
      if (udid === undefined) this.spare = signer;
      else this.byUdid.set(udid, signer);
    }
    return { 'mdm-signature': signer.sign(bytes) };
  }
}

function udidOf(body: Buffer): string | undefined {
  try {
    const value = parsePlist(body) as PlistDict;
    return typeof value?.UDID === 'string' ? value.UDID : undefined;
  } catch {
    return undefined;
  }
}
