/**
 * The `mdmsim` command line. Every command is a thin layer over the programmatic API.
 * stdout carries only machine-readable output (the ready line); logs go to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { IDENTITY_KEY_TYPES, type IdentityKeyType } from '../server/pki';
import { readFileSync, writeFileSync } from 'node:fs';
import { AUTH_MODES, startServer, type AuthMode } from '../server/server';
import type { ProviderKeyInput } from '../server/apns';
import { RealClock } from '../protocol/clock';
import { DurationError, parseDuration } from '../protocol/duration';
import { lookup as lookupHost } from 'node:dns/promises';
import { Fleet } from '../agent-sim';
import type { Resolver } from '../agent-sim/network/resolver';
import { listenPort as port, resolveEntry, resolverOf, type ResolveEntry } from './cli-args';
import { DEFAULT_LAB_START, startLab, type Lab } from './lab';
import { eventsToMermaid } from '../server/service/mermaid';
import { playScenario } from './scenario';
import { SCENARIOS, resolveScenario } from './scenarios';
import { formatEvent, isRoutine } from './timeline';
import { addPostureSyncCommand } from './cli-posture';
import { registerTokenCommand } from './cli-token';
import { registerNetworkRequirementsCommand } from './cli-network-requirements';
import { registerDeviceCommand } from './cli-device-profiles';
import { addTenantOptions, tenantFromFlags, type TenantFlags } from './cli-tenant';
import { DEVICE_NAMES, type DeviceNames } from '../server/tenant/urls';
import { registerNetworkCheckCommand } from './cli-network-check';
import { tlsProfile, TlsProfileError, type TlsProfileName } from '../server/http/tls-profiles';
import { openStore, parseStoreSpec, StoreSpecError, type StoreSpec } from '../server/storage/open';

const TLS_PROFILE_HELP = 'TLS versions and cipher suites of the HTTPS port: modern (TLS 1.2-1.3) or vendor-2024 (the vendor guide\'s table: TLS 1.0-1.2, its suites in its order)';

function positiveInteger(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n < 1) throw new InvalidArgumentError('expected a whole number of at least 1');
  return n;
}

function httpsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as https://api.push.apple.com or https://127.0.0.1:2197');
  }
  if (url.protocol !== 'https:') throw new InvalidArgumentError('the APNs provider API is HTTPS (HTTP/2 over TLS): use an https:// URL');
  return url.origin;
}

function duration(value: string): string {
  try {
    parseDuration(value);
  } catch (error) {
    if (error instanceof DurationError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return value;
}

function storeSpec(value: string): StoreSpec {
  try {
    return parseStoreSpec(value);
  } catch (error) {
    if (error instanceof StoreSpecError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

function tlsProfileName(value: string): TlsProfileName {
  try {
    return tlsProfile(value).name;
  } catch (error) {
    if (error instanceof TlsProfileError) throw new InvalidArgumentError(error.message);
    throw error;
  }
}

function durationOrOff(value: string): string | false {
  return value === 'off' ? false : duration(value);
}

/** `TEAMID:KEYID:FILE` → a provider-token key the APNs mock trusts. */
function collectKey(value: string, previous: ProviderKeyInput[]): ProviderKeyInput[] {
  const m = /^([A-Za-z0-9]+):([A-Za-z0-9]+):(.+)$/.exec(value);
  if (!m) throw new InvalidArgumentError('expected TEAMID:KEYID:FILE, e.g. ABCDE12345:KEY1234567:./AuthKey_KEY1234567.p8');
  let key: string;
  try {
    key = readFileSync(m[3]!, 'utf8');
  } catch (error) {
    throw new InvalidArgumentError(`cannot read ${m[3]}: ${(error as Error).message}`);
  }
  return [...previous, { teamId: m[1]!, keyId: m[2]!, key }];
}

interface ServeOptions extends TenantFlags {
  deviceNames: DeviceNames;
  host: string;
  port: number;
  tlsProfile: TlsProfileName;
  apnsPort?: number;
  courierPort?: number;
  apns: boolean;
  apnsUrl?: string;
  courierTls?: boolean;
  apnsKey: ProviderKeyInput[];
  pushOnEnqueue: boolean;
  agentInstall: boolean;
  agentReinstall: boolean;
  agentWindow?: string;
  mdmWindow?: string;
  reinstallRetry?: string;
  reinstallSweep?: string;
  inventoryInterval?: string | false;
  missingAfter?: string;
  dataDir: string;
  store: StoreSpec;
  clock: 'real' | 'virtual';
  auth: AuthMode;
  identityKey: IdentityKeyType;
  identityKeyPool?: number;
  apiToken?: string;
  apiRateSecond?: number;
  apiRateHour?: number;
  logLevel: string;
}

export function buildProgram(): Command {
  const program = new Command('mdmsim')
    .description('Simulated Apple MDM + vendor-agent check-in lab')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  addTenantOptions(program.command('serve'), "saved in the data dir's tenant.json, made there the first time")
    .description('run the MDM server, its control API and event stream (HTTPS)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTPS port: MDM, agent, APIs, dashboard (0 = any free port)', port, 8443)
    .option('--tls-profile <name>', TLS_PROFILE_HELP, tlsProfileName, 'modern')
    .option('--apns-port <port>', 'APNs mock provider API port, HTTP/2 over TLS (default 2197; a free port when --port is 0)', port)
    .option('--courier-port <port>', 'APNs mock courier port, WebSocket, where devices subscribe (default 5223; a free port when --port is 0)', port)
    .option('--no-apns', 'run no APNs mock (pushes go to --apns-url, if given)')
    .option('--apns-url <url>', 'where the server sends its pushes (default: its own APNs mock), e.g. https://api.push.apple.com', httpsUrl)
    .option('--courier-tls', 'serve the courier as wss:// instead of ws://')
    .option('--apns-key <team:key:file>', 'trust this ES256 provider-token key (PEM .p8 or public key); repeatable', collectKey, [])
    .option('--no-push-on-enqueue', 'do not push when a command is queued (a request can still ask with ?push=true)')
    .option('--no-agent-install', 'do not queue the agent\'s InstallEnterpriseApplication when a Mac enrolls')
    .option('--no-agent-reinstall', 'turn the 7-day agent-reinstall rule off')
    .option('--agent-window <duration>', 'the agent is overdue after this much silence [7d]', duration)
    .option('--mdm-window <duration>', 'a device counts as alive if MDM heard from it within this [7d]', duration)
    .option('--reinstall-retry <duration>', 'least time between two agent installs for one device [24h]', duration)
    .option('--reinstall-sweep <duration>', 'how often the rule looks at every device [1h]', duration)
    .option('--inventory-interval <duration>', 'DeviceInformation + push for every device this often, or "off" [24h]', durationOrOff)
    .option('--missing-after <duration>', 'the device API\'s is_missing: true after this long with no check-in of any kind [30d]', duration)
    .option('--data-dir <dir>', 'where the CA, certificates and API token are kept', './.mdmsim')
    .addOption(new Option('--store <spec>', 'where enrollments, queues, results, events and a virtual clock live: memory, or sqlite:PATH (durable across restarts and crashes; ?sync=full also across power loss, ?events=N newest events kept)').argParser(storeSpec).default(parseStoreSpec('memory'), 'memory'))
    .addOption(new Option('--clock <mode>', 'real time, or a virtual clock moved by POST /sim/v1/clock/advance').choices(['real', 'virtual']).default('real'))
    .addOption(new Option('--auth <mode>', 'Mdm-Signature checks: signature (every request signed by the identity bound at Authenticate) or none (for curl)').choices([...AUTH_MODES]).default('signature'))
    .addOption(new Option('--identity-key <type>', 'key type of identities in enrollment profiles (a download may ask with ?key=)').choices([...IDENTITY_KEY_TYPES]).default('rsa'))
    .option('--identity-key-pool <n>', 'reuse n key pairs across identities (fast RSA fleets; devices sharing a key could sign for each other)', positiveInteger)
    .addOption(new Option('--device-names <names>', "the names in URLs handed to devices: tenant (the tenant's names, which mdmsim's simulated Macs resolve themselves) or listen (this server's --host, for devices that use real DNS)").choices([...DEVICE_NAMES]).default('tenant'))
    .option('--api-token <token>', 'bearer token for /sim/v1 (default: $MDMSIM_API_TOKEN or one kept in the data dir)')
    .option('--api-rate-second <n>', 'requests a second per /api/v1 token, wall time (0 = unlimited) [50]', nonNegativeInteger)
    .option('--api-rate-hour <n>', 'requests an hour per /api/v1 token, on the server\'s clock (0 = unlimited) [10000]', nonNegativeInteger)
    .addOption(new Option('--log-level <level>', 'stderr log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts: ServeOptions) => {
      const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
      const server = await startServer({
        tenant: tenantFromFlags(opts),
        deviceNames: opts.deviceNames,
        host: opts.host,
        port: opts.port,
        tlsProfile: opts.tlsProfile,
        dataDir: opts.dataDir,
        store: openStore(opts.store),
        clock: opts.clock,
        apiToken: opts.apiToken,
        auth: opts.auth,
        identityKeyType: opts.identityKey,
        identityKeyPool: opts.identityKeyPool,
        apnsPort: opts.apnsPort,
        courierPort: opts.courierPort,
        apns: opts.apns,
        apnsUrl: opts.apnsUrl,
        courierTls: opts.courierTls,
        apnsKeys: opts.apnsKey,
        pushOnEnqueue: opts.pushOnEnqueue,
        apiRateLimits: { perSecond: opts.apiRateSecond, perHour: opts.apiRateHour },
        agentPolicy: {
          installOnEnrollment: opts.agentInstall,
          reinstall: opts.agentReinstall,
          ...(opts.agentWindow !== undefined ? { agentWindow: opts.agentWindow } : {}),
          ...(opts.mdmWindow !== undefined ? { mdmWindow: opts.mdmWindow } : {}),
          ...(opts.reinstallRetry !== undefined ? { retryInterval: opts.reinstallRetry } : {}),
          ...(opts.reinstallSweep !== undefined ? { sweepInterval: opts.reinstallSweep } : {}),
          ...(opts.inventoryInterval !== undefined ? { inventoryInterval: opts.inventoryInterval } : {}),
          ...(opts.missingAfter !== undefined ? { missingAfter: opts.missingAfter } : {}),
        },
        onError: (error) => log.error({ err: error }, 'unexpected error'),
      });
      if (log.isLevelEnabled('debug')) {
        server.events.subscribe((e) => log.debug({ event: e.type, udid: e.udid, at: new Date(e.at).toISOString() }, e.summary));
      }
      // Logs first: whoever waits for the ready line finds them already written.
      log.info({ url: server.url, apns: server.info.apns, courier: server.info.courier, clock: opts.clock, auth: opts.auth, topic: server.pushCert.topic, dataDir: server.dataDir }, 'mdmsim serving');
      if (opts.auth === 'none') log.warn('--auth none: MDM requests are not checked for Mdm-Signature');
      process.stdout.write(`${JSON.stringify(server.info)}\n`);
      onStopSignal(log, () => server.stop());
    });

  program
    .command('fleet')
    .description('run simulated Macs against an MDM server that serves /mdm/enroll (mdmsim serve, or your own)')
    .requiredOption('--server <url>', 'the MDM host, e.g. https://127.0.0.1:8443', httpsUrl)
    .requiredOption('--ca <path>', 'PEM of the CA the server certificate chains to (mdmsim serve prints it as caCert)')
    .requiredOption('--count <n>', 'how many Macs', positiveInteger)
    .option('--seed <seed>', 'identities are deterministic from the seed and shard', 'mdmsim')
    .option('--shard <i/n>', 'this is shard i of n (1-based): shards never share an identity', shard)
    .option('--courier <url>', 'the APNs courier (default ws://<server host>:5223)', wsUrl)
    .option('--resolve <host:address>', "where the Macs find a name, as curl's --resolve (repeatable; *.domain allowed), e.g. *.mdmsim.test:127.0.0.1. The Macs never ask the system's DNS; names under the zone of the enrollment profile's MDM URLs go to the --server address by default", resolveEntry, [])
    .addOption(new Option('--key <type>', 'key type the Macs ask for at /mdm/enroll (default: the server\'s choice)').choices(['ec', 'rsa']))
    .option('--concurrency <n>', 'enrollments in flight at once', positiveInteger, 32)
    .option('--exit-after-enroll', 'exit once every Mac has enrolled (default: keep running, as Macs do)')
    .addOption(new Option('--log-level <level>', 'stderr log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action((opts: FleetCliOptions) => runFleet(opts));

  addTenantOptions(program.command('lab'), 'default: a fresh one, kept in --data-dir when given')
    .description('one process: server, simulated Macs and a virtual clock; plays a scenario and prints its timeline')
    .option('--scenario <name|file>', `a shipped scenario (${Object.keys(SCENARIOS).join(', ')}) or a scenario file (YAML)`)
    .option('--devices <n>', 'Macs in the lab (default: the scenario\'s, else 3)', nonNegativeInteger)
    .option('--exit', 'exit when the scenario ends: 0 only if every expectation held')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTPS port of the MDM host (0 = any free port)', port, 0)
    .option('--tls-profile <name>', `${TLS_PROFILE_HELP} (default: the scenario's, else modern)`, tlsProfileName)
    .option('--seed <seed>', "identities are deterministic from the seed (default: the scenario's, else mdmsim-lab)")
    .option('--data-dir <dir>', 'where the CA and certificates are kept (default: a temporary one)')
    .option('--no-color', 'plain timeline even on a terminal')
    .option('--mermaid <file>', 'write the run as a Mermaid sequence diagram to this file (when the scenario ends, or when the lab stops)')
    .addOption(new Option('--log-level <level>', 'stderr log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('warn'))
    .action((opts: LabCliOptions) => runLab(opts));

  registerTokenCommand(program);
  registerNetworkRequirementsCommand(program);
  registerDeviceCommand(program);
  registerNetworkCheckCommand(program);
  addPostureSyncCommand(program);
  return program;
}

function nonNegativeInteger(value: string): number {
  if (!/^\d+$/.test(value)) throw new InvalidArgumentError('expected a whole number (0 or more)');
  return Number(value);
}

function shard(value: string): { index: number; of: number } {
  const m = /^(\d+)\/(\d+)$/.exec(value);
  const index = Number(m?.[1]);
  const of = Number(m?.[2]);
  if (!m || of < 1 || index < 1 || index > of) throw new InvalidArgumentError('expected i/n with 1 ≤ i ≤ n, e.g. 2/4 (the second of four shards)');
  return { index: index - 1, of };
}

/**
 * The Macs' resolver for `mdmsim fleet`: the --resolve entries; the --server host when it is a name
 * they leave out, looked up once here (the operator's DNS, as curl would, not the Macs'); and, by
 * the Fleet's default, the enrollment profile's zone at that address.
 */
async function fleetResolver(server: string, entries: readonly ResolveEntry[]): Promise<Resolver> {
  const resolver = resolverOf(entries);
  const host = new URL(server).hostname;
  if ((await resolver.find(host)) === undefined) {
    try {
      resolver.add(host, (await lookupHost(host)).address);
    } catch (error) {
      throw new Error(`--server ${server}: ${host} does not resolve here (${(error as Error).message}); give its address with --resolve ${host}:ADDRESS`);
    }
  }
  return resolver;
}

function wsUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected a URL such as ws://127.0.0.1:5223');
  }
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') throw new InvalidArgumentError('the courier is a WebSocket: use ws:// or wss://');
  return value;
}

interface FleetCliOptions {
  server: string;
  ca: string;
  count: number;
  seed: string;
  shard?: { index: number; of: number };
  courier?: string;
  resolve: ResolveEntry[];
  key?: 'ec' | 'rsa';
  concurrency: number;
  exitAfterEnroll?: boolean;
  logLevel: string;
}

async function runFleet(opts: FleetCliOptions): Promise<void> {
  const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
  let ca: Buffer;
  try {
    ca = readFileSync(opts.ca);
  } catch (error) {
    throw new Error(`--ca ${opts.ca}: ${(error as Error).message} (mdmsim serve prints the CA's path as caCert in its ready line)`);
  }
  if (!ca.toString('latin1').includes('-----BEGIN CERTIFICATE-----')) throw new Error(`--ca ${opts.ca}: expected a PEM certificate`);
  const resolver = await fleetResolver(opts.server, opts.resolve);
  const fleet = await Fleet.start({
    resolve: resolver,
    server: opts.server,
    ca,
    count: opts.count,
    seed: opts.seed,
    shard: opts.shard,
    courier: opts.courier,
    keyType: opts.key,
    enrollConcurrency: opts.concurrency,
    clock: new RealClock((error, label) => log.error({ err: error, timer: label }, 'timer failed')),
    onEvent: log.isLevelEnabled('debug') ? (e) => log.debug({ udid: e.udid, event: e.type }, e.summary) : undefined,
  });
  const progress = process.stderr.isTTY ? new Progress('enrolling', opts.count) : undefined;
  const started = performance.now();
  const report = await fleet.enrollAll({ onProgress: (done, total, failed) => progress?.update(done, failed) });
  progress?.done();
  const seconds = (performance.now() - started) / 1000;
  for (const f of report.failed.slice(0, 10)) log.error({ udid: f.udid }, `enrollment failed: ${f.error}`);
  if (report.failed.length > 10) log.error(`${report.failed.length - 10} more enrollments failed`);
  process.stdout.write(`${JSON.stringify({ enrolled: report.enrolled, failed: report.failed.length, seconds: Math.round(seconds * 10) / 10 })}\n`);
  if (opts.exitAfterEnroll || report.enrolled === 0) {
    await fleet.stop();
    process.exit(report.failed.length === 0 ? 0 : 1);
  }
  log.info({ macs: report.enrolled }, 'fleet running: Macs answer pushes and their agents check in; Ctrl-C stops');
  onStopSignal(log, () => fleet.stop());
}

/** One line redrawn on a terminal: `enrolling 120/1000 (2 failed)`. */
class Progress {
  private last = 0;
  constructor(
    private readonly what: string,
    private readonly total: number,
  ) {}
  update(done: number, failed: number): void {
    const now = performance.now();
    if (now - this.last < 100 && done < this.total) return;
    this.last = now;
    process.stderr.write(`\r${this.what} ${done}/${this.total}${failed ? ` (${failed} failed)` : ''}\x1b[K`);
  }
  done(): void {
    process.stderr.write('\n');
  }
}

interface LabCliOptions extends TenantFlags {
  scenario?: string;
  tlsProfile?: TlsProfileName;
  devices?: number;
  exit?: boolean;
  host: string;
  port: number;
  seed?: string;
  dataDir?: string;
  color: boolean;
  mermaid?: string;
  logLevel: string;
}

/** The lab's whole run as a Mermaid sequence diagram, Macs named as on the timeline. */
function writeMermaid(lab: Lab, file: string): void {
  const labelOf = (udid: string) => String(lab.macs.findIndex((m) => m.udid === udid) + 1 || udid.slice(0, 8));
  const events = lab.server.events.query({ limit: Number.MAX_SAFE_INTEGER });
  writeFileSync(file, eventsToMermaid(events, { start: events[0]?.at ?? DEFAULT_LAB_START, labelOf }));
}

async function runLab(opts: LabCliOptions): Promise<void> {
  const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
  const scenario = opts.scenario === undefined ? undefined : resolveScenario(opts.scenario);
  if (opts.scenario !== undefined && !scenario) {
    throw new Error(`--scenario ${opts.scenario}: no such scenario or file; shipped: ${Object.keys(SCENARIOS).join(', ')}`);
  }
  if (opts.exit && !scenario) throw new Error('--exit ends the lab when its scenario ends: name one with --scenario');
  const color = opts.color && process.stdout.isTTY === true;
  // The scenario's fleet (models, OS versions, seed) and policy settings, then the flags.
  const lab = await startLab({
    ...scenario?.lab,
    devices: 0,
    seed: opts.seed ?? scenario?.lab?.seed ?? 'mdmsim-lab',
    host: opts.host,
    port: opts.port,
    dataDir: opts.dataDir,
    server: { ...scenario?.lab?.server, tenant: { ...scenario?.lab?.server?.tenant, ...tenantFromFlags(opts) }, ...(opts.tlsProfile !== undefined ? { tlsProfile: opts.tlsProfile } : {}), onError: (error) => log.error({ err: error }, 'unexpected error') },
  });
  log.info(lab.server.info, 'lab serving');
  if (!scenario) {
    // The default lab: a few Macs, enrolled with their agents, waiting for an instructor.
    process.stdout.write(`${JSON.stringify(lab.server.info)}\n`);
    const labelOf = (udid: string) => `Mac ${lab.macs.findIndex((m) => m.udid === udid) + 1}`;
    lab.server.events.subscribe((e) => {
      if (!isRoutine(e)) process.stdout.write(`${formatEvent(e, { start: DEFAULT_LAB_START, labelOf, color })}\n`);
    });
    await lab.enroll(opts.devices ?? 3);
    onStopSignal(log, async () => {
      if (opts.mermaid !== undefined) writeMermaid(lab, opts.mermaid);
      await lab.stop();
    });
    return;
  }
  const devices = opts.devices ?? scenario.devices;
  process.stdout.write(`${color ? '\x1b[1m' : ''}${scenario.title}${color ? '\x1b[0m' : ''}\n${scenario.description}\n\n`);
  const report = await playScenario({ ...scenario, devices }, { lab, color });
  for (const line of report.timeline) process.stdout.write(`${line}\n`);
  process.stdout.write('\n');
  for (const x of report.expectations) {
    const mark = x.ok ? (color ? '\x1b[32m✓\x1b[0m' : '✓') : color ? '\x1b[31m✗\x1b[0m' : '✗';
    process.stdout.write(`${mark} ${x.describe}\n`);
    for (const f of x.failures) process.stdout.write(`    ${f}\n`);
  }
  process.stdout.write(
    `\n${scenario.name}: ${report.passed ? 'every expectation held' : `${report.expectations.filter((x) => !x.ok).length} expectation(s) failed`} ` +
      `(${Math.round(report.virtualMs / 86_400_000)} virtual days in ${(report.wallMs / 1000).toFixed(1)} s)\n`,
  );
  if (opts.mermaid !== undefined) {
    writeMermaid(lab, opts.mermaid);
    process.stdout.write(`Mermaid sequence diagram: ${opts.mermaid}\n`);
  }
  if (opts.exit) {
    await lab.stop();
    process.exit(report.passed ? 0 : 1);
  }
  process.stdout.write(`${JSON.stringify(lab.server.info)}\n`);
  onStopSignal(log, () => lab.stop());
}

function onStopSignal(log: pino.Logger, stop: () => Promise<void>): void {
  let stopping = false;
  const handler = (signal: string) => {
    // A second Ctrl-C means now, whatever the first one is still waiting for.
    if (stopping) process.exit(130);
    stopping = true;
    log.info({ signal }, 'stopping');
    stop().then(
      () => process.exit(0),
      (error) => {
        log.error({ err: error }, 'stop failed');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => handler('SIGINT'));
  process.on('SIGTERM', () => handler('SIGTERM'));
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (error) {
    process.stderr.write(`mdmsim: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  }
}
