/**
 * The server's push path end to end: an enrolled Mac subscribes its token on the courier, a
 * queued command pushes {"mdm": PushMagic} through the APNs mock over HTTP/2 with push.pem, and
 * APNs' answers (410, 503, no answer) have their effect.
 */
import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../server/server';
import { CourierClient, newDevice, type TestDevice } from '../helpers/apns';
import { TestMac } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';
import { POLICIES_OFF } from '../helpers/agent';

let t: TestServer;
const closers: (() => Promise<void>)[] = [];

const api = async (method: string, path: string, body?: unknown, server = t) => {
  const r = await server.http.api(method, `/sim/v1${path}`, server.token, body);
  return { status: r.status, body: r.json };
};
const events = async (type: string, udid: string) => (await api('GET', `/events?type=${type}&udid=${udid}`)).body.events as { summary: string; data: Record<string, unknown> }[];

/** A signed Mac whose TokenUpdate carries a courier token, subscribed on its own connection. */
async function pushableMac(server = t): Promise<{ mac: TestMac; device: TestDevice; courier: CourierClient }> {
  const mac = new TestMac(server.http);
  await mac.installProfile();
  const device = newDevice(mac.topic);
  mac.token = Buffer.from(device.token, 'hex');
  await mac.enroll();
  const courier = await CourierClient.connect(server.server.info.courier!, mac.udid);
  await courier.subscribe([device]);
  closers.push(() => courier.close());
  return { mac, device, courier };
}

beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
});
afterAll(async () => {
  for (const c of closers) await c();
  await t?.stop();
});

describe('push on enqueue', () => {
  it('wakes the device: {"mdm": PushMagic} reaches its courier, and the answer says sent', async () => {
    const { mac, courier } = await pushableMac();
    const res = await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'DeviceInformation', Queries: ['OSVersion'] });
    expect(res.status).toBe(201);
    expect(res.body.push).toMatchObject({ requested: true, sent: 1, results: { [mac.udid]: { status: 'sent', apnsId: expect.any(String) } } });
    const push = await courier.next('push');
    expect(push.payload).toEqual({ mdm: mac.pushMagic });
    courier.ack(push.id);
    // The Mac answers the wake-up by connecting, and gets the command.
    expect((await mac.idle())?.Command.RequestType).toBe('DeviceInformation');
    const pushed = await events('mdm.push.sent', mac.udid);
    expect(pushed[0]!.data).toMatchObject({ apnsId: push.apnsId, why: 'enqueue', status: 200 });
    for (let i = 0; i < 50 && (await events('apns.delivered', mac.udid)).length === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect((await events('apns.accepted', mac.udid)).length).toBe(1);
    expect((await events('apns.delivered', mac.udid)).length).toBe(1);
  });

  it('?push=false queues without pushing; POST /devices/{udid}/push pushes on demand', async () => {
    const { mac, courier } = await pushableMac();
    const res = await api('PUT', `/devices/${mac.udid}/commands?push=false`, { RequestType: 'ProfileList' });
    expect(res.body.push).toEqual({ requested: false });
    await new Promise((r) => setTimeout(r, 50));
    expect(courier.pushes()).toHaveLength(0);
    const now = await api('POST', `/devices/${mac.udid}/push`);
    expect(now.status).toBe(200);
    expect(now.body).toMatchObject({ requested: true, sent: 1 });
    expect((await courier.next('push')).payload).toEqual({ mdm: mac.pushMagic });
    expect((await api('POST', '/devices/NO-SUCH-UDID/push')).status).toBe(404);
    expect((await api('PUT', `/devices/${mac.udid}/commands?push=maybe`, { RequestType: 'ProfileList' })).status).toBe(400);
  });
});

describe("APNs' answers", () => {
  it('410 marks the token invalid: no more pushes until the next TokenUpdate', async () => {
    const { mac, device, courier } = await pushableMac();
    courier.send({ type: 'unregister', devices: [{ topic: device.topic, secret: device.secret }] });
    await courier.next('unregistered');
    const res = await api('POST', `/devices/${mac.udid}/push`);
    expect(res.body.results[mac.udid]).toMatchObject({ status: 'failed', httpStatus: 410, reason: 'Unregistered', retrying: false });
    expect((await api('GET', `/devices/${mac.udid}`)).body.pushTokenInvalidAt).toBe(new Date(t.clock.now()).toISOString());
    expect((await api('POST', `/devices/${mac.udid}/push`)).body.results[mac.udid]).toEqual({ status: 'skipped', reason: 'token-invalid' });
    // The Mac comes back with a TokenUpdate (its token re-registered on the courier).
    await courier.subscribe([device], 2);
    expect((await mac.checkin(mac.tokenUpdateMessage())).status).toBe(200);
    expect((await api('GET', `/devices/${mac.udid}`)).body.pushTokenInvalidAt).toBeUndefined();
    expect((await api('POST', `/devices/${mac.udid}/push`)).body.results[mac.udid].status).toBe('sent');
  });

  it('503 is retried with backoff on the clock (1 s, 2 s, …) until it goes through', async () => {
    const { mac, device, courier } = await pushableMac();
    await api('PATCH', '/apns/faults', { tokens: { [device.token]: 'ServiceUnavailable' } });
    try {
      const first = await api('POST', `/devices/${mac.udid}/push`);
      expect(first.body.results[mac.udid]).toMatchObject({ status: 'failed', httpStatus: 503, reason: 'ServiceUnavailable', retrying: true, attempt: 1 });
      // A second push while a retry waits does not stack another.
      expect((await api('POST', `/devices/${mac.udid}/push`)).body.results[mac.udid]).toEqual({ status: 'skipped', reason: 'retry-pending' });
      await t.clock.advance(1000);
      await t.server.pushes!.idle();
      let failed = await events('mdm.push.failed', mac.udid);
      expect(failed.map((e) => e.data.attempt)).toEqual([1, 2]);
      expect(failed[1]!.data).toMatchObject({ retrying: true, nextAttemptInMs: 2000 });
      await api('DELETE', '/apns/faults');
      await t.clock.advance(1999);
      await t.server.pushes!.idle();
      expect(await events('mdm.push.sent', mac.udid)).toHaveLength(0);
      await t.clock.advance(1);
      await t.server.pushes!.idle();
      expect((await events('mdm.push.sent', mac.udid))[0]!.data).toMatchObject({ why: 'retry', attempt: 3 });
      expect((await courier.next('push')).payload).toEqual({ mdm: mac.pushMagic });
      failed = await events('mdm.push.failed', mac.udid);
      expect(failed).toHaveLength(2);
    } finally {
      await api('DELETE', '/apns/faults');
    }
  });

  it('gives up after 5 attempts of 429, and says so', async () => {
    const { mac, device } = await pushableMac();
    await api('PATCH', '/apns/faults', { tokens: { [device.token]: 'TooManyRequests' } });
    try {
      await api('POST', `/devices/${mac.udid}/push`);
      for (const step of [1000, 2000, 4000, 8000]) {
        await t.clock.advance(step);
        await t.server.pushes!.idle();
      }
      const failed = await events('mdm.push.failed', mac.udid);
      expect(failed.map((e) => [e.data.attempt, e.data.retrying])).toEqual([[1, true], [2, true], [3, true], [4, true], [5, false]]);
      expect(failed[4]!.summary).toContain('giving up after 5 attempts');
    } finally {
      await api('DELETE', '/apns/faults');
    }
  });

  it('no answer at all (provider down) is retried too', async () => {
    const { mac, courier } = await pushableMac();
    await api('PATCH', '/apns/faults', { provider: 'refused' });
    let res;
    try {
      res = await api('POST', `/devices/${mac.udid}/push`);
    } finally {
      await api('PATCH', '/apns/faults', { provider: 'up' });
    }
    expect(res.body.results[mac.udid]).toMatchObject({ status: 'failed', httpStatus: 0, retrying: true });
    await t.clock.advance(1000);
    await t.server.pushes!.idle();
    expect((await courier.next('push')).payload).toEqual({ mdm: mac.pushMagic });
  });
});

describe('a configurable APNs URL', () => {
  it('a server without its own mock pushes to another APNs endpoint with its push.pem', async () => {
    // Server B shares A's data dir contents (CA, push.pem): A's mock trusts B's push certificate.
    const dirB = mkdtempSync(join(tmpdir(), 'mdmsim-push-b-'));
    cpSync(t.server.dataDir, dirB, { recursive: true });
    const b = await startServer({ port: 0, dataDir: dirB, clock: t.clock, apiToken: 'b-token', apns: false, apnsUrl: t.server.info.apns! });
    const bt = { ...t, server: b, token: 'b-token', http: new (t.http.constructor as typeof import('../helpers/mdm-client').HttpsClient)(b.url, b.info.caCert) } as TestServer;
    try {
      expect(b.info.apns).toBeNull();
      const mac = new TestMac(bt.http);
      await mac.installProfile();
      const device = newDevice(mac.topic);
      mac.token = Buffer.from(device.token, 'hex');
      await mac.enroll();
      // The device's courier is A's mock, the APNs that B pushes to.
      const courier = await CourierClient.connect(t.server.info.courier!);
      closers.push(() => courier.close());
      await courier.subscribe([device]);
      const res = await api('PUT', `/devices/${mac.udid}/commands`, { RequestType: 'ProfileList' }, bt);
      expect(res.body.push).toMatchObject({ requested: true, sent: 1 });
      expect((await courier.next('push')).payload).toEqual({ mdm: mac.pushMagic });
    } finally {
      bt.http.close();
      await b.stop();
      rmSync(dirB, { recursive: true, force: true });
    }
  });

  it('a server with neither a mock nor a URL queues and says nothing was pushed', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdmsim-push-c-'));
    const c = await startServer({ port: 0, dataDir: dir, clock: t.clock, apiToken: 'c', apns: false });
    try {
      expect(c.pushes).toBeUndefined();
      expect(c.info).toMatchObject({ apns: null, courier: null });
    } finally {
      await c.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
