/**
 * One simulated Mac: the MDM client state machine (enroll, check in, connect loop), its place
 * on the fleet's courier, its vendor agent, its faults and its power. It speaks to the MDM
 * server only over the wire, and every message it sends is checked against Apple's schema for
 * its macOS version first (a failure there is a bug in the simulator: it throws with the issues).
 *
 * A Mac keeps little: its identity and state, its enrollment (signer, URLs, token), a few flags.
 * Sockets, timers and the courier belong to the fleet (MacHost).
 */
import { formatDuration } from '../protocol/duration';
import { AGENT_BUNDLE_ID, type AgentCheckinKind } from '../protocol/agent';
import type { DeviceCredential, PushFrame } from '../protocol/apns';
import { CHECKIN_CONTENT_TYPE } from '../protocol/checkin';
import type { Clock, TimerHandle } from '../protocol/clock';
import type { MdmSigner } from '../protocol/cms';
import { COMMAND_CONTENT_TYPE, type CommandPayload } from '../protocol/command';
import { openEnrollmentProfile } from '../protocol/enrollment-profile';
import { NETWORK_FAULT_KINDS, type DeviceFault, type DeviceFaultKind, type DeviceFaultState, type NetworkFault } from '../protocol/faults';
import { buildPlistBuffer, parsePlist } from '../protocol/plist';
import { isPlistDict, type PlistDict, type PlistValue } from '../protocol/plist/types';
import { reports, type CommandResults } from '../protocol/result';
import { validateCheckin, validateCommandResponse, type ValidationContext, type ValidationResult } from '../protocol/schema';
import { agentCheckinUrlFor, type AgentRunner, type AgentRuntime } from './agent';
import { createMacState } from './baseline';
import { handleCommand, hasEnrollmentProfile } from './commands';
import { CourierError, type CourierClient, type PushTarget } from './courier';
import { macRequest, type FleetHttp, type HttpRequest, type HttpResponse, type NetworkFaults, type RequestPurpose } from './http';
import { macSecret, uuidFromBytes } from './identity';
import type { FleetNetwork } from './network/network';
import type { Resolver } from './network/resolver';
import { policyListField } from './network/policy';
import { describeNetworkFault } from '../protocol/describe-faults';
import { connectFor } from './network/proxy';
import { createCompactSigner, ownBuffer, subjectCommonName } from './signer';
import { NetworkError, type AfterReport, type CommandContext, type HandlerOutcome, type InstalledCertificate, type MacIdentity, type MacNetwork, type MacState } from './state';

/** What every Mac of a fleet shares. */
export interface MacHost {
  readonly clock: Clock;
  readonly http: FleetHttp;
  readonly courier: CourierClient;
  readonly agents: AgentRunner;
  /** The Macs' own name resolver (never the system's DNS). */
  readonly resolver: Resolver;
  /** The Macs' network: policies, the proxy and inspector (agent-sim/network). */
  readonly network: FleetNetwork;
  /** MDM host origin, e.g. https://127.0.0.1:8443. */
  readonly server: string;
  readonly seed: string;
  readonly keyType: 'ec' | 'rsa' | undefined;
  /** True when someone listens to events (else no event is built). */
  readonly listening: boolean;
  emit(mac: SimulatedMac, type: string, summary: string, data?: Record<string, unknown>): void;
  /** Counts work in flight for settled(). */
  track<T>(work: Promise<T>): Promise<T>;
  /** A bug: reported, not thrown into the void. */
  reportError(error: unknown, mac?: SimulatedMac): void;
  validationContext(osVersion: string): ValidationContext;
  /** One shared record per distinct anchor certificate (every Mac of a fleet has the same CA). */
  anchorCertificate(der: Buffer): InstalledCertificate;
}

export interface MacEvent {
  /** Clock time (ms since the epoch). */
  at: number;
  udid: string;
  type: string;
  summary: string;
  data?: Record<string, unknown>;
}

/** Thrown when a message the Mac is about to send fails Apple's schema: a simulator bug. */
export class SchemaViolation extends Error {
  constructor(
    readonly what: string,
    readonly result: ValidationResult,
  ) {
    super(`${what} is not valid against Apple's schema:\n${result.errors.map((e) => `  ${e.path}: ${e.message}`).join('\n')}`);
    this.name = 'SchemaViolation';
  }
}

export class EnrollmentError extends Error {
  constructor(
    message: string,
    readonly status?: number,
  ) {
    super(message);
    this.name = 'EnrollmentError';
  }
}

/** The MDM enrollment a Mac holds (from its enrollment profile). */
interface Enrollment {
  serverUrl: string;
  checkInUrl: string;
  topic: string;
  signMessage: boolean;
  checkOutWhenRemoved: boolean;
  signer: MdmSigner;
  anchors: Buffer[];
  anchorKey: string;
  pushMagic: string;
  token: string;
  profileIdentifier: string;
}

/** Faults and power, the part of a Mac's state that decides what reaches the network. */
interface MacFaults extends NetworkFaults {
  offlineFault?: { until?: number; timer?: TimerHandle };
  power?: 'restarting' | 'off';
  powerTimer?: TimerHandle;
  agentCrashed: boolean;
  /** Connects left that answer NotNow to every command. */
  notNow: number;
  /** The network does not let the Mac reach APNs (its allow-list): its pushes wait there. */
  apnsBlocked?: boolean;
}

/** How long a restart keeps the Mac away. */
export const RESTART_MS = 2 * 60_000;

export class SimulatedMac implements PushTarget, MacNetwork {
  readonly udid: string;
  private _state: MacState;
  private enr: Enrollment | undefined;
  private faults: MacFaults | undefined;
  private loop: Promise<void> | undefined;
  private again = false;
  /** A push arrived while the Mac was away: connect when it is back. */
  private missedPush = false;
  private enrollments = 0;
  private enrolling: Promise<void> | undefined;
  /** The agent's schedule while it runs (AgentRunner's). */
  agentRuntime: AgentRuntime | undefined;

  constructor(
    private readonly host: MacHost,
    readonly identity: MacIdentity,
    /** The Mac's number in the whole fleet (its seed for secrets). */
    readonly fleetNumber: number,
  ) {
    this.udid = identity.udid;
    this._state = createMacState(identity, host.clock.now());
  }

  // ---- what it is ---------------------------------------------------------------------

  get state(): MacState {
    return this._state;
  }

  get enrolled(): boolean {
    return this.enr !== undefined;
  }

  get online(): boolean {
    return !this.faults?.offline;
  }

  get poweredOff(): boolean {
    return this.faults?.power === 'off';
  }

  /** Its push token (hex) while enrolled. */
  get token(): string | undefined {
    return this.enr?.token;
  }

  get topic(): string | undefined {
    return this.enr?.topic;
  }

  get signer(): MdmSigner | undefined {
    return this.enr?.signer;
  }

  get listening(): boolean {
    return this.host.listening;
  }

  /** Spreads the agent's check-ins over the minutes of its interval. */
  get phaseSeed(): number {
    return macSecret(this.host.seed, this.fleetNumber, 'agent-phase', 4).readUInt32BE(0);
  }

  /** Whether a connect loop is running. */
  get connecting(): boolean {
    return this.loop !== undefined;
  }

  emit(type: string, summary: string, data?: Record<string, unknown>): void {
    if (this.host.listening) this.host.emit(this, type, summary, data);
  }

  defaultAgentCheckinUrl(): string {
    return agentCheckinUrlFor(this.enr ? new URL(this.enr.serverUrl).origin : this.host.server);
  }

  // ---- the network --------------------------------------------------------------------

  request(req: HttpRequest, purpose: RequestPurpose): Promise<HttpResponse> {
    // The agent pins its server's key (from its install's Configuration); nothing else does.
    const pin = purpose === 'agent' ? this._state.agent.pin : undefined;
    const anchorKey = this.enr?.anchorKey;
    const net = this.host.network;
    const dispatcher = net.active ? net.dispatcherFor(this.udid, anchorKey ?? '', this.host.http.anchorsOf(anchorKey), pin, connectFor(purpose)) : undefined;
    return macRequest(this.host.http, this.faults, anchorKey, req, purpose, pin, dispatcher);
  }

  /** MacNetwork (for command handlers): a GET that must answer 200. */
  async get(url: string, purpose: 'manifest' | 'package'): Promise<Buffer> {
    let res: HttpResponse;
    try {
      res = await this.request({ method: 'GET', url }, purpose);
    } catch (error) {
      this.emit('mac.download', `GET ${url} failed: ${(error as Error).message}`, { url, purpose, error: (error as Error).message });
      throw error;
    }
    this.emit('mac.download', `GET ${url} → ${res.status} (${res.body.length} bytes)`, { url, purpose, status: res.status, bytes: res.body.length });
    if (res.status !== 200) throw new NetworkError(`GET ${url} answered ${res.status}`, url, res.status);
    return res.body;
  }

  /** The courier credential of this Mac's token (PushTarget). */
  courierCredential(): DeviceCredential | undefined {
    if (!this.enr) return undefined;
    return { topic: this.enr.topic, secret: this.secret() };
  }

  private secret(): string {
    return macSecret(this.host.seed, this.fleetNumber, 'apns-secret').toString('base64url');
  }

  // ---- enrollment ---------------------------------------------------------------------

  /**
   * GET <server>/mdm/enroll, check and install the profile, subscribe on the courier, then
   * Authenticate and TokenUpdate to the CheckInURL. Re-enrolling an enrolled Mac replaces its
   * enrollment (as installing a new profile does).
   */
  enroll(): Promise<void> {
    if (this.enrolling) return this.enrolling;
    this.enrolling = this.host.track(this.doEnroll()).finally(() => {
      this.enrolling = undefined;
    });
    return this.enrolling;
  }

  private async doEnroll(): Promise<void> {
    const host = this.host;
    const id = this.identity;
    this.emit('mac.enroll.started', `GET ${host.server}/mdm/enroll`);
    try {
      const url = `${host.server.replace(/\/+$/, '')}/mdm/enroll${host.keyType ? `?key=${host.keyType}` : ''}`;
      const res = await this.request({ method: 'GET', url }, 'profile');
      if (res.status !== 200) throw new EnrollmentError(`GET ${url} → ${res.status} ${res.body.toString('utf8', 0, 200)}`, res.status);
      const ctx = host.validationContext(id.osVersion);
      const opened = openEnrollmentProfile(res.body, { trustedCaCerts: host.http.caDers, context: ctx });
      const now = host.clock.now();
      if (this.enr) this.dropEnrollment(false);

      // Install the profile: its identity and anchors become managed certificates.
      const profile = opened.profile;
      const profileIdentifier = String(profile.PayloadIdentifier ?? 'mdm.enrollment');
      this._state.profiles.set(profileIdentifier, {
        PayloadIdentifier: profileIdentifier,
        PayloadUUID: String(profile.PayloadUUID ?? ''),
        ...(typeof profile.PayloadDisplayName === 'string' ? { PayloadDisplayName: profile.PayloadDisplayName } : {}),
        ...(typeof profile.PayloadDescription === 'string' ? { PayloadDescription: profile.PayloadDescription } : {}),
        ...(typeof profile.PayloadOrganization === 'string' ? { PayloadOrganization: profile.PayloadOrganization } : {}),
        PayloadVersion: typeof profile.PayloadVersion === 'number' ? profile.PayloadVersion : 1,
        ...(typeof profile.PayloadRemovalDisallowed === 'boolean' ? { PayloadRemovalDisallowed: profile.PayloadRemovalDisallowed } : {}),
        managed: true,
        content: slimProfile(profile),
        installedAt: now,
      });
      const certDer = ownBuffer(opened.identity.certDer);
      this._state.certificates.push({ commonName: subjectCommonName(certDer) ?? '', der: certDer, isIdentity: true, managed: true });
      for (const der of opened.anchors) this._state.certificates.push(host.anchorCertificate(der));

      const mdm = opened.mdm;
      // The profile's MDM names live where the profile came from, unless the resolver knows better.
      await host.resolver.learnProfileZone(url, [mdm.ServerURL, mdm.CheckInURL ?? mdm.ServerURL]);
      this.enrollments++;
      const pushMagic = uuidFromBytes(macSecret(host.seed, this.fleetNumber, `push-magic-${this.enrollments}`, 16));
      const { token, ready } = host.courier.subscribe(this, { topic: mdm.Topic, secret: this.secret() });
      const anchors = opened.anchors.length > 0 ? opened.anchors.map((der) => host.anchorCertificate(der).der) : host.http.caDers;
      this.enr = {
        serverUrl: mdm.ServerURL,
        checkInUrl: mdm.CheckInURL ?? mdm.ServerURL,
        topic: mdm.Topic,
        signMessage: mdm.SignMessage,
        checkOutWhenRemoved: mdm.CheckOutWhenRemoved === true,
        signer: createCompactSigner({ certDer, privateKey: opened.identity.privateKey }),
        anchors,
        anchorKey: host.http.anchorKey(anchors),
        pushMagic,
        token,
        profileIdentifier,
      };
      const apnsBlocked = this.apnsUnreachable();
      if (apnsBlocked || this.faults?.apnsBlocked) this.ensureFaults().apnsBlocked = apnsBlocked;
      if (this.faults?.offline || apnsBlocked) host.courier.unsubscribe(token);
      else await ready;

      await this.checkin({
        MessageType: 'Authenticate',
        Topic: mdm.Topic,
        UDID: id.udid,
        DeviceName: id.deviceName,
        Model: id.model,
        ModelName: id.modelName,
        ProductName: id.model,
        SerialNumber: id.serialNumber,
        OSVersion: id.osVersion,
        BuildVersion: id.buildVersion,
      });
      await this.checkin({
        MessageType: 'TokenUpdate',
        Topic: mdm.Topic,
        UDID: id.udid,
        Token: Buffer.from(token, 'hex'),
        PushMagic: pushMagic,
        AwaitingConfiguration: false,
      });
      this.emit('mac.enroll.enrolled', `enrolled: ${id.marketingName}, macOS ${id.osVersion} (${id.buildVersion}), serial ${id.serialNumber}`, {
        topic: mdm.Topic,
        token,
        serverUrl: mdm.ServerURL,
      });
    } catch (error) {
      if (this.enr) this.dropEnrollment(true);
      this.emit('mac.enroll.failed', `enrollment failed: ${(error as Error).message}`, { error: (error as Error).message });
      throw error;
    }
  }

  /** One check-in message to the CheckInURL; throws unless the server answers 200. */
  private async checkin(message: PlistDict): Promise<HttpResponse> {
    const enr = this.enr;
    if (!enr) throw new EnrollmentError('not enrolled');
    const type = String(message.MessageType);
    const result = validateCheckin(message, this.host.validationContext(this.identity.osVersion));
    if (!result.ok) throw new SchemaViolation(`${type} from ${this.udid}`, result);
    const body = buildPlistBuffer(message);
    const res = await this.request({ method: 'PUT', url: enr.checkInUrl, body, headers: this.headers(enr, CHECKIN_CONTENT_TYPE, body) }, 'mdm');
    this.emit('mac.checkin', `PUT ${type} → ${res.status}`, { messageType: type, status: res.status });
    if (res.status !== 200) throw new EnrollmentError(`${type} → ${res.status} ${res.body.toString('utf8', 0, 300)}`, res.status);
    return res;
  }

  private headers(enr: Enrollment, contentType: string, body: Buffer): Record<string, string> {
    return enr.signMessage ? { 'content-type': contentType, 'mdm-signature': enr.signer.sign(body) } : { 'content-type': contentType };
  }

  /**
   * Removes the MDM profile (as a user or `profiles remove` would): CheckOut first when the
   * profile says CheckOutWhenRemoved, then the profile, the profiles and certificates it
   * managed, and the courier token (APNs answers 410 from then on). Apps stay; the agent,
   * whose identity was the MDM one, stops.
   */
  async unenroll(): Promise<void> {
    if (!this.enr) return;
    await this.host.track(this.leave());
  }

  private async leave(): Promise<void> {
    const enr = this.enr;
    if (!enr) return;
    if (enr.checkOutWhenRemoved && this.online) {
      try {
        await this.checkin({ MessageType: 'CheckOut', Topic: enr.topic, UDID: this.udid });
      } catch (error) {
        if (error instanceof SchemaViolation) throw error;
        this.emit('mac.checkout.failed', `CheckOut failed: ${(error as Error).message}`);
      }
    }
    this.dropEnrollment(true);
    this.host.agents.stop(this, 'the MDM identity it signs with was removed');
    this.emit('mac.unenrolled', 'no longer enrolled: the MDM profile was removed');
  }

  /** Forgets the enrollment: profile, managed profiles and certificates, courier token. */
  private dropEnrollment(unregister: boolean): void {
    const enr = this.enr;
    if (!enr) return;
    this.enr = undefined;
    for (const [key, p] of this._state.profiles) if (p.managed) this._state.profiles.delete(key);
    this._state.certificates = this._state.certificates.filter((c) => !c.managed);
    if (unregister) this.host.courier.unregister(enr.token);
    else this.host.courier.unsubscribe(enr.token);
  }

  // ---- pushes and the connect loop ----------------------------------------------------

  onPush(frame: PushFrame): void {
    const enr = this.enr;
    if (!enr) return;
    if (this.host.listening) this.emit('mac.push.received', `push ${frame.apnsId} received`, { apnsId: frame.apnsId, payload: frame.payload as Record<string, unknown> });
    if (this.faults?.offline) {
      this.missedPush = true;
      return;
    }
    const magic = (frame.payload as { mdm?: unknown } | undefined)?.mdm;
    if (magic !== undefined && magic !== enr.pushMagic) {
      this.emit('mac.push.ignored', `push ${frame.apnsId} carries another PushMagic: ignored`, { apnsId: frame.apnsId });
      return;
    }
    void this.connect().catch((error) => this.host.reportError(error, this));
  }

  /**
   * Runs a connect loop now (Idle → command → report … until an empty 200). A call while one
   * runs asks for one more loop after it and returns the promise of both.
   */
  connect(): Promise<void> {
    if (this.loop) {
      this.again = true;
      return this.loop;
    }
    if (!this.enr || this.faults?.offline) return Promise.resolve();
    this.loop = this.host.track(this.loops()).finally(() => {
      this.loop = undefined;
    });
    return this.loop;
  }

  private async loops(): Promise<void> {
    do {
      this.again = false;
      await this.connectOnce();
    } while (this.again && this.enr && !this.faults?.offline);
  }

  private async connectOnce(): Promise<void> {
    const enr = this.enr;
    if (!enr) return;
    const f = this.faults;
    const notNow = f !== undefined && f.notNow > 0;
    if (notNow) f.notNow--;
    const ids = { UDID: this.udid };
    let report: CommandResults = reports.Idle(ids);
    let requestType: string | undefined;
    let after: Array<AfterReport | 'unenroll'> | undefined;
    let commands = 0;
    for (;;) {
      const body = this.reportBody(report, requestType);
      let res: HttpResponse;
      try {
        res = await this.request({ method: 'PUT', url: enr.serverUrl, body, headers: this.headers(enr, COMMAND_CONTENT_TYPE, body) }, 'mdm');
      } catch (error) {
        this.emit('mac.connect.failed', `PUT ${report.Status} failed: ${(error as Error).message}`, { status: report.Status, error: (error as Error).message });
        return;
      }
      if (after) {
        const stop = await this.afterReport(after);
        after = undefined;
        if (stop) return;
      }
      if (res.status !== 200) {
        this.emit('mac.connect.error', `PUT ${report.Status} → ${res.status} ${res.body.toString('utf8', 0, 300)}`, { status: res.status, reported: report.Status });
        return;
      }
      if (res.body.length === 0) {
        this.emit('mac.connect', `connect done: ${commands} command(s)${notNow ? ', all answered NotNow' : ''}`, { commands, notNow });
        return;
      }
      commands++;
      const command = readCommand(res.body);
      if (!command.ok) {
        this.emit('mac.command.unreadable', `the server sent a command the Mac cannot read: ${command.error}`, { error: command.error });
        if (command.uuid === undefined) return;
        report = reports.CommandFormatError(ids, command.uuid);
        requestType = undefined;
        continue;
      }
      const { uuid, payload } = command;
      requestType = payload.RequestType;
      if (notNow) {
        report = reports.NotNow(ids, uuid);
        this.emit('mac.command.handled', `${requestType} → NotNow (fault)`, { commandUUID: uuid, requestType, status: 'NotNow' });
        continue;
      }
      let outcome: HandlerOutcome;
      try {
        outcome = await handleCommand({ CommandUUID: uuid, Command: payload }, this.commandContext(enr));
      } catch (error) {
        this.host.reportError(error, this);
        // A handler that fails is a simulator bug (reported above); the Mac answers as it does
        // for a command it cannot handle (12021, MCMDMErrorDomain: the issue's "unsupported").
        outcome = { status: 'Error', errorChain: [{ ErrorCode: 12021, ErrorDomain: 'MCMDMErrorDomain', LocalizedDescription: `The command could not be handled: ${(error as Error).message}` }] };
      }
      switch (outcome.status) {
        case 'Acknowledged':
          report = reports.Acknowledged(ids, uuid, outcome.response ?? {});
          if (outcome.after && outcome.after.length > 0) after = [...outcome.after];
          // RemoveProfile took the enrollment profile away: the Mac leaves MDM once it reported.
          if (!hasEnrollmentProfile(this._state)) (after ??= []).push('unenroll');
          break;
        case 'Error':
          report = reports.Error(ids, uuid, outcome.errorChain);
          break;
        default:
          report = reports.CommandFormatError(ids, uuid, outcome.errorChain);
      }
      if (this.host.listening) {
        const chain = outcome.status === 'Acknowledged' ? undefined : outcome.errorChain;
        this.emit('mac.command.handled', `${requestType} → ${outcome.status}${chain?.[0] ? ` (${chain[0].ErrorDomain} ${chain[0].ErrorCode}: ${chain[0].LocalizedDescription})` : ''}`, {
          commandUUID: uuid,
          requestType,
          status: outcome.status,
          ...(chain ? { errorChain: chain } : {}),
          ...(after ? { after } : {}),
        });
      }
    }
  }

  private reportBody(report: CommandResults, requestType: string | undefined): Buffer {
    const result = validateCommandResponse(report.Status === 'Idle' ? undefined : requestType, report as PlistDict, this.host.validationContext(this.identity.osVersion));
    if (!result.ok) throw new SchemaViolation(`${report.Status} report${requestType ? ` of ${requestType}` : ''} from ${this.udid}`, result);
    return buildPlistBuffer(report as PlistDict);
  }

  private commandContext(enr: Enrollment): CommandContext {
    return { mac: this._state, clock: this.host.clock, network: this, anchors: enr.anchors };
  }

  /** Effects that wait for the report to reach the server; true when the loop must end. */
  private async afterReport(after: Array<AfterReport | 'unenroll'>): Promise<boolean> {
    let stop = false;
    for (const effect of after) {
      switch (effect) {
        case 'unenroll':
          await this.leave();
          return true;
        case 'start-agent':
          this.startAgent();
          break;
        case 'erase':
          this.wipe();
          return true;
        case 'restart':
          this.powerCycle('restarting');
          stop = true;
          break;
        case 'shutdown':
          this.powerCycle('off');
          stop = true;
          break;
      }
    }
    return stop;
  }

  // ---- the agent ----------------------------------------------------------------------

  /** Starts the vendor agent (after its install); a crashed agent starts again on reinstall. */
  private startAgent(): void {
    const a = this._state.agent;
    if (!a.installed) return;
    if (this.faults?.agentCrashed) {
      this.faults.agentCrashed = false;
      this.emit('mac.fault.cleared', 'agent-crashed: the agent was reinstalled', { kind: 'agent-crashed' });
    }
    this.emit('mac.install', `installed ${AGENT_BUNDLE_ID} ${a.version ?? ''}`.trim(), { bundleId: AGENT_BUNDLE_ID, version: a.version });
    void this.host.track(this.host.agents.start(this)).catch((error) => this.host.reportError(error, this));
  }

  /** The agent removes itself, or is removed: gone from the app list, silent. */
  removeAgent(reason: string): void {
    this._state.apps.delete(AGENT_BUNDLE_ID);
    this._state.agent = { installed: false };
    this.host.agents.stop(this, reason);
  }

  /** One agent check-in now (default `recurring`), if the agent runs. */
  agentCheckinNow(kind: AgentCheckinKind = 'recurring'): Promise<void> {
    return this.host.track(this.host.agents.checkin(this, kind));
  }

  // ---- erase, power -------------------------------------------------------------------

  /** EraseDevice, or by hand: back to the baseline; no CheckOut (an erased Mac just vanishes). */
  erase(): Promise<void> {
    this.wipe();
    return Promise.resolve();
  }

  private wipe(): void {
    this.host.agents.stop(this, 'the Mac was erased');
    this.dropEnrollment(true);
    this._state = createMacState(this.identity, this.host.clock.now());
    this.again = false;
    this.missedPush = false;
    if (this.faults) this.faults.agentCrashed = false;
    this.emit('mac.erased', 'erased: back to factory state, no longer enrolled');
  }

  /** Turns a shut-down Mac on again: online, and an Idle connect. */
  async powerOn(): Promise<void> {
    const f = this.faults;
    if (!f?.power) return;
    f.powerTimer?.cancel();
    f.powerTimer = undefined;
    f.power = undefined;
    this.missedPush = false;
    this.updateOnline('powered on');
    // A Mac that starts up checks in with an Idle connect.
    await this.connect();
  }

  private powerCycle(kind: 'restarting' | 'off'): void {
    const f = this.ensureFaults();
    f.powerTimer?.cancel();
    f.power = kind;
    this.updateOnline(kind === 'off' ? 'shut down' : 'restarting');
    if (kind === 'restarting') {
      f.powerTimer = this.host.clock.setTimer(
        RESTART_MS,
        () => this.powerOn().catch((error) => this.host.reportError(error, this)),
        'mac restart',
      );
    }
  }

  /** The fleet stops: timers cancelled, nothing more runs. */
  halt(): void {
    const f = this.faults;
    f?.offlineFault?.timer?.cancel();
    f?.powerTimer?.cancel();
    this.agentRuntime = undefined;
  }

  // ---- faults -------------------------------------------------------------------------

  private ensureFaults(): MacFaults {
    return (this.faults ??= { offline: false, agentBlocked: false, agentCrashed: false, notNow: 0 });
  }

  /** Offline whenever a fault or the power says so; the courier follows. */
  private updateOnline(why: string): void {
    const f = this.faults;
    if (!f) return;
    const offline = f.offlineFault !== undefined || f.power !== undefined;
    if (offline === f.offline) return;
    f.offline = offline;
    const enr = this.enr;
    if (offline) {
      if (enr) this.host.courier.unsubscribe(enr.token);
      this.emit('mac.offline', `offline: ${why}`, { reason: why });
      return;
    }
    this.emit('mac.online', `online: ${why}`, { reason: why });
    if (!enr) return;
    if (f.apnsBlocked) return; // back online, but its network still keeps APNs away
    this.host.courier.resubscribe(enr.token).catch((error) => this.host.reportError(error, this));
    // Pushes that waited at the courier come with the subscription; one that reached the
    // Mac as it went away is answered now.
    if (this.missedPush) {
      this.missedPush = false;
      void this.connect().catch((error) => this.host.reportError(error, this));
    }
  }

  applyFaults(faults: DeviceFault[]): DeviceFaultState {
    // Network faults name hosts through placeholders: all are checked before any is applied.
    faults.forEach((f, i) => {
      if (isNetworkFault(f)) this.host.network.check(f, faults.length > 1 ? `faults[${i}]` : 'fault');
    });
    for (const fault of faults) this.applyFault(fault);
    return this.faultState();
  }

  /**
   * Replaces the Mac's network faults (allow-list, proxy, tls-inspection) at once: the network
   * changes in one step, with no moment of an open network in between. Checked first.
   */
  setNetworkFaults(faults: NetworkFault[]): DeviceFaultState {
    // These come from a NetworkPolicy (Fleet.setNetworkPolicy): errors name its fields.
    faults.forEach((f) => this.host.network.check(f, 'network', policyListField(f.kind)));
    const had = this.host.network.macFaultsJson(this.udid);
    this.host.network.replaceMacFaults(this.udid, faults);
    for (const f of had) if (!faults.some((x) => x.kind === f.kind)) this.emit('mac.fault.cleared', `fault ${String(f.kind)} cleared`, { kind: f.kind });
    for (const f of this.host.network.macFaultsJson(this.udid)) this.emit('mac.fault.applied', `fault ${f.kind}${describeFault(f)}`, { fault: { ...f } });
    return this.faultState();
  }

  private apnsUnreachable(): boolean {
    return this.host.network.active && !this.host.network.apnsReachable(this.udid);
  }

  /**
   * The Mac's network changed (its faults or the fleet's): APNs may have become unreachable
   * (its pushes then wait at APNs, as for a Mac offline) or reachable again.
   */
  networkChanged(): void {
    const blocked = this.apnsUnreachable();
    const f = this.faults;
    if ((f?.apnsBlocked ?? false) === blocked) return;
    const faults = this.ensureFaults();
    faults.apnsBlocked = blocked;
    const enr = this.enr;
    if (!enr || faults.offline) return;
    const apns = this.host.network.apnsTarget;
    if (blocked) {
      this.host.courier.unsubscribe(enr.token);
      this.emit('network.blocked', `APNs (${apns}) is not on the network's allow-list: pushes wait at APNs`, { apns, what: 'apns' });
      return;
    }
    this.emit('network.apns.reachable', `APNs (${apns}) is reachable again: pushes that waited are delivered`, { apns });
    // Tracked, so that a settled fleet has its pushes back; a fleet stopping meanwhile is no error.
    void this.host.track(this.host.courier.resubscribe(enr.token)).catch((error) => {
      if (!(error instanceof CourierError && error.code === 'closed')) this.host.reportError(error, this);
    });
    if (this.missedPush) {
      this.missedPush = false;
      void this.connect().catch((error) => this.host.reportError(error, this));
    }
  }

  private applyFault(fault: DeviceFault): void {
    const f = this.ensureFaults();
    const now = this.host.clock.now();
    switch (fault.kind) {
      case 'agent-uninstalled':
        this.removeAgent('uninstalled (fault)');
        break;
      case 'agent-crashed':
        f.agentCrashed = true;
        this.host.agents.stop(this, 'crashed (fault)');
        break;
      case 'agent-network-blocked':
        f.agentBlocked = true;
        break;
      case 'offline': {
        f.offlineFault?.timer?.cancel();
        const until = fault.forMs !== undefined ? now + fault.forMs : undefined;
        f.offlineFault = { until };
        if (fault.forMs !== undefined) {
          f.offlineFault.timer = this.host.clock.setTimer(fault.forMs, () => this.clearFault('offline', 'its time is up'), 'mac offline ends');
        }
        this.updateOnline(until !== undefined ? `offline fault until ${new Date(until).toISOString()}` : 'offline fault');
        break;
      }
      case 'notnow':
        f.notNow = fault.connects;
        break;
      case 'package-download':
        f.packageDownload = { mode: fault.mode, ...(fault.count !== undefined ? { remaining: fault.count } : {}) };
        break;
      case 'allow-list':
      case 'proxy':
      case 'tls-inspection': {
        this.host.network.applyMacFault(this.udid, fault);
        // Shown as applied: placeholders filled in.
        const applied = this.host.network.macFaultsJson(this.udid).find((x) => x.kind === fault.kind);
        this.emit('mac.fault.applied', `fault ${fault.kind}${describeFault(applied ?? fault)}`, { fault: { ...(applied ?? fault) } });
        return;
      }
    }
    this.emit('mac.fault.applied', `fault ${fault.kind}${describeFault(fault)}`, { fault: { ...fault } });
  }

  clearFaults(kind?: DeviceFaultKind): DeviceFaultState {
    const kinds: DeviceFaultKind[] = kind ? [kind] : ['offline', 'agent-crashed', 'agent-network-blocked', 'notnow', 'package-download', ...NETWORK_FAULT_KINDS];
    for (const k of kinds) this.clearFault(k, 'cleared');
    return this.faultState();
  }

  private clearFault(kind: DeviceFaultKind, why: string): void {
    if ((NETWORK_FAULT_KINDS as readonly string[]).includes(kind)) {
      if (this.host.network.clearMacFault(this.udid, kind as NetworkFault['kind'])) this.emit('mac.fault.cleared', `fault ${kind} ${why}`, { kind });
      return;
    }
    const f = this.faults;
    if (!f) return;
    let was = false;
    switch (kind) {
      case 'offline':
        if (f.offlineFault) {
          was = true;
          f.offlineFault.timer?.cancel();
          f.offlineFault = undefined;
        }
        break;
      case 'agent-crashed':
        if (f.agentCrashed) {
          was = true;
          f.agentCrashed = false;
          if (this._state.agent.installed && !this.agentRuntime && this.enr) void this.host.track(this.host.agents.start(this)).catch((error) => this.host.reportError(error, this));
        }
        break;
      case 'agent-network-blocked':
        was = f.agentBlocked;
        f.agentBlocked = false;
        break;
      case 'notnow':
        was = f.notNow > 0;
        f.notNow = 0;
        break;
      case 'package-download':
        was = f.packageDownload !== undefined;
        f.packageDownload = undefined;
        break;
      default:
        return;
    }
    if (!was) return;
    this.emit('mac.fault.cleared', `fault ${kind} ${why}`, { kind });
    if (kind === 'offline') this.updateOnline('offline fault cleared');
  }

  faultState(): DeviceFaultState {
    const f = this.faults;
    const active: Array<Record<string, unknown>> = [];
    if (f) {
      if (f.offlineFault) active.push(f.offlineFault.until !== undefined ? { kind: 'offline', until: new Date(f.offlineFault.until).toISOString() } : { kind: 'offline' });
      if (f.agentCrashed) active.push({ kind: 'agent-crashed' });
      if (f.agentBlocked) active.push({ kind: 'agent-network-blocked' });
      if (f.notNow > 0) active.push({ kind: 'notnow', connects: f.notNow });
      const pd = f.packageDownload;
      if (pd && (pd.remaining === undefined || pd.remaining > 0)) active.push({ kind: 'package-download', mode: pd.mode, ...(pd.remaining !== undefined ? { count: pd.remaining } : {}) });
    }
    active.push(...this.host.network.macFaultsJson(this.udid));
    const agent: DeviceFaultState['agent'] = !this._state.agent.installed ? 'not-installed' : f?.agentCrashed ? 'crashed' : f?.agentBlocked ? 'blocked' : 'running';
    const network = this.host.network.stateOf(this.udid);
    return { udid: this.udid, active, agent, online: this.online, ...(network ? { network } : {}) };
  }
}

// ---- helpers ------------------------------------------------------------------------

/**
 * The profile as ProfileList needs it: every key, but without the payloads' data (the PKCS#12
 * and certificates, kilobytes each, which live in state.certificates) and without passwords.
 */
function slimProfile(profile: PlistDict): PlistDict {
  const out: PlistDict = {};
  for (const [k, v] of Object.entries(profile)) {
    if (k !== 'PayloadContent' || !Array.isArray(v)) {
      out[k] = v;
      continue;
    }
    out[k] = v.map((p: PlistValue) => {
      if (!isPlistDict(p)) return p;
      const slim: PlistDict = {};
      for (const [pk, pv] of Object.entries(p)) {
        if (pk === 'Password') continue;
        if (pk === 'PayloadContent' && Buffer.isBuffer(pv)) continue;
        slim[pk] = pv;
      }
      return slim;
    });
  }
  return out;
}

type ReadCommand = { ok: true; uuid: string; payload: CommandPayload } | { ok: false; error: string; uuid?: string };

function readCommand(body: Buffer): ReadCommand {
  let value: PlistValue;
  try {
    value = parsePlist(body);
  } catch (error) {
    return { ok: false, error: `not a property list: ${(error as Error).message}` };
  }
  if (!isPlistDict(value)) return { ok: false, error: 'the command is not a dictionary' };
  const uuid = typeof value.CommandUUID === 'string' && value.CommandUUID !== '' ? value.CommandUUID : undefined;
  const payload = value.Command;
  if (!uuid) return { ok: false, error: 'the command has no CommandUUID' };
  if (!isPlistDict(payload) || typeof payload.RequestType !== 'string') return { ok: false, error: 'the command has no Command dictionary with a RequestType', uuid };
  return { ok: true, uuid, payload: payload as CommandPayload };
}

function isNetworkFault(f: DeviceFault): f is NetworkFault {
  return (NETWORK_FAULT_KINDS as readonly string[]).includes(f.kind);
}

function describeFault(f: DeviceFault): string {
  switch (f.kind) {
    case 'allow-list':
    case 'proxy':
    case 'tls-inspection':
      return `: ${describeNetworkFault(f)}`;
    case 'offline':
      return f.forMs !== undefined ? ` for ${formatDuration(f.forMs)}` : ' until cleared';
    case 'notnow':
      return `: NotNow for the next ${f.connects} connect(s)`;
    case 'package-download':
      return `: ${f.mode}${f.count !== undefined ? ` the next ${f.count} download(s)` : ' every download'}`;
    default:
      return '';
  }
}
