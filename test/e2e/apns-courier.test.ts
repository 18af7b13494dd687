/**
 * The courier (device side of the APNs mock) over real WebSockets: ownership, many tokens per
 * connection, newest-wins storage while offline, expiration on the clock, redelivery of what
 * was not acknowledged, and garbage from clients.
 */
import { randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { WebSocket } from 'ws';
import { CourierClient, newDevice, ProviderClient, pushCredentials, type TestDevice } from '../helpers/apns';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;
let topic: string;
let provider: ProviderClient;
const open: CourierClient[] = [];

const api = async (method: string, path: string, body?: unknown) => {
  const r = await t.http.api(method, `/sim/v1${path}`, t.token, body);
  return { status: r.status, body: r.json };
};
const connect = async (name = 'test') => {
  const c = await CourierClient.connect(t.server.info.courier!, name);
  open.push(c);
  return c;
};
const events = async (type: string) => (await api('GET', `/events?type=${type}&limit=10000`)).body.events as { type: string; summary: string; data: Record<string, unknown>; udid?: string }[];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  t = await startTestServer();
  topic = t.server.pushCert.topic;
  provider = await ProviderClient.connect(t.server.info.apns!, pushCredentials(t.server));
});
afterAll(async () => {
  for (const c of open) await c.close();
  await provider?.close();
  await t?.stop();
});

describe('subscribing', () => {
  it('one connection carries thousands of tokens; every one of them gets its push', async () => {
    const devices = Array.from({ length: 5000 }, () => newDevice(topic));
    const c = await connect('fleet');
    const sub = await c.subscribe(devices);
    expect(sub.errors).toEqual([]);
    expect(sub.tokens).toEqual(devices.map((d) => d.token));
    const picked = devices.filter((_, i) => i % 100 === 7);
    const answers = await Promise.all(picked.map((d, i) => provider.push(d.token, JSON.stringify({ mdm: `M${i}` }))));
    expect(answers.every((a) => a.status === 200)).toBe(true);
    while (c.pushes().length < picked.length) await c.next('push');
    expect(new Set(c.pushes().map((p) => p.token))).toEqual(new Set(picked.map((d) => d.token)));
    c.ack(...c.pushes().map((p) => p.id));
  });

  it('one token per connection also works, as a real Mac does', async () => {
    const devices = Array.from({ length: 20 }, () => newDevice(topic));
    const conns = await Promise.all(devices.map(async (d) => {
      const c = await connect('mac');
      await c.subscribe([d]);
      return c;
    }));
    await Promise.all(devices.map((d) => provider.push(d.token, JSON.stringify({ mdm: d.token.slice(0, 6) }))));
    for (let i = 0; i < devices.length; i++) {
      const p = await conns[i]!.next('push');
      expect(p).toMatchObject({ token: devices[i]!.token, payload: { mdm: devices[i]!.token.slice(0, 6) } });
      conns[i]!.ack(p.id);
    }
  });

  it('refuses a token the secret does not make (not-owner), and bad entries one by one', async () => {
    const mine = newDevice(topic);
    const theirs = newDevice(topic);
    const c = await connect();
    const sub = await c.subscribe([
      { topic, secret: mine.secret, token: theirs.token },
      { topic, secret: 'short' },
      { topic: 'bad topic', secret: mine.secret },
      { topic, secret: mine.secret },
    ] as never);
    expect(sub.tokens).toEqual([null, null, null, mine.token]);
    expect(sub.errors.map((e) => [e.index, e.code])).toEqual([
      [1, 'bad-secret'],
      [2, 'bad-topic'],
      [0, 'not-owner'],
    ]);
  });

  it('a second connection subscribing the same token takes it over; the first is told', async () => {
    const d = newDevice(topic);
    const a = await connect('a');
    const b = await connect('b');
    await a.subscribe([d]);
    await b.subscribe([d]);
    expect(await a.next('unsubscribed')).toMatchObject({ tokens: [d.token], reason: 'subscribed on another connection' });
    await provider.push(d.token, '{"mdm":"moved"}');
    const p = await b.next('push');
    b.ack(p.id);
    await sleep(50);
    expect(a.pushes()).toHaveLength(0);
  });

  it('unsubscribe stops the stream: pushes wait for the next subscriber', async () => {
    const d = newDevice(topic);
    const c = await connect();
    await c.subscribe([d]);
    c.send({ type: 'unsubscribe', id: 4, tokens: [d.token, 'ab'.repeat(32)] });
    const un = await c.next('unsubscribed');
    expect(un).toMatchObject({ id: 4, tokens: [d.token] });
    expect(un.errors!.map((e) => [e.index, e.code])).toEqual([[1, 'not-subscribed']]);
    expect((await provider.push(d.token, '{"mdm":"later"}')).status).toBe(200);
    expect((await api('GET', `/apns/tokens/${d.token}`)).body).toMatchObject({ online: false, pending: { acceptedAt: expect.any(String) } });
    await c.subscribe([d], 5);
    expect((await c.next('push')).payload).toEqual({ mdm: 'later' });
  });
});

describe('a device offline', () => {
  async function offlineDevice(): Promise<TestDevice> {
    const d = newDevice(topic);
    const c = await CourierClient.connect(t.server.info.courier!);
    await c.subscribe([d]);
    await c.close();
    return d;
  }

  it('keeps only the newest push (newest wins) and delivers it on reconnect', async () => {
    const d = await offlineDevice();
    const first = await provider.push(d.token, '{"mdm":"first"}');
    const second = await provider.push(d.token, '{"mdm":"second"}');
    expect([first.status, second.status]).toEqual([200, 200]);
    const c = await connect();
    await c.subscribe([d]);
    const p = await c.next('push');
    expect(p).toMatchObject({ payload: { mdm: 'second' }, apnsId: second.headers['apns-id'] });
    c.ack(p.id);
    await sleep(50);
    expect(c.pushes()).toHaveLength(1);
    const superseded = (await events('apns.superseded')).find((e) => e.data.apnsId === first.headers['apns-id']);
    expect(superseded?.summary).toContain('superseded');
  });

  it('never stores a push with apns-expiration 0', async () => {
    const d = await offlineDevice();
    const res = await provider.push(d.token, '{"mdm":"now-or-never"}', { 'apns-expiration': '0' });
    expect(res.status).toBe(200);
    expect((await events('apns.discarded')).some((e) => e.data.apnsId === res.headers['apns-id'])).toBe(true);
    const c = await connect();
    await c.subscribe([d]);
    await sleep(50);
    expect(c.pushes()).toHaveLength(0);
  });

  it('drops a stored push at its apns-expiration, on the clock', async () => {
    const d = await offlineDevice();
    const exp = Math.floor(t.clock.now() / 1000) + 3600;
    const res = await provider.push(d.token, '{"mdm":"soon"}', { 'apns-expiration': String(exp) });
    await t.clock.advance(3599_000);
    expect((await api('GET', `/apns/tokens/${d.token}`)).body.pending).toMatchObject({ deadline: new Date(exp * 1000).toISOString() });
    await t.clock.advance(2000);
    expect((await api('GET', `/apns/tokens/${d.token}`)).body.pending).toBeUndefined();
    expect((await events('apns.expired')).some((e) => e.data.apnsId === res.headers['apns-id'])).toBe(true);
    const c = await connect();
    await c.subscribe([d]);
    await sleep(50);
    expect(c.pushes()).toHaveLength(0);
  });

  it('keeps a push without apns-expiration for 30 days', async () => {
    const d = await offlineDevice();
    const res = await provider.push(d.token, '{"mdm":"month"}');
    await t.clock.advance(29 * 86_400_000);
    expect((await api('GET', `/apns/tokens/${d.token}`)).body.pending?.apnsId).toBe(res.headers['apns-id']);
    await t.clock.advance(2 * 86_400_000);
    expect((await api('GET', `/apns/tokens/${d.token}`)).body.pending).toBeUndefined();
  });

  it('delivers again what was sent but not acknowledged when the connection dropped', async () => {
    const d = newDevice(topic);
    const c1 = await connect();
    await c1.subscribe([d]);
    const res = await provider.push(d.token, '{"mdm":"unacked"}');
    expect((await c1.next('push')).apnsId).toBe(res.headers['apns-id']);
    await c1.close();
    await sleep(20);
    const c2 = await connect();
    await c2.subscribe([d]);
    const again = await c2.next('push');
    expect(again).toMatchObject({ apnsId: res.headers['apns-id'], payload: { mdm: 'unacked' } });
    c2.ack(again.id);
  });
});

describe('garbage from clients', () => {
  it('answers each bad frame with an error code, keeps the connection, and other subscribers are unaffected', async () => {
    const good = newDevice(topic);
    const bystander = await connect('bystander');
    await bystander.subscribe([good]);
    const raw = new WebSocket(t.server.info.courier!);
    await new Promise((r) => raw.once('open', r));
    const replies: { type: string; code?: string }[] = [];
    raw.on('message', (m) => replies.push(JSON.parse(m.toString())));
    raw.send(JSON.stringify({ type: 'subscribe', devices: [] }));
    raw.send('not json');
    raw.send(Buffer.from([1, 2, 3]), { binary: true });
    raw.send('[1,2]');
    raw.send(JSON.stringify({ type: 'hello', version: 99 }));
    raw.send(JSON.stringify({ type: 'hello' }));
    raw.send(JSON.stringify({ type: 'teleport' }));
    raw.send(JSON.stringify({ type: 'subscribe', devices: 'all' }));
    raw.send(JSON.stringify({ type: 'ack', ids: [424242] }));
    raw.send(JSON.stringify({ type: 'ack', ids: ['x'] }));
    while (replies.length < 10) await sleep(10);
    expect(replies.map((r) => r.code ?? r.type)).toEqual([
      'hello-first',
      'malformed-frame',
      'malformed-frame',
      'malformed-frame',
      'unsupported-version',
      'welcome',
      'unknown-frame-type',
      'malformed-frame',
      'unknown-push',
      'malformed-frame',
    ]);
    expect(raw.readyState).toBe(WebSocket.OPEN);
    await provider.push(good.token, '{"mdm":"still here"}');
    expect((await bystander.next('push')).payload).toEqual({ mdm: 'still here' });
    raw.close();
  });

  it('cuts off a client after 100 unreadable frames, and one whose frame is over 4 MiB', async () => {
    const spammer = new WebSocket(t.server.info.courier!);
    await new Promise((r) => spammer.once('open', r));
    const closed = new Promise<number>((r) => spammer.once('close', (code) => r(code)));
    for (let i = 0; i < 100; i++) spammer.send('garbage');
    expect(await closed).toBe(1008);
    const huge = new WebSocket(t.server.info.courier!);
    huge.on('error', () => undefined);
    await new Promise((r) => huge.once('open', r));
    const hugeClosed = new Promise<number>((r) => huge.once('close', (code) => r(code)));
    huge.send('x'.repeat(4 * 1024 * 1024 + 1));
    expect(await hugeClosed).toBe(1009);
    const c = await connect();
    expect((await c.subscribe([newDevice(topic)])).errors).toEqual([]);
  });

  it('a subscribe frame over 10,000 devices is refused whole', async () => {
    const c = await connect();
    const secret = randomBytes(16).toString('base64url');
    c.send({ type: 'subscribe', id: 'big', devices: Array.from({ length: 10_001 }, () => ({ topic, secret })) });
    expect(await c.next('error')).toMatchObject({ code: 'too-many', id: 'big' });
  });

  it('a plain HTTP request to the courier port is told to upgrade', async () => {
    const url = new URL(t.server.info.courier!.replace('ws:', 'http:'));
    const res = await new Promise<{ status: number; body: string }>((resolve, reject) => {
      request({ host: url.hostname, port: url.port, path: '/' }, (r) => {
        let body = '';
        r.on('data', (d) => (body += d));
        r.on('end', () => resolve({ status: r.statusCode!, body }));
      })
        .on('error', reject)
        .end();
    });
    expect(res.status).toBe(426);
    expect(res.body).toContain('WebSocket');
  });
});

describe('events', () => {
  it('name the enrollment behind a token once the device sent it in TokenUpdate', async () => {
    const d = newDevice(topic);
    const udid = 'EVENTS-UDID-0001';
    // Enrolled without signatures would need --auth none; write the record as storage would.
    t.server.store.storeAuthenticate({ id: udid, udid, topic }, t.clock.now());
    t.server.store.storeTokenUpdate(udid, { topic, token: d.token, pushMagic: 'PM' }, t.clock.now());
    const c = await connect();
    await c.subscribe([d]);
    const res = await provider.push(d.token, '{"mdm":"PM"}');
    c.ack((await c.next('push')).id);
    await sleep(50);
    const accepted = (await events('apns.accepted')).find((e) => e.data.apnsId === res.headers['apns-id']);
    const delivered = (await events('apns.delivered')).find((e) => e.data.apnsId === res.headers['apns-id']);
    expect(accepted?.udid).toBe(udid);
    expect(delivered?.udid).toBe(udid);
  });
});
