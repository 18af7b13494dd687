/**
 * The heart of the APNs mock: which tokens exist, who holds each one's courier stream, and
 * what waits for devices that are offline. The provider API hands it accepted notifications;
 * the courier server hands it subscriptions and acknowledgements. No sockets here.
 *
 * Apple's storage rules: an offline device keeps only its newest notification (per token
 * here: a token is one device and one topic), until apns-expiration or 30 days; expiration 0
 * is never stored. A notification sent but not acknowledged when its connection drops is kept
 * as if it had never left.
 */
import { randomBytes } from 'node:crypto';
import type { Clock, TimerHandle } from '../../protocol/clock';
import { deviceTokenFor, type ApnsReason, type FrameError } from '../../protocol/apns';
import type { EventLog } from '../service/event-log';
import type { ApnsFaults } from './faults';

/** A notification APNs has accepted and not yet delivered. */
export interface Notification {
  /** Courier frame id, increasing: also tells which of two notifications is newer. */
  id: number;
  apnsId: string;
  token: string;
  topic: string;
  /** The body as JSON text (validated by the provider API). */
  payload: string;
  priority: number;
  acceptedAt: number;
  /** Clock time after which it is no longer delivered; undefined = not storable (expiration 0). */
  deadline: number | undefined;
  timer?: TimerHandle;
}

/** One courier connection, as the hub sees it. */
export class CourierPeer {
  readonly tokens = new Set<string>();
  /** Sent, not yet acknowledged. */
  readonly inflight = new Map<number, Notification>();
  closed = false;

  constructor(
    readonly id: number,
    readonly label: string,
    readonly send: (text: string) => void,
  ) {}
}

class TokenEntry {
  peer: CourierPeer | undefined = undefined;
  pending: Notification | undefined = undefined;
  /** Clock time the device unregistered it: pushes are answered 410 Unregistered from then on. */
  unregisteredAt: number | undefined = undefined;
  constructor(readonly topic: string) {}
}

export type ApnsActivity =
  | { type: 'accepted'; token: string; topic: string; apnsId: string; payload: string }
  | { type: 'rejected'; token?: string; topic?: string; apnsId: string; status: number; reason: ApnsReason; detail: string }
  | { type: 'delivered'; token: string; apnsId: string; latencyMs: number }
  | { type: 'expired' | 'dropped' | 'superseded' | 'discarded'; token: string; apnsId: string };

export interface TokenState {
  token: string;
  topic: string;
  online: boolean;
  pending?: { apnsId: string; acceptedAt: string; deadline?: string };
  unregisteredAt?: string;
}

export interface ApnsHubOptions {
  clock: Clock;
  events: EventLog;
  faults: ApnsFaults;
  /** Names the enrollment a token belongs to, so the timeline can show it per device. */
  udidOf?: (token: string) => string | undefined;
}

export class ApnsHub {
  private readonly tokens = new Map<string, TokenEntry>();
  /** One string per topic: each device of a subscribe frame arrives with its own copy. */
  private readonly topics = new Map<string, string>();
  private readonly listeners = new Set<(a: ApnsActivity) => void>();
  private readonly clock: Clock;
  private readonly events: EventLog;
  private readonly faults: ApnsFaults;
  private readonly udidOf: (token: string) => string | undefined;
  private nextId = 1;
  private peers = 0;
  /** Pushes sent on a courier connection and not yet acknowledged, over all connections. */
  private unacked = 0;

  constructor(options: ApnsHubOptions) {
    this.clock = options.clock;
    this.events = options.events;
    this.faults = options.faults;
    this.udidOf = options.udidOf ?? (() => undefined);
  }

  // ---- what the provider API asks ------------------------------------------------------

  topicOf(token: string): string | undefined {
    return this.tokens.get(token)?.topic;
  }

  unregisteredAt(token: string): number | undefined {
    return this.tokens.get(token)?.unregisteredAt;
  }

  /** A notification passed every check and was answered 200. */
  accept(n: Omit<Notification, 'id' | 'acceptedAt'>): void {
    // Every field named, no spread; no activity object when nobody listens (mdmsim serve).
    const note: Notification = { id: this.nextId++, apnsId: n.apnsId, token: n.token, topic: n.topic, payload: n.payload, priority: n.priority, acceptedAt: this.clock.now(), deadline: n.deadline, timer: undefined };
    if (this.listeners.size > 0) this.emit({ type: 'accepted', token: n.token, topic: n.topic, apnsId: n.apnsId, payload: n.payload });
    this.events.record({
      type: 'apns.accepted',
      udid: this.udidOf(n.token),
      from: 'mdm',
      to: 'apns',
      summary: `POST /3/device/${short(n.token)} → 200 apns-id ${n.apnsId}`,
      data: { token: n.token, topic: n.topic, apnsId: n.apnsId },
    });
    if (this.faults.shouldDrop()) {
      this.gone(note, 'dropped', 'dropped (fault): never delivered');
      return;
    }
    const latency = this.faults.current.latencyMs;
    if (latency > 0) this.clock.setTimer(latency, () => this.route(note), 'apns delivery latency');
    else this.route(note);
  }

  recordRejection(r: { token?: string; topic?: string; apnsId: string; status: number; reason: ApnsReason; detail: string }): void {
    this.emit({ type: 'rejected', ...r });
    this.events.record({
      type: 'apns.rejected',
      udid: r.token !== undefined ? this.udidOf(r.token) : undefined,
      from: 'mdm',
      to: 'apns',
      summary: `POST /3/device/${r.token !== undefined ? short(r.token) : '?'} → ${r.status} ${r.reason}: ${r.detail}`,
      data: { token: r.token, apnsId: r.apnsId, status: r.status, reason: r.reason },
    });
  }

  // ---- what the courier asks -----------------------------------------------------------

  newPeer(label: string, send: (text: string) => void): CourierPeer {
    this.peers += 1;
    return new CourierPeer(this.peers, label, send);
  }

  /**
   * Proves ownership (the token is derived from the secret) and moves the token's stream to
   * `peer`. `reply` runs before what waited for these tokens is sent, so a client reads its
   * `subscribed` first.
   */
  subscribe(
    peer: CourierPeer,
    creds: readonly { topic: string; secret: Buffer; token?: string }[],
    indexes: readonly number[],
    reply: (result: { tokens: (string | null)[]; errors: FrameError[] }) => void,
  ): void {
    const tokens: (string | null)[] = [];
    const errors: FrameError[] = [];
    const moved = new Map<CourierPeer, string[]>();
    const deliver: TokenEntry[] = [];
    for (let i = 0; i < creds.length; i++) {
      const c = creds[i]!;
      const token = deviceTokenFor(c.topic, c.secret);
      if (c.token !== undefined && c.token !== token) {
        tokens.push(null);
        errors.push({ index: indexes[i]!, code: 'not-owner', message: `token ${short(c.token)} is not the token of this topic and secret; subscribe with the secret it was made from` });
        continue;
      }
      let entry = this.tokens.get(token);
      if (!entry) {
        entry = new TokenEntry(this.topic(c.topic));
        this.tokens.set(token, entry);
      }
      entry.unregisteredAt = undefined;
      const previous = entry.peer;
      if (previous !== peer) {
        if (previous) {
          previous.tokens.delete(token);
          const list = moved.get(previous) ?? [];
          list.push(token);
          moved.set(previous, list);
        }
        entry.peer = peer;
        peer.tokens.add(token);
      }
      tokens.push(token);
      if (entry.pending) deliver.push(entry);
    }
    for (const [old, list] of moved) old.send(JSON.stringify({ type: 'unsubscribed', tokens: list, reason: 'subscribed on another connection' }));
    const one = tokens.length === 1 && tokens[0] ? tokens[0] : undefined;
    const ok = tokens.filter((t) => t !== null) as string[];
    this.events.record({
      type: 'apns.courier.subscribed',
      udid: one !== undefined ? this.udidOf(one) : undefined,
      from: 'device',
      to: 'apns',
      summary: `${peer.label} subscribed ${ok.length === 1 ? `token ${short(ok[0]!)}` : `${ok.length} tokens`}${errors.length ? ` (${errors.length} refused)` : ''}`,
      data: { connection: peer.id, count: ok.length, refused: errors.length, tokens: ok.length <= 16 ? ok : undefined },
    });
    reply({ tokens, errors });
    for (const entry of deliver) {
      const n = entry.pending;
      // Unsubscribed or moved again by a listener in between: leave it waiting.
      if (!n || !entry.peer) continue;
      entry.pending = undefined;
      n.timer?.cancel();
      n.timer = undefined;
      this.sendTo(entry.peer, n);
    }
  }

  /** Stops this connection's stream for these tokens; pushes for them wait again. */
  unsubscribe(peer: CourierPeer, tokens: readonly string[]): { tokens: string[]; errors: FrameError[] } {
    const done: string[] = [];
    const errors: FrameError[] = [];
    tokens.forEach((token, index) => {
      const entry = typeof token === 'string' ? this.tokens.get(token) : undefined;
      if (!entry || entry.peer !== peer) {
        errors.push({ index, code: 'not-subscribed', message: `token ${typeof token === 'string' ? short(token) : JSON.stringify(token)} is not subscribed on this connection` });
        return;
      }
      entry.peer = undefined;
      peer.tokens.delete(token);
      done.push(token);
    });
    return { tokens: done, errors };
  }

  /** The device gave up the topic (unenrolled): APNs answers 410 Unregistered from now on. */
  unregister(creds: readonly { topic: string; secret: Buffer; token?: string }[], indexes: readonly number[], label: string): { tokens: (string | null)[]; errors: FrameError[] } {
    const tokens: (string | null)[] = [];
    const errors: FrameError[] = [];
    const now = this.clock.now();
    creds.forEach((c, i) => {
      const token = deviceTokenFor(c.topic, c.secret);
      if (c.token !== undefined && c.token !== token) {
        tokens.push(null);
        errors.push({ index: indexes[i]!, code: 'not-owner', message: `token ${short(c.token)} is not the token of this topic and secret` });
        return;
      }
      this.markUnregistered(token, c.topic, now, label);
      tokens.push(token);
    });
    return { tokens, errors };
  }

  /** Acknowledged pushes are delivered; unknown ids are reported back. */
  ack(peer: CourierPeer, ids: readonly number[]): number[] {
    const unknown: number[] = [];
    const now = this.clock.now();
    for (const id of ids) {
      const n = peer.inflight.get(id);
      if (!n) {
        unknown.push(id);
        continue;
      }
      peer.inflight.delete(id);
      this.unacked--;
      const latencyMs = now - n.acceptedAt;
      if (this.listeners.size > 0) this.emit({ type: 'delivered', token: n.token, apnsId: n.apnsId, latencyMs });
      this.events.record({
        type: 'apns.delivered',
        udid: this.udidOf(n.token),
        from: 'apns',
        to: 'device',
        summary: `push ${n.apnsId} delivered to ${short(n.token)}${latencyMs > 0 ? ` after ${latencyMs} ms` : ''}`,
        data: { token: n.token, apnsId: n.apnsId, latencyMs },
      });
    }
    return unknown;
  }

  /** The connection is gone: its tokens go offline and what it had not acknowledged waits again. */
  disconnect(peer: CourierPeer): void {
    if (peer.closed) return;
    peer.closed = true;
    for (const token of peer.tokens) {
      const entry = this.tokens.get(token);
      if (entry?.peer === peer) entry.peer = undefined;
    }
    const unacked = [...peer.inflight.values()];
    this.unacked -= peer.inflight.size;
    peer.inflight.clear();
    for (const n of unacked) this.store(n);
    if (peer.tokens.size > 0 || unacked.length > 0) {
      this.events.record({
        type: 'apns.courier.disconnected',
        from: 'device',
        to: 'apns',
        summary: `${peer.label} disconnected: ${peer.tokens.size} token(s) offline, ${unacked.length} unacknowledged push(es) kept`,
        data: { connection: peer.id, tokens: peer.tokens.size, unacknowledged: unacked.length },
      });
    }
    peer.tokens.clear();
  }

  // ---- control API ---------------------------------------------------------------------

  /** Registers a token as a device would, without a courier connection; a fresh secret when none is given. */
  register(topic: string, secret: Buffer = randomBytes(32)): { token: string; secret: string } {
    const token = deviceTokenFor(topic, secret);
    const entry = this.tokens.get(token);
    if (!entry) this.tokens.set(token, new TokenEntry(this.topic(topic)));
    else entry.unregisteredAt = undefined;
    return { token, secret: secret.toString('base64url') };
  }

  /** As if the device unregistered: 410 from now on. False if the token is unknown. */
  unregisterToken(token: string, label = 'operator'): boolean {
    const entry = this.tokens.get(token);
    if (!entry) return false;
    this.markUnregistered(token, entry.topic, this.clock.now(), label);
    return true;
  }

  tokenState(token: string): TokenState | undefined {
    const e = this.tokens.get(token);
    if (!e) return undefined;
    const s: TokenState = { token, topic: e.topic, online: e.peer !== undefined };
    if (e.pending) {
      s.pending = { apnsId: e.pending.apnsId, acceptedAt: new Date(e.pending.acceptedAt).toISOString() };
      if (e.pending.deadline !== undefined) s.pending.deadline = new Date(e.pending.deadline).toISOString();
    }
    if (e.unregisteredAt !== undefined) s.unregisteredAt = new Date(e.unregisteredAt).toISOString();
    return s;
  }

  /**
   * Pushes handed to a connected device and not yet acknowledged by it (a dropped connection
   * puts its unacknowledged pushes back in storage, so they no longer count). Zero means the
   * courier has nothing on its way to a device.
   */
  get unacknowledged(): number {
    return this.unacked;
  }

  get tokenCount(): number {
    return this.tokens.size;
  }

  /** Listener hooks, as pushy's mock has: every accepted, rejected, delivered or lost push. */
  onActivity(listener: (a: ApnsActivity) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Cancels every expiry timer (the mock is stopping). */
  close(): void {
    for (const e of this.tokens.values()) e.pending?.timer?.cancel();
  }

  // ---- internals -----------------------------------------------------------------------

  private topic(topic: string): string {
    const known = this.topics.get(topic);
    if (known !== undefined) return known;
    this.topics.set(topic, topic);
    return topic;
  }

  private route(n: Notification): void {
    const entry = this.tokens.get(n.token);
    if (!entry || entry.unregisteredAt !== undefined) {
      this.gone(n, 'discarded', 'discarded: the token was unregistered before delivery');
      return;
    }
    if (entry.peer) this.sendTo(entry.peer, n);
    else this.store(n);
  }

  private sendTo(peer: CourierPeer, n: Notification): void {
    if (!peer.inflight.has(n.id)) this.unacked++;
    peer.inflight.set(n.id, n);
    peer.send(`{"type":"push","id":${n.id},"token":"${n.token}","topic":${JSON.stringify(n.topic)},"payload":${n.payload},"apnsId":"${n.apnsId}","priority":${n.priority}}`);
  }

  /** Keeps the newest notification for an offline token, until its deadline. */
  private store(n: Notification): void {
    const entry = this.tokens.get(n.token);
    if (!entry || entry.unregisteredAt !== undefined) {
      this.gone(n, 'discarded', 'discarded: the token was unregistered');
      return;
    }
    // The connection may have come back (or moved) while this was in flight.
    if (entry.peer) {
      this.sendTo(entry.peer, n);
      return;
    }
    const now = this.clock.now();
    if (n.deadline === undefined || n.deadline <= now) {
      this.gone(n, n.deadline === undefined ? 'discarded' : 'expired', n.deadline === undefined ? 'discarded: device offline and apns-expiration 0 (never stored)' : 'expired before the device came back');
      return;
    }
    const older = entry.pending;
    if (older) {
      if (older.id > n.id) {
        // A newer one already waits (an unacknowledged old push coming back): it wins.
        this.gone(n, 'superseded', `superseded by the newer ${older.apnsId}`);
        return;
      }
      older.timer?.cancel();
      this.gone(older, 'superseded', `superseded by the newer ${n.apnsId} (APNs keeps one per device)`);
    }
    entry.pending = n;
    n.timer = this.clock.setTimer(n.deadline - now, () => this.expire(n), 'apns storage deadline');
  }

  private expire(n: Notification): void {
    const entry = this.tokens.get(n.token);
    if (entry?.pending !== n) return;
    entry.pending = undefined;
    this.gone(n, 'expired', 'expired while the device was offline');
  }

  private markUnregistered(token: string, topic: string, now: number, label: string): void {
    let entry = this.tokens.get(token);
    if (!entry) {
      entry = new TokenEntry(this.topic(topic));
      this.tokens.set(token, entry);
    }
    entry.unregisteredAt = now;
    if (entry.peer) {
      entry.peer.tokens.delete(token);
      entry.peer = undefined;
    }
    if (entry.pending) {
      const n = entry.pending;
      entry.pending = undefined;
      n.timer?.cancel();
      this.gone(n, 'discarded', 'discarded: the device unregistered');
    }
    this.events.record({
      type: 'apns.courier.unregistered',
      udid: this.udidOf(token),
      from: 'device',
      to: 'apns',
      summary: `token ${short(token)} unregistered by ${label}: pushes to it now get 410 Unregistered`,
      data: { token, topic },
    });
  }

  private gone(n: Notification, type: 'expired' | 'dropped' | 'superseded' | 'discarded', why: string): void {
    this.emit({ type, token: n.token, apnsId: n.apnsId });
    this.events.record({
      type: `apns.${type}`,
      udid: this.udidOf(n.token),
      from: 'apns',
      to: 'apns',
      summary: `push ${n.apnsId} for ${short(n.token)} ${why}`,
      data: { token: n.token, apnsId: n.apnsId },
    });
  }

  private emit(a: ApnsActivity): void {
    for (const l of this.listeners) {
      try {
        l(a);
      } catch {
        // A listener's bug must not break delivery.
      }
    }
  }
}

export function short(token: string): string {
  return token.length > 12 ? `${token.slice(0, 8)}…` : token;
}
