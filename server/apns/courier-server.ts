/**
 * The courier's WebSocket endpoint: speaks the frames of protocol/apns/courier.ts and hands
 * their meaning to the hub. Plain ws:// by default (a loopback lab; TLS costs ~30 KB per idle
 * connection against ~5 KB, which matters for a fleet of 20,000 single-token Macs), wss:// when
 * given a certificate.
 */
import { createServer as createHttpServer, type IncomingMessage, type Server as HttpServer } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import {
  COURIER_PROTOCOL_VERSION,
  CourierFrameError,
  MAX_COURIER_FRAME_BYTES,
  MAX_DEVICES_PER_FRAME,
  parseClientFrame,
  readCredential,
  type ClientFrame,
  type FrameError,
  type ServerFrame,
} from '../../protocol/apns';
import type { ApnsHub, CourierPeer } from './hub';

export const COURIER_PATH = '/';
/** A client that keeps sending frames the courier cannot read is cut off after this many. */
const MAX_BAD_FRAMES = 100;
const HEARTBEAT_MS = 30_000;

export interface CourierServerOptions {
  hub: ApnsHub;
  host: string;
  port: number;
  /** Serve wss:// with this certificate instead of ws://. */
  tls?: { key: string; cert: string };
}

interface Connection {
  ws: WebSocket;
  /** The upgraded socket, corked while a turn of the event loop writes frames to it. */
  socket: Duplex;
  corked: boolean;
  peer: CourierPeer | undefined;
  badFrames: number;
  alive: boolean;
}

export class CourierServer {
  private readonly wss: WebSocketServer;
  private readonly connections = new Set<Connection>();
  private heartbeat?: NodeJS.Timeout;

  private constructor(
    private readonly hub: ApnsHub,
    private readonly http: HttpServer,
    readonly url: string,
  ) {
    this.wss = new WebSocketServer({ noServer: true, maxPayload: MAX_COURIER_FRAME_BYTES, perMessageDeflate: false, clientTracking: false });
    http.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
    http.on('request', (_req, res) => {
      res.writeHead(426, { 'content-type': 'application/json', upgrade: 'websocket' });
      res.end(JSON.stringify({ error: 'upgrade-required', message: 'the courier speaks WebSocket: connect with ws:// (or wss://) and send {"type":"hello"}' }));
    });
    // One timer for every connection, not one each: a dead peer is found within two beats.
    this.heartbeat = setInterval(() => this.beat(), HEARTBEAT_MS);
    this.heartbeat.unref();
  }

  static async start(options: CourierServerOptions): Promise<CourierServer> {
    const http = options.tls ? createHttpsServer({ key: options.tls.key, cert: options.tls.cert }) : createHttpServer();
    http.headersTimeout = 20_000;
    http.requestTimeout = 30_000;
    await new Promise<void>((resolve, reject) => {
      http.once('error', reject);
      http.listen(options.port, options.host, () => {
        http.off('error', reject);
        resolve();
      });
    });
    const { port } = http.address() as AddressInfo;
    const host = options.host.includes(':') ? `[${options.host}]` : options.host === '0.0.0.0' ? '127.0.0.1' : options.host;
    return new CourierServer(options.hub, http, `${options.tls ? 'wss' : 'ws'}://${host}:${port}`);
  }

  get connectionCount(): number {
    return this.connections.size;
  }

  async close(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    for (const c of this.connections) c.ws.terminate();
    this.connections.clear();
    await new Promise<void>((r) => this.http.close(() => r()));
    this.http.closeAllConnections();
  }

  /**
   * Nothing of the upgrade request may outlive it: a closure made next to one that uses `req`
   * shares its context, so a per-connection listener made here would keep the IncomingMessage
   * (headers, stream state: ~1 KB) alive as long as the connection.
   */
  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    const remote = `${req.socket.remoteAddress ?? '?'}:${req.socket.remotePort ?? '?'}`;
    this.wss.handleUpgrade(req, socket, head, (ws) => this.attach(ws, socket, remote));
  }

  private attach(ws: WebSocket, socket: Duplex, remote: string): void {
    const c: Connection = { ws, socket, corked: false, peer: undefined, badFrames: 0, alive: true };
    this.connections.add(c);
    ws.on('pong', () => {
      c.alive = true;
    });
    ws.on('message', (data, isBinary) => this.onMessage(c, data, isBinary, remote));
    ws.on('close', () => this.onClose(c));
    // A reset socket or an oversized frame (1009): ws closes the connection; nothing else to do.
    ws.on('error', () => undefined);
  }

  private onMessage(c: Connection, data: RawData, isBinary: boolean, remote: string): void {
    let frame: ClientFrame;
    try {
      if (isBinary) throw new CourierFrameError('malformed-frame', 'frames are JSON text, not binary');
      frame = parseClientFrame(data.toString());
    } catch (error) {
      if (!(error instanceof CourierFrameError)) throw error;
      this.refuse(c, error);
      return;
    }
    if (frame.type === 'hello') {
      if (!c.peer) {
        const label = `courier client ${frame.client ? frame.client.slice(0, 40) : remote}`;
        c.peer = this.hub.newPeer(label, (text) => send(c, text));
      }
      this.reply(c, { type: 'welcome', version: COURIER_PROTOCOL_VERSION, maxDevicesPerFrame: MAX_DEVICES_PER_FRAME });
      return;
    }
    const peer = c.peer;
    if (!peer) {
      this.refuse(c, new CourierFrameError('hello-first', 'send {"type":"hello"} before anything else', 'id' in frame ? frame.id : undefined));
      return;
    }
    switch (frame.type) {
      case 'subscribe':
      case 'unregister': {
        const { creds, indexes, errors } = credentials(frame.devices);
        if (frame.type === 'subscribe') {
          this.hub.subscribe(peer, creds, indexes, (r) => this.reply(c, { type: 'subscribed', id: frame.id, tokens: merge(r.tokens, indexes, frame.devices.length), errors: [...errors, ...r.errors] }));
        } else {
          const r = this.hub.unregister(creds, indexes, peer.label);
          this.reply(c, { type: 'unregistered', id: frame.id, tokens: merge(r.tokens, indexes, frame.devices.length), errors: [...errors, ...r.errors] });
        }
        return;
      }
      case 'unsubscribe': {
        const r = this.hub.unsubscribe(peer, frame.tokens);
        this.reply(c, { type: 'unsubscribed', id: frame.id, tokens: r.tokens, errors: r.errors });
        return;
      }
      case 'ack': {
        const unknown = this.hub.ack(peer, frame.ids);
        if (unknown.length > 0) {
          this.reply(c, { type: 'error', code: 'unknown-push', message: `no unacknowledged push with id ${unknown.slice(0, 5).join(', ')}${unknown.length > 5 ? ` and ${unknown.length - 5} more` : ''} on this connection` });
        }
        return;
      }
    }
  }

  private refuse(c: Connection, error: CourierFrameError): void {
    c.badFrames += 1;
    this.reply(c, { type: 'error', code: error.code, message: error.message, ...(error.id !== undefined ? { id: error.id } : {}) });
    if (c.badFrames >= MAX_BAD_FRAMES) c.ws.close(1008, 'too many unreadable frames');
  }

  private reply(c: Connection, frame: ServerFrame): void {
    send(c, JSON.stringify(frame));
  }

  private onClose(c: Connection): void {
    this.connections.delete(c);
    if (c.peer) this.hub.disconnect(c.peer);
  }

  private beat(): void {
    for (const c of this.connections) {
      if (!c.alive) {
        c.ws.terminate();
        continue;
      }
      c.alive = false;
      c.ws.ping();
    }
  }
}

function destroySocket(this: Duplex): void {
  this.destroy();
}

/**
 * Every frame written to a connection in one turn of the event loop (all the pushes a read of
 * provider requests produced) leaves in one write: the socket is corked at the first and
 * uncorked in the check phase. One write, one wake-up of the reader, instead of one per push.
 */
function send(c: Connection, text: string): void {
  if (c.ws.readyState !== 1) return;
  if (!c.corked) {
    c.corked = true;
    c.socket.cork();
    setImmediate(uncork, c);
  }
  c.ws.send(text);
}

function uncork(c: Connection): void {
  c.corked = false;
  c.socket.uncork();
}

/** Checks every credential; the good ones go on to the hub with their index in the frame. */
function credentials(devices: readonly unknown[]): { creds: { topic: string; secret: Buffer; token?: string }[]; indexes: number[]; errors: FrameError[] } {
  const creds: { topic: string; secret: Buffer; token?: string }[] = [];
  const indexes: number[] = [];
  const errors: FrameError[] = [];
  devices.forEach((d, index) => {
    const r = readCredential(d, index);
    if ('code' in r) errors.push(r);
    else {
      creds.push(r);
      indexes.push(index);
    }
  });
  return { creds, indexes, errors };
}

/** Tokens in the frame's order: null where a device was refused. */
function merge(tokens: readonly (string | null)[], indexes: readonly number[], length: number): (string | null)[] {
  const out: (string | null)[] = new Array(length).fill(null);
  indexes.forEach((index, i) => {
    out[index] = tokens[i] ?? null;
  });
  return out;
}
