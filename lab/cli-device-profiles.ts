/**
 * `mdmsim device <udid> profiles`: what a Mac would show for its installed profiles, as
 * `system_profiler SPConfigurationProfileDataType` prints them, from a running server's
 * GET /sim/v1/devices/{udid}/profiles. The server, its CA and the API token come from flags, or
 * from the data dir of `mdmsim serve` (its ca.pem and api-token) at serve's default address.
 */
import { readFileSync } from 'node:fs';
import { request } from 'node:https';
import { join, resolve } from 'node:path';
import { Argument, InvalidArgumentError, Option, type Command } from 'commander';
import { formatSystemProfiler, type DeviceProfilesJson } from '../protocol/installed-profiles';

interface DeviceCliOptions {
  server: string;
  ca?: string;
  apiToken?: string;
  dataDir: string;
  format: 'text' | 'json';
}

export const DEFAULT_SERVER = 'https://127.0.0.1:8443';

function serverUrl(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new InvalidArgumentError('expected the server\'s https:// URL, e.g. https://127.0.0.1:8443 (the ready line\'s mdm URL without /mdm)');
  }
  if (url.protocol !== 'https:') throw new InvalidArgumentError('mdmsim serves HTTPS only: use an https:// URL');
  return url.origin;
}

/** Reads a file the user pointed at (or the data dir holds), saying which flag to change when it cannot. */
function readFor(file: string, flag: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message}): give ${flag}, or --data-dir of the server`);
  }
}

/**
 * Node's codes for a server certificate that does not chain to the CA given: the server is
 * there, so "cannot reach" would send the user looking in the wrong place.
 */
const UNTRUSTED_CERT_CODES = new Set([
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
]);

/** Why the request failed, said so the user knows which flag to change. */
function requestFailure(server: string, caSource: string, error: NodeJS.ErrnoException): Error {
  const code = error.code ?? error.message;
  if (UNTRUSTED_CERT_CODES.has(code)) {
    return new Error(`${caSource} is not this server's CA (${code} from ${server}): give --ca the file the ready line's caCert names, or the server's --data-dir`);
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return new Error(`${server}'s certificate does not cover that host (${error.message}): give --server the ready line's address`);
  }
  return new Error(`cannot reach ${server} (${code}): is mdmsim serve running there? Give its address with --server`);
}

/**
 * GET a /sim/v1 path as JSON; errors say what to change. `caSource` names where `ca` came from
 * (e.g. "--ca ./ca.pem"), for the error when the server's certificate does not chain to it.
 */
export function getJson(server: string, path: string, ca: string, token: string, caSource = '--ca'): Promise<unknown> {
  return new Promise((resolvePromise, reject) => {
    const req = request(new URL(path, server), { ca, headers: { authorization: `Bearer ${token}`, accept: 'application/json' }, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let body: any;
        try {
          body = JSON.parse(text);
        } catch {
          return reject(new Error(`${server}${path} answered ${res.statusCode} without JSON: is ${server} an mdmsim server?`));
        }
        if (res.statusCode === 200) return resolvePromise(body);
        const p = body?.error ?? body;
        if (res.statusCode === 401) return reject(new Error(`${server} refused the API token (${p?.message ?? 401}): give --api-token (the ready line's apiToken) or the server's --data-dir`));
        reject(new Error(`${server}${path} → ${res.statusCode} ${p?.code ?? ''}: ${p?.message ?? text}${p?.hint ? ` (${p.hint})` : ''}`));
      });
      res.on('error', reject);
    });
    req.on('error', (error: NodeJS.ErrnoException) => reject(requestFailure(server, caSource, error)));
    req.end();
  });
}

export function registerDeviceCommand(program: Command): void {
  program
    .command('device')
    .description("what a simulated Mac would show about itself, from a running server")
    .argument('<udid>', "the Mac's UDID (GET /sim/v1/devices lists them)")
    .addArgument(new Argument('<view>', 'profiles: its installed configuration profiles, as system_profiler SPConfigurationProfileDataType prints them').choices(['profiles']))
    .option('--server <url>', `the mdmsim server (default ${DEFAULT_SERVER}, serve's)`, serverUrl, DEFAULT_SERVER)
    .option('--ca <path>', "PEM of the server's CA (the ready line's caCert; default: the data dir's ca.pem)")
    .option('--api-token <token>', "bearer token for /sim/v1 (default: $MDMSIM_API_TOKEN, else the data dir's api-token)")
    .option('--data-dir <dir>', "the server's data dir, for its CA and API token", './.mdmsim')
    .addOption(new Option('--format <format>', 'text (as system_profiler prints it) or json (the API\'s answer)').choices(['text', 'json']).default('text'))
    .action(async (udid: string, _view: 'profiles', opts: DeviceCliOptions) => {
      const dataDir = resolve(opts.dataDir);
      const caFile = opts.ca ?? join(dataDir, 'ca.pem');
      const ca = readFor(caFile, '--ca');
      const caSource = opts.ca === undefined ? `the data dir's ${caFile}` : `--ca ${opts.ca}`;
      const token = opts.apiToken ?? process.env.MDMSIM_API_TOKEN ?? readFor(join(dataDir, 'api-token'), '--api-token').trim();
      const body = (await getJson(opts.server, `/sim/v1/devices/${encodeURIComponent(udid)}/profiles`, ca, token, caSource)) as DeviceProfilesJson;
      process.stdout.write(opts.format === 'json' ? `${JSON.stringify(body, null, 2)}\n` : formatSystemProfiler(body));
      for (const note of body.notes ?? []) process.stderr.write(`mdmsim: ${note}\n`);
    });
}
