/**
 * Abuse on the wire, below the routes: bodies over each endpoint's limit (just over, far over,
 * a lying Content-Length), malformed framing, slow-loris clients and idle connections against
 * short configured timeouts (httpTimeouts), and thousands of concurrent connections. Each gets
 * a clear 4xx or a closed connection; the server keeps serving others meanwhile and after, and
 * the bystander's state never changes.
 */
import { request } from 'node:https';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE } from '../../protocol/command';
import { AGENT_CHECKIN_PATH } from '../../protocol/agent';
import { AGENT_MAX_BODY_BYTES } from '../../server/agent/handler';
import { MAX_API_BODY_BYTES } from '../../server/http/control-api';
import { errorOf, openTcp, openTls, rawExchange, scale, startAbuseServer, whenClosed, type AbuseServer } from './support';

const MDM_LIMIT = 64 * 1024;
const TIMEOUTS = { handshakeMs: 400, headersMs: 400, requestMs: 800, keepAliveMs: 400 };
/** Node checks overdue requests at an interval: allow that, plus a loaded machine's delays. */
const SLACK_MS = 1500;

let t: AbuseServer;
beforeAll(async () => {
  t = await startAbuseServer({ maxBodyBytes: MDM_LIMIT, httpTimeouts: TIMEOUTS });
});
afterAll(() => t.stop());

const auth = () => `Bearer ${t.token}`;

interface Endpoint {
  name: string;
  method: string;
  path: () => string;
  limit: number;
  headers: () => Record<string, string>;
  /** Behind Express's body parser rather than a bare handler. */
  express?: boolean;
}
const endpoints: Endpoint[] = [
  { name: 'MDM check-in', method: 'PUT', path: () => '/mdm/checkin', limit: MDM_LIMIT, headers: () => ({ 'content-type': CHECKIN_CONTENT_TYPE }) },
  { name: 'MDM connect', method: 'PUT', path: () => '/mdm/connect', limit: MDM_LIMIT, headers: () => ({ 'content-type': COMMAND_CONTENT_TYPE }) },
  { name: 'agent check-in', method: 'POST', path: () => AGENT_CHECKIN_PATH, limit: AGENT_MAX_BODY_BYTES, headers: () => ({ 'content-type': 'application/json' }) },
  { name: 'control API command', method: 'PUT', path: () => `/sim/v1/devices/${t.bystander.udid}/commands`, limit: MAX_API_BODY_BYTES, headers: () => ({ 'content-type': 'application/json', authorization: auth() }), express: true },
  { name: 'control API api-tokens', method: 'POST', path: () => '/sim/v1/api-tokens', limit: 64 * 1024, headers: () => ({ 'content-type': 'application/json', authorization: auth() }), express: true },
  { name: 'Kandji action', method: 'POST', path: () => '/api/v1/devices/00000000-0000-0000-0000-000000000000/action/blankpush', limit: 64 * 1024, headers: () => ({ 'content-type': 'application/json', authorization: auth() }), express: true },
];

/** Streams `total` bytes (chunked, no Content-Length) and resolves with the status, or 0 if the server closed first. */
function stream(e: Endpoint, total: number): Promise<number> {
  return new Promise((resolve) => {
    const req = request(new URL(e.path(), t.server.url), { method: e.method, ca: t.http.agent.options.ca, headers: { ...e.headers(), 'transfer-encoding': 'chunked' } }, (res) => {
      res.resume();
      resolve(res.statusCode!);
    });
    // A server that closes mid-upload after answering is fine; one that closes without answering counts as 0.
    req.on('error', () => setTimeout(() => resolve(0), 200));
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    let sent = 0;
    const pump = () => {
      while (sent < total) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      req.end();
    };
    pump();
  });
}

describe('huge bodies', () => {
  it.each(endpoints)('$name: one byte over the limit (Content-Length) → 413', async (e) => {
    const before = t.snapshot();
    const r = await t.http.send(e.method, e.path(), Buffer.alloc(e.limit + 1, 0x20), e.headers());
    expect(r.status).toBe(413);
    expect(errorOf(r.body).message).toEqual(expect.any(String));
    expect(t.snapshot()).toBe(before);
  });

  it.each(endpoints)('$name: far over the limit, streamed without Content-Length → 413 or closed, long before the end', async (e) => {
    const before = t.snapshot();
    const status = await stream(e, Math.max(e.limit * 4, 4 * 1024 * 1024));
    expect([413, 0]).toContain(status);
    expect(t.snapshot()).toBe(before);
  });

  // The bare MDM and agent handlers answer from the Content-Length alone. Express's body parser
  // (control and Kandji APIs) refuses too, but answers only once the body has been read off, so
  // a client that never sends it meets the request timeout's 408 instead: closed either way.
  it.each(endpoints)('$name: a Content-Length of a terabyte, no body → 413 at once (bare handlers) or 408 (Express)', async (e) => {
    const head = `${e.method} ${e.path()} HTTP/1.1\r\nHost: x\r\n${Object.entries(e.headers()).map(([k, v]) => `${k}: ${v}\r\n`).join('')}Content-Length: 1099511627776\r\n\r\n`;
    const closed = await rawExchange(t, head, TIMEOUTS.requestMs + SLACK_MS * 2);
    expect(closed.status).toBe(e.express ? 408 : 413);
  });

  it('a Content-Length larger than the body sent, then silence → 408 when the request timeout bites', async () => {
    const before = t.snapshot();
    const closed = await rawExchange(t, `PUT /mdm/connect HTTP/1.1\r\nHost: x\r\nContent-Type: ${COMMAND_CONTENT_TYPE}\r\nContent-Length: 5000\r\n\r\n<plist>`, TIMEOUTS.requestMs + SLACK_MS * 2);
    expect(closed.status).toBe(408);
    expect(t.snapshot()).toBe(before);
  });

  it('a Content-Length smaller than the body sent: the rest is read as the next request and refused (400), the connection closed', async () => {
    const body = '<plist version="1.0"><dict><key>UDID</key><string>X</string></dict></plist>';
    const smuggled = `GET /sim/v1/devices HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth()}\r\n\r\n`;
    const closed = await rawExchange(t, `PUT /mdm/connect HTTP/1.1\r\nHost: x\r\nContent-Type: ${COMMAND_CONTENT_TYPE}\r\nContent-Length: 10\r\n\r\n${body}${smuggled}`, 5000);
    // The first answer is about the 10 bytes it was given; what follows is garbage to HTTP.
    expect(closed.status).toBe(400);
    expect(closed.received).toMatch(/HTTP\/1\.1 400 Bad Request\r\nConnection: close/);
  });

  it.each([
    ['Content-Length and Transfer-Encoding together', 'Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
    ['two different Content-Lengths', 'Content-Length: 5\r\nContent-Length: 6\r\n\r\nhello!'],
    ['a negative Content-Length', 'Content-Length: -1\r\n\r\n'],
    ['a Content-Length that is not a number', 'Content-Length: lots\r\n\r\n'],
    ['a chunk size that is not hex', 'Transfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n'],
    ['an obsolete line folding', 'X-Folded: a\r\n b\r\nContent-Length: 0\r\n\r\n'],
    ['a header name with a space', 'Bad Header: x\r\nContent-Length: 0\r\n\r\n'],
  ])('%s → 400 and the connection closed', async (_what, rest) => {
    const before = t.snapshot();
    const closed = await rawExchange(t, `PUT /mdm/connect HTTP/1.1\r\nHost: x\r\nContent-Type: ${COMMAND_CONTENT_TYPE}\r\n${rest}`, 5000);
    expect(closed.status).toBe(400);
    expect(t.snapshot()).toBe(before);
  });

  it('headers over 16 KB → 431 and closed', async () => {
    const closed = await rawExchange(t, `GET /sim/v1/clock HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth()}\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`, 5000);
    expect(closed.status).toBe(431);
  });
});

describe('slow and idle clients (timeouts: handshake 400 ms, headers 400 ms, request 800 ms, keep-alive 400 ms)', () => {
  it('a TCP connection that never starts TLS is closed after the handshake timeout', async () => {
    const closed = await whenClosed(await openTcp(t), TIMEOUTS.handshakeMs + SLACK_MS * 2);
    expect(closed.received).toBe('');
  });

  it('a TLS connection that never sends a request → 408 and closed', async () => {
    const closed = await whenClosed(await openTls(t), TIMEOUTS.headersMs + SLACK_MS * 2);
    expect(closed.status).toBe(408);
  });

  it('headers trickled a line at a time, never finished → 408 at the headers timeout, not when the trickle stops', async () => {
    const socket = await openTls(t);
    const closed = whenClosed(socket, TIMEOUTS.headersMs + SLACK_MS * 2);
    socket.write('GET /sim/v1/clock HTTP/1.1\r\nHost: x\r\n');
    const trickle = setInterval(() => socket.writable && socket.write('X-Slow: 1\r\n'), 50);
    const result = await closed.finally(() => clearInterval(trickle));
    expect(result.status).toBe(408);
  });

  it.each([
    ['MDM connect', `PUT /mdm/connect HTTP/1.1\r\nHost: x\r\nContent-Type: ${COMMAND_CONTENT_TYPE}\r\nContent-Length: 50000\r\n\r\n`],
    ['agent check-in', `POST ${AGENT_CHECKIN_PATH} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n`],
    ['control API', `PUT /sim/v1/devices/X/commands HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: {auth}\r\nContent-Length: 100000\r\n\r\n`],
  ])('%s: a body trickled a byte every 50 ms → 408 at the request timeout', async (_what, head) => {
    const before = t.snapshot();
    const socket = await openTls(t);
    const closed = whenClosed(socket, TIMEOUTS.requestMs + SLACK_MS * 2);
    socket.write(head.replace('{auth}', auth()));
    const trickle = setInterval(() => socket.writable && socket.write(' '), 50);
    const result = await closed.finally(() => clearInterval(trickle));
    expect(result.status).toBe(408);
    expect(t.errors).toEqual([]);
    expect(t.snapshot()).toBe(before);
  });

  it('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
    const socket = await openTls(t);
    const closed = whenClosed(socket, TIMEOUTS.keepAliveMs + SLACK_MS * 2);
    socket.write(`GET /sim/v1/clock HTTP/1.1\r\nHost: x\r\nAuthorization: ${auth()}\r\n\r\n`);
    const result = await closed;
    expect(result.status).toBe(200);
    expect(result.received).toMatch(/keep-alive/i);
  });

  it(`${scale(200, 1000)} slow-loris connections at once: others are served meanwhile, and all of them are closed`, async () => {
    const n = scale(200, 1000);
    const sockets = await Promise.all(Array.from({ length: n }, () => openTls(t)));
    const closed = sockets.map((s) => whenClosed(s, TIMEOUTS.headersMs + SLACK_MS * 4));
    for (const s of sockets) s.write('GET /sim/v1/clock HTTP/1.1\r\nHost: x\r\n');
    // While they hang, a real device and the API still get answers.
    await t.expectStillServes();
    const results = await Promise.all(closed);
    expect(results.every((r) => r.status === 408 || r.status === undefined)).toBe(true);
    await t.expectStillServes();
  }, 60_000);
});

describe('many concurrent connections', () => {
  const N = scale(1000, 5000);

  it(`${N} idle TCP connections held open: the server still answers, then closes every one`, async () => {
    const sockets = [];
    for (let i = 0; i < N; i += 250) sockets.push(...(await Promise.all(Array.from({ length: Math.min(250, N - i) }, () => openTcp(t)))));
    await t.expectStillServes();
    const closed = sockets.map((s) => whenClosed(s, 30_000));
    await Promise.all(closed);
    await t.expectStillServes();
  }, 120_000);

  it(`${N} TLS clients each sending a request at the same moment: every one answered or closed, none left hanging`, async () => {
    const before = t.snapshot();
    // One socket per client (no shared agent), all requests in flight together: MDM connects for unknown devices and API reads.
    const outcomes = await Promise.all(
      Array.from({ length: N }, (_, i) =>
        new Promise<number>((resolve) => {
          const mdm = i % 2 === 0;
          const body = mdm ? `<plist version="1.0"><dict><key>UDID</key><string>FLOOD-${i}</string><key>Status</key><string>Idle</string></dict></plist>` : undefined;
          const req = request(new URL(mdm ? '/mdm/connect' : '/sim/v1/clock', t.server.url), {
            method: mdm ? 'PUT' : 'GET',
            agent: false,
            ca: t.http.agent.options.ca,
            headers: mdm ? { 'content-type': COMMAND_CONTENT_TYPE, 'content-length': String(body!.length) } : { authorization: auth() },
          }, (res) => {
            res.resume();
            res.on('end', () => resolve(res.statusCode!));
          });
          req.setTimeout(60_000, () => req.destroy());
          req.on('error', () => resolve(0));
          req.end(body);
        }),
      ),
    );
    const counts = outcomes.reduce<Record<number, number>>((m, s) => ({ ...m, [s]: (m[s] ?? 0) + 1 }), {});
    // MDM connects without a signature are 400s; API reads 200s; a connection the server closed (handshake timeout under load) is 0.
    expect(Object.keys(counts).map(Number).every((s) => s === 400 || s === 200 || s === 0)).toBe(true);
    expect((counts[400] ?? 0) + (counts[200] ?? 0)).toBeGreaterThan(N / 2);
    expect(t.errors).toEqual([]);
    expect(t.snapshot()).toBe(before);
    await t.expectStillServes();
  }, 180_000);
});
