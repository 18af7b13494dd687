/**
 * The tokens file shared by the CLI and a running server: two stores on one data dir stand
 * for the two processes.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { API_TOKENS_FILE, ApiTokenError, ApiTokenStore } from '../../../server/api/auth/token-store';
import { parsePermissions } from '../../../server/api/auth/permissions';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdmsim-tokens-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('ApiTokenStore', () => {
  it('keeps only a hash of the secret, owner-only', () => {
    const issued = new ApiTokenStore(dir).create({ name: 'x', permissions: '*' });
    const text = readFileSync(join(dir, API_TOKENS_FILE), 'utf8');
    expect(text).not.toContain(issued.token);
    expect(text).toContain(issued.id);
    expect(statSync(join(dir, API_TOKENS_FILE)).mode & 0o777).toBe(0o600);
  });

  it('sees tokens another process created and revoked, at the next lookup', () => {
    const server = new ApiTokenStore(dir);
    const cli = new ApiTokenStore(dir);
    expect(server.lookup('anything')).toBeUndefined();
    const issued = cli.create({ name: 'cli', permissions: ['prism:device_information'] });
    expect(server.lookup(issued.token)).toMatchObject({ id: issued.id, permissions: ['prism:device_information'] });
    cli.revoke(issued.id);
    expect(server.lookup(issued.token)).toBeUndefined();
  });

  it('loses no token when two writers alternate (each reads the file fresh under the lock)', () => {
    const a = new ApiTokenStore(dir);
    const b = new ApiTokenStore(dir);
    a.create({ permissions: '*' });
    b.create({ permissions: '*' });
    a.create({ permissions: '*' });
    expect(new ApiTokenStore(dir).list()).toHaveLength(3);
  });

  it('revokes by id or by the secret; twice keeps the first time; unknown is not-found', () => {
    const store = new ApiTokenStore(dir);
    const issued = store.create({ permissions: 'devices:list' });
    const first = store.revoke(issued.token);
    expect(first.id).toBe(issued.id);
    expect(store.revoke(issued.id).revokedAt).toBe(first.revokedAt);
    expect(() => store.revoke('no-such-id')).toThrow(ApiTokenError);
  });

  it('keeps the tokens in force when the file is hand-edited into nonsense, and says why', () => {
    const store = new ApiTokenStore(dir);
    const issued = store.create({ permissions: '*' });
    expect(store.lookup(issued.token)).toBeDefined();
    writeFileSync(join(dir, API_TOKENS_FILE), '{ not json');
    expect(store.lookup(issued.token)).toBeDefined();
    expect(store.fileError).toMatch(/not valid JSON/);
  });

  it('waits for a held lock and takes over a stale one', () => {
    const store = new ApiTokenStore(dir);
    const lock = join(dir, `${API_TOKENS_FILE}.lock`);
    mkdirSync(lock);
    const old = new Date(Date.now() - 60_000);
    utimesSync(lock, old, old);
    expect(store.create({ permissions: '*' }).token).toBeDefined();
  });
});

describe('parsePermissions', () => {
  it('keeps Kandji\'s order without duplicates, and * alone', () => {
    expect(parsePermissions('prism:device_information, devices:list,devices:list')).toEqual(['devices:list', 'prism:device_information']);
    expect(parsePermissions('*')).toBe('*');
    expect(() => parsePermissions('*,devices:list')).toThrow(/give it alone/);
    expect(() => parsePermissions('')).toThrow(/at least one permission/);
    expect(() => parsePermissions(['devices:lst', 'prism'])).toThrow(/unknown permissions "devices:lst", "prism"; valid: devices:list/);
  });
});
