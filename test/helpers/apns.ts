/**
 * Test clients for the APNs mock: a courier subscriber (what a Mac runs) and a raw HTTP/2
 * provider client (what an MDM server runs), both over real sockets.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, constants as h2, type ClientHttp2Session, type OutgoingHttpHeaders } from 'node:http2';
import { WebSocket } from 'ws';
import { deviceTokenFor, type PushFrame, type ServerFrame } from '../../protocol/apns';
import type { MdmsimServer } from '../../server/server';

export interface TestDevice {
  topic: string;
  secret: string;
  token: string;
}

export function newDevice(topic: string, secret: Buffer = randomBytes(32)): TestDevice {
  return { topic, secret: secret.toString('base64url'), token: deviceTokenFor(topic, secret) };
}

/** A courier connection that records every frame and can wait for the next one of a kind. */
export class CourierClient {
  readonly frames: ServerFrame[] = [];
  private waiters: { match: (f: ServerFrame) => boolean; resolve: (f: ServerFrame) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }[] = [];
  private seen = 0;
  closed = false;
  closeCode?: number;

  private constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const frame = JSON.parse(data.toString()) as ServerFrame;
      this.frames.push(frame);
      const w = this.waiters.find((x) => x.match(frame));
      if (w) {
        this.waiters = this.waiters.filter((x) => x !== w);
        clearTimeout(w.timer);
        w.resolve(frame);
      }
    });
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      for (const w of this.waiters) {
        clearTimeout(w.timer);
        w.reject(new Error(`courier connection closed (${code}) while waiting`));
      }
      this.waiters = [];
    });
    ws.on('error', () => undefined);
  }

  static async connect(url: string, client = 'test', hello = true): Promise<CourierClient> {
    const ws = new WebSocket(url);
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const c = new CourierClient(ws);
    if (hello) {
      c.send({ type: 'hello', client });
      await c.next('welcome');
    }
    return c;
  }

  send(frame: unknown): void {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
  }

  /** The next frame of this type not yet returned by next() (frames that already came count). */
  next<T extends ServerFrame['type']>(type: T, timeoutMs = 5000): Promise<Extract<ServerFrame, { type: T }>> {
    const earlier = this.frames.slice(this.seen).find((f) => f.type === type);
    if (earlier) {
      this.seen = this.frames.indexOf(earlier) + 1;
      return Promise.resolve(earlier as Extract<ServerFrame, { type: T }>);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters = this.waiters.filter((w) => w.timer !== timer);
        reject(new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(this.frames.slice(-5))}`));
      }, timeoutMs);
      this.waiters.push({
        match: (f) => f.type === type,
        resolve: (f) => {
          this.seen = this.frames.length;
          resolve(f as Extract<ServerFrame, { type: T }>);
        },
        reject,
        timer,
      });
    });
  }

  async subscribe(devices: TestDevice[] | { topic: string; secret: string; token?: string }[], id = 1): Promise<Extract<ServerFrame, { type: 'subscribed' }>> {
    this.send({ type: 'subscribe', id, devices: devices.map((d) => ({ topic: d.topic, secret: d.secret, ...(d.token ? { token: d.token } : {}) })) });
    return this.next('subscribed');
  }

  pushes(): PushFrame[] {
    return this.frames.filter((f): f is PushFrame => f.type === 'push');
  }

  ack(...ids: number[]): void {
    this.send({ type: 'ack', ids });
  }

  close(): Promise<void> {
    if (this.closed) return Promise.resolve();
    return new Promise((resolve) => {
      this.ws.once('close', () => resolve());
      this.ws.close();
    });
  }
}

export interface Http2Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
  json?: { reason?: string; timestamp?: number };
}

export interface ProviderCredentials {
  ca: string;
  cert?: string;
  key?: string;
}

/** The push certificate and CA of a running server, for pushing as its MDM side would. */
export function pushCredentials(server: MdmsimServer): Required<ProviderCredentials> {
  return { ca: readFileSync(server.info.caCert, 'utf8'), cert: server.pushCert.certPem, key: server.pushCert.keyPem };
}

/** One HTTP/2 connection to a provider API, for raw requests. */
export class ProviderClient {
  private constructor(readonly session: ClientHttp2Session) {}

  static async connect(url: string, creds: ProviderCredentials): Promise<ProviderClient> {
    const session = connect(url, { ca: creds.ca, cert: creds.cert, key: creds.key });
    session.on('error', () => undefined);
    await new Promise<void>((resolve, reject) => {
      session.once('connect', () => resolve());
      session.once('error', reject);
    });
    return new ProviderClient(session);
  }

  request(path: string, body: string | Buffer | undefined, headers: OutgoingHttpHeaders = {}, method = 'POST'): Promise<Http2Answer> {
    return new Promise((resolve, reject) => {
      const req = this.session.request({ [h2.HTTP2_HEADER_METHOD]: method, [h2.HTTP2_HEADER_PATH]: path, ...headers }, { endStream: body === undefined });
      let answer: Http2Answer['headers'] = {};
      const chunks: Buffer[] = [];
      req.on('response', (h) => {
        answer = h as Http2Answer['headers'];
      });
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        let json: Http2Answer['json'];
        try {
          json = text ? JSON.parse(text) : undefined;
        } catch {
          json = undefined;
        }
        resolve({ status: Number(answer[':status']), headers: answer, body: text, json });
      });
      req.on('error', reject);
      if (body !== undefined) req.end(body);
    });
  }

  push(token: string, body: string | Buffer | undefined, headers: OutgoingHttpHeaders = {}): Promise<Http2Answer> {
    return this.request(`/3/device/${token}`, body, { 'content-type': 'application/json', ...headers });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.session.close(() => resolve()));
  }
}
