/**
 * Tokens, permissions and rate limits of /api/v1 over HTTPS: DRF's 401s for each way a token
 * can be missing or wrong, 403 for a missing permission, revocation seen by the running server
 * (programmatic, control API, and the CLI writing the data dir from another process), and the
 * per-token limits with Kandji's headers and 429.
 */
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { seedDevices } from '../../bench/lib/seed-devices';
import { POLICIES_OFF } from '../helpers/agent';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const run = promisify(execFile);
const BIN = join(__dirname, '../../bin/mdmsim.js');
const PRISM = '/api/v1/prism/device_information';
const RATE_HEADERS = ['x-ratelimit-limit-second', 'x-ratelimit-remaining-second', 'x-ratelimit-limit-hour', 'x-ratelimit-remaining-hour', 'ratelimit-limit', 'ratelimit-remaining', 'ratelimit-reset'];

let t: TestServer;
beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
  seedDevices(t.server.store, 3, T0);
});
afterAll(() => t.stop());

const get = (token: string, path = PRISM) => t.http.api('GET', path, token);
const raw = (headers: Record<string, string>) => t.http.send('GET', PRISM, undefined, headers);
const detailOf = (r: { body: Buffer }) => JSON.parse(r.body.toString());

describe('401: DRF wording for each way a token is missing or wrong', () => {
  it.each([
    ['no Authorization header', {}, 'Authentication credentials were not provided.'],
    ['another scheme', { authorization: 'Basic dXNlcjpwYXNz' }, 'Authentication credentials were not provided.'],
    ['Bearer and nothing', { authorization: 'Bearer' }, 'Invalid token header. No credentials provided.'],
    ['a token with a space', { authorization: 'Bearer abc def' }, 'Invalid token header. Token string should not contain spaces.'],
    ['an unknown token', { authorization: `Bearer ${randomUUID()}` }, 'Invalid token.'],
  ])('%s', async (_what, headers, detail) => {
    const r = await raw(headers);
    expect(r.status).toBe(401);
    expect(detailOf(r)).toEqual({ detail });
    expect(r.headers['www-authenticate']).toBe('Bearer');
  });

  it('covers unknown paths too, before their 404', async () => {
    expect((await t.http.send('GET', '/api/v1/nothing-here')).status).toBe(401);
    const r = await get(t.token, '/api/v1/nothing-here');
    expect(r.status).toBe(404);
    expect(r.json).toEqual({ detail: 'Not found.' });
  });
});

describe('issued tokens and permissions', () => {
  it('the ready-line token holds every permission', async () => {
    expect((await get(t.token)).status).toBe(200);
  });

  it('issues UUID tokens; one with the permission reads, one without gets 403 in DRF words', async () => {
    const reader = t.server.apiTokens.create({ name: 'posture', permissions: ['prism:device_information'] });
    expect(reader.token).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(reader).toMatchObject({ name: 'posture', permissions: ['prism:device_information'], revokedAt: null, hint: reader.token.slice(-4) });
    expect((await get(reader.token)).status).toBe(200);

    const lister = t.server.apiTokens.create({ name: 'inventory', permissions: 'devices:list' });
    const r = await get(lister.token);
    expect(r.status).toBe(403);
    expect(r.json).toEqual({ detail: 'You do not have permission to perform this action.' });
  });

  it('refuses a revoked token at the next request (server.apiTokens.revoke) and records it', async () => {
    const issued = t.server.apiTokens.create({ name: 'short-lived', permissions: '*' });
    expect((await get(issued.token)).status).toBe(200);
    const revoked = t.server.apiTokens.revoke(issued.id);
    expect(revoked.revokedAt).not.toBeNull();
    const r = await get(issued.token);
    expect(r.status).toBe(401);
    expect(r.json).toEqual({ detail: 'Invalid token.' });
    const types = t.server.events.query({ types: ['api.token'] }).filter((e) => e.data?.id === issued.id).map((e) => e.type);
    expect(types).toEqual(['api.token.created', 'api.token.revoked']);
  });

  it('manages tokens through /sim/v1/api-tokens (ready-line token only)', async () => {
    const sim = (method: string, path: string, body?: unknown, token = t.token) => t.http.api(method, `/sim/v1/api-tokens${path}`, token, body);
    const created = await sim('POST', '', { name: 'ci', permissions: ['prism:device_information', 'devices:list'] });
    expect(created.status).toBe(201);
    expect(created.json).toMatchObject({ name: 'ci', permissions: ['devices:list', 'prism:device_information'], revokedAt: null });
    expect((await get(created.json.token)).status).toBe(200);

    const listed = await sim('GET', '');
    expect(listed.json.tokens.find((x: { id: string }) => x.id === created.json.id)).toMatchObject({ name: 'ci' });
    expect(JSON.stringify(listed.json)).not.toContain(created.json.token);

    expect((await sim('GET', '', undefined, created.json.token)).status).toBe(401);
    const bad = await sim('POST', '', { permissions: ['devices:lst'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error.message).toMatch(/unknown permission "devices:lst"; valid: devices:list, devices:read/);

    const deleted = await sim('DELETE', `/${created.json.id}`);
    expect(deleted.status).toBe(200);
    expect(deleted.json.revokedAt).not.toBeNull();
    expect((await get(created.json.token)).status).toBe(401);
    expect((await sim('DELETE', `/${randomUUID()}`)).status).toBe(404);
  });

  it('accepts a token the CLI created in the data dir, and refuses it once the CLI revokes it, without a restart', async () => {
    const dataDir = t.server.dataDir;
    const created = await run(process.execPath, [BIN, 'token', 'create', '--permissions', 'prism:device_information', '--name', 'from the cli', '--data-dir', dataDir, '--json']);
    const issued = JSON.parse(created.stdout);
    expect(issued).toMatchObject({ name: 'from the cli', permissions: ['prism:device_information'] });
    expect((await get(issued.token)).status).toBe(200);

    const listed = await run(process.execPath, [BIN, 'token', 'list', '--data-dir', dataDir]);
    expect(listed.stdout).toContain(`${issued.id}  …${issued.hint}  active  "from the cli"  prism:device_information`);

    await run(process.execPath, [BIN, 'token', 'revoke', issued.id, '--data-dir', dataDir]);
    expect((await get(issued.token)).status).toBe(401);
    // The server's own list reads the same file.
    expect(t.server.apiTokens.get(issued.id)?.revokedAt).not.toBeNull();
  });

  it('the CLI names unknown permissions and lists the valid ones', async () => {
    const failed = await run(process.execPath, [BIN, 'token', 'create', '--permissions', 'prism:device_info,devices:list', '--data-dir', t.server.dataDir]).catch((e: { code: number; stderr: string }) => e);
    expect((failed as { code: number }).code).toBe(1);
    expect((failed as { stderr: string }).stderr).toMatch(/unknown permission "prism:device_info"; valid: devices:list, .*prism:device_information \(or "\*" for all\)/);
  });
});

describe('rate limits', () => {
  it('sends the limit headers on every answer of an authenticated request: 200, 403, 404, 400', async () => {
    const lister = t.server.apiTokens.create({ name: 'headers', permissions: ['devices:list'] });
    for (const r of [await get(t.token), await get(lister.token), await get(t.token, '/api/v1/nothing-here'), await get(t.token, `${PRISM}?sort_by=colour`)]) {
      for (const h of RATE_HEADERS) expect(r.headers[h]).toMatch(/^\d+$/);
      expect(r.headers['x-ratelimit-limit-second']).toBe('50');
      expect(r.headers['x-ratelimit-limit-hour']).toBe('10000');
    }
  });

  it('counts per token on the server clock hour: 429 past it, Retry-After until the next hour, open again after it', async () => {
    const limited = await startTestServer({ ...POLICIES_OFF, apiRateLimits: { perSecond: 0, perHour: 3 } });
    try {
      const a = limited.server.apiTokens.create({ name: 'a', permissions: '*' }).token;
      const b = limited.server.apiTokens.create({ name: 'b', permissions: '*' }).token;
      const remaining: string[] = [];
      for (let i = 0; i < 3; i++) {
        const r = await limited.http.api('GET', PRISM, a);
        expect(r.status).toBe(200);
        expect(r.headers['x-ratelimit-limit-hour']).toBe('3');
        expect(r.headers['x-ratelimit-limit-second']).toBeUndefined();
        remaining.push(String(r.headers['x-ratelimit-remaining-hour']));
      }
      expect(remaining).toEqual(['2', '1', '0']);
      const over = await limited.http.api('GET', PRISM, a);
      expect(over.status).toBe(429);
      // T0 is 09:00 on the virtual clock: the window opens again at 10:00.
      expect(over.headers['retry-after']).toBe('3600');
      expect(over.headers['ratelimit-reset']).toBe('3600');
      expect(over.headers['ratelimit-remaining']).toBe('0');
      expect(over.json).toEqual({ detail: 'Request was throttled. Expected available in 3600 seconds.' });
      // Another token has its own count.
      expect((await limited.http.api('GET', PRISM, b)).status).toBe(200);
      await limited.clock.advance(3_600_000);
      expect((await limited.http.api('GET', PRISM, a)).status).toBe(200);
    } finally {
      await limited.stop();
    }
  });

  it('refuses past the per-second limit with DRF\'s throttled detail and Retry-After: 1', async () => {
    const limited = await startTestServer({ ...POLICIES_OFF, apiRateLimits: { perSecond: 3, perHour: 0 } });
    try {
      // Sequential requests take about a millisecond: a wall second holds far more than 3.
      let throttled;
      for (let i = 0; i < 60 && !throttled; i++) {
        const r = await limited.http.api('GET', PRISM, limited.token);
        if (r.status === 429) throttled = r;
        else expect(r.status).toBe(200);
      }
      expect(throttled).toBeDefined();
      expect(throttled!.headers['retry-after']).toBe('1');
      expect(throttled!.headers['x-ratelimit-remaining-second']).toBe('0');
      expect(throttled!.json).toEqual({ detail: 'Request was throttled. Expected available in 1 second.' });
    } finally {
      await limited.stop();
    }
  });

  it('sends no limit headers when both limits are off (0)', async () => {
    const open = await startTestServer({ ...POLICIES_OFF, apiRateLimits: { perSecond: 0, perHour: 0 } });
    try {
      const r = await open.http.api('GET', PRISM, open.token);
      expect(r.status).toBe(200);
      for (const h of RATE_HEADERS) expect(r.headers[h]).toBeUndefined();
    } finally {
      await open.stop();
    }
  });
});
