/**
 * The APNs mock's provider API over real HTTP/2 sockets: authentication both ways, every
 * reason Apple documents, and the order the checks run in.
 */
import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { connect as tlsConnect } from 'node:tls';
import { OID } from '../../protocol/asn1';
import { signProviderToken } from '../../protocol/apns';
import { loadOrCreateCa } from '../../server/pki';
import { CourierClient, newDevice, ProviderClient, pushCredentials, type TestDevice } from '../helpers/apns';
import { openssl, tempDirs } from '../helpers/pki';
import { startTestServer, T0, type TestServer } from '../helpers/server';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const tempDir = tempDirs('mdmsim-apns-');
let t: TestServer;
let topic: string;
let cert: ProviderClient;
let courier: CourierClient;
let device: TestDevice;
let ca: string;

const api = async (method: string, path: string, body?: unknown) => {
  const r = await t.http.api(method, `/sim/v1${path}`, t.token, body);
  return { status: r.status, body: r.json };
};

beforeAll(async () => {
  t = await startTestServer();
  topic = t.server.pushCert.topic;
  const creds = pushCredentials(t.server);
  ca = creds.ca;
  cert = await ProviderClient.connect(t.server.info.apns!, creds);
  courier = await CourierClient.connect(t.server.info.courier!);
  device = newDevice(topic);
  const sub = await courier.subscribe([device]);
  expect(sub.tokens).toEqual([device.token]);
});

afterAll(async () => {
  await cert?.close();
  await courier?.close();
  await t?.stop();
});

describe('the ready line', () => {
  it('names the provider API (https) and the courier (ws)', () => {
    expect(t.server.info.apns).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    expect(t.server.info.courier).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
    expect(t.server.info.apns).not.toBe('https://127.0.0.1:2197');
  });
});

describe('certificate-authenticated pushes (push.pem)', () => {
  it('delivers {"mdm": PushMagic} to the subscriber and answers 200 with a fresh apns-id', async () => {
    const res = await cert.push(device.token, JSON.stringify({ mdm: 'MAGIC-1' }));
    expect(res.status).toBe(200);
    expect(res.body).toBe('');
    expect(res.headers['apns-id']).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    const push = await courier.next('push');
    expect(push).toMatchObject({ token: device.token, topic, payload: { mdm: 'MAGIC-1' }, apnsId: res.headers['apns-id'], priority: 10 });
    courier.ack(push.id);
    await waitForEvent('apns.delivered', (e) => (e.data as { apnsId: string }).apnsId === push.apnsId);
  });

  it('echoes the apns-id it was given and accepts what real MDM servers send (content-type only: no topic, no push type)', async () => {
    const id = randomUUID().toUpperCase();
    const res = await cert.push(device.token, '{"mdm":"M2"}', { 'apns-id': id });
    expect(res.status).toBe(200);
    expect(res.headers['apns-id']).toBe(id.toLowerCase());
    const push = await courier.next('push');
    expect(push.apnsId).toBe(id.toLowerCase());
    courier.ack(push.id);
  });

  it('accepts Apple\'s full header set with the certificate\'s own topic', async () => {
    const res = await cert.push(device.token, '{"mdm":"M3"}', { 'apns-topic': topic, 'apns-push-type': 'mdm', 'apns-priority': '10', 'apns-expiration': '0', 'apns-collapse-id': 'x'.repeat(64) });
    expect(res.status).toBe(200);
    courier.ack((await courier.next('push')).id);
  });

  it('answers 410 Unregistered with the time the device unregistered, on the clock', async () => {
    const gone = newDevice(topic);
    const c = await CourierClient.connect(t.server.info.courier!);
    await c.subscribe([gone]);
    await t.clock.advance(60_000);
    const at = t.clock.now();
    c.send({ type: 'unregister', id: 9, devices: [{ topic: gone.topic, secret: gone.secret }] });
    expect(await c.next('unregistered')).toMatchObject({ id: 9, tokens: [gone.token], errors: [] });
    const res = await cert.push(gone.token, '{"mdm":"x"}');
    expect(res.status).toBe(410);
    expect(JSON.parse(res.body)).toEqual({ reason: 'Unregistered', timestamp: at });
    await c.close();
  });

  it('records accepted and rejected pushes in the event log with the reason', async () => {
    const res = await cert.push('ab'.repeat(32), '{"mdm":"x"}');
    expect(res.status).toBe(400);
    const e = await waitForEvent('apns.rejected', (ev) => (ev.data as { apnsId: string }).apnsId === res.headers['apns-id']);
    expect(e.data).toMatchObject({ status: 400, reason: 'BadDeviceToken', token: 'ab'.repeat(32) });
    expect(e.summary).toContain('BadDeviceToken');
  });
});

describe('every reason, and the order of the checks', () => {
  const magic = '{"mdm":"x"}';
  const cases: [string, () => Promise<{ status: number; body: string }>, number, string][] = [
    ['BadMessageId', () => cert.push(device.token, magic, { 'apns-id': 'not-a-uuid' }), 400, 'BadMessageId'],
    ['MethodNotAllowed', () => cert.request(`/3/device/${device.token}`, undefined, {}, 'GET'), 405, 'MethodNotAllowed'],
    ['BadPath', () => cert.request('/3/devices/abc', magic), 404, 'BadPath'],
    ['BadTopic', () => cert.push(device.token, magic, { 'apns-topic': 'bad topic!' }), 400, 'BadTopic'],
    ['BadCollapseId', () => cert.push(device.token, magic, { 'apns-collapse-id': 'x'.repeat(65) }), 400, 'BadCollapseId'],
    ['BadPriority', () => cert.push(device.token, magic, { 'apns-priority': '7' }), 400, 'BadPriority'],
    ['InvalidPushType', () => cert.push(device.token, magic, { 'apns-push-type': 'telepathy' }), 400, 'InvalidPushType'],
    ['BadExpirationDate', () => cert.push(device.token, magic, { 'apns-expiration': 'tomorrow' }), 400, 'BadExpirationDate'],
    ['MissingDeviceToken', () => cert.request('/3/device/', magic), 400, 'MissingDeviceToken'],
    ['BadDeviceToken (not hex)', () => cert.push('zz'.repeat(32), magic), 400, 'BadDeviceToken'],
    ['BadDeviceToken (too short)', () => cert.push('ab'.repeat(8), magic), 400, 'BadDeviceToken'],
    ['DeviceTokenNotForTopic', () => cert.push(device.token, magic, { 'apns-topic': 'com.example.app' }), 400, 'DeviceTokenNotForTopic'],
    ['PayloadEmpty', () => cert.push(device.token, undefined), 400, 'PayloadEmpty'],
    ['PayloadTooLarge (4097 bytes)', () => cert.push(device.token, JSON.stringify({ mdm: 'x'.repeat(4097 - 10) })), 413, 'PayloadTooLarge'],
    ['BadPayload (not JSON)', () => cert.push(device.token, '{"mdm":'), 400, 'BadPayload'],
    ['BadPayload (not an object)', () => cert.push(device.token, '"mdm"'), 400, 'BadPayload'],
    // Two problems: the one earlier in the list wins.
    ['apns-id before method', () => cert.request(`/3/device/${device.token}`, undefined, { 'apns-id': 'nope' }, 'GET'), 400, 'BadMessageId'],
    ['priority before token', () => cert.push('ab'.repeat(32), magic, { 'apns-priority': '2' }), 400, 'BadPriority'],
    ['token before payload', () => cert.push('ab'.repeat(32), undefined), 400, 'BadDeviceToken'],
  ];
  it.each(cases)('%s', async (_name, send, status, reason) => {
    const res = await send();
    expect(res.status).toBe(status);
    expect(JSON.parse(res.body)).toEqual({ reason });
  });

  it('a payload of exactly 4096 bytes is accepted', async () => {
    const body = JSON.stringify({ mdm: 'x'.repeat(4096 - 10) });
    expect(Buffer.byteLength(body)).toBe(4096);
    const res = await cert.push(device.token, body);
    expect(res.status).toBe(200);
    courier.ack((await courier.next('push')).id);
  });

  it('says why in an mdmsim-detail header, never in Apple\'s body', async () => {
    const res = await cert.push(device.token, '{"mdm":"x"}', { 'apns-priority': '7' });
    expect(res.headers['mdmsim-detail']).toMatch(/apns-priority must be 10, 5 or 1/);
    expect(Object.keys(JSON.parse(res.body))).toEqual(['reason']);
  });

  it('DuplicateHeaders: an apns header sent twice', async () => {
    // An array value makes node:http2 send the header twice, as a buggy client would.
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = cert.session.request({ ':method': 'POST', ':path': `/3/device/${device.token}`, 'apns-priority': ['10', '5'] });
      let status = 0;
      let body = '';
      req.on('response', (h) => (status = Number(h[':status'])));
      req.on('data', (c) => (body += c));
      req.on('end', () => resolve({ status, body }));
      req.on('error', reject);
      req.end('{"mdm":"x"}');
    });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ reason: 'DuplicateHeaders' });
  });

  it('TopicDisallowed: a certificate pushing to a topic it does not hold', async () => {
    const other = newDevice('com.example.other');
    await api('POST', '/apns/tokens', { topic: other.topic, secret: other.secret });
    const res = await cert.push(other.token, '{"aps":{}}', { 'apns-topic': other.topic });
    expect(res.status).toBe(400);
    expect(JSON.parse(res.body)).toEqual({ reason: 'TopicDisallowed' });
  });

  it('BadCertificate: a client certificate the mdmsim CA did not issue', async () => {
    const dir = tempDir();
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'k.pem'), '-out', join(dir, 'c.pem'), '-days', '2', '-subj', `/UID=${topic}/CN=stranger`);
    const c = await ProviderClient.connect(t.server.info.apns!, { ca, cert: readFileSync(join(dir, 'c.pem'), 'utf8'), key: readFileSync(join(dir, 'k.pem'), 'utf8') });
    const res = await c.push(device.token, '{"mdm":"x"}');
    await c.close();
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ reason: 'BadCertificate' });
  });

  it('BadCertificateEnvironment: an mdmsim certificate without the APNs production extension', async () => {
    const mdmCa = await loadOrCreateCa(t.server.dataDir);
    const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const issued = mdmCa.issue({
      subject: [{ type: OID.userId, value: topic } as never, { name: 'commonName', value: 'dev only' }],
      publicKey,
      days: 30,
      extensions: [
        { name: 'extKeyUsage', clientAuth: true },
        { id: OID.appleApnsDevelopment, critical: false, value: '\x05\x00' },
      ],
    });
    const c = await ProviderClient.connect(t.server.info.apns!, { ca, cert: issued.certPem, key: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string });
    const res = await c.push(device.token, '{"mdm":"x"}');
    await c.close();
    expect(res.status).toBe(403);
    expect(JSON.parse(res.body)).toEqual({ reason: 'BadCertificateEnvironment' });
  });

  it.each(['TooManyRequests', 'ServiceUnavailable', 'InternalServerError', 'Shutdown', 'Forbidden', 'ExpiredToken', 'IdleTimeout'])('%s, forced through the faults API', async (reason) => {
    const status = { TooManyRequests: 429, ServiceUnavailable: 503, InternalServerError: 500, Shutdown: 503, Forbidden: 403, ExpiredToken: 410, IdleTimeout: 400 }[reason]!;
    expect((await api('PATCH', '/apns/faults', { tokens: { [device.token]: reason } })).status).toBe(200);
    try {
      const res = await cert.push(device.token, '{"mdm":"x"}');
      expect(res.status).toBe(status);
      const body = JSON.parse(res.body);
      expect(body.reason).toBe(reason);
      if (status === 410) expect(body.timestamp).toBe(t.clock.now());
      else expect(body.timestamp).toBeUndefined();
    } finally {
      await api('DELETE', '/apns/faults');
    }
  });
});

describe('provider tokens (ES256 JWT)', () => {
  let keyId: string;
  let privateKey: string;
  let jwt: ProviderClient;
  const teamId = 'TEAM123456';
  const bearer = (iat = Math.floor(t.clock.now() / 1000), encoding: 'raw' | 'der' = 'raw', kid = keyId, iss = teamId, key = privateKey) =>
    `bearer ${signProviderToken({ teamId: iss, keyId: kid, privateKey: key, iat, signatureEncoding: encoding })}`;

  beforeAll(async () => {
    const res = await api('POST', '/apns/keys', { teamId });
    expect(res.status).toBe(201);
    keyId = res.body.keyId;
    privateKey = res.body.privateKey;
    expect(keyId).toMatch(/^[A-Z0-9]{10}$/);
    expect(privateKey).toContain('BEGIN PRIVATE KEY');
    jwt = await ProviderClient.connect(t.server.info.apns!, { ca });
  });
  afterAll(() => jwt?.close());

  // Each case on its own connection: TooManyProviderTokenUpdates is judged per connection.
  const fresh = async (fn: (c: ProviderClient) => Promise<{ status: number; body: string }>) => {
    const c = await ProviderClient.connect(t.server.info.apns!, { ca });
    try {
      return await fn(c);
    } finally {
      await c.close();
    }
  };

  it('accepts a token with a raw (JOSE) signature and one with a DER signature', async () => {
    for (const enc of ['raw', 'der'] as const) {
      const res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization: bearer(undefined, enc), 'apns-topic': topic }));
      expect(res.status).toBe(200);
      courier.ack((await courier.next('push')).id);
    }
  });

  it('MissingTopic without a certificate; MissingProviderToken without any credential', async () => {
    let res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization: bearer() }));
    expect([res.status, JSON.parse(res.body)]).toEqual([400, { reason: 'MissingTopic' }]);
    res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { 'apns-topic': topic }));
    expect([res.status, JSON.parse(res.body)]).toEqual([403, { reason: 'MissingProviderToken' }]);
  });

  it('InvalidProviderToken: garbage, unknown kid, wrong team, wrong key, another algorithm', async () => {
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const none = `bearer ${Buffer.from('{"alg":"none","kid":"x"}').toString('base64url')}.${Buffer.from('{"iss":"x","iat":1}').toString('base64url')}.c2ln`;
    for (const authorization of ['bearer not.a.jwt', 'Basic abc', bearer(undefined, 'raw', 'NOSUCHKEY1'), bearer(undefined, 'raw', keyId, 'OTHERTEAM1'), bearer(undefined, 'raw', keyId, teamId, other), none]) {
      const res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization, 'apns-topic': topic }));
      expect([authorization, res.status, JSON.parse(res.body)]).toEqual([authorization, 403, { reason: 'InvalidProviderToken' }]);
    }
  });

  it('ExpiredProviderToken when the token is more than an hour old on the mock\'s clock', async () => {
    const iat = Math.floor(t.clock.now() / 1000);
    let res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization: bearer(iat - 3600), 'apns-topic': topic }));
    expect(res.status).toBe(200);
    courier.ack((await courier.next('push')).id);
    res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization: bearer(iat - 3601), 'apns-topic': topic }));
    expect([res.status, JSON.parse(res.body)]).toEqual([403, { reason: 'ExpiredProviderToken' }]);
  });

  it('TooManyProviderTokenUpdates when a connection renews within 20 minutes', async () => {
    const iat = Math.floor(t.clock.now() / 1000) - 1800;
    const c = await ProviderClient.connect(t.server.info.apns!, { ca });
    try {
      expect((await c.push(device.token, '{"mdm":"J"}', { authorization: bearer(iat), 'apns-topic': topic })).status).toBe(200);
      courier.ack((await courier.next('push')).id);
      const res = await c.push(device.token, '{"mdm":"J"}', { authorization: bearer(iat + 600), 'apns-topic': topic });
      expect([res.status, JSON.parse(res.body)]).toEqual([429, { reason: 'TooManyProviderTokenUpdates' }]);
      expect((await c.push(device.token, '{"mdm":"J"}', { authorization: bearer(iat + 1200), 'apns-topic': topic })).status).toBe(200);
      courier.ack((await courier.next('push')).id);
    } finally {
      await c.close();
    }
  });

  it('TopicDisallowed for a key limited to other topics; a key registered with its public half works', async () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const pub = pair.publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const p8 = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const reg = await api('POST', '/apns/keys', { teamId, keyId: 'LIMITED001', key: pub, topics: ['com.example.app'] });
    expect(reg.status).toBe(201);
    expect(reg.body.privateKey).toBeUndefined();
    const res = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization: bearer(undefined, 'raw', 'LIMITED001', teamId, p8), 'apns-topic': topic }));
    expect([res.status, JSON.parse(res.body)]).toEqual([400, { reason: 'TopicDisallowed' }]);
    expect((await api('DELETE', '/apns/keys/LIMITED001')).status).toBe(204);
    const after = await fresh((c) => c.push(device.token, '{"mdm":"J"}', { authorization: bearer(undefined, 'raw', 'LIMITED001', teamId, p8), 'apns-topic': topic }));
    expect(JSON.parse(after.body)).toEqual({ reason: 'InvalidProviderToken' });
  });

  it('with a certificate the authorization header is ignored', async () => {
    const res = await cert.push(device.token, '{"mdm":"C"}', { authorization: 'bearer garbage' });
    expect(res.status).toBe(200);
    courier.ack((await courier.next('push')).id);
  });

  it('refuses bad key registrations with the field at fault', async () => {
    for (const [body, field] of [
      [{}, 'teamId'],
      [{ teamId: 'T', key: 'nope' }, 'key'],
      [{ teamId: 'T', key: generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ type: 'spki', format: 'pem' }) }, 'key'],
      [{ teamId: 'T', topics: 'x' }, 'topics'],
    ] as const) {
      const res = await api('POST', '/apns/keys', body);
      expect([res.status, res.body.error.field]).toEqual([400, field]);
    }
  });
});

describe('HTTP/1.1 and TLS', () => {
  it.each([['ALPN http/1.1', ['http/1.1']], ['no ALPN', undefined]])('answers an HTTP/1.1 client (%s) that HTTP/2 is required', async (_name, alpn) => {
    const url = new URL(t.server.info.apns!);
    const text = await new Promise<string>((resolve, reject) => {
      const s = tlsConnect({ host: url.hostname, port: Number(url.port), ca, ALPNProtocols: alpn }, () => {
        s.write(`POST /3/device/${device.token} HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\n{}`);
      });
      let out = '';
      s.on('data', (d) => (out += d));
      s.on('end', () => resolve(out));
      s.on('error', reject);
    });
    expect(text).toMatch(/^HTTP\/1\.1 505 /);
    expect(text).toContain('HTTP/2');
  });
});

async function waitForEvent(type: string, match: (e: { data?: unknown; summary: string }) => boolean, timeoutMs = 3000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const res = await api('GET', `/events?type=${type}`);
    const hit = (res.body.events as { data?: unknown; summary: string; time: string }[]).find(match);
    if (hit) return hit;
    if (Date.now() > until) throw new Error(`no ${type} event matched; got ${JSON.stringify(res.body.events.slice(-3))}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

void T0;
