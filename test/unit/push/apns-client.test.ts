/**
 * ApnsClient against a real HTTP/2 TLS server that asks for a client certificate, as APNs
 * does: what goes on the wire, how each kind of answer (and non-answer) comes back, and the
 * connection's life (GOAWAY, refusals, the in-flight cap, close()).
 */
import { createHash, X509Certificate } from 'node:crypto';
import * as fs from 'node:fs';
import * as http2 from 'node:http2';
import * as net from 'node:net';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { ApnsClient, type ApnsClientOptions } from '../../../server/push';
import { loadOrCreateCa, loadOrCreatePushCert, loadOrCreateServerCert } from '../../../server/pki';
import { openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-push-client-');
const TOKEN = 'a1'.repeat(32);
const TOPIC_RE = /^com\.apple\.mgmt\.External\./;

interface Tls {
  caPem: string;
  serverCertPem: string;
  serverKeyPem: string;
  pushCertPem: string;
  pushKeyPem: string;
  topic: string;
}
let tls: Tls;

beforeAll(async () => {
  const dir = tempDir();
  const ca = await loadOrCreateCa(dir);
  const server = await loadOrCreateServerCert(dir, ca, ['127.0.0.1']);
  const push = await loadOrCreatePushCert(dir, ca);
  tls = {
    caPem: fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8'),
    serverCertPem: server.certPem,
    serverKeyPem: server.keyPem,
    pushCertPem: push.certPem,
    pushKeyPem: push.keyPem,
    topic: push.topic,
  };
});

// ---- a scriptable APNs stand-in -----------------------------------------------------------

interface Received {
  path: string;
  headers: http2.IncomingHttpHeaders;
  body: string;
  /** SHA-256 of the client certificate the connection presented, if any. */
  clientCert?: string;
  clientSubject?: string;
  /** Which connection (0, 1, …) it came on. */
  session: number;
}

type Responder = (r: Received, stream: http2.ServerHttp2Stream) => void;

function answer(stream: http2.ServerHttp2Stream, status: number, body?: string, headers: http2.OutgoingHttpHeaders = {}): void {
  if (stream.destroyed || stream.closed) return;
  stream.respond({ ':status': status, ...headers });
  stream.end(body);
}

const ok: Responder = (_r, stream) => answer(stream, 200, undefined, { 'apns-id': '5e1f2a3b-0000-4000-8000-000000000001' });

class TestApns {
  respond: Responder = ok;
  readonly received: Received[] = [];
  current = 0;
  maxConcurrent = 0;
  sessionCount = 0;
  private readonly sessions = new Set<http2.ServerHttp2Session>();

  private constructor(
    private readonly server: http2.Http2SecureServer,
    readonly url: string,
  ) {}

  static async start(settings?: http2.Settings): Promise<TestApns> {
    const server = http2.createSecureServer({
      cert: tls.serverCertPem,
      key: tls.serverKeyPem,
      ca: tls.caPem,
      requestCert: true,
      rejectUnauthorized: true,
      settings,
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const t = new TestApns(server, `https://127.0.0.1:${(server.address() as AddressInfo).port}`);
    server.on('session', (s) => t.onSession(s));
    return t;
  }

  private onSession(session: http2.ServerHttp2Session): void {
    const index = this.sessionCount++;
    this.sessions.add(session);
    session.on('close', () => this.sessions.delete(session));
    session.on('error', () => undefined);
    const peer = (session.socket as TLSSocket).getPeerCertificate();
    const clientCert = peer?.raw ? createHash('sha256').update(peer.raw).digest('hex') : undefined;
    const clientSubject = peer?.subject ? String(peer.subject.UID ?? peer.subject.CN) : undefined;
    session.on('stream', (stream, headers) => {
      this.current++;
      this.maxConcurrent = Math.max(this.maxConcurrent, this.current);
      stream.on('close', () => this.current--);
      stream.on('error', () => undefined);
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const r: Received = { path: String(headers[':path']), headers, body: Buffer.concat(chunks).toString('utf8'), clientCert, clientSubject, session: index };
        this.received.push(r);
        this.respond(r, stream);
      });
    });
  }

  async stop(): Promise<void> {
    for (const s of this.sessions) s.destroy();
    await new Promise((resolve) => this.server.close(resolve));
  }
}

let apns: TestApns;
const clients: ApnsClient[] = [];

function client(overrides: Partial<ApnsClientOptions> = {}): ApnsClient {
  const c = new ApnsClient({ url: apns.url, certPem: tls.pushCertPem, keyPem: tls.pushKeyPem, ca: tls.caPem, ...overrides });
  clients.push(c);
  return c;
}

beforeEach(async () => {
  apns = await TestApns.start();
});
afterEach(async () => {
  for (const c of clients.splice(0)) await c.close();
  await apns.stop();
});

/** A port nobody listens on. */
async function closedPort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
  const port = (s.address() as AddressInfo).port;
  await new Promise((resolve) => s.close(resolve));
  return port;
}

const until = async (what: () => boolean, ms = 5000) => {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 5));
  }
};

// ---- what goes on the wire ----------------------------------------------------------------

describe('the request', () => {
  it('is POST /3/device/<token> with the JSON payload as is and every header that was given', async () => {
    const c = client();
    const payload = '{"mdm":"CEFDF0BD-E342-4A27-8742-E930EA116B0A"}';
    const result = await c.send(TOKEN, payload, {
      topic: tls.topic,
      pushType: 'mdm',
      expiration: 1767603600,
      priority: 10,
      apnsId: '0a0b0c0d-1111-4222-8333-444455556666',
      collapseId: 'wake',
    });
    expect(result.ok).toBe(true);
    const [r] = apns.received;
    expect(r!.path).toBe(`/3/device/${TOKEN}`);
    expect(r!.headers[':method']).toBe('POST');
    expect(r!.headers['content-type']).toBe('application/json');
    expect(r!.headers['apns-topic']).toBe(tls.topic);
    expect(r!.headers['apns-push-type']).toBe('mdm');
    expect(r!.headers['apns-expiration']).toBe('1767603600');
    expect(r!.headers['apns-priority']).toBe('10');
    expect(r!.headers['apns-id']).toBe('0a0b0c0d-1111-4222-8333-444455556666');
    expect(r!.headers['apns-collapse-id']).toBe('wake');
    expect(r!.body).toBe(payload);
  });

  it('sends no apns-* header that was not given', async () => {
    await client().send(TOKEN, '{"mdm":"x"}');
    const names = Object.keys(apns.received[0]!.headers).filter((h) => h.startsWith('apns-') || h === 'authorization');
    expect(names).toEqual([]);
  });

  it('presents the push certificate: the server sees it on the connection', async () => {
    await client().send(TOKEN, '{}');
    const der = new X509Certificate(tls.pushCertPem).raw;
    expect(apns.received[0]!.clientCert).toBe(createHash('sha256').update(der).digest('hex'));
    expect(apns.received[0]!.clientSubject).toMatch(TOPIC_RE);
  });

  it('reuses one connection for many requests', async () => {
    const c = client();
    for (let i = 0; i < 3; i++) await c.send(TOKEN, '{}');
    await Promise.all([c.send(TOKEN, '{}'), c.send(TOKEN, '{}')]);
    expect(apns.sessionCount).toBe(1);
  });
});

// ---- answers ------------------------------------------------------------------------------

describe('answers', () => {
  it('200 gives the apns-id APNs assigned', async () => {
    await expect(client().send(TOKEN, '{}')).resolves.toEqual({ ok: true, status: 200, apnsId: '5e1f2a3b-0000-4000-8000-000000000001' });
  });

  it('410 gives the reason, the timestamp and the apns-id', async () => {
    apns.respond = (_r, s) => answer(s, 410, JSON.stringify({ reason: 'Unregistered', timestamp: 1767603600123 }), { 'apns-id': 'id-410', 'content-type': 'application/json' });
    await expect(client().send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 410, reason: 'Unregistered', timestamp: 1767603600123, apnsId: 'id-410' });
  });

  it('400 gives the reason without a timestamp', async () => {
    apns.respond = (_r, s) => answer(s, 400, '{"reason":"BadDeviceToken"}');
    await expect(client().send('nothex', '{}')).resolves.toEqual({ ok: false, status: 400, reason: 'BadDeviceToken' });
  });

  it('a body that is not JSON still gives the status', async () => {
    apns.respond = (_r, s) => answer(s, 502, '<html><body>Bad Gateway</body></html>', { 'content-type': 'text/html' });
    await expect(client().send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 502 });
    apns.respond = (_r, s) => answer(s, 503);
    await expect(client().send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 503 });
  });

  it('a stream the server resets without answering is status 0', async () => {
    apns.respond = (_r, s) => s.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
    const result = await client().send(TOKEN, '{}');
    expect(result).toEqual({ ok: false, status: 0, error: expect.stringMatching(/^127\.0\.0\.1:\d+ reset the stream without an answer \(INTERNAL_ERROR\)$/) });
  });

  it('no answer within requestTimeoutMs is status 0, and the connection goes on', async () => {
    const held: http2.ServerHttp2Stream[] = [];
    apns.respond = (_r, s) => held.push(s);
    const c = client({ requestTimeoutMs: 150 });
    const started = Date.now();
    await expect(c.send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 0, error: expect.stringContaining('within 150 ms') });
    expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    apns.respond = ok;
    await expect(c.send(TOKEN, '{}')).resolves.toMatchObject({ ok: true });
    expect(apns.sessionCount).toBe(1);
  });
});

// ---- no connection ------------------------------------------------------------------------

describe('failing to connect', () => {
  it('connection refused is status 0 for every waiting send, never an uncaught error', async () => {
    const c = client({ url: `https://127.0.0.1:${await closedPort()}` });
    const results = await Promise.all([c.send(TOKEN, '{}'), c.send(TOKEN, '{}'), c.send(TOKEN, '{}')]);
    for (const r of results) expect(r).toEqual({ ok: false, status: 0, error: expect.stringMatching(/refused.*ECONNREFUSED/) });
    // The next send tries again (and fails again: nothing listens).
    await expect(c.send(TOKEN, '{}')).resolves.toMatchObject({ status: 0 });
  });

  it("a server certificate the client does not trust is status 0 and says what to pass", async () => {
    // The push certificate is no CA: nothing verifies against it.
    const c = client({ ca: tls.pushCertPem });
    await expect(c.send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 0, error: expect.stringMatching(/^TLS: 127\.0\.0\.1:\d+'s certificate is not trusted/) });
  });

  it('a client certificate the server does not trust is status 0', async () => {
    const dir = tempDir();
    const key = path.join(dir, 'k.pem');
    const cert = path.join(dir, 'c.pem');
    openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=stranger', '-days', '1', '-keyout', key, '-out', cert);
    const c = client({ certPem: fs.readFileSync(cert, 'utf8'), keyPem: fs.readFileSync(key, 'utf8'), requestTimeoutMs: 3000 });
    await expect(c.send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 0, error: expect.stringContaining('does it trust the push certificate') });
    expect(apns.received).toHaveLength(0);
  });
});

// ---- the connection's life ----------------------------------------------------------------

describe('GOAWAY', () => {
  it('after a GOAWAY the next send goes on a new connection and succeeds', async () => {
    const c = client();
    apns.respond = (r, s) => {
      answer(s, 200, undefined, { 'apns-id': 'first' });
      s.session?.goaway(http2.constants.NGHTTP2_NO_ERROR);
    };
    await expect(c.send(TOKEN, '{}')).resolves.toEqual({ ok: true, status: 200, apnsId: 'first' });
    apns.respond = ok;
    await until(() => apns.sessionCount === 1 && apns.received.length === 1);
    await new Promise((r) => setTimeout(r, 20));
    await expect(c.send(TOKEN, '{}')).resolves.toMatchObject({ ok: true });
    expect(apns.received.map((r) => r.session)).toEqual([0, 1]);
  });

  it('a request in flight when GOAWAY comes still gets its answer on the old connection', async () => {
    const c = client();
    let held: http2.ServerHttp2Stream | undefined;
    apns.respond = (_r, s) => {
      held = s;
      s.session?.goaway(http2.constants.NGHTTP2_NO_ERROR, s.id!);
    };
    const first = c.send(TOKEN, '{"n":1}');
    await until(() => held !== undefined);
    await new Promise((r) => setTimeout(r, 20));
    apns.respond = ok;
    await expect(c.send(TOKEN, '{"n":2}')).resolves.toMatchObject({ ok: true });
    answer(held!, 200, undefined, { 'apns-id': 'old-connection' });
    await expect(first).resolves.toEqual({ ok: true, status: 200, apnsId: 'old-connection' });
    expect(apns.received.map((r) => [r.body, r.session])).toEqual([
      ['{"n":1}', 0],
      ['{"n":2}', 1],
    ]);
  });

  it('a GOAWAY with an error code fails the requests it cuts off with status 0, naming the GOAWAY', async () => {
    const c = client();
    apns.respond = (_r, s) => s.session?.goaway(http2.constants.NGHTTP2_INTERNAL_ERROR, 0, Buffer.from('{"reason":"Shutdown"}'));
    const result = await c.send(TOKEN, '{}');
    expect(result).toEqual({ ok: false, status: 0, error: expect.stringMatching(/^127\.0\.0\.1:\d+ sent GOAWAY \(INTERNAL_ERROR, Shutdown\)$/) });
    apns.respond = ok;
    await expect(c.send(TOKEN, '{}')).resolves.toMatchObject({ ok: true });
  });

  it('a stream the server refused (REFUSED_STREAM: never processed) is sent again', async () => {
    let refused = 0;
    apns.respond = (r, s) => {
      if (refused++ === 0) s.close(http2.constants.NGHTTP2_REFUSED_STREAM);
      else ok(r, s);
    };
    await expect(client().send(TOKEN, '{}')).resolves.toMatchObject({ ok: true });
    expect(apns.received).toHaveLength(2);
  });
});

describe('many sends at once', () => {
  it('20,000 concurrent sends all complete, never more than maxConcurrentStreams (500 by default) in flight', async () => {
    const c = client();
    apns.respond = (r, s) => setTimeout(() => ok(r, s), 1);
    const results = await Promise.all(Array.from({ length: 20_000 }, (_, i) => c.send(TOKEN, `{"i":${i}}`)));
    expect(results.filter((r) => !r.ok).slice(0, 3)).toEqual([]);
    expect(results.filter((r) => r.ok)).toHaveLength(20_000);
    expect(apns.received).toHaveLength(20_000);
    expect(apns.maxConcurrent).toBeLessThanOrEqual(500);
    // The cap is used, not just respected.
    expect(apns.maxConcurrent).toBeGreaterThan(250);
    expect(apns.sessionCount).toBe(1);
    expect(c.inFlight).toBe(0);
    expect(c.queued).toBe(0);
  }, 60_000);

  it('keeps to a lower stream limit in the server SETTINGS, with nothing refused', async () => {
    await apns.stop();
    apns = await TestApns.start({ maxConcurrentStreams: 7 });
    apns.respond = (r, s) => setTimeout(() => ok(r, s), 1);
    const c = client({ maxConcurrentStreams: 100 });
    const results = await Promise.all(Array.from({ length: 300 }, () => c.send(TOKEN, '{}')));
    expect(results.every((r) => r.ok)).toBe(true);
    expect(apns.maxConcurrent).toBeLessThanOrEqual(7);
    expect(apns.received).toHaveLength(300);
  });

  it('keeps FIFO order for what waits', async () => {
    const c = client({ maxConcurrentStreams: 1 });
    await Promise.all(Array.from({ length: 20 }, (_, i) => c.send(TOKEN, String(i))));
    expect(apns.received.map((r) => r.body)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
  });
});

describe('close()', () => {
  it('settles every pending send (on the wire and waiting) with "client closed", and later sends too', async () => {
    const held: http2.ServerHttp2Stream[] = [];
    apns.respond = (_r, s) => held.push(s);
    const c = client({ maxConcurrentStreams: 2 });
    const pending = Array.from({ length: 5 }, () => c.send(TOKEN, '{}'));
    await until(() => held.length === 2);
    expect(c.inFlight).toBe(2);
    expect(c.queued).toBe(3);
    await c.close();
    for (const r of await Promise.all(pending)) expect(r).toEqual({ ok: false, status: 0, error: 'client closed' });
    await expect(c.send(TOKEN, '{}')).resolves.toEqual({ ok: false, status: 0, error: 'client closed' });
    await expect(c.close()).resolves.toBeUndefined();
  });

  it('closes a client that never connected', async () => {
    await expect(client().close()).resolves.toBeUndefined();
  });
});

describe('options', () => {
  it('refuses a URL that is not https and a missing certificate, saying what is wanted', () => {
    const base = { certPem: 'x', keyPem: 'y' };
    expect(() => new ApnsClient({ ...base, url: 'http://127.0.0.1:2197' })).toThrow(/must be https/);
    expect(() => new ApnsClient({ ...base, url: 'api.push.apple.com' })).toThrow(/absolute URL/);
    expect(() => new ApnsClient({ url: 'https://127.0.0.1:2197', certPem: '', keyPem: 'y' })).toThrow(/certPem and keyPem/);
    expect(() => new ApnsClient({ ...base, url: 'https://127.0.0.1:2197', maxConcurrentStreams: 0 })).toThrow(/maxConcurrentStreams/);
  });
});
