/**
 * The device side of the APNs mock's courier for a whole fleet: a few WebSocket connections
 * (one per `tokensPerConnection` tokens, 1,000 by default) carry every Mac's token, as a real
 * Mac's one courier connection carries all its topics. Frames (protocol/apns/courier.ts) are
 * batched per turn of the event loop: the subscribes, unsubscribes and acks of 10,000 Macs
 * enrolling at once leave in a handful of frames.
 *
 * A token is derived from the Mac's secret (deviceTokenFor), so it is known before the courier
 * answers. Every push is acknowledged and handed to the Mac owning its token. A closed
 * connection is reopened with backoff and its tokens subscribed again; problems go to onError,
 * never thrown into the void.
 */
import type { LookupFunction } from 'node:net';
import { WebSocket, type RawData } from 'ws';
import { deviceTokenFor, MAX_COURIER_FRAME_BYTES, MAX_DEVICES_PER_FRAME, type DeviceCredential, type PushFrame, type ServerFrame } from '../protocol/apns';

/** Whoever owns a token: a simulated Mac. */
export interface PushTarget {
  /** The credential the token was made from (asked again when a connection is reopened). */
  courierCredential(): DeviceCredential | undefined;
  onPush(frame: PushFrame): void;
}

export interface CourierClientOptions {
  url: string;
  /** How the connections introduce themselves (hello.client). */
  client?: string;
  tokensPerConnection?: number;
  onError?: (error: Error) => void;
  /** Reconnect backoff, wall-clock ms (default 100 → 10,000, doubling). */
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
  /** Give up opening the first connection after this long (default 10 s). */
  connectTimeoutMs?: number;
  /** How the courier's host name is looked up (the Macs' resolver); default: the system's. */
  lookup?: LookupFunction;
}

export class CourierError extends Error {
  constructor(
    message: string,
    readonly code?: string,
  ) {
    super(message);
    this.name = 'CourierError';
  }
}

interface Waiter {
  resolve: () => void;
  reject: (e: Error) => void;
}

class Connection {
  ws: WebSocket | undefined;
  ready = false;
  /** Tokens this connection streams (or will, once it is open). */
  readonly tokens = new Set<string>();
  /** What goes out at the next flush. */
  subscribe: string[] = [];
  unsubscribe: string[] = [];
  unregister: DeviceCredential[] = [];
  acks: number[] = [];
  flushQueued = false;
  attempts = 0;
  reconnectTimer: NodeJS.Timeout | undefined;
  constructor(readonly n: number) {}
}

let frameIds = 0;

export class CourierClient {
  private readonly conns: Connection[] = [];
  private readonly owner = new Map<string, Connection>();
  private readonly targets = new Map<string, PushTarget>();
  private readonly waiting = new Map<string, Waiter[]>();
  private readonly perConnection: number;
  private readonly onError: (error: Error) => void;
  private closed = false;
  /** Pushes received (and acknowledged) so far. */
  pushesReceived = 0;

  private constructor(private readonly options: CourierClientOptions) {
    this.perConnection = Math.max(1, Math.min(options.tokensPerConnection ?? 1000, MAX_DEVICES_PER_FRAME));
    this.onError = options.onError ?? (() => undefined);
  }

  /** Opens the first connection (so a wrong URL fails here, not at the first Mac). */
  static async connect(options: CourierClientOptions): Promise<CourierClient> {
    const c = new CourierClient(options);
    const first = c.newConnection();
    await c.open(first, options.connectTimeoutMs ?? 10_000);
    return c;
  }

  get url(): string {
    return this.options.url;
  }

  get connectionCount(): number {
    return this.conns.filter((c) => c.ws !== undefined).length;
  }

  /** Subscribes awaiting an answer from the courier. */
  get busy(): boolean {
    return this.waiting.size > 0;
  }

  /**
   * Streams the token of this credential to `target`. Returns the token at once; `ready`
   * settles when the courier has answered (rejects if it refused the credential).
   */
  subscribe(target: PushTarget, cred: DeviceCredential): { token: string; ready: Promise<void> } {
    const token = deviceTokenFor(cred.topic, Buffer.from(cred.secret, 'base64url'));
    this.targets.set(token, target);
    const ready = this.want(token);
    return { token, ready };
  }

  /** Stops the stream of a token (the Mac went offline): its pushes wait at the courier. */
  unsubscribe(token: string): void {
    const conn = this.owner.get(token);
    if (!conn || !conn.tokens.delete(token)) return;
    if (conn.ready) {
      conn.unsubscribe.push(token);
      this.queueFlush(conn);
    }
  }

  /** Streams a known token again (the Mac is back): what waited for it is delivered. */
  resubscribe(token: string): Promise<void> {
    if (!this.targets.has(token)) return Promise.reject(new CourierError(`token ${token.slice(0, 8)}… was never subscribed here`));
    if (this.owner.get(token)?.tokens.has(token)) return Promise.resolve();
    return this.want(token);
  }

  /** The Mac gave up its topic (erased or unenrolled): APNs answers 410 for the token from now on. */
  unregister(token: string): void {
    const target = this.targets.get(token);
    const cred = target?.courierCredential();
    const conn = this.owner.get(token);
    if (conn) conn.tokens.delete(token);
    this.owner.delete(token);
    this.targets.delete(token);
    const w = this.waiting.get(token);
    if (w) {
      this.waiting.delete(token);
      for (const x of w) x.reject(new CourierError('the token was unregistered before the courier confirmed it'));
    }
    if (!cred) return;
    const via = conn?.ready ? conn : this.conns.find((c) => c.ready);
    if (via) {
      via.unregister.push({ topic: cred.topic, secret: cred.secret });
      this.queueFlush(via);
    } else {
      this.onError(new CourierError(`no open courier connection to unregister token ${token.slice(0, 8)}…`));
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const closing: Promise<void>[] = [];
    for (const c of this.conns) {
      if (c.reconnectTimer) clearTimeout(c.reconnectTimer);
      const ws = c.ws;
      if (ws && ws.readyState !== WebSocket.CLOSED) {
        closing.push(new Promise<void>((r) => ws.once('close', () => r())));
        if (c.ready) this.flush(c);
        ws.close();
        setTimeout(() => ws.terminate(), 1000).unref();
      }
    }
    for (const [, ws] of this.waiting) for (const w of ws) w.reject(new CourierError('the courier client was closed', 'closed'));
    this.waiting.clear();
    await Promise.all(closing);
  }

  // ---- inside -------------------------------------------------------------------------

  private want(token: string): Promise<void> {
    let conn = this.owner.get(token);
    if (!conn || (!conn.tokens.has(token) && conn.tokens.size >= this.perConnection)) {
      conn = this.conns.find((c) => c.tokens.size < this.perConnection) ?? this.newConnection();
    }
    this.owner.set(token, conn);
    conn.tokens.add(token);
    const p = new Promise<void>((resolve, reject) => {
      const list = this.waiting.get(token);
      if (list) list.push({ resolve, reject });
      else this.waiting.set(token, [{ resolve, reject }]);
    });
    if (conn.ready) {
      conn.subscribe.push(token);
      this.queueFlush(conn);
    } else if (!conn.ws && !conn.reconnectTimer && !this.closed) {
      this.open(conn).catch(() => undefined);
    }
    return p;
  }

  private newConnection(): Connection {
    const c = new Connection(this.conns.length);
    this.conns.push(c);
    return c;
  }

  private open(conn: Connection, timeoutMs = 10_000): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const ws = new WebSocket(this.options.url, { perMessageDeflate: false, maxPayload: MAX_COURIER_FRAME_BYTES, handshakeTimeout: timeoutMs, ...(this.options.lookup ? { lookup: this.options.lookup } : {}) });
      conn.ws = ws;
      let welcomed = false;
      ws.on('open', () => {
        ws.send(JSON.stringify({ type: 'hello', client: `${this.options.client ?? 'mdmsim fleet'} #${conn.n}`, version: 1 }));
      });
      ws.on('message', (data: RawData) => {
        let frame: ServerFrame;
        try {
          frame = JSON.parse(data.toString()) as ServerFrame;
        } catch {
          this.onError(new CourierError(`the courier sent a frame that is not JSON: ${data.toString().slice(0, 80)}`));
          return;
        }
        if (frame.type === 'welcome' && !welcomed) {
          welcomed = true;
          conn.ready = true;
          conn.attempts = 0;
          // Everything this connection should carry, after an open or a reopen.
          conn.subscribe = [...conn.tokens];
          if (conn.subscribe.length > 0 || conn.unregister.length > 0) this.queueFlush(conn);
          resolve();
          return;
        }
        this.onFrame(conn, frame);
      });
      ws.on('error', (e) => {
        if (!welcomed) reject(new CourierError(`cannot open the courier at ${this.options.url}: ${e.message}`));
        else this.onError(new CourierError(`courier connection #${conn.n}: ${e.message}`));
      });
      ws.on('close', (code) => {
        const wasReady = conn.ready;
        conn.ready = false;
        conn.ws = undefined;
        conn.acks = [];
        conn.unsubscribe = [];
        if (!welcomed) reject(new CourierError(`the courier at ${this.options.url} closed the connection (${code}) before its welcome`));
        if (this.closed) return;
        if (wasReady) this.onError(new CourierError(`courier connection #${conn.n} closed (${code}); reopening`));
        this.scheduleReconnect(conn);
      });
    });
  }

  private scheduleReconnect(conn: Connection): void {
    if (this.closed || conn.reconnectTimer) return;
    if (conn.tokens.size === 0 && conn.unregister.length === 0) return; // opened again when needed
    const min = this.options.reconnectMinMs ?? 100;
    const max = this.options.reconnectMaxMs ?? 10_000;
    const wait = Math.min(max, min * 2 ** conn.attempts++);
    conn.reconnectTimer = setTimeout(() => {
      conn.reconnectTimer = undefined;
      if (this.closed) return;
      this.open(conn).catch((e: Error) => {
        this.onError(e);
      });
    }, wait);
    conn.reconnectTimer.unref();
  }

  private onFrame(conn: Connection, frame: ServerFrame): void {
    switch (frame.type) {
      case 'push': {
        this.pushesReceived++;
        conn.acks.push(frame.id);
        this.queueFlush(conn);
        const target = this.targets.get(frame.token);
        if (!target) return;
        try {
          target.onPush(frame);
        } catch (error) {
          this.onError(error as Error);
        }
        return;
      }
      case 'subscribed': {
        for (const e of frame.errors) {
          const token = frame.tokens[e.index] ?? undefined;
          // The frame lists tokens in order; a refused one is null, so find it by position.
          this.failByIndex(conn, frame.id, e.index, new CourierError(`the courier refused a subscription: ${e.code}: ${e.message}`, e.code), token);
        }
        if (typeof frame.id === 'number') this.sent.delete(frame.id);
        for (const token of frame.tokens) {
          if (token === null) continue;
          const w = this.waiting.get(token);
          if (w) {
            this.waiting.delete(token);
            for (const x of w) x.resolve();
          }
        }
        return;
      }
      case 'unsubscribed':
        // Moved to another of our connections (a reopen raced a subscribe): only the owner keeps it.
        for (const t of frame.tokens) if (this.owner.get(t) !== conn) conn.tokens.delete(t);
        return;
      case 'unregistered':
        for (const e of frame.errors) this.onError(new CourierError(`the courier refused an unregister: ${e.code}: ${e.message}`, e.code));
        return;
      case 'error':
        this.onError(new CourierError(`the courier says ${frame.code}: ${frame.message}`, frame.code));
        return;
      default:
        return;
    }
  }

  /** Subscribe frames sent, by id: which tokens each carried, to name the refused ones. */
  private readonly sent = new Map<number, string[]>();

  private failByIndex(_conn: Connection, id: number | string | undefined, index: number, error: CourierError, token?: string): void {
    const tokens = typeof id === 'number' ? this.sent.get(id) : undefined;
    const t = token ?? tokens?.[index];
    if (!t) {
      this.onError(error);
      return;
    }
    const w = this.waiting.get(t);
    if (!w) {
      this.onError(error);
      return;
    }
    this.waiting.delete(t);
    for (const x of w) x.reject(error);
  }

  private queueFlush(conn: Connection): void {
    if (conn.flushQueued) return;
    conn.flushQueued = true;
    setImmediate(() => {
      conn.flushQueued = false;
      this.flush(conn);
    });
  }

  private flush(conn: Connection): void {
    const ws = conn.ws;
    if (!conn.ready || !ws || ws.readyState !== WebSocket.OPEN) return;
    if (conn.acks.length > 0) {
      ws.send(JSON.stringify({ type: 'ack', ids: conn.acks }));
      conn.acks = [];
    }
    if (conn.unsubscribe.length > 0) {
      for (let i = 0; i < conn.unsubscribe.length; i += MAX_DEVICES_PER_FRAME) {
        ws.send(JSON.stringify({ type: 'unsubscribe', id: ++frameIds, tokens: conn.unsubscribe.slice(i, i + MAX_DEVICES_PER_FRAME) }));
      }
      conn.unsubscribe = [];
    }
    if (conn.subscribe.length > 0) {
      const tokens = conn.subscribe.filter((t) => conn.tokens.has(t));
      conn.subscribe = [];
      for (let i = 0; i < tokens.length; i += MAX_DEVICES_PER_FRAME) {
        const chunk = tokens.slice(i, i + MAX_DEVICES_PER_FRAME);
        const devices: DeviceCredential[] = [];
        const carried: string[] = [];
        for (const t of chunk) {
          const cred = this.targets.get(t)?.courierCredential();
          if (!cred) continue;
          devices.push({ topic: cred.topic, secret: cred.secret, token: t });
          carried.push(t);
        }
        if (devices.length === 0) continue;
        const id = ++frameIds;
        this.sent.set(id, carried);
        if (this.sent.size > 1000) this.sent.delete(this.sent.keys().next().value!);
        ws.send(JSON.stringify({ type: 'subscribe', id, devices }));
      }
    }
    if (conn.unregister.length > 0) {
      for (let i = 0; i < conn.unregister.length; i += MAX_DEVICES_PER_FRAME) {
        ws.send(JSON.stringify({ type: 'unregister', id: ++frameIds, devices: conn.unregister.slice(i, i + MAX_DEVICES_PER_FRAME) }));
      }
      conn.unregister = [];
    }
  }
}
