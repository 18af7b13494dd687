/**
 * Shared pieces of the abuse suite (test/abuse): a real server on port 0 with a bystander Mac
 * whose state every case compares before and after, raw TLS sockets for the requests a well
 * behaved client would never send, and the scale knob.
 *
 * `npm test` runs the CI size; `npm run test:abuse` sets ABUSE_SCALE=full.
 */
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { connect as tcpConnect, type Socket } from 'node:net';
import { commands } from '../../protocol/command';
import type { ServerOptions } from '../../server/server';
import { POLICIES_OFF } from '../helpers/agent';
import { TestMac } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';

export const FULL = process.env.ABUSE_SCALE === 'full';

/** The CI size or, under ABUSE_SCALE=full, the full one. */
export function scale(ci: number, full: number): number {
  return FULL ? full : ci;
}

export const BYSTANDER_COMMAND = 'BYSTANDER-CMD';

export interface AbuseServer extends TestServer {
  /** An enrolled Mac no case addresses: its state must never change. */
  bystander: TestMac;
  /** Its enrollment, queue and results, as JSON. */
  snapshot(): string;
  /** The server still works: the control API answers, and the bystander gets its queued command. */
  expectStillServes(): Promise<void>;
}

/** A server with the agent policies off (the queue holds only what a test puts there) and a bystander. */
export async function startAbuseServer(options: ServerOptions = {}): Promise<AbuseServer> {
  const t = await startTestServer({ ...POLICIES_OFF, ...options });
  const bystander = new TestMac(t.http);
  await bystander.enroll();
  t.server.service.enqueue([bystander.udid], commands.ProfileList({}, { CommandUUID: BYSTANDER_COMMAND }));
  const snapshot = () => {
    const s = t.server.store;
    return JSON.stringify({
      enrollment: s.getEnrollment(bystander.udid),
      queue: s.listQueue(bystander.udid).map((q) => [q.commandUUID, q.requestType]),
      results: s.listResults({ id: bystander.udid }).map((r) => [r.commandUUID, r.status]),
      tokenOwner: s.getEnrollment(bystander.udid)?.token && s.enrollmentIdForToken(s.getEnrollment(bystander.udid)!.token!),
    });
  };
  return {
    ...t,
    bystander,
    snapshot,
    async expectStillServes() {
      const clock = await t.http.api('GET', '/sim/v1/clock', t.token);
      expect(clock.status).toBe(200);
      // The bystander is served its command and leaves it queued (no ack): still there for the next check.
      expect((await bystander.idle())?.CommandUUID).toBe(BYSTANDER_COMMAND);
    },
  };
}

/** The port the server's HTTPS listens on. */
export function portOf(t: TestServer): number {
  return Number(new URL(t.server.url).port);
}

/** A TLS connection to the server, handshake done; what it receives is recorded from the start (see whenClosed). */
export function openTls(t: TestServer): Promise<TLSSocket> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect({ host: '127.0.0.1', port: portOf(t), ca: t.http.agent.options.ca, servername: 'localhost' }, () => resolve(socket));
    record(socket);
    socket.once('error', reject);
  });
}

/** A plain TCP connection to the HTTPS port that never starts TLS; recorded from the start. */
export function openTcp(t: TestServer): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = tcpConnect(portOf(t), '127.0.0.1', () => resolve(socket));
    record(socket);
    socket.once('error', reject);
  });
}

export interface Closed {
  /** Everything the server sent before it closed. */
  received: string;
  /** The HTTP status of the first answer, if one came. */
  status?: number;
  /** Wall time from the call to whenClosed to the close (ms); 0 if it had closed already. */
  afterMs: number;
}

interface Recording {
  received: string;
  closed: Promise<number>;
}
const recordings = new WeakMap<Socket, Recording>();

/** Starts keeping what a socket receives and when it closes (errors, such as a reset, count as a close). */
function record(socket: Socket): Recording {
  let r = recordings.get(socket);
  if (r) return r;
  const rec: Recording = { received: '', closed: new Promise((resolve) => socket.once('close', () => resolve(Date.now()))) };
  socket.on('data', (chunk: Buffer) => (rec.received += chunk.toString('latin1')));
  socket.on('error', () => {});
  recordings.set(socket, rec);
  return rec;
}

/**
 * Resolves when the server has closed `socket` (rejects after `timeoutMs`): what it sent, and
 * the status of its first answer. A socket from openTls/openTcp is recorded from its opening,
 * so a close that happened before this call is seen too.
 */
export async function whenClosed(socket: Socket, timeoutMs = 10_000): Promise<Closed> {
  const started = Date.now();
  const rec = record(socket);
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the connection open for ${timeoutMs} ms; received so far: ${JSON.stringify(rec.received.slice(0, 200))}`));
    }, timeoutMs);
  });
  try {
    const at = await Promise.race([rec.closed, timedOut]);
    const m = /^HTTP\/1\.1 (\d{3})/.exec(rec.received);
    return { received: rec.received, status: m ? Number(m[1]) : undefined, afterMs: Math.max(0, at - started) };
  } finally {
    clearTimeout(timer);
  }
}

/** Writes raw bytes on a new TLS connection and waits for the server to answer and close (or for `timeoutMs`). */
export async function rawExchange(t: TestServer, bytes: string | Buffer, timeoutMs = 10_000): Promise<Closed> {
  const socket = await openTls(t);
  const closed = whenClosed(socket, timeoutMs);
  socket.write(bytes);
  return closed;
}

/** The JSON error body of an answer: mdmsim's `{error: {code, message}}` or DRF's `{detail}`. */
export function errorOf(body: Buffer | string): { code?: string; message: string } {
  const json = JSON.parse(body.toString()) as { error?: { code: string; message: string }; detail?: string };
  if (json.error) return json.error;
  if (typeof json.detail === 'string') return { message: json.detail };
  throw new Error(`not an error body: ${body.toString().slice(0, 200)}`);
}
