/**
 * The fleet's proxy and inspector on its own, over loopback sockets: one outcome per CONNECT, and
 * nothing opened on a Mac's behalf once the proxy has closed.
 */
import { createServer, connect as netConnect, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer, connect as tlsConnect } from 'node:tls';
import { FleetProxy } from '../../../agent-sim/network/proxy';
import { InspectionCa, MAX_CACHED_LEAVES } from '../../../agent-sim/network/inspection-ca';
import type { EffectivePolicy } from '../../../agent-sim/network/policy';
import type { Resolver } from '../../../agent-sim/network/resolver';

const CLIENT = '00000000-0000-4000-8000-000000000001';
const inspecting: EffectivePolicy = { viaProxy: true, proxy: true, inspection: { exempt: [] }, from: { proxy: 'mac', tlsInspection: 'mac' } };
const tunnelling: EffectivePolicy = { viaProxy: true, proxy: true, from: { proxy: 'mac' } };

let ca: InspectionCa;
const open: Array<{ close(): unknown }> = [];

beforeAll(async () => {
  ca = await InspectionCa.create();
});

afterEach(async () => {
  for (const x of open.splice(0)) await x.close();
});

function resolverOf(resolve: (host: string) => Promise<string>): Resolver {
  return { resolve } as unknown as Resolver;
}

interface Started {
  proxy: FleetProxy;
  events: Array<{ type: string; data: Record<string, unknown> }>;
}

async function start(policy: EffectivePolicy, resolve: (host: string) => Promise<string>, upstreamCa = ca.certPem): Promise<Started> {
  const events: Started['events'] = [];
  const proxy = await FleetProxy.start({
    resolver: resolverOf(resolve),
    upstreamCa: [upstreamCa],
    inspectionCa: async () => ca,
    policyOf: (c) => (c === CLIENT ? policy : undefined),
    emit: (_c, type, _s, data) => events.push({ type, data }),
    connectTimeoutMs: 5_000,
  });
  open.push(proxy);
  return { proxy, events };
}

/** Sends CONNECT and resolves with the proxy's status line (or '' if it hung up without one). */
function connectThrough(port: number, target: string): { socket: Socket; status: Promise<string> } {
  const socket = netConnect({ host: '127.0.0.1', port });
  socket.on('error', () => undefined);
  socket.once('connect', () => socket.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\nProxy-Authorization: ${FleetProxy.authorization(CLIENT)}\r\n\r\n`));
  const status = new Promise<string>((resolve) => {
    let text = '';
    socket.on('data', (chunk: Buffer) => {
      text += chunk.toString('latin1');
      const end = text.indexOf('\r\n');
      if (end >= 0) resolve(text.slice(0, end));
    });
    socket.once('close', () => resolve(''));
  });
  open.push({ close: () => socket.destroy() });
  return { socket, status };
}

async function listening(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  open.push({ close: () => new Promise<void>((r) => server.close(() => r())) });
  return (server.address() as { port: number }).port;
}

test('an inspected CONNECT whose server cannot be reached is one failure (a 502), never counted as inspected too', async () => {
  const closed = createServer();
  const deadPort = await listening(closed);
  await new Promise<void>((r) => closed.close(() => r()));
  const { proxy, events } = await start(inspecting, async () => '127.0.0.1');
  const { status } = connectThrough(proxy.port, `mdm.test:${deadPort}`);
  expect(await status).toBe('HTTP/1.1 502 Bad Gateway');
  expect(proxy.counts).toEqual({ tunnel: 0, inspected: 0, blocked: 0, failed: 1 });
  expect(events.map((e) => e.data.outcome)).toEqual(['failed']);
});

test('a CONNECT still being looked up when the proxy closes opens nothing upstream', async () => {
  const upstream = createServer((s) => s.destroy());
  let arrived = 0;
  upstream.on('connection', () => arrived++);
  const port = await listening(upstream);
  let answer!: (address: string) => void;
  const asked = new Promise<void>((asking) => {
    void start(tunnelling, () => {
      asking();
      return new Promise<string>((r) => (answer = r));
    }).then(({ proxy }) => connectThrough(proxy.port, `mdm.test:${port}`));
  });
  await asked;
  const proxy = (open.find((x) => x instanceof FleetProxy) as FleetProxy)!;
  await proxy.close();
  answer('127.0.0.1');
  // Give a connection the buggy proxy would have opened time to arrive.
  await new Promise((r) => setTimeout(r, 50));
  expect(arrived).toBe(0);
  expect(proxy.counts.tunnel).toBe(0);
});

test('the inspector mints a leaf for the host the Mac CONNECTed to, not for whatever SNI it sends', async () => {
  // The server behind the proxy, under a CA of its own that the inspector trusts upstream.
  const serverCa = await InspectionCa.create('proxy test server CA');
  const upstream = createTlsServer({ SNICallback: (name, cb) => cb(null, serverCa.contextFor(name)) }, (s) => s.end());
  const port = await listening(upstream);
  const { proxy, events } = await start(inspecting, async () => '127.0.0.1', serverCa.certPem);
  const { socket, status } = connectThrough(proxy.port, `mdm.test:${port}`);
  expect(await status).toBe('HTTP/1.1 200 Connection Established');
  const before = ca.minted;
  const subject = await new Promise<string>((resolve, reject) => {
    const tls = tlsConnect({ socket, servername: 'elsewhere.test', rejectUnauthorized: false });
    tls.once('secureConnect', () => {
      resolve(tls.getPeerCertificate().subject.CN as string);
      tls.destroy();
    });
    tls.once('error', reject);
  });
  expect(subject).toBe('mdm.test');
  expect(ca.minted - before).toBeLessThanOrEqual(1);
  expect(events.map((e) => e.data.outcome)).toEqual(['inspected']);
});

test('the inspection CA keeps a bounded number of leaves, the most recently used', async () => {
  const own = await InspectionCa.create('proxy test bounded CA');
  const first = own.contextFor('n0.test');
  for (let i = 1; i <= MAX_CACHED_LEAVES; i++) own.contextFor(`n${i}.test`);
  expect(own.cachedLeaves).toBe(MAX_CACHED_LEAVES);
  expect(own.minted).toBe(MAX_CACHED_LEAVES + 1);
  // n0 was the least recently used: it went first, and asking again mints it anew.
  expect(own.contextFor('n0.test')).not.toBe(first);
  expect(own.minted).toBe(MAX_CACHED_LEAVES + 2);
  // n256, just used, is still there.
  own.contextFor(`n${MAX_CACHED_LEAVES}.test`);
  expect(own.minted).toBe(MAX_CACHED_LEAVES + 2);
});
