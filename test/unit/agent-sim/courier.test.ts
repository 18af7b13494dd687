/**
 * The fleet's courier client against the real APNs mock (a test server on port 0): many
 * tokens over few connections, pushes dispatched and acknowledged, offline and back,
 * unregister (410), reconnect.
 */
import { randomBytes } from 'node:crypto';
import type { PushFrame } from '../../../protocol/apns';
import { CourierClient, type PushTarget } from '../../../agent-sim/courier';
import { ProviderClient, pushCredentials } from '../../helpers/apns';
import { startTestServer, type TestServer } from '../../helpers/server';

let t: TestServer;
let provider: ProviderClient;
let topic: string;
const errors: Error[] = [];
const clients: CourierClient[] = [];

class Device implements PushTarget {
  readonly secret = randomBytes(32).toString('base64url');
  readonly pushes: PushFrame[] = [];
  token = '';
  constructor(readonly topic: string) {}
  courierCredential() {
    return { topic: this.topic, secret: this.secret };
  }
  onPush(frame: PushFrame): void {
    this.pushes.push(frame);
  }
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function client(tokensPerConnection?: number): Promise<CourierClient> {
  const c = await CourierClient.connect({ url: t.server.info.courier!, tokensPerConnection, onError: (e) => errors.push(e), reconnectMinMs: 10 });
  clients.push(c);
  return c;
}

function tokenState(token: string) {
  return t.http.api('GET', `/sim/v1/apns/tokens/${token}`, t.token).then((r) => r.json);
}

beforeAll(async () => {
  t = await startTestServer();
  topic = t.server.pushCert.topic;
  provider = await ProviderClient.connect(t.server.info.apns!, pushCredentials(t.server));
});

afterAll(async () => {
  for (const c of clients) await c.close();
  await provider?.close();
  await t?.stop();
});

afterEach(() => {
  expect(errors.filter((e) => !/reopening/.test(e.message))).toEqual([]);
  errors.length = 0;
});

test('2,500 tokens ride on 3 connections; a push reaches its owner and is acknowledged', async () => {
  const c = await client(1000);
  const devices = Array.from({ length: 2500 }, () => new Device(topic));
  const readies = devices.map((d) => {
    const s = c.subscribe(d, d.courierCredential());
    d.token = s.token;
    return s.ready;
  });
  await Promise.all(readies);
  expect(c.connectionCount).toBe(3);
  expect(c.busy).toBe(false);
  const picked = [devices[3]!, devices[1500]!, devices[2499]!];
  for (const d of picked) expect((await provider.push(d.token, JSON.stringify({ mdm: d.token.slice(0, 8) }))).status).toBe(200);
  await until(() => picked.every((d) => d.pushes.length === 1), 'the pushes');
  expect(picked.map((d) => (d.pushes[0]!.payload as { mdm: string }).mdm)).toEqual(picked.map((d) => d.token.slice(0, 8)));
  expect(devices.filter((d) => d.pushes.length > 0)).toHaveLength(3);
  await t.server.settled({ timeoutMs: 2000 }); // every push acknowledged
  expect(c.pushesReceived).toBe(3);
});

test('unsubscribed (offline), pushes wait at the courier, newest wins; resubscribed, it is delivered', async () => {
  const c = await client();
  const d = new Device(topic);
  const s = c.subscribe(d, d.courierCredential());
  d.token = s.token;
  await s.ready;
  c.unsubscribe(d.token);
  await sleep(20);
  await provider.push(d.token, '{"mdm":"first"}');
  await provider.push(d.token, '{"mdm":"second"}');
  await sleep(30);
  expect(d.pushes).toHaveLength(0);
  expect((await tokenState(d.token)).online).toBe(false);
  await c.resubscribe(d.token);
  await until(() => d.pushes.length === 1, 'the waiting push');
  expect(d.pushes[0]!.payload).toEqual({ mdm: 'second' });
});

test('unregister: APNs answers 410 for the token from then on', async () => {
  const c = await client();
  const d = new Device(topic);
  const s = c.subscribe(d, d.courierCredential());
  d.token = s.token;
  await s.ready;
  c.unregister(d.token);
  await sleep(50);
  const r = await provider.push(d.token, '{"mdm":"gone"}');
  expect(r.status).toBe(410);
  expect(r.json?.reason).toBe('Unregistered');
});

test('a dropped connection is reopened and its tokens subscribed again', async () => {
  const c = await client();
  const d = new Device(topic);
  const s = c.subscribe(d, d.courierCredential());
  d.token = s.token;
  await s.ready;
  // Cut the socket from under the client.
  ((c as unknown as { conns: Array<{ ws: { terminate(): void } }> }).conns[0]!.ws).terminate();
  await until(() => c.connectionCount === 1 && !c.busy, 'the reconnect', 5000);
  await sleep(100);
  expect((await tokenState(d.token)).online).toBe(true);
  await provider.push(d.token, '{"mdm":"after reconnect"}');
  await until(() => d.pushes.length === 1, 'the push after the reconnect');
  expect(errors.some((e) => /reopening/.test(e.message))).toBe(true);
});

test('a refused credential rejects its subscription; a bad URL fails at connect', async () => {
  const c = await client();
  const d = new Device('not a topic');
  const s = c.subscribe(d, d.courierCredential());
  await expect(s.ready).rejects.toThrow(/bad-topic/);
  await expect(CourierClient.connect({ url: 'ws://127.0.0.1:1', connectTimeoutMs: 1000 })).rejects.toThrow(/cannot open the courier|closed the connection/);
});
