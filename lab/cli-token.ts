/**
 * `mdmsim token create|list|revoke`: API tokens for the Kandji-compatible API, written to the
 * data dir's api-tokens.json. A server running on that data dir sees them at its next request,
 * without a restart. stdout carries the token (or JSON with --json); errors go to stderr.
 */
import { Command } from 'commander';
import { resolve } from 'node:path';
import { ALL_PERMISSIONS, KANDJI_PERMISSIONS } from '../protocol/kandji';
import { ApiTokenStore, type ApiTokenInfo } from '../server/api/auth/token-store';

const DEFAULT_DATA_DIR = './.mdmsim';

interface TokenCommonOptions {
  dataDir: string;
  json?: boolean;
}

export function registerTokenCommand(program: Command): void {
  const token = program
    .command('token')
    .description('issue, list and revoke tokens of the Kandji-compatible API (/api/v1)');

  token
    .command('create')
    .description('issue a token (a UUID) with per-endpoint permissions; printed once')
    .requiredOption('--permissions <list>', `comma-separated, or "${ALL_PERMISSIONS}" for all: ${KANDJI_PERMISSIONS.join(', ')}`)
    .option('--name <name>', 'what the token is for, shown by token list')
    .option('--data-dir <dir>', 'the data dir of the server that should accept it', DEFAULT_DATA_DIR)
    .option('--json', 'print the token and its record as JSON')
    .action((opts: TokenCommonOptions & { permissions: string; name?: string }) => {
      const issued = store(opts).create({ name: opts.name, permissions: opts.permissions });
      process.stdout.write(opts.json ? `${JSON.stringify(issued)}\n` : `${issued.token}\n`);
      if (!opts.json) process.stderr.write(`API token "${issued.name}" (id ${issued.id}): ${describePermissions(issued)}\n`);
    });

  token
    .command('list')
    .description('list issued tokens (their secrets are not kept; the last four characters are)')
    .option('--data-dir <dir>', 'the server\'s data dir', DEFAULT_DATA_DIR)
    .option('--json', 'print JSON')
    .action((opts: TokenCommonOptions) => {
      const tokens = store(opts).list();
      if (opts.json) {
        process.stdout.write(`${JSON.stringify({ tokens })}\n`);
        return;
      }
      if (tokens.length === 0) {
        process.stderr.write('no API tokens issued (mdmsim token create --permissions ... issues one)\n');
        return;
      }
      for (const t of tokens) {
        const state = t.revokedAt === null ? 'active' : `revoked ${t.revokedAt}`;
        process.stdout.write(`${t.id}  …${t.hint}  ${state}  ${JSON.stringify(t.name)}  ${describePermissions(t)}\n`);
      }
    });

  token
    .command('revoke')
    .description('revoke a token by its id (token list shows ids); a running server refuses it at once')
    .argument('<id>', 'the token\'s id (or the token itself)')
    .option('--data-dir <dir>', 'the server\'s data dir', DEFAULT_DATA_DIR)
    .option('--json', 'print the revoked token\'s record as JSON')
    .action((id: string, opts: TokenCommonOptions) => {
      const revoked = store(opts).revoke(id);
      process.stdout.write(opts.json ? `${JSON.stringify(revoked)}\n` : `revoked ${revoked.id} ${JSON.stringify(revoked.name)} at ${revoked.revokedAt}\n`);
    });
}

function store(opts: TokenCommonOptions): ApiTokenStore {
  return new ApiTokenStore(resolve(opts.dataDir));
}

function describePermissions(t: ApiTokenInfo): string {
  return t.permissions === ALL_PERMISSIONS ? 'every permission' : t.permissions.join(',');
}
