/**
 * The fleet's network over HTTP (GET/PUT /sim/v1/network), as the per-Mac faults are: the server
 * forwards it to the lab, which checks it (a 400 naming the field, nothing changed), fills in the
 * placeholders, records `sim.network` and applies it to every Mac without a network of its own.
 */
import { commands } from '../../protocol/command';
import { tenantDomains } from '../../protocol/tenant';
import { startLab, type Lab } from '../../lab/lab';
import { HttpsClient } from '../helpers/mdm-client';
import { startTestServer } from '../helpers/server';

let lab: Lab;
let http: HttpsClient;
const api = (method: string, path: string, body?: unknown, contentType?: string) => http.api(method, path, lab.server.apiToken, body, contentType);
const since = (id: number, type: string, udid?: string) => lab.server.events.query({ afterId: id, types: [type], ...(udid ? { udid } : {}), limit: 10_000 });
const lastId = () => lab.server.events.query({ limit: Number.MAX_SAFE_INTEGER }).at(-1)?.id ?? 0;

beforeAll(async () => {
  lab = await startLab({ devices: 2 });
  http = HttpsClient.for(lab.server);
});
afterAll(async () => {
  http?.close();
  await lab?.stop();
});

describe('/sim/v1/network', () => {
  it('is open at first', async () => {
    const r = await api('GET', '/sim/v1/network');
    expect(r.status).toBe(200);
    expect(r.json).toEqual({});
  });

  it('PUT sets the fleet network for every Mac, placeholders filled in; their MDM connections are then blocked', async () => {
    const port = new URL(lab.server.url).port;
    const d = tenantDomains(lab.server.tenant);
    const before = lastId();
    const r = await api('PUT', '/sim/v1/network', { allowList: ['{enrollment}:{port}', '{apns}:{apns-port}'] });
    expect(r.status).toBe(200);
    const apns = new URL(lab.server.info.courier!);
    const allow = [`${d.enrollment}:${port}`, `${apns.hostname}:${apns.port}`];
    expect(r.json).toEqual({ allowList: allow });
    expect((await api('GET', '/sim/v1/network')).json).toEqual(r.json);
    const recorded = since(before, 'sim.network');
    expect(recorded).toHaveLength(1);
    expect(recorded[0]!.summary).toContain("the fleet's network");

    for (const n of [0, 1]) {
      const state = (await api('GET', `/sim/v1/devices/${lab.mac(n).udid}/faults`)).json;
      expect(state.network).toEqual({ allow, from: { allow: 'fleet' } });
    }
    // The push arrives (APNs is listed), but the device domain is not: the Mac's connect is refused by the network.
    const mac = lab.mac(0);
    const sent = lastId();
    await lab.command(0, commands.DeviceInformation({ Queries: ['OSVersion'] }));
    expect(since(sent, 'network.blocked', mac.udid).length).toBeGreaterThan(0);
    expect(since(sent, 'mdm.command.result', mac.udid)).toEqual([]);
  });

  it('refuses a bad network naming the field, and changes nothing', async () => {
    const before = (await api('GET', '/sim/v1/network')).json;
    const bad = await api('PUT', '/sim/v1/network', { allowList: ['{device}:{port}', 'not a host:443'] });
    expect(bad.status).toBe(400);
    expect(bad.json.error ?? bad.json).toMatchObject({ code: 'bad-fault', field: 'network.allowList[1]' });
    const unknownName = await api('PUT', '/sim/v1/network', { tlsInspection: { exempt: ['{nope}'] } });
    expect(unknownName.status).toBe(400);
    expect(unknownName.json.error ?? unknownName.json).toMatchObject({ field: 'network.tlsInspection.exempt[0]' });
    const notObject = await api('PUT', '/sim/v1/network', ['{device}:{port}']);
    expect(notObject.status).toBe(400);
    expect(notObject.json.error ?? notObject.json).toMatchObject({ field: 'network' });
    expect((await api('PUT', '/sim/v1/network', '{}', 'text/plain')).status).toBe(415);
    expect((await api('GET', '/sim/v1/network')).json).toEqual(before);
  });

  it('PUT {} opens it again, and the Macs answer', async () => {
    const r = await api('PUT', '/sim/v1/network', {});
    expect(r.json).toEqual({});
    expect((await api('GET', `/sim/v1/devices/${lab.mac(0).udid}/faults`)).json.network).toBeUndefined();
    const sent = lastId();
    await lab.command(0, commands.DeviceInformation({ Queries: ['OSVersion'] }));
    expect(since(sent, 'network.blocked', lab.mac(0).udid)).toEqual([]);
    expect(since(sent, 'mdm.command.result', lab.mac(0).udid).length).toBeGreaterThan(0);
  });

  it('needs the token', async () => {
    expect((await http.send('GET', '/sim/v1/network')).status).toBe(401);
  });
});

it('answers 501 on a server that runs no Macs', async () => {
  const t = await startTestServer();
  try {
    const r = await t.http.api('PUT', '/sim/v1/network', t.token, { proxy: true });
    expect(r.status).toBe(501);
    expect(r.json.error ?? r.json).toMatchObject({ code: 'no-simulator' });
  } finally {
    await t.stop();
  }
});
