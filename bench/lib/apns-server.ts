/**
 * Child process of bench/apns.ts: runs one server under test, alone in its process, and
 * answers the benchmark's questions about it over IPC.
 *
 *   node --expose-gc dist/bench/lib/apns-server.js mock <dataDir>  the APNs mock (startApnsMock: provider API + courier, real clock, default event log)
 *   node --expose-gc dist/bench/lib/apns-server.js echo <dataDir>  a bare node:http2 echo: same TLS certificate and settings, reads the body, answers 200 + apns-id
 *   node --expose-gc dist/bench/lib/apns-server.js ws <dataDir>    a bare `ws` WebSocketServer on a node:http server, as the courier's, doing nothing
 *
 * Messages in: {cmd:'cpu-start'}, {cmd:'cpu'}, {cmd:'mem'}, {cmd:'map', n}, {cmd:'exit'}.
 * An optional third argument names a .cpuprofile file: the window between cpu-start and cpu is profiled into it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createSecureServer, type IncomingHttpHeaders, type ServerHttp2Stream } from 'node:http2';
import { Session } from 'node:inspector';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';
import { MAX_COURIER_FRAME_BYTES } from '../../protocol/apns';
import { startApnsMock, type ApnsMock } from '../../server/apns';
import { MAX_CONCURRENT_STREAMS } from '../../server/apns/provider';
import { loadOrCreateCa, loadOrCreateServerCert } from '../../server/pki';

export type ApnsServerKind = 'mock' | 'echo' | 'ws';

export interface ServerReady {
  providerUrl?: string;
  courierUrl?: string;
  /** The process's open-file soft limit, as it sees it. */
  nofile?: number;
}

export interface MemSample {
  rss: number;
  heapUsed: number;
  /** Buffers and ArrayBuffers (outside the JS heap). */
  arrayBuffers: number;
  external: number;
  /** Courier connections open. */
  connections: number;
  /** Pushes sent to a courier connection and not acknowledged yet (mock only). */
  unacked: number;
}

const gc = (globalThis as { gc?: () => void }).gc;

let mock: ApnsMock | undefined;
let wsConnections: Set<WebSocket> | undefined;

/** The bare HTTP/2 echo: the provider API's TLS and HTTP/2 settings, none of its work. */
async function echo(dataDir: string): Promise<ServerReady> {
  const ca = await loadOrCreateCa(dataDir);
  const tls = await loadOrCreateServerCert(dataDir, ca, ['127.0.0.1']);
  const server = createSecureServer({
    key: tls.keyPem,
    cert: tls.certPem,
    ca: ca.certPem,
    requestCert: true,
    rejectUnauthorized: false,
    allowHTTP1: true,
    minVersion: 'TLSv1.2',
    settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
  });
  server.on('stream', (stream: ServerHttp2Stream, _headers: IncomingHttpHeaders) => {
    stream.on('error', () => undefined);
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks);
      if (!stream.destroyed) stream.respond({ ':status': body.length > 0 ? 200 : 400, 'apns-id': randomUUID() }, { endStream: true });
    });
  });
  server.on('sessionError', () => undefined);
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { providerUrl: `https://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

/** The courier's transport with nothing on top: same http server kind, same ws options. */
async function bareWs(): Promise<ServerReady> {
  const http = createHttpServer();
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_COURIER_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
  // A server has to hold its connections somewhere; this is the least it can do.
  const open = new Set<WebSocket>();
  wsConnections = open;
  http.on('upgrade', (req: IncomingMessage, socket, head) => {
    socket.on('error', () => socket.destroy());
    wss.handleUpgrade(req, socket, head, (ws) => {
      open.add(ws);
      ws.on('message', () => undefined);
      ws.on('close', () => open.delete(ws));
      ws.on('error', () => undefined);
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', () => r()));
  return { courierUrl: `ws://127.0.0.1:${(http.address() as AddressInfo).port}` };
}

async function startMock(dataDir: string): Promise<ServerReady> {
  const ca = await loadOrCreateCa(dataDir);
  const tls = await loadOrCreateServerCert(dataDir, ca, ['127.0.0.1']);
  mock = await startApnsMock({ host: '127.0.0.1', providerPort: 0, courierPort: 0, tls: { key: tls.keyPem, cert: tls.certPem }, caPem: ca.certPem });
  return { providerUrl: mock.providerUrl, courierUrl: mock.courierUrl };
}

/**
 * What the mock still holds unacknowledged, read (after the measurement) from the courier's
 * private connection list: no onActivity listener is attached during the run, so that the
 * mock runs as `mdmsim serve` runs it.
 */
function unacked(): number {
  if (!mock) return 0;
  const { connections } = mock.courier as unknown as { connections?: Set<{ peer?: { inflight: Map<number, unknown> } }> };
  if (!connections) return -1;
  let n = 0;
  for (const c of connections) n += c.peer?.inflight.size ?? 0;
  return n;
}

function mem(): MemSample {
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  const connections = mock ? mock.courier.connectionCount : (wsConnections?.size ?? 0);
  return { rss: m.rss, heapUsed: m.heapUsed, arrayBuffers: m.arrayBuffers, external: m.external, connections, unacked: unacked() };
}

/** What a Map<string, object> of n 64-character hex keys costs in this process (heap after gc). */
function mapBaseline(n: number): { heap: number; rss: number } {
  const before = mem();
  const map = new Map<string, { topic: string; peer: undefined }>();
  const topic = 'com.apple.mgmt.External.00000000-0000-4000-8000-000000000000';
  for (let i = 0; i < n; i++) map.set(randomBytes(32).toString('hex'), { topic, peer: undefined });
  const after = mem();
  if (map.size !== n) throw new Error('map');
  return { heap: after.heapUsed + after.arrayBuffers - before.heapUsed - before.arrayBuffers, rss: after.rss - before.rss };
}

async function main(): Promise<void> {
  if (!gc) throw new Error('run with --expose-gc');
  const [kind, dataDir, profilePath] = process.argv.slice(2) as [ApnsServerKind, string, string | undefined];
  const ready = kind === 'mock' ? await startMock(dataDir) : kind === 'echo' ? await echo(dataDir) : await bareWs();
  // Never outlive the benchmark that started us, however it ended.
  process.on('disconnect', () => process.exit(0));
  const profiler = profilePath ? new Session() : undefined;
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => profiler!.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  let cpuStart = process.cpuUsage();
  process.on('message', async (m: { cmd: string; n?: number }) => {
    if (m.cmd === 'cpu-start') {
      if (profiler) {
        profiler.connect();
        await post('Profiler.enable');
        await post('Profiler.start');
      }
      cpuStart = process.cpuUsage();
      process.send!({ ok: true });
    } else if (m.cmd === 'cpu') {
      const u = process.cpuUsage(cpuStart);
      if (profiler) {
        const { profile } = (await post('Profiler.stop')) as { profile: object };
        writeFileSync(profilePath!, JSON.stringify(profile));
        profiler.disconnect();
      }
      process.send!({ cpuMicros: u.user + u.system });
    } else if (m.cmd === 'mem') {
      process.send!(mem());
    } else if (m.cmd === 'map') {
      process.send!(mapBaseline(m.n!));
    } else if (m.cmd === 'exit') {
      if (mock) await Promise.race([mock.stop(), new Promise((r) => setTimeout(r, 1000))]);
      process.exit(0);
    }
  });
  process.send!(ready);
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
