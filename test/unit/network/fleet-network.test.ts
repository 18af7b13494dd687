/**
 * FleetNetwork's pools over a real loopback HTTPS server: a policy change reaches new requests
 * without cutting off the ones under way.
 */
import { createServer, type Server } from 'node:https';
import { request } from 'undici';
import { FleetNetwork } from '../../../agent-sim/network/network';
import { InspectionCa } from '../../../agent-sim/network/inspection-ca';
import { Resolver } from '../../../agent-sim/network/resolver';

const UDID = '00000000-0000-4000-8000-000000000002';
let ca: InspectionCa;
let server: Server;
let port: number;
let arrived: () => void;
let release: () => void;

beforeAll(async () => {
  // The test's own CA stands in for the fleet's: the server's leaf for mdm.test is signed by it.
  ca = await InspectionCa.create('fleet-network test CA');
  server = createServer({ SNICallback: (_name, cb) => cb(null, ca.contextFor('mdm.test')) }, (req, res) => {
    if (req.url !== '/slow') return void res.end('fast');
    arrived();
    new Promise<void>((r) => (release = r)).then(() => res.end('slow'), () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise<void>((r) => server.close(() => r()));
});

test("a policy change lets the Mac's requests under way finish, and new requests take the new policy", async () => {
  const changed: Array<readonly string[] | undefined> = [];
  const net = new FleetNetwork({
    resolver: new Resolver({ 'mdm.test': '127.0.0.1' }),
    caDers: [],
    emit: () => undefined,
    apns: { host: '127.0.0.1', port: 1 },
    changed: (u) => changed.push(u),
  });
  try {
    net.applyMacFault(UDID, { kind: 'allow-list', allow: [`mdm.test:${port}`] });
    const before = net.dispatcherFor(UDID, 'k', [ca.certDer], undefined)!;
    const came = new Promise<void>((r) => (arrived = r));
    const slow = request(`https://mdm.test:${port}/slow`, { dispatcher: before });
    await came;
    // The admin narrows the network while the answer is on its way.
    net.applyMacFault(UDID, { kind: 'allow-list', allow: ['other.test:443'] });
    expect(changed).toEqual([[UDID], [UDID]]);
    release();
    const res = await slow;
    expect(res.statusCode).toBe(200);
    expect(await res.body.text()).toBe('slow');
    // New requests take a new pool under the new policy: refused by the network.
    const after = net.dispatcherFor(UDID, 'k', [ca.certDer], undefined)!;
    expect(after).not.toBe(before);
    await expect(request(`https://mdm.test:${port}/`, { dispatcher: after })).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  } finally {
    await net.close();
  }
});
