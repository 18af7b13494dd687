/**
 * Wrong credentials on every API route: the control API (/sim/v1, the dashboard's routes and
 * /sim/v1/api-tokens), its events stream (WebSocket) and the Kandji-compatible API (/api/v1).
 * Every variant of a missing or wrong token gets a 401 (403 for an issued token without the
 * permission) and changes nothing: not the clock, the agent policy, the APNs faults, the API
 * tokens, the bystander, nor the event log beyond its record of the refusal.
 */
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { KANDJI_ACTIONS } from '../../protocol/kandji';
import type { HttpResult } from '../helpers/mdm-client';
import { errorOf, startAbuseServer, type AbuseServer } from './support';

let t: AbuseServer;
let deviceId: string;
let kandjiToken: string;
let readOnlyToken: string;
let revokedToken: string;
let commandUUID: string;
let issuedTokenId: string;

beforeAll(async () => {
  t = await startAbuseServer();
  const list = await t.http.api('GET', '/api/v1/devices', t.token);
  deviceId = list.json.find((d: { serial_number: string }) => d.serial_number === t.bystander.id.serial).device_id;
  const all = t.server.apiTokens.create({ name: 'everything', permissions: '*' });
  kandjiToken = all.token;
  issuedTokenId = all.id;
  readOnlyToken = t.server.apiTokens.create({ name: 'read only', permissions: ['devices:read'] }).token;
  const revoked = t.server.apiTokens.create({ name: 'revoked', permissions: '*' });
  revokedToken = revoked.token;
  t.server.apiTokens.revoke(revoked.id);
  commandUUID = t.server.store.listQueue(t.bystander.udid)[0]!.commandUUID;
});
afterAll(() => t.stop());

/** Everything a refused request must leave as it was. */
function state(): string {
  const s = t.server;
  return JSON.stringify({
    bystander: t.snapshot(),
    clock: s.clock.now(),
    policy: s.agentPolicy.settings,
    faults: s.apns?.faults.current,
    keys: s.apns?.keys.list().length,
    tokens: s.apiTokens.list(),
    enrollments: s.store.countEnrollments(),
  });
}

async function expectNothingChanged(send: () => Promise<HttpResult>, status: number): Promise<HttpResult> {
  const before = state();
  const lastEvent = t.server.events.query({}).at(-1)?.id ?? 0;
  const r = await send();
  expect(r.status).toBe(status);
  expect(state()).toBe(before);
  // The log may record the refusal, and nothing else.
  const after = t.server.events.query({ afterId: lastEvent }).map((e) => e.type);
  expect(after.filter((type) => !type.endsWith('rejected'))).toEqual([]);
  return r;
}

/** Paths name {B} (the bystander), {device} (its Kandji device_id), {command} and {token} (an issued token's id), filled in when sent. */
type Route = [method: string, path: string, body?: unknown];

const fill = (path: string) =>
  path.replace('{B}', t.bystander.udid).replace('{device}', deviceId).replace('{command}', commandUUID).replace('{token}', issuedTokenId);
const simRoutes: Route[] = [
  ['GET', '/sim/v1/clock'],
  ['POST', '/sim/v1/clock/advance', { by: '400d' }],
  ['GET', '/sim/v1/devices'],
  ['GET', '/sim/v1/devices/{B}'],
  ['GET', '/sim/v1/devices/{B}/commands'],
  ['PUT', '/sim/v1/devices/{B}/commands', { RequestType: 'EraseDevice', PIN: '123456' }],
  ['POST', '/sim/v1/devices/{B}/commands', { RequestType: 'DeviceLock' }],
  ['POST', '/sim/v1/commands', { udids: ['{B}'], command: { RequestType: 'RestartDevice' } }],
  ['POST', '/sim/v1/devices/{B}/push'],
  ['GET', '/sim/v1/devices/{B}/agent/inventory'],
  ['POST', '/sim/v1/devices/{B}/faults', [{ kind: 'offline' }]],
  ['GET', '/sim/v1/devices/{B}/faults'],
  ['DELETE', '/sim/v1/devices/{B}/faults'],
  ['POST', '/sim/v1/devices/{B}/agent/reinstall'],
  ['GET', '/sim/v1/devices/{B}/profiles'],
  ['GET', '/sim/v1/tenant'],
  ['GET', '/sim/v1/network'],
  ['PUT', '/sim/v1/network', { allowList: ['127.0.0.1:1'] }],
  ['GET', '/sim/v1/agent-policy'],
  ['PATCH', '/sim/v1/agent-policy', { reinstall: true, installOnEnrollment: true }],
  ['POST', '/sim/v1/agent-policy/sweep'],
  ['GET', '/sim/v1/commands/{command}'],
  ['GET', '/sim/v1/events'],
  ['GET', '/sim/v1/timeline.mmd'],
  ['GET', '/sim/v1/scenario'],
  ['GET', '/sim/v1/apns'],
  ['GET', '/sim/v1/apns/faults'],
  ['PATCH', '/sim/v1/apns/faults', { reason: 'BadDeviceToken' }],
  ['POST', '/sim/v1/apns/faults', { drop: true }],
  ['PUT', '/sim/v1/apns/faults', { reason: 'Unregistered' }],
  ['DELETE', '/sim/v1/apns/faults'],
  ['GET', '/sim/v1/apns/keys'],
  ['POST', '/sim/v1/apns/keys', { keyId: 'ABCDEFGHIJ', teamId: 'ABCDEFGHIJ' }],
  ['DELETE', '/sim/v1/apns/keys/ABCDEFGHIJ'],
  ['GET', '/sim/v1/api-tokens'],
  ['POST', '/sim/v1/api-tokens', { name: 'mine now', permissions: ['*'] }],
  ['GET', '/sim/v1/api-tokens/{token}'],
  ['DELETE', '/sim/v1/api-tokens/{token}'],
  ['GET', '/sim/v1/no-such-route'],
];

const kandjiRoutes: Route[] = [
  ['GET', '/api/v1/devices'],
  ['GET', '/api/v1/devices/'],
  ...['', '/details', '/commands', '/activity', '/apps', '/library-items', '/status', '/parameters'].map((sub): Route => ['GET', `/api/v1/devices/{device}${sub}`]),
  ...KANDJI_ACTIONS.map((action): Route => ['POST', `/api/v1/devices/{device}/action/${action}`, action === 'setname' ? { DeviceName: 'pwned' } : {}]),
  ['DELETE', '/api/v1/devices/{device}'],
  ['GET', '/api/v1/prism/device_information'],
  ['GET', '/api/v1/no-such-route'],
];

const send = (method: string, path: string, body: unknown, headers: Record<string, string>) =>
  t.http.send(method, path, body === undefined ? undefined : fill(JSON.stringify(body)), { ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers });

/** Ways to present the wrong thing, given the right token. */
const wrongCredentials = (right: () => string): Array<[string, () => Record<string, string>]> => [
  ['no Authorization', () => ({})],
  ['an empty Bearer', () => ({ authorization: 'Bearer ' })],
  ['a wrong token of the same length', () => ({ authorization: `Bearer ${'x'.repeat(right().length)}` })],
  ['the token with a byte more', () => ({ authorization: `Bearer ${right()}x` })],
  ['the token a byte short', () => ({ authorization: `Bearer ${right().slice(0, -1)}` })],
  ['the token as Basic credentials', () => ({ authorization: `Basic ${Buffer.from(`${right()}:`).toString('base64')}` })],
  ['the token with no scheme', () => ({ authorization: right() })],
  ['an 8 KB token', () => ({ authorization: `Bearer ${'A'.repeat(8192)}` })],
  ['the token in a query parameter only', () => ({})],
];

describe('the control API (/sim/v1): 401 for every wrong credential on every route', () => {
  const cases = simRoutes.flatMap(([method, path, body]) => [
    ...wrongCredentials(() => t.token).map(([what, headers]) => ({ what, method, path, body, headers })),
    { what: 'a Kandji API token (it opens /api/v1 only)', method, path, body, headers: () => ({ authorization: `Bearer ${kandjiToken}` }) },
  ]);
  it.each(cases)('$method $path: $what', async ({ method, path, body, headers, what }) => {
    const target = what.includes('query') ? `${fill(path)}?token=${encodeURIComponent(t.token)}` : fill(path);
    const r = await expectNothingChanged(() => send(method, target, body, headers()), 401);
    expect(r.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(errorOf(r.body).code).toBe('unauthorized');
  });
});

describe('the Kandji-compatible API (/api/v1): 401 (or 403) in DRF words, nothing done', () => {
  const cases = kandjiRoutes.flatMap(([method, path, body]) => [
    ...wrongCredentials(() => kandjiToken).map(([what, headers]) => ({ what, method, path, body, headers, status: 401 })),
    { what: 'a revoked token', method, path, body, headers: () => ({ authorization: `Bearer ${revokedToken}` }), status: 401 },
    { what: 'a random UUID', method, path, body, headers: () => ({ authorization: `Bearer ${randomUUID()}` }), status: 401 },
  ]);
  it.each(cases)('$method $path: $what', async ({ method, path, body, headers, status, what }) => {
    const target = what.includes('query') ? `${fill(path)}?token=${encodeURIComponent(kandjiToken)}` : fill(path);
    const r = await expectNothingChanged(() => send(method, target, body, headers()), status);
    expect(errorOf(r.body).message).toEqual(expect.any(String));
  });

  const writes = kandjiRoutes.filter(([method]) => method !== 'GET').map(([method, path, body]) => ({ method, path, body }));
  it.each(writes)('$method $path with a token lacking the permission → 403', async ({ method, path, body }) => {
    const r = await expectNothingChanged(() => send(method, fill(path), body, { authorization: `Bearer ${readOnlyToken}` }), 403);
    expect(errorOf(r.body).message).toBe('You do not have permission to perform this action.');
  });
});

describe('the events stream (WebSocket)', () => {
  const open = (query: string, headers: Record<string, string>) =>
    new Promise<number>((resolve, reject) => {
      const ws = new WebSocket(`${t.server.url.replace('https', 'wss')}/sim/v1/events/stream${query}`, { ca: t.http.agent.options.ca as Buffer, headers });
      ws.on('unexpected-response', (_req, res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        ws.terminate();
      });
      ws.on('open', () => {
        ws.close();
        resolve(101);
      });
      ws.on('error', (e) => reject(e));
    });

  it.each([
    ['no token', '', {}],
    ['a wrong bearer', '', { authorization: 'Bearer nope' }],
    ['a wrong ?token=', '?token=nope', {}],
    ['an empty ?token=', '?token=', {}],
    
    ['the token as a subprotocol', '', { 'sec-websocket-protocol': 'test-token' }],
  ])('%s → 401, no upgrade', async (_what, query, headers) => {
    const before = state();
    expect(await open(query, headers as Record<string, string>)).toBe(401);
    expect(state()).toBe(before);
  });

  it('the right token upgrades (the refusals above were about the token)', async () => {
    expect(await open(`?token=${t.token}`, {})).toBe(101);
  });
});

it('the server still serves after every refusal', async () => {
  expect(t.errors).toEqual([]);
  await t.expectStillServes();
});
