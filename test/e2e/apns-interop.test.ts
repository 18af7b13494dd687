/**
 * The APNs mock against clients mdmsim did not write: @parse/node-apn with the push
 * certificate and with a provider token, Node's own http2 module, and curl --http2.
 */
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import apn from '@parse/node-apn';
import { VirtualClock } from '../../protocol/clock';
import { CourierClient, newDevice, ProviderClient, pushCredentials, type TestDevice } from '../helpers/apns';
import { tempDirs } from '../helpers/pki';
import { startTestServer, type TestServer } from '../helpers/server';

const tempDir = tempDirs('mdmsim-apns-interop-');
let t: TestServer;
let topic: string;
let courier: CourierClient;
let device: TestDevice;
let port: number;

beforeAll(async () => {
  // node-apn mints provider tokens with the wall clock: start the virtual clock there.
  t = await startTestServer({ clock: new VirtualClock({ start: Date.now() }) });
  topic = t.server.pushCert.topic;
  port = Number(new URL(t.server.info.apns!).port);
  courier = await CourierClient.connect(t.server.info.courier!);
  device = newDevice(topic);
  await courier.subscribe([device]);
});
afterAll(async () => {
  await courier?.close();
  await t?.stop();
});

function mdmNote(pushMagic: string): apn.Notification {
  const note = new apn.Notification();
  note.mdm = pushMagic;
  note.pushType = 'mdm';
  return note;
}

describe('@parse/node-apn', () => {
  it('pushes {"mdm": PushMagic} with the push certificate, no topic given (as MDM servers do)', async () => {
    const creds = pushCredentials(t.server);
    const provider = new apn.Provider({ cert: creds.cert, key: creds.key, ca: [creds.ca], address: '127.0.0.1', port, production: true });
    try {
      const result = await provider.send(mdmNote('PUSH-MAGIC-CERT'), device.token);
      expect(result.failed).toEqual([]);
      expect(result.sent).toEqual([{ device: device.token, 'apns-id': expect.stringMatching(/^[0-9a-f-]{36}$/) }]);
      const push = await courier.next('push');
      expect(push.payload).toEqual({ mdm: 'PUSH-MAGIC-CERT' });
      courier.ack(push.id);
    } finally {
      await provider.shutdown();
    }
  });

  it('pushes with a provider token (a key registered through the control API)', async () => {
    const key = (await t.http.api('POST', '/sim/v1/apns/keys', t.token, { teamId: 'ABCDE12345' })).json;
    const provider = new apn.Provider({ token: { key: key.privateKey, keyId: key.keyId, teamId: key.teamId }, ca: [pushCredentials(t.server).ca], address: '127.0.0.1', port, production: true });
    try {
      const note = mdmNote('PUSH-MAGIC-TOKEN');
      note.topic = topic;
      const result = await provider.send(note, device.token);
      expect(result.failed).toEqual([]);
      const push = await courier.next('push');
      expect(push.payload).toEqual({ mdm: 'PUSH-MAGIC-TOKEN' });
      courier.ack(push.id);

      // And gets the right failures back.
      const other = mdmNote('x');
      other.topic = topic;
      const bad = await provider.send(other, 'ab'.repeat(32));
      expect(bad.failed).toMatchObject([{ device: 'ab'.repeat(32), status: 400, response: { reason: 'BadDeviceToken' } }]);
    } finally {
      await provider.shutdown();
    }
  });

  it('gets 410 with a timestamp for an unregistered token', async () => {
    const gone = newDevice(topic);
    const c = await CourierClient.connect(t.server.info.courier!);
    await c.subscribe([gone]);
    c.send({ type: 'unregister', devices: [{ topic, secret: gone.secret }] });
    await c.next('unregistered');
    await c.close();
    const creds = pushCredentials(t.server);
    const provider = new apn.Provider({ cert: creds.cert, key: creds.key, ca: [creds.ca], address: '127.0.0.1', port, production: true });
    try {
      const result = await provider.send(mdmNote('x'), gone.token);
      expect(result.failed).toMatchObject([{ device: gone.token, status: 410, response: { reason: 'Unregistered', timestamp: t.server.clock.now() } }]);
      expect(result.failed[0]!.response).toEqual({ reason: 'Unregistered', timestamp: t.server.clock.now() });
    } finally {
      await provider.shutdown();
    }
  });

  it('gets InvalidProviderToken for a key the mock does not know', async () => {
    const { generateKeyPairSync } = await import('node:crypto');
    const p8 = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    const provider = new apn.Provider({ token: { key: p8, keyId: 'UNKNOWN123', teamId: 'ABCDE12345' }, ca: [pushCredentials(t.server).ca], address: '127.0.0.1', port, production: true });
    try {
      const note = mdmNote('x');
      note.topic = topic;
      const result = await provider.send(note, device.token);
      expect(result.failed).toMatchObject([{ device: device.token, status: 403, response: { reason: 'InvalidProviderToken' } }]);
    } finally {
      await provider.shutdown();
    }
  });
});

describe('node:http2, raw', () => {
  it('a hand-made request with only content-type is answered 200 and delivered', async () => {
    const p = await ProviderClient.connect(t.server.info.apns!, pushCredentials(t.server));
    try {
      const res = await p.push(device.token, '{"mdm":"RAW"}');
      expect(res.status).toBe(200);
      const push = await courier.next('push');
      expect(push.payload).toEqual({ mdm: 'RAW' });
      courier.ack(push.id);
    } finally {
      await p.close();
    }
  });
});

const curlHasHttp2 = existsSync('/usr/bin/curl');
(curlHasHttp2 ? describe : describe.skip)('curl --http2', () => {
  it('pushes with push.pem and reads the apns-id; HTTP/1.1 is refused', async () => {
    const dir = tempDir();
    const creds = pushCredentials(t.server);
    writeFileSync(join(dir, 'push.pem'), creds.cert);
    writeFileSync(join(dir, 'push-key.pem'), creds.key);
    const base = ['-s', '-i', '--cacert', t.server.info.caCert, '--cert', join(dir, 'push.pem'), '--key', join(dir, 'push-key.pem'), '-H', 'content-type: application/json'];
    const run = promisify(execFile);
    const { stdout } = await run('/usr/bin/curl', [...base, '--http2', '-d', '{"mdm":"CURL"}', `${t.server.info.apns}/3/device/${device.token}`]);
    expect(stdout).toMatch(/^HTTP\/2 200/);
    expect(stdout).toMatch(/apns-id: [0-9a-f-]{36}/);
    const push = await courier.next('push');
    expect(push.payload).toEqual({ mdm: 'CURL' });
    courier.ack(push.id);
    const h1 = await run('/usr/bin/curl', [...base, '--http1.1', '-d', '{"mdm":"CURL"}', `${t.server.info.apns}/3/device/${device.token}`]);
    expect(h1.stdout).toMatch(/^HTTP\/1\.1 505/);
  });
});
