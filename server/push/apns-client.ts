/**
 * An APNs provider API client, as an MDM server uses one: HTTP/2 over TLS, authenticated by
 * the push certificate (mutual TLS), one long-lived connection carrying many requests.
 *
 * Every send answers a result value, never a throw: an HTTP answer from APNs (200, or an error
 * status with Apple's `{reason, timestamp}` body), or status 0 when no answer came (refused
 * connection, TLS failure, GOAWAY, stream reset, timeout, close()). The caller decides what to
 * retry; this layer only retries what provably never reached the server (REFUSED_STREAM).
 */
import * as http2 from 'node:http2';

export interface ApnsClientOptions {
  /** Base URL of an APNs-compatible provider API, e.g. https://127.0.0.1:2197 or https://api.push.apple.com */
  url: string;
  /** The client certificate (push.pem). */
  certPem: string;
  /** Its private key. */
  keyPem: string;
  /** Extra trusted roots (the mdmsim CA); when given, only these are trusted. */
  ca?: string | string[];
  /** Real time, not clock time: network timeouts are real even on a virtual clock. Default 10 000. */
  requestTimeoutMs?: number;
  /** Own cap on in-flight requests (the server's SETTINGS may lower it); the rest wait in a FIFO. Default 500. */
  maxConcurrentStreams?: number;
}

export interface ApnsRequestHeaders {
  topic?: string;
  pushType?: string;
  /** Epoch seconds; 0 = deliver now or never. */
  expiration?: number;
  priority?: 10 | 5 | 1;
  apnsId?: string;
  collapseId?: string;
}

export type ApnsSendResult =
  | { ok: true; status: 200; apnsId: string }
  /** An HTTP answer from APNs. */
  | { ok: false; status: number; reason?: string; timestamp?: number; apnsId?: string }
  /** No answer: connection refused, GOAWAY, reset, timeout, TLS failure, client closed. */
  | { ok: false; status: 0; error: string };

export interface ApnsSender {
  send(token: string, payload: string, headers?: ApnsRequestHeaders): Promise<ApnsSendResult>;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 10_000;
export const DEFAULT_MAX_CONCURRENT_STREAMS = 500;
/** A stream the server refused was never processed; it may go again, but not forever. */
const MAX_REFUSED_REQUEUES = 3;
/** Error bodies are a small JSON object; anything longer is not worth keeping. */
const MAX_ERROR_BODY_BYTES = 8192;

const { NGHTTP2_CANCEL, NGHTTP2_REFUSED_STREAM } = http2.constants;

interface Job {
  token: string;
  payload: string;
  headers: ApnsRequestHeaders;
  resolve: (result: ApnsSendResult) => void;
  settled: boolean;
  refusals: number;
  stream?: http2.ClientHttp2Stream;
  /** The session its stream is on, while it is on one. */
  on?: SessionState;
  timer?: NodeJS.Timeout;
}

/** What a session learned about its own end, so that a stream failing with it can say why. */
interface SessionState {
  /** The TLS handshake completed (from our side). */
  connected: boolean;
  /** SETTINGS arrived: its stream limit is known and requests may go. */
  ready: boolean;
  /** After a GOAWAY no new stream may start on it. */
  goaway?: string;
  error?: string;
  connectTimer?: NodeJS.Timeout;
  /** Our streams open on it. */
  streams: number;
}

export class ApnsClient implements ApnsSender {
  private readonly url: URL;
  private readonly certPem: string;
  private readonly keyPem: string;
  private readonly ca: string | string[] | undefined;
  private readonly timeoutMs: number;
  private readonly maxStreams: number;

  /** Where new requests go; older sessions may still finish their streams (after a GOAWAY). */
  private session: http2.ClientHttp2Session | undefined;
  private readonly sessions = new Map<http2.ClientHttp2Session, SessionState>();
  /** FIFO of sends not yet on the wire; `head` avoids an O(n) shift per start. */
  private queue: Job[] = [];
  private head = 0;
  private readonly active = new Set<Job>();
  private closed = false;
  private closing: Promise<void> | undefined;

  constructor(options: ApnsClientOptions) {
    let url: URL;
    try {
      url = new URL(options.url);
    } catch {
      throw new TypeError(`ApnsClient url must be an absolute URL like https://api.push.apple.com; got ${JSON.stringify(options.url)}`);
    }
    if (url.protocol !== 'https:') throw new TypeError(`ApnsClient url must be https (APNs is HTTP/2 over TLS); got ${url.protocol}`);
    if (!options.certPem || !options.keyPem) throw new TypeError('ApnsClient needs certPem and keyPem: the push certificate and its private key (push.pem, push-key.pem)');
    this.url = url;
    this.certPem = options.certPem;
    this.keyPem = options.keyPem;
    this.ca = options.ca;
    this.timeoutMs = positive(options.requestTimeoutMs, DEFAULT_REQUEST_TIMEOUT_MS, 'requestTimeoutMs');
    this.maxStreams = Math.floor(positive(options.maxConcurrentStreams, DEFAULT_MAX_CONCURRENT_STREAMS, 'maxConcurrentStreams'));
  }

  send(token: string, payload: string, headers: ApnsRequestHeaders = {}): Promise<ApnsSendResult> {
    if (this.closed) return Promise.resolve(closedResult());
    return new Promise((resolve) => {
      this.queue.push({ token, payload, headers, resolve, settled: false, refusals: 0 });
      this.pump();
    });
  }

  /** Requests waiting for a free stream (for diagnostics and tests). */
  get queued(): number {
    return this.queue.length - this.head;
  }

  /** Requests on the wire. */
  get inFlight(): number {
    return this.active.size;
  }

  /** Settles every pending send with `client closed` and closes every connection. */
  close(): Promise<void> {
    if (this.closing) return this.closing;
    this.closed = true;
    this.failQueued(closedResult());
    for (const job of [...this.active]) this.finish(job, closedResult(), true);
    const sessions = [...this.sessions.keys()];
    this.session = undefined;
    this.closing = Promise.all(sessions.map((s) => destroyed(s))).then(() => undefined);
    return this.closing;
  }

  // ---- scheduling ------------------------------------------------------------------------

  /** Starts queued requests while there is room on a ready session. */
  private pump(): void {
    while (!this.closed && this.head < this.queue.length) {
      const next = this.queue[this.head]!;
      if (next.settled) {
        this.head++;
        continue;
      }
      const session = this.usableSession();
      const state = this.sessions.get(session)!;
      // Until the server's SETTINGS arrive its stream limit is unknown, and streams past it
      // would be refused: wait (one round trip, once per connection).
      if (!state.ready) break;
      // Our own cap counts every stream, including those finishing on a session that got a
      // GOAWAY; the server's limit counts its own session's.
      if (this.active.size >= this.maxStreams || state.streams >= remoteLimit(session)) break;
      this.head++;
      this.start(next, session, state);
    }
    if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head);
      this.head = 0;
    }
  }

  // ---- one request -----------------------------------------------------------------------

  private start(job: Job, session: http2.ClientHttp2Session, state: SessionState): void {
    let stream: http2.ClientHttp2Stream;
    try {
      stream = session.request(requestHeaders(job.token, job.headers));
    } catch (error) {
      // Node throws synchronously for a session that is closing and for header values it
      // cannot send. Only the former is worth another session.
      if (session.closed || session.destroyed) {
        this.retire(session);
        this.requeue(job);
      } else {
        this.finish(job, noAnswer(`request not sent: ${messageOf(error)}`));
      }
      return;
    }
    job.stream = stream;
    job.on = state;
    state.streams++;
    this.active.add(job);
    job.timer = setTimeout(() => this.finish(job, noAnswer(`no answer from ${this.url.host} within ${this.timeoutMs} ms`), true), this.timeoutMs);

    let status: number | undefined;
    let apnsId: string | undefined;
    let streamError: string | undefined;
    const chunks: Buffer[] = [];
    let bytes = 0;
    stream.on('response', (h) => {
      status = Number(h[':status']);
      const id = h['apns-id'];
      apnsId = typeof id === 'string' ? id : undefined;
    });
    stream.on('data', (chunk: Buffer) => {
      if (bytes < MAX_ERROR_BODY_BYTES) chunks.push(chunk);
      bytes += chunk.length;
    });
    stream.on('error', (error) => {
      streamError = messageOf(error);
    });
    const answer = () => {
      if (status !== undefined) this.finish(job, resultOf(status, apnsId ?? job.headers.apnsId, Buffer.concat(chunks)));
    };
    stream.on('end', answer);
    stream.on('close', () => {
      if (job.settled) return;
      // Headers came but the body was cut short: APNs still answered with a status.
      if (status !== undefined) return answer();
      if (stream.rstCode === NGHTTP2_REFUSED_STREAM && job.refusals < MAX_REFUSED_REQUEUES) {
        job.refusals++;
        this.unstart(job);
        this.requeue(job);
        return;
      }
      const reset = stream.rstCode ? `${this.url.host} reset the stream without an answer (${errorCodeName(stream.rstCode)})` : undefined;
      const why = state.goaway ?? state.error ?? reset ?? streamError ?? `the stream closed without an answer from ${this.url.host}`;
      this.finish(job, noAnswer(why));
    });
    stream.end(job.payload);
  }

  /**
   * `cancel`: the stream is given up on (timeout, close()) and is reset. A stream that was
   * answered is never reset: it closes by itself, and a server counts resets against a client
   * (rapid-reset protection ends the connection with a GOAWAY).
   */
  private finish(job: Job, result: ApnsSendResult, cancel = false): void {
    if (job.settled) return;
    job.settled = true;
    const stream = job.stream;
    this.unstart(job);
    if (cancel && stream && !stream.closed && !stream.destroyed) stream.close(NGHTTP2_CANCEL);
    job.resolve(result);
    this.pump();
  }

  private unstart(job: Job): void {
    if (job.timer) clearTimeout(job.timer);
    job.timer = undefined;
    if (job.on) job.on.streams--;
    job.on = undefined;
    this.active.delete(job);
  }

  /** Answers every send still waiting for a stream; none of them reached the server. */
  private failQueued(result: ApnsSendResult): void {
    // Taken out first: finishing one pumps, and must not find the others and connect for them.
    const waiting = this.queue.slice(this.head);
    this.queue = [];
    this.head = 0;
    for (const job of waiting) this.finish(job, result);
  }

  /** Back to the front of the queue: it never reached the server, and it was first in line. */
  private requeue(job: Job): void {
    job.stream = undefined;
    if (this.head > 0) this.queue[--this.head] = job;
    else this.queue.unshift(job);
    queueMicrotask(() => this.pump());
  }

  // ---- the connection --------------------------------------------------------------------

  private usableSession(): http2.ClientHttp2Session {
    const s = this.session;
    if (s && !s.closed && !s.destroyed && this.sessions.get(s)?.goaway === undefined) return s;
    return this.connect();
  }

  private connect(): http2.ClientHttp2Session {
    const session = http2.connect(this.url.origin, { cert: this.certPem, key: this.keyPem, ca: this.ca });
    const state: SessionState = { connected: false, ready: false, streams: 0 };
    this.sessions.set(session, state);
    this.session = session;

    // A connection that never completes must not hold the queue forever.
    state.connectTimer = setTimeout(() => {
      session.destroy(new Error(`no HTTP/2 connection to ${this.url.host} within ${this.timeoutMs} ms`));
    }, this.timeoutMs);

    session.on('connect', () => {
      state.connected = true;
    });
    session.on('remoteSettings', () => {
      if (!state.ready) {
        state.ready = true;
        clearTimeout(state.connectTimer);
      }
      // A raised limit frees room; a lowered one just stops new starts.
      this.pump();
    });
    session.on('goaway', (code: number, _lastStreamId: number, opaque?: Buffer) => {
      // APNs explains a GOAWAY in JSON ({"reason":"Shutdown"}); show it when there is one.
      const reason = reasonIn(opaque);
      state.goaway = `${this.url.host} sent GOAWAY (${errorCodeName(code)}${reason ? `, ${reason}` : ''})`;
      // Turned away before any request: connecting again at once would loop; the waiting
      // sends get the reason instead, and the caller's retry policy decides.
      if (!state.ready && this.session === session) {
        this.session = undefined;
        this.failQueued(noAnswer(state.goaway));
      }
      this.retire(session);
    });
    // Without a listener a session error would be an uncaught exception: record it, and let
    // each stream on the session fail with it.
    session.on('error', (error) => {
      state.error ??= connectionError(this.url.host, error);
    });
    session.on('close', () => {
      clearTimeout(state.connectTimer);
      this.retire(session);
      this.sessions.delete(session);
      // Requests that waited for this connection get its error: another connection attempt
      // right away would most likely fail the same way, and the caller owns retries.
      if (!state.ready && !this.closed && this.session === undefined) {
        this.failQueued(noAnswer(state.goaway ?? state.error ?? this.earlyCloseReason(state)));
      }
      this.pump();
    });
    return session;
  }

  private earlyCloseReason(state: SessionState): string {
    // A server that rejects the client certificate under TLS 1.3 does so after the client's
    // side of the handshake is done, often without an alert the client gets to see.
    return state.connected
      ? `${this.url.host} closed the connection right after the TLS handshake: does it trust the push certificate (and is it an HTTP/2 server)?`
      : `${this.url.host} closed the connection during the TLS handshake`;
  }

  /** No new streams on this session; the next send connects anew. */
  private retire(session: http2.ClientHttp2Session): void {
    if (this.session === session) this.session = undefined;
    queueMicrotask(() => this.pump());
  }
}

function remoteLimit(session: http2.ClientHttp2Session): number {
  // A limit of 0 would hold the queue forever; one stream still goes, and its answer (or
  // refusal) says what is wrong.
  return Math.max(1, session.remoteSettings?.maxConcurrentStreams ?? Infinity);
}

function requestHeaders(token: string, h: ApnsRequestHeaders): http2.OutgoingHttpHeaders {
  const out: http2.OutgoingHttpHeaders = {
    ':method': 'POST',
    // A real token is hex; encoding keeps a malformed one from reshaping the path.
    ':path': `/3/device/${encodeURIComponent(token)}`,
    'content-type': 'application/json',
  };
  if (h.topic !== undefined) out['apns-topic'] = h.topic;
  if (h.pushType !== undefined) out['apns-push-type'] = h.pushType;
  if (h.expiration !== undefined) out['apns-expiration'] = String(h.expiration);
  if (h.priority !== undefined) out['apns-priority'] = String(h.priority);
  if (h.apnsId !== undefined) out['apns-id'] = h.apnsId;
  if (h.collapseId !== undefined) out['apns-collapse-id'] = h.collapseId;
  return out;
}

function resultOf(status: number, apnsId: string | undefined, body: Buffer): ApnsSendResult {
  if (status === 200) return { ok: true, status: 200, apnsId: apnsId ?? '' };
  const result: { ok: false; status: number; reason?: string; timestamp?: number; apnsId?: string } = { ok: false, status };
  // Lenient: a proxy's HTML page or an empty body still tells the status.
  const json = parseObject(body);
  if (typeof json?.reason === 'string') result.reason = json.reason;
  const timestamp = json?.timestamp;
  if (typeof timestamp === 'number' && Number.isFinite(timestamp)) result.timestamp = timestamp;
  else if (typeof timestamp === 'string' && /^\d{1,16}$/.test(timestamp)) result.timestamp = Number(timestamp);
  if (apnsId !== undefined) result.apnsId = apnsId;
  return result;
}

function parseObject(body: Buffer): Record<string, unknown> | undefined {
  if (body.length === 0) return undefined;
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function reasonIn(opaque: Buffer | undefined): string | undefined {
  if (!opaque || opaque.length === 0) return undefined;
  const reason = parseObject(opaque)?.reason;
  return typeof reason === 'string' ? reason : undefined;
}

function connectionError(host: string, error: unknown): string {
  const code = (error as { code?: unknown })?.code;
  const message = messageOf(error);
  if (code === 'ECONNREFUSED') return `connection to ${host} refused (${message}): is the APNs server running?`;
  if (typeof code === 'string' && /^(UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_|ERR_TLS_CERT_ALTNAME)/.test(code)) {
    return `TLS: ${host}'s certificate is not trusted (${code}: ${message}); pass the CA that issued it as ca`;
  }
  if (typeof code === 'string' && /^ERR_SSL_.*ALERT/.test(code)) {
    return `TLS: ${host} refused the handshake (${code}: ${message}); does it trust the push certificate?`;
  }
  return typeof code === 'string' && !message.includes(code) ? `${code}: ${message}` : message;
}

function messageOf(error: unknown): string {
  // Not instanceof Error: errors from another realm (a vm context, jest) are errors too.
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : String(error);
}

/** RFC 9113 §7 error codes, by the names people search for. */
const ERROR_CODES = [
  'NO_ERROR',
  'PROTOCOL_ERROR',
  'INTERNAL_ERROR',
  'FLOW_CONTROL_ERROR',
  'SETTINGS_TIMEOUT',
  'STREAM_CLOSED',
  'FRAME_SIZE_ERROR',
  'REFUSED_STREAM',
  'CANCEL',
  'COMPRESSION_ERROR',
  'CONNECT_ERROR',
  'ENHANCE_YOUR_CALM',
  'INADEQUATE_SECURITY',
  'HTTP_1_1_REQUIRED',
];

function errorCodeName(code: number): string {
  return ERROR_CODES[code] ?? `error code ${code}`;
}

function noAnswer(error: string): ApnsSendResult {
  return { ok: false, status: 0, error };
}

function closedResult(): ApnsSendResult {
  return noAnswer('client closed');
}

function positive(value: number | undefined, fallback: number, name: string): number {
  if (value === undefined) return fallback;
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`ApnsClient ${name} must be a positive number; got ${value}`);
  return value;
}

function destroyed(session: http2.ClientHttp2Session): Promise<void> {
  if (session.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    session.once('close', () => resolve());
    session.destroy();
  });
}
