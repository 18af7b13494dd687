/**
 * The `mdmsim` command line. Every command is a thin layer over the programmatic API.
 * stdout carries only machine-readable output (the ready line); logs go to stderr.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import pino from 'pino';
import { IDENTITY_KEY_TYPES, type IdentityKeyType } from '../server/pki';
import { AUTH_MODES, startServer, type AuthMode } from '../server/server';

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
    .option('--apns-port <port>', 'APNs provider API port (HTTP/2; reserved: the APNs mock is not in this build yet)', port, 2197)
    .option('--courier-port <port>', 'device-side courier port (reserved: the APNs mock is not in this build yet)', port, 5223)
    .option('--data-dir <dir>', 'where the CA, certificates and API token are kept', './.mdmsim')
    .addOption(new Option('--clock <mode>', 'real time, or a virtual clock moved by POST /sim/v1/clock/advance').choices(['real', 'virtual']).default('real'))
    .addOption(new Option('--auth <mode>', 'Mdm-Signature checks: signature (every request signed by the identity bound at Authenticate) or none (for curl)').choices([...AUTH_MODES]).default('signature'))
    .addOption(new Option('--identity-key <type>', 'key type of identities in enrollment profiles (a download may ask with ?key=)').choices([...IDENTITY_KEY_TYPES]).default('rsa'))
    .option('--identity-key-pool <n>', 'reuse n key pairs across identities (fast RSA fleets; devices sharing a key could sign for each other)', positiveInteger)
    .option('--api-token <token>', 'bearer token for /sim/v1 (default: $MDMSIM_API_TOKEN or one kept in the data dir)')
    .addOption(new Option('--log-level <level>', 'stderr log level').choices(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'))
    .action(async (opts: { host: string; port: number; dataDir: string; clock: 'real' | 'virtual'; auth: AuthMode; identityKey: IdentityKeyType; identityKeyPool?: number; apiToken?: string; logLevel: string }) => {
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
        onError: (error) => log.error({ err: error }, 'unexpected error'),
      });
      if (log.isLevelEnabled('debug')) {
        server.events.subscribe((e) => log.debug({ event: e.type, udid: e.udid, at: new Date(e.at).toISOString() }, e.summary));
      }
      process.stdout.write(`${JSON.stringify(server.info)}\n`);
      log.info({ url: server.url, clock: opts.clock, auth: opts.auth, topic: server.pushCert.topic, dataDir: server.dataDir }, 'mdmsim serving');
      if (opts.auth === 'none') log.warn('--auth none: MDM requests are not checked for Mdm-Signature');
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
