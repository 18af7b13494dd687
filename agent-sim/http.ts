/**
 * HTTP for a fleet: one keep-alive agent per set of trusted CAs (in practice one: the `--ca`
 * the fleet was given, which is also the enrollment profile's anchor), shared by every Mac, so
 * that 10,000 Macs reuse a bounded pool of sockets. Answers are whole bodies.
 *
 * A Mac reaches the network through MacHttp, which applies its faults first: offline fails as a
 * connection that cannot be made (nothing is sent), a blocked agent fails only the agent's own
 * requests, and package-download faults fail or corrupt app package downloads.
 */
import { createHash, X509Certificate } from 'node:crypto';
import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { createSecureContext } from 'node:tls';
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
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

/** The certificates of a PEM bundle, DER. */
export function pemCertificates(pem: string | Buffer): Buffer[] {
  const text = typeof pem === 'string' ? pem : pem.toString('latin1');
  const blocks = text.match(PEM_CERT) ?? [];
  if (blocks.length === 0) throw new Error('the CA file holds no PEM certificate (-----BEGIN CERTIFICATE-----)');
  return blocks.map((b) => new X509Certificate(b).raw);
}

function derToPem(der: Buffer): string {
  const b64 = der.toString('base64').replace(/.{64}/g, '$&\n');
  return `-----BEGIN CERTIFICATE-----\n${b64}${b64.endsWith('\n') ? '' : '\n'}-----END CERTIFICATE-----\n`;
}

export class FleetHttp {
  /** The `--ca` certificates, DER (what enrollment profiles must be signed under). */
  readonly caDers: Buffer[];
  private readonly maxSockets: number;
  private readonly timeoutMs: number;
  private readonly maxBodyBytes: number;
  private readonly agents = new Map<string, HttpsAgent>();
  private readonly defaultKey: string;
  private plain?: HttpAgent;
  /** Requests on the wire. */
  inFlight = 0;

  constructor(options: FleetHttpOptions) {
    this.caDers = pemCertificates(options.ca);
    this.maxSockets = options.maxSockets ?? 64;
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxBodyBytes = options.maxBodyBytes ?? 64 * 1024 * 1024;
    this.defaultKey = this.keyOf(this.caDers);
  }

  private keyOf(ders: readonly Buffer[]): string {
    return ders
      .map((d) => createHash('sha256').update(d).digest('hex'))
      .sort()
      .join(',');
  }

  /**
   * The agent trusting these anchors (DER), made once per distinct set; a Mac enrolled under
   * the fleet's CA gets the fleet's one agent. Pass the key from `anchorKey` to skip hashing.
   */
  agentFor(anchorKey?: string, anchors?: readonly Buffer[]): HttpsAgent {
    const key = anchorKey ?? this.defaultKey;
    let agent = this.agents.get(key);
    if (!agent) {
      const ders = key === this.defaultKey ? this.caDers : (anchors ?? this.caDers);
      // The trust store as one SecureContext, not a `ca` option: https.Agent names its socket
      // pool from the request options, so a `ca` would be stringified (a kilobyte per CA) and
      // hashed on every request; secureContext is not part of the name.
      const secureContext = createSecureContext({ ca: ders.map(derToPem) });
      agent = new HttpsAgent({ keepAlive: true, maxSockets: this.maxSockets, maxFreeSockets: this.maxSockets, secureContext, timeout: this.timeoutMs, scheduling: 'lifo' });
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

  request(req: HttpRequest, anchorKey?: string): Promise<HttpResponse> {
    let url: URL;
    try {
      url = new URL(req.url);
    } catch {
      return Promise.reject(new NetworkError(`not a URL: ${JSON.stringify(req.url)}`, req.url));
    }
    const https = url.protocol === 'https:';
    if (!https && url.protocol !== 'http:') return Promise.reject(new NetworkError(`unsupported scheme ${url.protocol} in ${req.url}`, req.url));
    const body = req.body === undefined ? undefined : Buffer.isBuffer(req.body) ? req.body : Buffer.from(req.body);
    const headers: Record<string, string> = { ...req.headers };
    if (body) headers['content-length'] = String(body.length);
    const agent = https ? this.agentFor(anchorKey) : (this.plain ??= new HttpAgent({ keepAlive: true, maxSockets: this.maxSockets }));
    this.inFlight++;
    return new Promise<HttpResponse>((resolve, reject) => {
      let settled = false;
      const done = (error: Error | undefined, res?: HttpResponse) => {
        if (settled) return;
        settled = true;
        this.inFlight--;
        if (error) reject(error);
        else resolve(res!);
      };
      const send = https ? httpsRequest : httpRequest;
      const r = send(url, { method: req.method, headers, agent: agent as HttpsAgent, timeout: this.timeoutMs }, (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on('data', (c: Buffer) => {
          size += c.length;
          if (size > this.maxBodyBytes) {
            res.destroy();
            done(new NetworkError(`${req.method} ${req.url}: the answer is larger than ${this.maxBodyBytes} bytes`, req.url, res.statusCode));
            return;
          }
          chunks.push(c);
        });
        res.on('end', () => done(undefined, { status: res.statusCode ?? 0, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks) }));
        res.on('error', (e) => done(new NetworkError(`${req.method} ${req.url}: ${e.message}`, req.url, res.statusCode)));
        res.on('aborted', () => done(new NetworkError(`${req.method} ${req.url}: the connection closed mid-answer`, req.url, res.statusCode)));
      });
      r.on('timeout', () => r.destroy(new Error(`no answer within ${this.timeoutMs} ms`)));
      r.on('error', (e) => done(new NetworkError(`${req.method} ${req.url}: ${e.message}`, req.url)));
      r.end(body);
    });
  }

  close(): void {
    for (const a of this.agents.values()) a.destroy();
    this.agents.clear();
    this.plain?.destroy();
    this.plain = undefined;
  }
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
 * anchors. A function, not a per-Mac object: a Mac holds no sockets or closures for this.
 */
export async function macRequest(
  http: FleetHttp,
  faults: NetworkFaults | undefined,
  anchorKey: string | undefined,
  req: HttpRequest,
  purpose: RequestPurpose,
): Promise<HttpResponse> {
  if (faults) {
    if (faults.offline) throw unreachable(req.url, 'the Mac is offline');
    if (purpose === 'agent' && faults.agentBlocked) throw unreachable(req.url, "the agent's traffic is blocked");
    const pd = faults.packageDownload;
    if (purpose === 'package' && pd && (pd.remaining === undefined || pd.remaining > 0)) {
      if (pd.remaining !== undefined) pd.remaining--;
      if (pd.mode === 'fail') throw new NetworkError(`${req.method} ${req.url}: the download failed (connection reset)`, req.url);
      const res = await http.request(req, anchorKey);
      return { status: res.status, headers: res.headers, body: flipOneByte(res.body) };
    }
  }
  return http.request(req, anchorKey);
}

/** A copy with one byte changed (the middle one), or one byte for an empty body. */
export function flipOneByte(body: Buffer): Buffer {
  if (body.length === 0) return Buffer.from([0xff]);
  const out = Buffer.from(body);
  const at = out.length >> 1;
  out[at] = out[at]! ^ 0xff;
  return out;
}
