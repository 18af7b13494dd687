/**
 * Fault controls of the APNs mock through /sim/v1/apns, over real sockets: forced reasons,
 * latency on the clock, dropped deliveries, the provider API refusing connections or sending
 * GOAWAY, idle timeouts, token registration, and floods of streams.
 */
import { connect, constants as h2 } from 'node:http2';
import { CourierClient, newDevice, ProviderClient, pushCredentials, type TestDevice } from '../helpers/apns';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
let topic: string;
let courier: CourierClient;
let device: TestDevice;
let creds: ReturnType<typeof pushCredentials>;

const api = async (method: string, path: string, body?: unknown) => {
  const r = await t.http.api(method, `/sim/v1${path}`, t.token, body);
  return { status: r.status, body: r.json };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const withProvider = async <T>(fn: (p: ProviderClient) => Promise<T>): Promise<T> => {
  const p = await ProviderClient.connect(t.server.info.apns!, creds);
  try {
    return await fn(p);
  } finally {
    await p.close();
  }
};

beforeAll(async () => {
  t = await startTestServer();
  topic = t.server.pushCert.topic;
  creds = pushCredentials(t.server);
  courier = await CourierClient.connect(t.server.info.courier!);
  device = newDevice(topic);
  await courier.subscribe([device]);
});
afterEach(async () => {
  await api('DELETE', '/apns/faults');
});
afterAll(async () => {
  await courier?.close();
  await t?.stop();
});

describe('forced reasons', () => {
  it('for every push, then cleared', async () => {
    expect((await api('PATCH', '/apns/faults', { reason: 'ServiceUnavailable' })).body).toMatchObject({ reason: 'ServiceUnavailable' });
    await withProvider(async (p) => {
      const res = await p.push(device.token, '{"mdm":"x"}');
      expect([res.status, JSON.parse(res.body)]).toEqual([503, { reason: 'ServiceUnavailable' }]);
      await api('DELETE', '/apns/faults');
      expect((await p.push(device.token, '{"mdm":"x"}')).status).toBe(200);
      courier.ack((await courier.next('push')).id);
    });
  });

  it('for one token only: BadDeviceToken, and Unregistered with a timestamp', async () => {
    const other = newDevice(topic);
    await courier.subscribe([other], 2);
    await api('PATCH', '/apns/faults', { tokens: { [other.token]: 'BadDeviceToken' } });
    await withProvider(async (p) => {
      expect(JSON.parse((await p.push(other.token, '{"mdm":"x"}')).body)).toEqual({ reason: 'BadDeviceToken' });
      expect((await p.push(device.token, '{"mdm":"x"}')).status).toBe(200);
      courier.ack((await courier.next('push')).id);
      await api('PATCH', '/apns/faults', { tokens: { [other.token]: 'Unregistered' } });
      const res = await p.push(other.token, '{"mdm":"x"}');
      expect([res.status, JSON.parse(res.body)]).toEqual([410, { reason: 'Unregistered', timestamp: t.clock.now() }]);
      await api('PATCH', '/apns/faults', { tokens: { [other.token]: null } });
      expect((await p.push(other.token, '{"mdm":"x"}')).status).toBe(200);
      courier.ack((await courier.next('push')).id);
    });
  });

  it('refuses a bad fault with the field at fault and keeps the current faults', async () => {
    await api('PATCH', '/apns/faults', { reason: 'TooManyRequests' });
    for (const [body, field] of [
      [{ reason: 'Nope' }, 'reason'],
      [{ tokens: { xyz: 'Unregistered' } }, 'tokens.xyz'],
      [{ latency: 'soon' }, 'latency'],
      [{ drop: 2 }, 'drop'],
      [{ provider: 'sideways' }, 'provider'],
      [{ weather: 'rain' }, 'weather'],
    ] as const) {
      const res = await api('PUT', '/apns/faults', body);
      expect([res.status, res.body.error.field]).toEqual([400, field]);
    }
    expect((await api('GET', '/apns/faults')).body.reason).toBe('TooManyRequests');
    expect((await api('PUT', '/apns/faults', { latency: '1s' })).body).toMatchObject({ reason: null, latencyMs: 1000 });
  });
});

describe('delivery faults', () => {
  it('latency: an accepted push reaches the device that much later on the clock', async () => {
    await api('PATCH', '/apns/faults', { latency: '2s' });
    await withProvider(async (p) => {
      expect((await p.push(device.token, '{"mdm":"late"}')).status).toBe(200);
      await sleep(50);
      expect(courier.pushes().filter((x) => (x.payload as { mdm: string }).mdm === 'late')).toHaveLength(0);
      await t.clock.advance(1999);
      await sleep(20);
      expect(courier.pushes().filter((x) => (x.payload as { mdm: string }).mdm === 'late')).toHaveLength(0);
      await t.clock.advance(1);
      const push = await courier.next('push');
      expect(push.payload).toEqual({ mdm: 'late' });
      courier.ack(push.id);
    });
  });

  it('drop: a fraction of accepted pushes is never delivered, evenly spread, each one in the log', async () => {
    await api('PATCH', '/apns/faults', { drop: 0.5 });
    const before = courier.pushes().length;
    await withProvider(async (p) => {
      for (let i = 0; i < 4; i++) expect((await p.push(device.token, `{"mdm":"d${i}"}`)).status).toBe(200);
    });
    await sleep(50);
    const got = courier.pushes().slice(before);
    expect(got.map((x) => (x.payload as { mdm: string }).mdm)).toEqual(['d0', 'd2']);
    courier.ack(...got.map((x) => x.id));
    const dropped = (await api('GET', '/events?type=apns.dropped')).body.events;
    expect(dropped.length).toBeGreaterThanOrEqual(2);
  });
});

describe('the provider API going away', () => {
  it('refused: connections are refused until it comes back up', async () => {
    expect((await api('PATCH', '/apns/faults', { provider: 'refused' })).body.provider).toBe('refused');
    const error = await new Promise<NodeJS.ErrnoException>((resolve) => {
      const s = connect(t.server.info.apns!, { ca: creds.ca, cert: creds.cert, key: creds.key });
      s.on('error', resolve);
      s.on('connect', () => resolve(Object.assign(new Error('connected'), { code: 'CONNECTED' })));
    });
    expect(error.code).toBe('ECONNREFUSED');
    await api('PATCH', '/apns/faults', { provider: 'up' });
    await withProvider(async (p) => {
      expect((await p.push(device.token, '{"mdm":"back"}')).status).toBe(200);
      courier.ack((await courier.next('push')).id);
    });
  });

  it('goaway: an open connection gets GOAWAY with {"reason":"Shutdown"}, and so does a new one', async () => {
    const p = await ProviderClient.connect(t.server.info.apns!, creds);
    const goaway = new Promise<{ code: number; data: string }>((resolve) => p.session.once('goaway', (code, _last, data) => resolve({ code, data: data?.toString() ?? '' })));
    await api('PATCH', '/apns/faults', { provider: 'goaway' });
    expect(await goaway).toEqual({ code: h2.NGHTTP2_NO_ERROR, data: '{"reason":"Shutdown"}' });
    const fresh = connect(t.server.info.apns!, { ca: creds.ca, cert: creds.cert, key: creds.key });
    fresh.on('error', () => undefined);
    const second = await new Promise<string>((resolve) => fresh.once('goaway', (_c, _l, data) => resolve(data?.toString() ?? '')));
    expect(second).toBe('{"reason":"Shutdown"}');
    fresh.destroy();
    await api('DELETE', '/apns/faults');
    await withProvider(async (q) => {
      expect((await q.push(device.token, '{"mdm":"ok"}')).status).toBe(200);
      courier.ack((await courier.next('push')).id);
    });
  });

  it('idle timeout: a connection idle that long gets GOAWAY {"reason":"IdleTimeout"}', async () => {
    await api('PATCH', '/apns/faults', { idleTimeout: '200ms' });
    const p = await ProviderClient.connect(t.server.info.apns!, creds);
    const data = await new Promise<string>((resolve) => p.session.once('goaway', (_c, _l, d) => resolve(d?.toString() ?? '')));
    expect(data).toBe('{"reason":"IdleTimeout"}');
    p.session.destroy();
  });

  it('a flood of streams on one connection is held to 1000 at a time; the mock stays up for others', async () => {
    const p = await ProviderClient.connect(t.server.info.apns!, creds);
    const results = await Promise.all(
      Array.from({ length: 3000 }, () => p.push('ab'.repeat(32), '{"mdm":"x"}').then((r) => r.status, (e: NodeJS.ErrnoException) => e.code ?? 'error')),
    );
    // Node's client queues streams beyond the server's limit, so every one gets an answer.
    expect(results.filter((s) => s === 400)).toHaveLength(3000);
    await p.close();
    await withProvider(async (q) => {
      expect((await q.push(device.token, '{"mdm":"after flood"}')).status).toBe(200);
      courier.ack((await courier.next('push')).id);
    });
    expect((await api('GET', '/apns')).body).toMatchObject({ provider: t.server.info.apns });
  });
});

describe('tokens without a courier', () => {
  it('registers a token, keeps its push pending, and unregisters it (410 from then on)', async () => {
    const made = await api('POST', '/apns/tokens', { topic });
    expect(made.status).toBe(201);
    expect(made.body.token).toMatch(/^[0-9a-f]{64}$/);
    await withProvider(async (p) => {
      const res = await p.push(made.body.token, '{"mdm":"waiting"}');
      expect(res.status).toBe(200);
      expect((await api('GET', `/apns/tokens/${made.body.token}`)).body).toMatchObject({ topic, online: false, pending: { apnsId: res.headers['apns-id'] } });
      expect((await api('DELETE', `/apns/tokens/${made.body.token}`)).body.unregisteredAt).toBe(new Date(t.clock.now()).toISOString());
      expect(JSON.parse((await p.push(made.body.token, '{"mdm":"x"}')).body)).toEqual({ reason: 'Unregistered', timestamp: t.clock.now() });
    });
    // Its secret lets a device take the token over later.
    const c = await CourierClient.connect(t.server.info.courier!);
    expect((await c.subscribe([{ topic, secret: made.body.secret }])).tokens).toEqual([made.body.token]);
    await c.close();
    expect((await api('GET', '/apns/tokens/zz')).status).toBe(400);
    expect((await api('GET', `/apns/tokens/${'cd'.repeat(32)}`)).status).toBe(404);
    expect((await api('POST', '/apns/tokens', { topic: 'bad topic' })).body.error.field).toBe('topic');
    expect((await api('POST', '/apns/tokens', { topic, secret: 'abc' })).body.error.field).toBe('secret');
  });

  it('fault changes are in the event log', async () => {
    await api('PATCH', '/apns/faults', { reason: 'TooManyRequests' });
    const events = (await api('GET', '/events?type=apns.faults')).body.events;
    expect(events[events.length - 1].summary).toContain('TooManyRequests');
  });
});
