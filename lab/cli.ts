/**
 * The `mdmsim` command line. Every command is a thin layer over the programmatic API.
 * stdout carries only machine-readable output (the ready line); logs go to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { IDENTITY_KEY_TYPES, type IdentityKeyType } from '../server/pki';
import { readFileSync } from 'node:fs';
import { AUTH_MODES, startServer, type AuthMode } from '../server/server';
import type { ProviderKeyInput } from '../server/apns';

function port(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value) || n > 65535) throw new InvalidArgumentError('expected a port number from 0 to 65535 (0 picks a free port)');
  return n;
}

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

interface ServeOptions {
  host: string;
  port: number;
  apnsPort?: number;
  courierPort?: number;
  apns: boolean;
  apnsUrl?: string;
  courierTls?: boolean;
  apnsKey: ProviderKeyInput[];
  pushOnEnqueue: boolean;
  dataDir: string;
  clock: 'real' | 'virtual';
  auth: AuthMode;
  identityKey: IdentityKeyType;
  identityKeyPool?: number;
  apiToken?: string;
  logLevel: string;
}

export function buildProgram(): Command {
  const program = new Command('mdmsim')
    .description('Simulated Apple MDM + vendor-agent check-in lab')
    .showHelpAfterError()
    .configureOutput({ writeOut: (s) => process.stdout.write(s), writeErr: (s) => process.stderr.write(s) });

  program
    .command('serve')
    .description('run the MDM server, its control API and event stream (HTTPS)')
    .option('--host <host>', 'interface to listen on', '127.0.0.1')
    .option('--port <port>', 'HTTPS port: MDM, agent, APIs, dashboard (0 = any free port)', port, 8443)
    .option('--apns-port <port>', 'APNs mock provider API port, HTTP/2 over TLS (default 2197; a free port when --port is 0)', port)
    .option('--courier-port <port>', 'APNs mock courier port, WebSocket, where devices subscribe (default 5223; a free port when --port is 0)', port)
    .option('--no-apns', 'run no APNs mock (pushes go to --apns-url, if given)')
    .option('--apns-url <url>', 'where the server sends its pushes (default: its own APNs mock), e.g. https://api.push.apple.com', httpsUrl)
    .option('--courier-tls', 'serve the courier as wss:// instead of ws://')
    .option('--apns-key <team:key:file>', 'trust this ES256 provider-token key (PEM .p8 or public key); repeatable', collectKey, [])
    .option('--no-push-on-enqueue', 'do not push when a command is queued (a request can still ask with ?push=true)')
    .option('--data-dir <dir>', 'where the CA, certificates and API token are kept', './.mdmsim')
    .addOption(new Option('--clock <mode>', 'real time, or a virtual clock moved by POST /sim/v1/clock/advance').choices(['real', 'virtual']).default('real'))
    .addOption(new Option('--auth <mode>', 'Mdm-Signature checks: signature (every request signed by the identity bound at Authenticate) or none (for curl)').choices([...AUTH_MODES]).default('signature'))
    .addOption(new Option('--identity-key <type>', 'key type of identities in enrollment profiles (a download may ask with ?key=)').choices([...IDENTITY_KEY_TYPES]).default('rsa'))
    .option('--identity-key-pool <n>', 'reuse n key pairs across identities (fast RSA fleets; devices sharing a key could sign for each other)', positiveInteger)
    .option('--api-token <token>', 'bearer token for /sim/v1 (default: $MDMSIM_API_TOKEN or one kept in the data dir)')
    .addOption(new Option('--log-level <level>', 'stderr log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts: ServeOptions) => {
      const log = pino({ level: opts.logLevel, base: undefined }, pino.destination(2));
      const server = await startServer({
        host: opts.host,
        port: opts.port,
        dataDir: opts.dataDir,
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
        onError: (error) => log.error({ err: error }, 'unexpected error'),
      });
      if (log.isLevelEnabled('debug')) {
        server.events.subscribe((e) => log.debug({ event: e.type, udid: e.udid, at: new Date(e.at).toISOString() }, e.summary));
      }
      // Logs first: whoever waits for the ready line finds them already written.
      log.info({ url: server.url, apns: server.info.apns, courier: server.info.courier, clock: opts.clock, auth: opts.auth, topic: server.pushCert.topic, dataDir: server.dataDir }, 'mdmsim serving');
      if (opts.auth === 'none') log.warn('--auth none: MDM requests are not checked for Mdm-Signature');
      process.stdout.write(`${JSON.stringify(server.info)}\n`);
      let stopping = false;
      const stop = (signal: string) => {
        // A second Ctrl-C means now, whatever the first one is still waiting for.
        if (stopping) process.exit(130);
        stopping = true;
        log.info({ signal }, 'stopping');
        server.stop().then(
          () => process.exit(0),
          (error) => {
            log.error({ err: error }, 'stop failed');
            process.exit(1);
          },
        );
      };
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGTERM', () => stop('SIGTERM'));
    });

  return program;
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv, { from: 'user' });
  } catch (error) {
    process.stderr.write(`mdmsim: ${(error as Error)?.message ?? String(error)}\n`);
    process.exit(1);
  }
}
