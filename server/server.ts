/**
 * The mdmsim server, in process: `const server = await startServer({ port: 0 })` in a test,
 * `await server.stop()` after. `mdmsim serve` is a thin layer over this.
 */
import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import { join, resolve } from 'node:path';
import express from 'express';
import type { Clock, ClockMode } from '../protocol/clock';
import { commands } from '../protocol/command';
import { preloadSchemas } from '../protocol/schema';
import { createExclusive, DataDirError, ensureDir, inDataDir, PRIVATE_FILE_MODE, readIfExists } from './data-dir';
import { MemoryStorage } from './storage/memory';
import { createStoreClock } from './storage/clock';
import type { Storage } from './storage/types';
import { EventLog } from './service/event-log';
import { MdmService } from './service/mdm-service';
import { DEFAULT_MAX_BODY_BYTES } from './http/body';
import { createControlApi } from './http/control-api';
import { createEventsStream, EVENTS_STREAM_PATH } from './http/events-stream';
import { createMdmHandler, MDM_PATHS } from './http/mdm-handler';
import { sendProblem } from './http/respond';
import { issueProfileSigner, loadOrCreateCa, loadOrCreatePushCert, loadOrCreateServerCert, type IdentityKeyType, type PushCert } from './pki';
import { MdmSignatureVerifier } from './auth/mdm-signature';
import { EnrollmentService } from './enroll/enrollment-service';
import { createEnrollHandler, ENROLL_PATH } from './http/enroll';
import { rootCertificates } from 'node:tls';
import { ApnsClient, PushService } from './push';
import { DEFAULT_APNS_PORT, DEFAULT_COURIER_PORT, startApnsMock, type ApnsMock, type ProviderKeyInput } from './apns';
import { AgentArtifacts, type AgentPackageOptions } from './agent/package';
import { publicKeyPin } from '../protocol/agent';
import { AgentService } from './agent/agent-service';
import { createAgentHandler, isAgentPath } from './agent/handler';
import { createSampleAppHandler, isSampleAppPath, SampleApps } from './apps/sample-apps';
import { AgentPolicy } from './policy/agent-policy';
import type { AgentPolicyOptions } from './policy/settings';
import type { DeviceFaultHandler, FleetNetworkHandler } from './http/control-api';
import { createKandjiApi } from './api';
import { ApiTokens, ApiTokenStore, type RateLimits } from './api/auth';
import { API_TOKENS_CONTROL_PATH, createApiTokensControl } from './api/auth/control';
import { createDashboard, createDashboardControl } from './dashboard';
import type { ScenarioSource, ScenarioState } from '../protocol/scenario-state';
import { tenantCertificateNames, type Tenant } from '../protocol/tenant';
import { loadOrCreateTenant } from './tenant/tenant-file';
import { DEFAULT_DEVICE_NAMES, DeviceUrls, type DeviceNames, type TenantDeviceUrls } from './tenant/urls';
import { createTenantControl } from './tenant/control';
import { IssuedProfiles } from './enroll/issued-profiles';
import { createProfilesControl } from './profiles/control';
import { tlsProfile, tlsServerOptions, type TlsProfileName } from './http/tls-profiles';
import { answerWhenDurable } from './http/durable-answers';

export type { DeviceFaultHandler, FleetNetworkHandler, FleetNetworkJson } from './http/control-api';
export type { AgentPolicyOptions, AgentPolicySettings, AgentPolicySettingsJson } from './policy/settings';
export type { AgentPolicy, SweepReport } from './policy/agent-policy';
export type { AgentPackageOptions } from './agent/package';

export interface ServerOptions {
  /** Interface to listen on (default 127.0.0.1). */
  host?: string;
  /** HTTPS port for MDM, APIs and dashboard (default 8443; 0 picks a free port). */
  port?: number;
  /** Where the CA, the server certificate and the API token live (default ./.mdmsim). */
  dataDir?: string;
  /** A Clock to share with a fleet, or the mode of a new one (default real). */
  clock?: Clock | ClockMode;
  /** Bearer token for /sim/v1 (default: MDMSIM_API_TOKEN, else one kept in dataDir). */
  apiToken?: string;
  store?: Storage;
  /** Largest MDM request body accepted; larger ones get 413 (default 4 MiB). */
  maxBodyBytes?: number;
  /** Extra names or addresses the server certificate must cover. */
  certificateHosts?: string[];
  /**
   * `signature` (default): every MDM request must carry a valid Mdm-Signature from the device
   * identity bound at Authenticate. `none`: no checks, for hand testing with curl.
   */
  auth?: AuthMode;
  /** Key type of the identities in enrollment profiles unless a download asks (`?key=`); default rsa. */
  identityKeyType?: IdentityKeyType;
  /**
   * Opt-in speed for big RSA fleets: reuse this many key pairs across identities. Certificates
   * stay one per device, so binding still tells devices apart, but devices sharing a key could
   * sign for each other. Default: a fresh key pair per profile.
   */
  identityKeyPool?: number;
  /**
   * APNs provider API port (HTTP/2). Default 2197, or 0 (a free port) when `port` is 0, so
   * that test servers never collide.
   */
  apnsPort?: number;
  /** Courier (device side of the APNs mock) port; default 5223, or 0 when `port` is 0. */
  courierPort?: number;
  /** Run the APNs mock (default true). Without it, pushes go to `apnsUrl` if one is given. */
  apns?: boolean;
  /** Serve the courier over TLS (wss://) instead of ws://. */
  courierTls?: boolean;
  /** Where the server sends its pushes (default: its own APNs mock). Any APNs-compatible endpoint. */
  apnsUrl?: string;
  /** Provider-token (ES256) keys the APNs mock trusts from the start. */
  apnsKeys?: ProviderKeyInput[];
  /** Push when a command is enqueued, unless the request says ?push=false (default true). */
  pushOnEnqueue?: boolean;
  /** Receives unexpected errors (bugs); default writes them to stderr. */
  onError?: (error: unknown) => void;
  /** The agent package served at /agent/packages/ (size, hash chunk size, version). */
  agent?: AgentPackageOptions;
  /**
   * The agent install on enrollment, the 7-day reinstall rule and the daily MDM inventory:
   * `{installOnEnrollment, reinstall, mdmWindow, agentWindow, retryInterval, sweepInterval,
   * inventoryInterval}`, durations as ms or strings ("7d"). Also GET/PATCH /sim/v1/agent-policy.
   */
  agentPolicy?: AgentPolicyOptions;
  /** Where POST /sim/v1/devices/{udid}/faults goes (the simulated Macs); see setDeviceFaultHandler. */
  deviceFaults?: DeviceFaultHandler;
  /** Per-token limits of /api/v1: `{perSecond, perHour}`, 0 = unlimited (default 50 a second, wall time; 10,000 an hour, server clock). */
  apiRateLimits?: Partial<RateLimits>;
  /** Bounds on slow or idle clients of the HTTPS port (defaults in DEFAULT_HTTP_TIMEOUTS); tests shorten them. */
  httpTimeouts?: Partial<HttpTimeouts>;
  /**
   * The tenant (id, subdomain, region, zone, deviceDomainStyle): given values win over the data
   * dir's tenant.json and are saved there; what is not given comes from the file, or, the first
   * time, is made (a fresh UUID, subdomain "mdmsim", region us, zone mdmsim.test, web-api).
   */
  tenant?: Partial<Tenant>;
  /**
   * Which names the URLs handed to devices use: `tenant` (the tenant's device, enrollment and
   * download names, with this server's port) or `listen` (the address the server listens on).
   * See server/tenant/urls.ts.
   */
  deviceNames?: DeviceNames;
  /**
   * TLS versions and cipher suites of the HTTPS port (see server/http/tls-profiles.ts): `modern`
   * (default; TLS 1.2-1.3) or `vendor-2024` (the vendor guide's table: TLS 1.0-1.2, its suites in
   * its order). Anything else fails the start with the list of profiles.
   */
  tlsProfile?: TlsProfileName;
}

/** How long a client may take, in ms, before its connection is closed. */
export interface HttpTimeouts {
  /** From TCP connect to a finished TLS handshake. */
  handshakeMs: number;
  /** From a request's first byte (or the connection's start) to the end of its headers; 408 after. */
  headersMs: number;
  /** For a whole request, body included; 408 after. At least headersMs. */
  requestMs: number;
  /** An idle keep-alive connection between requests. */
  keepAliveMs: number;
}

export const DEFAULT_HTTP_TIMEOUTS: Readonly<HttpTimeouts> = Object.freeze({ handshakeMs: 10_000, headersMs: 20_000, requestMs: 60_000, keepAliveMs: 65_000 });

/** The ready line of `mdmsim serve`, as an object. */
export type AuthMode = 'signature' | 'none';
export const AUTH_MODES: readonly AuthMode[] = ['signature', 'none'];

export interface ServerInfo {
  ready: true;
  mdm: string;
  /** GET this for an enrollment profile. */
  enroll: string;
  /** The APNs mock's provider API (null when started with apns: false). */
  apns: string | null;
  /** The APNs mock's courier, where devices subscribe their tokens. */
  courier: string | null;
  api: string;
  dashboard: string;
  caCert: string;
  apiToken: string;
  /** The tenant whose names devices are handed (GET /sim/v1/tenant has all of them). */
  tenant: { id: string; subdomain: string; region: Tenant['region']; zone: string; deviceDomain: Tenant['deviceDomainStyle'] };
  /** The tenant forms of the device-facing URLs (what Macs are handed unless deviceNames is `listen`). */
  deviceUrls: TenantDeviceUrls;
}

export class MdmsimServer {
  readonly clock: Clock;
  readonly store: Storage;
  readonly events: EventLog;
  readonly service: MdmService;
  readonly dataDir: string;
  readonly apiToken: string;
  readonly auth: AuthMode;
  /** The agent install and reinstall rule, and the periodic inventory: settings, sweepNow(). */
  readonly agentPolicy: AgentPolicy;
  /** Records agent check-ins. */
  readonly agent: AgentService;
  /** The agent's package and manifest as served. */
  readonly agentArtifacts: AgentArtifacts;
  /** The sample custom app and Auto App, served as the agent is (protocol/sample-apps.ts). */
  readonly sampleApps = new SampleApps();
  /** Tokens of the Kandji-compatible API (/api/v1): create({name, permissions}), revoke(id), list(). */
  readonly apiTokens: ApiTokens;
  /** The tenant (kept in the data dir's tenant.json). */
  readonly tenant: Tenant;
  /** Every URL handed to a device, and which names they use. */
  readonly deviceUrls: DeviceUrls;
  /** Which enrollment profile carried which identity (what a Mac installed). */
  readonly issuedProfiles: IssuedProfiles;
  private deviceFaults?: DeviceFaultHandler;
  private fleetNetwork?: FleetNetworkHandler;
  private scenarioSource?: ScenarioSource;
  private httpServer?: Server;
  private enrollmentService?: EnrollmentService;
  private push?: PushCert;
  private apnsMock?: ApnsMock;
  private pushService?: PushService;
  private apnsSender?: ApnsClient;
  private closeStream?: () => void;
  private baseUrl = '';
  /** The pin of the HTTPS certificate's key (protocol/agent.ts publicKeyPin), handed to the agent at install. */
  private agentKeyPin: string | undefined;

  private constructor(options: ServerOptions, dataDir: string, apiToken: string, tenant: Tenant) {
    this.dataDir = dataDir;
    this.apiToken = apiToken;
    this.tenant = tenant;
    this.deviceUrls = new DeviceUrls(tenant, options.deviceNames ?? DEFAULT_DEVICE_NAMES, () => this.baseUrl);
    this.auth = options.auth ?? 'signature';
    this.store = options.store ?? new MemoryStorage();
    // On a durable store, a virtual clock picks up where the last run left it.
    this.clock = typeof options.clock === 'object' ? options.clock : createStoreClock(options.clock ?? 'real', this.store);
    this.events = new EventLog(this.store, this.clock);
    this.issuedProfiles = new IssuedProfiles(this.events);
    this.service = new MdmService({ store: this.store, clock: this.clock, events: this.events });
    this.agent = new AgentService({ store: this.store, clock: this.clock, events: this.events });
    this.agentArtifacts = new AgentArtifacts(options.agent);
    // Built before anything listens: bad settings fail the start, not the first enrollment.
    this.agentPolicy = new AgentPolicy({
      store: this.store,
      clock: this.clock,
      events: this.events,
      service: this.service,
      push: () => this.pushService,
      urls: () => ({ manifestUrl: this.deviceUrls.agentManifestUrl(), checkinUrl: this.deviceUrls.agentCheckinUrl(), pin: this.agentKeyPin }),
      settings: options.agentPolicy,
      onError: options.onError ?? reportToStderr,
    });
    this.service.observe(this.agentPolicy.observer);
    this.deviceFaults = options.deviceFaults;
    this.apiTokens = new ApiTokens(new ApiTokenStore(dataDir), this.events);
  }

  static async start(options: ServerOptions = {}): Promise<MdmsimServer> {
    const dataDir = resolve(options.dataDir ?? '.mdmsim');
    const apiToken = options.apiToken ?? process.env.MDMSIM_API_TOKEN ?? (await loadOrCreateApiToken(dataDir));
    // Compiled now rather than at the first device, which would stall everyone at that moment.
    preloadSchemas(Object.keys(commands));
    const { tenant } = await loadOrCreateTenant(dataDir, options.tenant);
    const server = new MdmsimServer(options, dataDir, apiToken, tenant);
    await server.listen(options);
    return server;
  }

  private async listen(options: ServerOptions): Promise<void> {
    const host = options.host ?? '127.0.0.1';
    const onError = options.onError ?? reportToStderr;
    // Checked before anything listens, so a bad value leaves nothing running.
    const timeouts = httpTimeouts(options.httpTimeouts);
    const tlsOptions = tlsServerOptions(tlsProfile(options.tlsProfile));
    const ca = await loadOrCreateCa(this.dataDir);
    // The tenant's names too: devices are handed URLs on them (server/tenant/urls.ts).
    const certificateHosts = [host, ...(options.certificateHosts ?? []), ...tenantCertificateNames(this.tenant)];
    const tls = await loadOrCreateServerCert(this.dataDir, ca, certificateHosts.filter((h) => !isWildcard(h)));
    // The agent pins this certificate's key: its install's Configuration carries the pin.
    this.agentKeyPin = publicKeyPin(tls.certPem);

    this.push = await loadOrCreatePushCert(this.dataDir, ca);
    const enrollment = new EnrollmentService({
      ca,
      signer: issueProfileSigner(ca),
      topic: this.push.topic,
      clock: this.clock,
      events: this.events,
      identityKeyType: options.identityKeyType,
      identityKeyPool: options.identityKeyPool,
      issued: this.issuedProfiles,
    });
    this.enrollmentService = enrollment;
    if (options.apns !== false) {
      const defaultPort = (options.port ?? 8443) === 0 ? 0 : undefined;
      this.apnsMock = await startApnsMock({
        host,
        providerPort: options.apnsPort ?? defaultPort ?? DEFAULT_APNS_PORT,
        courierPort: options.courierPort ?? defaultPort ?? DEFAULT_COURIER_PORT,
        tls: { key: tls.keyPem, cert: tls.certPem },
        caPem: ca.certPem,
        courierTls: options.courierTls,
        clock: this.clock,
        events: this.events,
        udidOf: (token) => this.store.enrollmentIdForToken(token),
        keys: options.apnsKeys,
        onError,
      });
    }
    const apnsUrl = options.apnsUrl ?? this.apnsMock?.providerUrl;
    if (apnsUrl !== undefined) {
      this.apnsSender = new ApnsClient({
        url: apnsUrl,
        certPem: this.push.certPem,
        keyPem: this.push.keyPem,
        // Another endpoint may be Apple's (public roots) or a mock of the user's (maybe our CA).
        ca: options.apnsUrl === undefined ? ca.certPem : [...rootCertificates, ca.certPem],
      });
      this.pushService = new PushService({ store: this.store, clock: this.clock, events: this.events, sender: this.apnsSender });
    }
    const verifier = this.auth === 'signature' ? new MdmSignatureVerifier({ caCertDer: ca.certDer, clock: this.clock }) : undefined;

    const handleMdm = createMdmHandler({ service: this.service, verifier, events: this.events, maxBodyBytes: options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES, onError });
    const handleAgent = createAgentHandler({ service: this.agent, artifacts: this.agentArtifacts, baseUrl: () => this.deviceUrls.downloadsBase(), verifier, events: this.events, onError });
    const handleSampleApp = createSampleAppHandler({ apps: this.sampleApps, baseUrl: (kind) => this.deviceUrls.sampleAppBase(kind), onError });
    const app = express();
    app.disable('x-powered-by');
    app.set('etag', false);
    app.get(ENROLL_PATH, createEnrollHandler(enrollment, (hostHeader) => this.deviceUrls.profileBase(hostHeader)));
    app.use(API_TOKENS_CONTROL_PATH, createApiTokensControl({ apiToken: this.apiToken, tokens: this.apiTokens }));
    app.use('/sim/v1', createTenantControl({ apiToken: this.apiToken, deviceUrls: this.deviceUrls }));
    app.use('/sim/v1', createProfilesControl({ apiToken: this.apiToken, store: this.store, issued: this.issuedProfiles, caCertDer: () => ca.certDer }));
    app.use('/sim/v1', createDashboardControl({ apiToken: this.apiToken, store: this.store, agentPolicy: this.agentPolicy, push: () => this.pushService, scenario: () => this.scenario }));
    app.use('/sim/v1', createControlApi({
        apiToken: this.apiToken,
        clock: this.clock,
        store: this.store,
        service: this.service,
        events: this.events,
        apns: this.apnsMock,
        push: this.pushService,
        pushOnEnqueue: options.pushOnEnqueue ?? true,
        agentPolicy: this.agentPolicy,
        deviceFaults: () => this.deviceFaults,
        fleetNetwork: () => this.fleetNetwork,
      }),);
    app.use('/api/v1', createKandjiApi({
        store: this.store,
        clock: this.clock,
        events: this.events,
        service: this.service,
        push: () => this.pushService,
        agentPolicy: this.agentPolicy,
        apiToken: this.apiToken,
        dataDir: this.dataDir,
        baseUrl: () => this.baseUrl,
        issueEnrollmentProfile: async () => (await enrollment.issueProfile(this.deviceUrls.deviceBase())).der,
        apiTokens: this.apiTokens.store,
        rateLimits: options.apiRateLimits,
      }));
    app.use(createDashboard());
    app.use((req, res) => sendProblem(res, { status: 404, code: 'not-found', message: `no route for ${req.method} ${req.path}` }));
    // A bug in a route (say, profile issuance) answers JSON like everything else, and is reported.
    app.use((error: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
      if (res.headersSent) return next(error);
      onError(error);
      sendProblem(res, { status: 500, code: 'internal-error', message: 'mdmsim failed to handle this request; see its log' });
    });

    const stream = createEventsStream(this.events, this.apiToken);
    this.closeStream = stream.close;

    const whenDurable = this.store.whenDurable?.bind(this.store);
    const httpServer = createServer({
      key: tls.keyPem,
      cert: tls.certPem,
      ...tlsOptions,
      handshakeTimeout: timeouts.handshakeMs,
      // Node looks for overdue headers and requests only this often: short timeouts need it shorter.
      connectionsCheckingInterval: Math.max(50, Math.min(30_000, Math.floor(timeouts.headersMs / 2))),
    }, (req, res) => {
      if (whenDurable !== undefined) answerWhenDurable(res, whenDurable);
      const path = pathOf(req.url);
      if (MDM_PATHS.has(path)) {
        handleMdm(req, res, path);
        return;
      }
      if (isAgentPath(path)) {
        handleAgent(req, res, path);
        return;
      }
      if (isSampleAppPath(path)) {
        handleSampleApp(req, res, path);
        return;
      }
      app(req, res);
    });
    httpServer.on('upgrade', (req, socket, head) => {
      if (pathOf(req.url) === EVENTS_STREAM_PATH) stream.handleUpgrade(req, socket, head);
      else socket.destroy();
    });
    // Bounds on slow or idle clients: a stalled request cannot hold a socket forever.
    httpServer.headersTimeout = timeouts.headersMs;
    httpServer.requestTimeout = timeouts.requestMs;
    httpServer.keepAliveTimeout = timeouts.keepAliveMs;

    try {
      await new Promise<void>((resolveListen, rejectListen) => {
        httpServer.once('error', rejectListen);
        httpServer.listen(options.port ?? 8443, host, () => {
          httpServer.off('error', rejectListen);
          resolveListen();
        });
      });
    } catch (error) {
      // The MDM port is taken: the APNs mock already listening must not outlive the failure.
      await this.apnsMock?.stop();
      this.apnsMock = undefined;
      throw error;
    }
    this.httpServer = httpServer;
    const port = (httpServer.address() as AddressInfo).port;
    this.baseUrl = `https://${urlHost(host)}:${port}`;
    this.agentPolicy.start();
  }

  /**
   * Where POST/GET/DELETE /sim/v1/devices/{udid}/faults go: whoever runs the simulated Macs
   * (a Fleet in the same process). Undefined removes it (those routes then answer 501).
   */
  setDeviceFaultHandler(handler: DeviceFaultHandler | undefined): void {
    this.deviceFaults = handler;
  }

  /** Where GET/PUT /sim/v1/network go (the fleet's network); undefined → 501. A lab registers one. */
  setFleetNetworkHandler(handler: FleetNetworkHandler | undefined): void {
    this.fleetNetwork = handler;
  }

  /**
   * What the dashboard's scenario panel and GET /sim/v1/scenario show: the story a lab is
   * playing, asked for on each request. Undefined removes it ({"scenario": null}).
   */
  setScenarioSource(source: ScenarioSource | undefined): void {
    this.scenarioSource = source;
  }

  /** The story being played, if a lab set a source. */
  get scenario(): ScenarioState | undefined {
    return this.scenarioSource?.();
  }

  /** True while a push is on its way: to APNs, or from the courier to a connected device that has not acknowledged it. */
  get busy(): boolean {
    return (this.pushService?.inFlight ?? 0) > 0 || (this.apnsMock?.hub.unacknowledged ?? 0) > 0;
  }

  /**
   * Resolves when no push is in flight: PushService has no attempt on the wire (see its idle())
   * and the courier has nothing sent to a connected device and unacknowledged. A lab calls
   * this to let a virtual-clock instant settle. Rejects after `timeoutMs` (default 10 s of
   * real time) naming what is still out, rather than hang on a device that never acknowledges.
   */
  async settled(options: { timeoutMs?: number } = {}): Promise<void> {
    const deadline = Date.now() + (options.timeoutMs ?? 10_000);
    for (;;) {
      await this.pushService?.idle();
      const unacked = this.apnsMock?.hub.unacknowledged ?? 0;
      if (unacked === 0 && (this.pushService?.inFlight ?? 0) === 0) return;
      if (Date.now() > deadline) {
        throw new Error(`the server did not settle within ${options.timeoutMs ?? 10_000} ms: ${unacked} push(es) sent to connected devices are not acknowledged`);
      }
      // Acknowledgements arrive on courier sockets: give the event loop a turn (then a moment).
      await new Promise<void>((r) => (unacked > 0 ? setTimeout(r, 1) : setImmediate(r)));
    }
  }

  /** Issues enrollment profiles (what GET /mdm/enroll serves). */
  get enrollment(): EnrollmentService {
    if (!this.enrollmentService) throw new Error('the server is not started');
    return this.enrollmentService;
  }

  /** The push certificate (push.pem) and its topic, which enrollment profiles name. */
  get pushCert(): PushCert {
    if (!this.push) throw new Error('the server is not started');
    return this.push;
  }

  /** The APNs mock (provider API, courier, keys, faults), unless started with apns: false. */
  get apns(): ApnsMock | undefined {
    return this.apnsMock;
  }

  /** The server's push path (undefined when there is no APNs to push to). */
  get pushes(): PushService | undefined {
    return this.pushService;
  }

  /** https://host:port of the MDM host. */
  get url(): string {
    return this.baseUrl;
  }

  get info(): ServerInfo {
    return {
      ready: true,
      mdm: `${this.baseUrl}/mdm`,
      enroll: `${this.baseUrl}${ENROLL_PATH}`,
      apns: this.apnsMock?.providerUrl ?? null,
      courier: this.apnsMock?.courierUrl ?? null,
      api: `${this.baseUrl}/sim/v1`,
      // The fragment never reaches a server or a log; the page keeps it in sessionStorage and clears the address bar.
      dashboard: `${this.baseUrl}/#token=${encodeURIComponent(this.apiToken)}`,
      caCert: join(this.dataDir, 'ca.pem'),
      apiToken: this.apiToken,
      tenant: {
        id: this.tenant.id,
        subdomain: this.tenant.subdomain,
        region: this.tenant.region,
        zone: this.tenant.zone,
        deviceDomain: this.tenant.deviceDomainStyle,
      },
      deviceUrls: this.deviceUrls.tenantUrls(),
    };
  }

  async stop(): Promise<void> {
    this.agentPolicy.stop();
    this.closeStream?.();
    this.pushService?.close();
    await this.apnsSender?.close();
    const apns = this.apnsMock;
    this.apnsMock = undefined;
    await apns?.stop();
    const server = this.httpServer;
    this.httpServer = undefined;
    if (server) {
      const closed = new Promise<void>((r) => server.close(() => r()));
      server.closeAllConnections();
      await closed;
    }
    this.store.close();
  }
}

export const API_TOKEN_FILE = 'api-token';

export function startServer(options: ServerOptions = {}): Promise<MdmsimServer> {
  return MdmsimServer.start(options);
}

/** The options' timeouts over the defaults, refused at start when Node would not honour them. */
function httpTimeouts(given: Partial<HttpTimeouts> = {}): HttpTimeouts {
  const t = { ...DEFAULT_HTTP_TIMEOUTS, ...given };
  for (const [name, ms] of Object.entries(t)) {
    if (!Number.isInteger(ms) || ms < 1) throw new RangeError(`httpTimeouts.${name} must be a whole number of ms, 1 or more; got ${String(ms)}`);
  }
  if (t.requestMs < t.headersMs) throw new RangeError(`httpTimeouts.requestMs (${t.requestMs}) must be at least headersMs (${t.headersMs}): a request includes its headers`);
  return t;
}

function reportToStderr(error: unknown): void {
  process.stderr.write(`mdmsim: unexpected error: ${(error as Error)?.stack ?? String(error)}\n`);
}

function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '';
}

function urlHost(host: string): string {
  if (isWildcard(host)) return '127.0.0.1';
  return isIP(host) === 6 ? `[${host}]` : host;
}

/** The request target without its query string. */
function pathOf(url: string | undefined): string {
  const target = url ?? '/';
  const q = target.indexOf('?');
  return q < 0 ? target : target.slice(0, q);
}

/** Kept in the data dir so the token survives restarts; created once, atomically. */
async function loadOrCreateApiToken(dataDir: string): Promise<string> {
  const file = join(dataDir, API_TOKEN_FILE);
  return inDataDir(
    dataDir,
    async () => {
      await ensureDir(dataDir);
      let token = (await readIfExists(file))?.trim();
      if (token === undefined) {
        const fresh = randomBytes(24).toString('base64url');
        // Another process starting on the same data dir may win; then its token is the one.
        token = (await createExclusive(file, `${fresh}\n`, PRIVATE_FILE_MODE)) ? fresh : (await readIfExists(file))?.trim();
      }
      if (!token) throw new DataDirError(`${file} is empty: delete it to have a new API token made, or pass --api-token`, file);
      return token;
    },
    'the API token',
  );
}
