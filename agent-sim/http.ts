/**
 * HTTP for a fleet: one keep-alive connection pool per set of trusted CAs (in practice one: the
 * `--ca` the fleet was given, which is also the enrollment profile's anchor), shared by every
 * Mac, so that 10,000 Macs reuse a bounded set of sockets. Answers are whole bodies.
 *
 * The pools are undici's rather than node:http's: a fleet's work is almost all small requests
 * on warm connections (an agent check-in every 15 minutes per Mac), where node:http's client
 * spends more of the fleet's core on its own bookkeeping (ClientRequest, IncomingMessage,
 * agent queues) than on TLS; undici does the same requests with about half the objects.
 *
 * A Mac reaches the network through MacHttp, which applies its faults first: offline fails as a
 * connection that cannot be made (nothing is sent), a blocked agent fails only the agent's own
 * requests, and package-download faults fail or corrupt app package downloads.
 */
import { createHash, X509Certificate } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { createSecureContext } from 'node:tls';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import { pinMismatchIn, pinnedIdentityCheck, PinFailureError } from './network/pin';
import type { Resolver } from './network/resolver';
import { NetworkError } from './state';

export interface HttpResponse {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface HttpRequest {
  method: string;
  url: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
}

export interface FleetHttpOptions {
  /** PEM (one or more certificates) trusted for HTTPS before a Mac has enrolled. */
  ca: string | Buffer;
  /** Sockets per origin (default 64). */
  maxSockets?: number;
  /** Idle or unanswered requests fail after this long (default 30 s). */
  timeoutMs?: number;
  /** Largest body read (default 64 MiB): a bigger answer fails the request. */
  maxBodyBytes?: number;
  /** Where host names are looked up (the Macs' own resolver); default: the system's. */
  resolver?: Resolver;
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, DER. */
export function pemCertificates(pem: string | Buffer): Buffer[] {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error('the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((b) => new X509Certificate(b).raw);
}

/** A DER certificate as PEM (what createSecureContext's `ca` takes). */
export function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

export class FleetHttp {
  /** The `--ca` certificates, DER (what enrollment profiles must be signed under). */
  readonly caDers: Buffer[];
  private readonly maxSockets: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly agents = new Map<string, Agent>();
  /** The anchors (DER) of each anchor key, for the pinned pools made later. */
  private readonly anchorSets = new Map<string, readonly Buffer[]>();
  private readonly defaultKey: string;
  private readonly resolver: Resolver | undefined;
  /** Requests on the wire. */
  inFlight = 0;

  constructor(options: FleetHttpOptions) {
    this.caDers = pemCertificates(options.ca);
    this.maxSockets = options.maxSockets ?? 64;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.defaultKey = this.keyOf(this.caDers);
    this.resolver = options.resolver;
  }

  private keyOf(ders: readonly Buffer[]): string {
    return ders
      .map((d) => createHash('sha256').update(d).digest('hex'))
      .sort()
      .join(',');
  }

  /**
   * The pool trusting these anchors (DER), made once per distinct set; a Mac enrolled under
   * the fleet's CA gets the fleet's one pool. Pass the key from `anchorKey` to skip hashing.
   * With a `pin` (the agent's), a pool of its own whose connections must present that key.
   */
  private agentFor(anchorKey?: string, anchors?: readonly Buffer[], pin?: string): Agent {
    const anchorsKey = anchorKey ?? this.defaultKey;
    const key = pin === undefined ? anchorsKey : `${anchorsKey}|pin=${pin}`;
    let agent = this.agents.get(key);
    if (!agent) {
      const ders = anchorsKey === this.defaultKey ? this.caDers : (this.anchorSets.get(anchorsKey) ?? anchors ?? this.caDers);
      this.anchorSets.set(anchorsKey, ders);
      // The trust store parsed once, as a SecureContext every new connection shares.
      const secureContext = createSecureContext({ ca: ders.map(derToPem) });
      agent = new Agent({
        connections: this.maxSockets,
        pipelining: 1,
        connect: {
          secureContext,
          timeout: this.timeoutMs,
          ...(this.resolver ? { lookup: this.resolver.lookup } : {}),
          ...(pin !== undefined ? { checkServerIdentity: pinnedIdentityCheck(pin) } : {}),
        },
        headersTimeout: this.timeoutMs,
        bodyTimeout: this.timeoutMs,
        keepAliveTimeout: 60_000,
        maxResponseSize: this.maxBodyBytes,
      });
      this.agents.set(key, agent);
    }
    return agent;
  }

  /** A stable name for a set of anchors (DER); the fleet's own CA set when they are the same. */
  anchorKey(anchors: readonly Buffer[]): string {
    const key = anchors.length === 0 ? this.defaultKey : this.keyOf(anchors);
    if (!this.agents.has(key)) this.agentFor(key, anchors.length === 0 ? this.caDers : anchors);
    return key;
  }

  /** The anchors (DER) behind an anchor key (the fleet's CA for undefined). */
  anchorsOf(anchorKey: string | undefined): readonly Buffer[] {
    return anchorKey === undefined ? this.caDers : (this.anchorSets.get(anchorKey) ?? this.caDers);
  }

  /**
   * One request: through `dispatcher` when given (a Mac under a network policy), else the shared
   * pool of the anchors, pinned to `pin` when given (the agent's requests).
   */
  async request(req: HttpRequest, anchorKey?: string, pin?: string, dispatcher?: Dispatcher): Promise<HttpResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      throw new NetworkError(`not a URL: ${JSON.stringify(req.url)}`, req.url);
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new NetworkError(`unsupported scheme ${url.protocol} in ${req.url}`, req.url);
    const agent = dispatcher ?? this.agentFor(anchorKey, undefined, pin);
    this.inFlight++;
    let status: number | undefined;
    try {
      const res = await agent.request({
        origin: url.origin,
        path: url.pathname + url.search,
        method: req.method as Dispatcher.HttpMethod,
        headers: req.headers,
        body: req.body,
      });
      status = res.statusCode;
      const body = Buffer.from(await res.body.arrayBuffer());
      return { status: res.statusCode, headers: res.headers, body };
    } catch (error) {
      const pinned = pinMismatchIn(error);
      if (pinned) throw new PinFailureError(`${req.method} ${req.url}: ${pinned.message}`, req.url, pinned.host, pinned.expected, pinned.presented, pinned.issuer);
      throw new NetworkError(`${req.method} ${req.url}: ${describe(error, this.maxBodyBytes, this.timeoutMs)}`, req.url, status, errorCode(error));
    } finally {
      this.inFlight--;
    }
  }

  close(): void {
    for (const a of this.agents.values()) void a.destroy().catch(() => undefined);
    this.agents.clear();
  }
}

/** undici's errors in the words node:http's would have used (callers and tests read them). */
function describe(error: unknown, maxBodyBytes: number, timeoutMs: number): string {
  if (error instanceof undiciErrors.ResponseExceededMaxSizeError) return `the answer is larger than ${maxBodyBytes} bytes`;
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError || error instanceof undiciErrors.ConnectTimeoutError) return `no answer within ${timeoutMs} ms`;
  if (error instanceof undiciErrors.SocketError) return error.message === 'other side closed' ? 'the connection closed mid-answer' : error.message;
  const e = error as Error & { code?: string; cause?: Error & { code?: string } };
  const cause = e.cause;
  if (cause && cause.message) return cause.code && !cause.message.includes(cause.code) ? `${cause.code} ${cause.message}` : cause.message;
  return e.message ?? String(error);
}

/** The system error code (ENOTFOUND, ECONNREFUSED…) of a failed request, from it or its causes. */
export function errorCode(error: unknown): string | undefined {
  for (let e = error as { code?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.code === 'string' && /^E[A-Z_]+$/.test(e.code)) return e.code;
  }
  return undefined;
}

/** What a Mac's request is for: faults pick their victims by it. */
export type RequestPurpose = 'profile' | 'mdm' | 'agent' | 'manifest' | 'package';

/** The network faults a Mac can have, as the HTTP layer sees them. */
export interface NetworkFaults {
  offline: boolean;
  agentBlocked: boolean;
  /** Downloads of app packages: fail, or corrupt (one byte flipped); `remaining` undefined = every one. */
  packageDownload?: { mode: 'fail' | 'corrupt'; remaining?: number };
}

/** Fails as a connection that could not be made: nothing was sent. */
export function unreachable(url: string, why: string): NetworkError {
  return new NetworkError(`connect ECONNREFUSED: ${url} (${why})`, url);
}

/**
 * A request as one Mac makes it: its faults first, then the fleet's HTTP with the Mac's trust
 * anchors (and the agent's pin), through its network policy's pool when it has one. A function,
 * not a per-Mac object: a Mac holds no sockets or closures for this.
 */
export async function macRequest(
  http: FleetHttp,
  faults: NetworkFaults | undefined,
  anchorKey: string | undefined,
  req: HttpRequest,
  purpose: RequestPurpose,
  pin?: string,
  dispatcher?: Dispatcher,
): Promise<HttpResponse> {
  if (faults) {
    if (faults.offline) throw unreachable(req.url, 'the Mac is offline');
    if (purpose === 'agent' && faults.agentBlocked) throw unreachable(req.url, "the agent's traffic is blocked");
    const pd = faults.packageDownload;
    if (purpose === 'package' && pd && (pd.remaining === undefined || pd.remaining > 0)) {
      if (pd.remaining !== undefined) pd.remaining--;
      if (pd.mode === 'fail') throw new NetworkError(`${req.method} ${req.url}: the download failed (connection reset)`, req.url);
      const res = await http.request(req, anchorKey, pin, dispatcher);
      return { status: res.status, headers: res.headers, body: flipOneByte(res.body) };
    }
  }
  return http.request(req, anchorKey, pin, dispatcher);
}

/** A copy with one byte changed (the middle one), or one byte for an empty body. */
export function flipOneByte(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from([0xff]);
  const out = Buffer.from(body);
  const at = out.length >> 1;
  out[at] = out[at]! ^ 0xff;
  return out;
}
