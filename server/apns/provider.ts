/**
 * The provider API: Apple's HTTP/2-over-TLS endpoint that MDM servers push to. One port, two
 * ways in: a client certificate (the mdmsim CA's; its UID is the topic) or an ES256 provider
 * token. Every request runs the ordered checks of checks.ts; an accepted one goes to the hub.
 */
import { randomUUID } from 'node:crypto';
import {
  constants as h2,
  createSecureServer,
  type Http2SecureServer,
  type Http2Session,
  type IncomingHttpHeaders,
  type ServerHttp2Stream,
} from 'node:http2';
import type { AddressInfo, Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Clock } from '../../protocol/clock';
import { isDeviceTokenHex, rejectionBody, storageDeadline, type ApnsRejection } from '../../protocol/apns';
import { readClientCertificate, type ApnsEnvironment } from './certificate';
import { BODY_LIMIT, newConnectionAuth, runChecks, type CheckDeps, type ConnectionAuth, type PushRequest } from './checks';
import type { ApnsFaults, ProviderState } from './faults';
import type { ApnsHub } from './hub';
import type { ProviderKeys } from './keys';

/** Apple advertises about this many concurrent streams per connection. */
export const MAX_CONCURRENT_STREAMS = 1000;
const DETAIL_HEADER = 'mdmsim-detail';

export interface ProviderServerOptions {
  host: string;
  port: number;
  tls: { key: string; cert: string };
  /** Client certificates must chain to this (the mdmsim CA). */
  caPem: string;
  hub: ApnsHub;
  keys: ProviderKeys;
  faults: ApnsFaults;
  clock: Clock;
  environment?: ApnsEnvironment;
  onError: (error: unknown) => void;
}

export class ProviderServer {
  private readonly sessions = new Map<Http2Session, ConnectionAuth | undefined>();
  private readonly deps: CheckDeps;
  private listening = true;
  private state: ProviderState = 'up';

  private constructor(
    private readonly server: Http2SecureServer,
    private readonly options: ProviderServerOptions,
    readonly port: number,
    readonly url: string,
  ) {
    this.deps = { hub: options.hub, keys: options.keys, faults: options.faults, environment: options.environment ?? 'production' };
  }

  static async start(options: ProviderServerOptions): Promise<ProviderServer> {
    const server = createSecureServer({
      key: options.tls.key,
      cert: options.tls.cert,
      ca: options.caPem,
      // Asked for, not required: token-auth clients have none, and a wrong one is answered
      // BadCertificate (403) rather than a handshake failure nobody can read.
      requestCert: true,
      rejectUnauthorized: false,
      // Let HTTP/1.1 clients finish the handshake so they can be told, in HTTP/1.1, what is
      // wrong (see refuseHttp1) instead of failing with a bare TLS alert.
      allowHTTP1: true,
      minVersion: 'TLSv1.2',
      settings: { maxConcurrentStreams: MAX_CONCURRENT_STREAMS },
    });
    await listen(server, options.port, options.host);
    const port = (server.address() as AddressInfo).port;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
    const provider = new ProviderServer(server, options, port, `https://${host}:${port}`);
    provider.wire();
    return provider;
  }

  private wire(): void {
    const { server } = this;
    server.on('secureConnection', (socket: TLSSocket) => {
      if (socket.alpnProtocol !== 'h2') refuseHttp1(socket);
    });
    server.on('session', (session) => this.onSession(session));
    server.on('stream', (stream: ServerHttp2Stream, headers: IncomingHttpHeaders, _flags: number, rawHeaders: string[]) => {
      try {
        this.onStream(stream, headers, rawHeaders);
      } catch (error) {
        this.options.onError(error);
        respondRejection(stream, { status: 500, reason: 'InternalServerError', detail: 'mdmsim failed on this request; see its log' }, randomUUID());
      }
    });
    server.on('sessionError', () => undefined);
    server.on('tlsClientError', () => undefined);
    server.on('error', (error) => this.options.onError(error));
  }

  /** Open connections to the provider API. */
  get connectionCount(): number {
    return this.sessions.size;
  }

  /** Applies the provider fault: stop listening, send GOAWAY to everyone, or come back. */
  async setState(state: ProviderState): Promise<void> {
    if (state === this.state) return;
    this.state = state;
    if (state === 'refused') {
      for (const session of this.sessions.keys()) session.destroy();
      if (this.listening) {
        this.listening = false;
        // The port closes at once; not waiting for the close callback, which a half-open
        // handshake could hold up, keeps the fault API answering promptly.
        this.server.close();
      }
      return;
    }
    if (!this.listening) {
      await listen(this.server, this.port, this.options.host);
      this.listening = true;
    }
    if (state === 'goaway') for (const session of this.sessions.keys()) goAway(session, 'Shutdown');
  }

  async close(): Promise<void> {
    for (const session of this.sessions.keys()) goAway(session, 'Shutdown');
    const closed = this.listening ? new Promise<void>((r) => this.server.close(() => r())) : Promise.resolve();
    this.listening = false;
    // Give clients a moment to read the GOAWAY, then cut what is left.
    const cut = setTimeout(() => {
      for (const session of this.sessions.keys()) session.destroy();
    }, 100);
    await closed;
    clearTimeout(cut);
  }

  private onSession(session: Http2Session): void {
    this.sessions.set(session, undefined);
    session.on('close', () => this.sessions.delete(session));
    session.on('error', () => undefined);
    const faults = this.options.faults.current;
    if (this.state === 'goaway') {
      goAway(session, 'Shutdown');
      return;
    }
    if (faults.idleTimeoutMs > 0) session.setTimeout(faults.idleTimeoutMs, () => goAway(session, 'IdleTimeout'));
  }

  private authOf(session: Http2Session): ConnectionAuth {
    let auth = this.sessions.get(session);
    if (auth) return auth;
    const socket = session.socket as TLSSocket;
    const x509 = socket.getPeerX509Certificate?.();
    auth = newConnectionAuth(x509 ? readClientCertificate(x509, socket.authorized, socket.authorizationError?.toString()) : undefined);
    this.sessions.set(session, auth);
    return auth;
  }

  private onStream(stream: ServerHttp2Stream, headers: IncomingHttpHeaders, rawHeaders: string[]): void {
    stream.on('error', () => undefined);
    if (this.state === 'goaway') {
      respondRejection(stream, { status: 503, reason: 'Shutdown', detail: 'the provider API is down (fault provider=goaway)' }, randomUUID());
      return;
    }
    const counts = headerCounts(rawHeaders);
    const req: PushRequest = {
      method: String(headers[':method'] ?? ''),
      path: String(headers[':path'] ?? ''),
      header: (name) => {
        const v = headers[name];
        return Array.isArray(v) ? v[0] : v;
      },
      counts,
      now: this.options.clock.now(),
      auth: this.authOf(stream.session!),
    };
    const early = runChecks('headers', req, this.deps);
    if (early) {
      this.reject(stream, req, early);
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    stream.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size >= BODY_LIMIT) {
        // Past the limit: answer now and keep nothing more (the size check's verdict cannot change).
        done = true;
        req.body = Buffer.alloc(size);
        this.finish(stream, req);
        return;
      }
      chunks.push(chunk);
    });
    stream.on('end', () => {
      if (done) return;
      done = true;
      req.body = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      this.finish(stream, req);
    });
  }

  private finish(stream: ServerHttp2Stream, req: PushRequest): void {
    req.now = this.options.clock.now();
    const failed = runChecks('body', req, this.deps);
    if (failed) {
      this.reject(stream, req, failed);
      return;
    }
    const apnsId = req.apnsId ?? randomUUID();
    const headers: Record<string, string | number> = { ':status': 200, 'apns-id': apnsId };
    if (this.deps.environment === 'development') headers['apns-unique-id'] = randomUUID();
    if (!stream.destroyed) stream.respond(headers, { endStream: true });
    const deadline = storageDeadline(req.expiration, req.now);
    this.options.hub.accept({ apnsId, token: req.token!, topic: req.topic!, payload: req.body!.toString('utf8'), priority: req.priority ?? 10, deadline });
  }

  private reject(stream: ServerHttp2Stream, req: PushRequest, r: ApnsRejection): void {
    const apnsId = req.apnsId ?? randomUUID();
    respondRejection(stream, r, apnsId);
    this.options.hub.recordRejection({ token: wellFormed(req.token), topic: req.topic, apnsId, status: r.status, reason: r.reason, detail: r.detail });
  }
}

const NO_REPEATS: ReadonlyMap<string, number> = new Map();

/**
 * How often each header name occurs, for the DuplicateHeaders check. Names arrive lower-case
 * in HTTP/2 and a request rarely repeats one: a pairwise look at its ~10 names finds that
 * without a Map per request.
 */
function headerCounts(rawHeaders: string[]): ReadonlyMap<string, number> {
  const n = rawHeaders.length;
  let plain = true;
  for (let i = 0; i < n && plain; i += 2) {
    const name = rawHeaders[i]!;
    if (name !== name.toLowerCase()) plain = false;
    for (let j = i + 2; j < n && plain; j += 2) if (rawHeaders[j] === name) plain = false;
  }
  if (plain) return NO_REPEATS;
  const counts = new Map<string, number>();
  for (let i = 0; i < n; i += 2) {
    const name = rawHeaders[i]!.toLowerCase();
    counts.set(name, (counts.get(name) ?? 0) + 1);
  }
  return counts;
}

function wellFormed(token: string | undefined): string | undefined {
  return isDeviceTokenHex(token) ? token : undefined;
}

function respondRejection(stream: ServerHttp2Stream, r: Pick<ApnsRejection, 'status' | 'reason' | 'detail' | 'timestamp'>, apnsId: string): void {
  if (stream.destroyed || stream.headersSent) return;
  stream.respond({
    ':status': r.status,
    'apns-id': apnsId,
    'content-type': 'application/json; charset=utf-8',
    [DETAIL_HEADER]: headerSafe(r.detail),
  });
  stream.end(rejectionBody(r as ApnsRejection));
}

/** GOAWAY with Apple's JSON reason in the debug data, then a graceful close. */
function goAway(session: Http2Session, reason: 'Shutdown' | 'IdleTimeout'): void {
  if (session.destroyed || session.closed) return;
  try {
    session.goaway(h2.NGHTTP2_NO_ERROR, 0, Buffer.from(JSON.stringify({ reason })));
    session.close();
  } catch {
    session.destroy();
  }
}

/** An HTTP/1.1 client gets a readable answer instead of a silent hang-up. */
function refuseHttp1(socket: Socket): void {
  const body = JSON.stringify({ reason: 'HTTP/2 required', detail: 'the APNs provider API speaks HTTP/2 only (as Apple\'s does): use an HTTP/2 client, e.g. curl --http2' });
  socket.on('error', () => undefined);
  socket.end(`HTTP/1.1 505 HTTP Version Not Supported\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
}

function headerSafe(text: string): string {
  return text.replace(/…/g, '...').replace(/[^\x20-\x7e]/g, '?').slice(0, 500);
}

function listen(server: Http2SecureServer, port: number, host: string): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}
