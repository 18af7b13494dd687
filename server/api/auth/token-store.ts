/**
 * Issued API tokens, kept in the data dir as `api-tokens.json` so that `mdmsim token create`
 * (another process) and a running server share them.
 *
 * - Tokens are random UUIDs, as Kandji's are. The file keeps only their SHA-256 (and the last
 *   four characters, to tell them apart in a list): a token is shown once, when created.
 * - Writes take a lock (a directory made exclusively), read the file fresh, change it and
 *   replace it atomically (temporary file + rename), so a CLI and a server writing at once
 *   lose nothing and a reader never sees half a file.
 * - A server sees changes made by others without a restart: before each lookup it compares the
 *   file's identity (inode, size, mtime) with what it last read, one stat(2) of a few
 *   microseconds, and reads it again only when it changed. So a token revoked by the CLI is
 *   refused at the very next request.
 *
 * Times are wall-clock ISO strings: issuing and revoking tokens is an operator's act in real
 * time, also when the lab's devices live on a virtual clock.
 */
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import * as fs from 'node:fs';
import { join } from 'node:path';
import { ALL_PERMISSIONS } from '../../../protocol/kandji';
import { parsePermissions, PermissionError, type TokenPermissions } from './permissions';

export const API_TOKENS_FILE = 'api-tokens.json';
const FILE_VERSION = 1;
const LOCK_WAIT_MS = 5_000;
/** A lock older than this was left by a process that died while holding it. */
const LOCK_STALE_MS = 10_000;

/** A token as listed: everything but the secret. */
export interface ApiTokenInfo {
  /** Names the token in `list` and `revoke` (not the secret). */
  id: string;
  name: string;
  permissions: TokenPermissions;
  /** The secret's last four characters. */
  hint: string;
  createdAt: string;
  revokedAt: string | null;
}

/** What create() answers: the one time the secret is shown. */
export interface IssuedApiToken extends ApiTokenInfo {
  token: string;
}

export interface CreateApiTokenInput {
  name?: string;
  /** Names, a comma-separated list, or `*`. */
  permissions: string | readonly string[];
}

interface StoredToken extends ApiTokenInfo {
  sha256: string;
}

interface TokenFile {
  version: number;
  tokens: StoredToken[];
}

export class ApiTokenError extends Error {
  constructor(
    message: string,
    /** `invalid` (bad input), `not-found`, `file` (the tokens file is unreadable or locked). */
    readonly kind: 'invalid' | 'not-found' | 'file',
  ) {
    super(message);
    this.name = 'ApiTokenError';
  }
}

export class ApiTokenStore {
  readonly file: string;
  private tokens: StoredToken[] = [];
  private bySha = new Map<string, StoredToken>();
  /** ino:size:mtimeNs of the file last read; '' when there is none. */
  private seen = '';
  /** Why the file could not be used the last time it changed (kept tokens stay in force). */
  private lastError: string | undefined;

  constructor(readonly dataDir: string) {
    this.file = join(dataDir, API_TOKENS_FILE);
  }

  /** The token with this secret if it is known and not revoked. */
  lookup(secret: string): Readonly<ApiTokenInfo> | undefined {
    this.refresh();
    const record = this.bySha.get(sha256(secret));
    return record && record.revokedAt === null ? info(record) : undefined;
  }

  list(): ApiTokenInfo[] {
    this.refresh();
    return this.tokens.map(info);
  }

  get(idOrSecret: string): ApiTokenInfo | undefined {
    this.refresh();
    const record = findRecord(this.tokens, idOrSecret);
    return record && info(record);
  }

  /** Issues a token; throws ApiTokenError (`invalid`) for unknown permission names. */
  create(input: CreateApiTokenInput): IssuedApiToken {
    let permissions: TokenPermissions;
    try {
      permissions = parsePermissions(input.permissions);
    } catch (error) {
      if (error instanceof PermissionError) throw new ApiTokenError(error.message, 'invalid');
      throw error;
    }
    const name = (input.name ?? '').trim() || `token ${new Date().toISOString()}`;
    if (name.length > 200) throw new ApiTokenError('a token name has at most 200 characters', 'invalid');
    const token = randomUUID();
    const record: StoredToken = {
      id: randomUUID(),
      name,
      permissions: permissions === ALL_PERMISSIONS ? ALL_PERMISSIONS : [...permissions],
      hint: token.slice(-4),
      createdAt: new Date().toISOString(),
      revokedAt: null,
      sha256: sha256(token),
    };
    this.update((tokens) => [...tokens, record]);
    return { ...info(record), token };
  }

  /**
   * Revokes by id (or by the secret itself). Revoking twice keeps the first time. Throws
   * ApiTokenError (`not-found`) when there is no such token.
   */
  revoke(idOrSecret: string): ApiTokenInfo {
    let revoked: StoredToken | undefined;
    this.update((tokens) => {
      const found = findRecord(tokens, idOrSecret);
      if (!found) return tokens;
      revoked = found.revokedAt === null ? { ...found, revokedAt: new Date().toISOString() } : found;
      return tokens.map((t) => (t === found ? revoked! : t));
    });
    if (!revoked) throw new ApiTokenError(`no API token with id ${idOrSecret} in ${this.file} (mdmsim token list shows them)`, 'not-found');
    return info(revoked);
  }

  /** Why the tokens file was last found unusable, if it was (the server keeps the tokens it had). */
  get fileError(): string | undefined {
    return this.lastError;
  }

  /** Reads the file again if it changed since it was last read. */
  private refresh(): void {
    let identity: string;
    try {
      const st = fs.statSync(this.file, { bigint: true });
      identity = `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error;
      identity = '';
    }
    if (identity === this.seen) return;
    try {
      this.install(identity === '' ? [] : parseTokenFile(fs.readFileSync(this.file, 'utf8'), this.file), identity);
      this.lastError = undefined;
    } catch (error) {
      if (!(error instanceof ApiTokenError)) throw error;
      // A hand-edited file that no longer parses: keep the tokens in force, say why.
      this.lastError = error.message;
      this.seen = identity;
    }
  }

  private install(tokens: StoredToken[], identity: string): void {
    this.tokens = tokens;
    this.bySha = new Map(tokens.map((t) => [t.sha256, t]));
    this.seen = identity;
  }

  private update(change: (tokens: StoredToken[]) => StoredToken[]): void {
    fs.mkdirSync(this.dataDir, { recursive: true, mode: 0o700 });
    withLock(`${this.file}.lock`, () => {
      let current: StoredToken[] = [];
      if (fs.existsSync(this.file)) current = parseTokenFile(fs.readFileSync(this.file, 'utf8'), this.file);
      const next = change(current);
      if (next === current) {
        this.install(current, this.identityNow());
        return;
      }
      const body: TokenFile = { version: FILE_VERSION, tokens: next };
      const tmp = `${this.file}.${process.pid}.${randomUUID().slice(0, 8)}.tmp`;
      fs.writeFileSync(tmp, `${JSON.stringify(body, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
      try {
        fs.renameSync(tmp, this.file);
      } catch (error) {
        fs.rmSync(tmp, { force: true });
        throw error;
      }
      this.install(next, this.identityNow());
    });
  }

  private identityNow(): string {
    try {
      const st = fs.statSync(this.file, { bigint: true });
      return `${st.ino}:${st.size}:${st.mtimeNs}`;
    } catch {
      return '';
    }
  }
}

function info(record: StoredToken): ApiTokenInfo {
  return {
    id: record.id,
    name: record.name,
    permissions: record.permissions === ALL_PERMISSIONS ? ALL_PERMISSIONS : [...record.permissions],
    hint: record.hint,
    createdAt: record.createdAt,
    revokedAt: record.revokedAt,
  };
}

function findRecord(tokens: readonly StoredToken[], idOrSecret: string): StoredToken | undefined {
  const wanted = idOrSecret.trim();
  const bySecret = sha256(wanted);
  return tokens.find((t) => t.id === wanted || safeEqual(t.sha256, bySecret));
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

function safeEqual(a: string, b: string): boolean {
  return a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));
}

function parseTokenFile(text: string, file: string): StoredToken[] {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw new ApiTokenError(`${file} is not valid JSON (${(error as Error).message}); fix it or delete it to start with no issued tokens`, 'file');
  }
  const body = parsed as Partial<TokenFile> | null;
  if (!body || body.version !== FILE_VERSION || !Array.isArray(body.tokens)) {
    throw new ApiTokenError(`${file} is not an mdmsim tokens file (expected {"version": ${FILE_VERSION}, "tokens": [...]})`, 'file');
  }
  const tokens: StoredToken[] = [];
  for (const [i, t] of body.tokens.entries()) {
    const ok =
      t !== null &&
      typeof t === 'object' &&
      typeof t.id === 'string' &&
      typeof t.name === 'string' &&
      typeof t.sha256 === 'string' &&
      /^[0-9a-f]{64}$/.test(t.sha256) &&
      typeof t.createdAt === 'string' &&
      (t.revokedAt === null || typeof t.revokedAt === 'string');
    if (!ok) throw new ApiTokenError(`${file}: token ${i} is missing id, name, sha256, createdAt or revokedAt`, 'file');
    let permissions: TokenPermissions;
    try {
      permissions = parsePermissions(t.permissions === ALL_PERMISSIONS ? ALL_PERMISSIONS : (t.permissions as string[]));
    } catch (error) {
      throw new ApiTokenError(`${file}: token ${t.id}: ${(error as Error).message}`, 'file');
    }
    tokens.push({ id: t.id, name: t.name, permissions, hint: typeof t.hint === 'string' ? t.hint : '', createdAt: t.createdAt, revokedAt: t.revokedAt, sha256: t.sha256 });
  }
  return tokens;
}

/** Runs `work` holding an exclusive lock (a directory), waiting for another holder a while. */
function withLock<T>(lockDir: string, work: () => T): T {
  const deadline = Date.now() + LOCK_WAIT_MS;
  for (;;) {
    try {
      fs.mkdirSync(lockDir);
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      try {
        if (Date.now() - fs.statSync(lockDir).mtimeMs > LOCK_STALE_MS) {
          fs.rmSync(lockDir, { recursive: true, force: true });
          continue;
        }
      } catch {
        continue; // released between the two calls
      }
      if (Date.now() > deadline) {
        throw new ApiTokenError(`${lockDir} has been held for over ${LOCK_WAIT_MS / 1000} s; if no mdmsim is writing tokens, delete it`, 'file');
      }
      sleepSync(10);
    }
  }
  try {
    return work();
  } finally {
    fs.rmSync(lockDir, { recursive: true, force: true });
  }
}

const sleeper = new Int32Array(new SharedArrayBuffer(4));
function sleepSync(ms: number): void {
  Atomics.wait(sleeper, 0, 0, ms);
}
