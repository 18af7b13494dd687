/**
 * When and how the server wakes a device: {"mdm": PushMagic} to the token from its
 * TokenUpdate, through an APNs sender. 410 marks the token invalid until the device's next
 * TokenUpdate; 429, 5xx and network failures are retried with exponential backoff on the clock
 * (a wake-up is idempotent, so one retry per device is ever pending).
 */
import type { Clock, TimerHandle } from '../../protocol/clock';
import { mdmPayload } from '../../protocol/apns';
import type { EventLog } from '../service/event-log';
import type { Storage } from '../storage/types';
import type { ApnsSendResult, ApnsSender } from './apns-client';

export type PushWhy = 'enqueue' | 'operator' | 'policy' | 'retry';

export type PushOutcome =
  | { status: 'sent'; apnsId: string }
  | { status: 'failed'; httpStatus: number; reason?: string; error?: string; retrying: boolean; attempt: number }
  | { status: 'skipped'; reason: 'unknown-enrollment' | 'not-enabled' | 'no-token' | 'token-invalid' | 'retry-pending' };

export interface RetryPolicy {
  /** Attempts in all, the first included (default 5). */
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export interface PushServiceOptions {
  store: Storage;
  clock: Clock;
  events: EventLog;
  sender: ApnsSender;
  retry?: Partial<RetryPolicy>;
}

const RETRYABLE = new Set([0, 429, 500, 503]);

export class PushService {
  private readonly store: Storage;
  private readonly clock: Clock;
  private readonly events: EventLog;
  private readonly sender: ApnsSender;
  private readonly retry: RetryPolicy;
  private readonly retries = new Map<string, TimerHandle>();
  private readonly running = new Set<Promise<unknown>>();

  constructor(options: PushServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.events = options.events;
    this.sender = options.sender;
    this.retry = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000, ...options.retry };
  }

  /** Pushes to each device once (retries follow on their own); resolves with every first answer. */
  async push(ids: readonly string[], why: PushWhy): Promise<Record<string, PushOutcome>> {
    const unique = [...new Set(ids)];
    const outcomes = await Promise.all(
      unique.map((id) => {
        if (this.retries.has(id)) return Promise.resolve(this.skip(id, 'retry-pending', why));
        return this.track(this.attempt(id, why, 1));
      }),
    );
    const out: Record<string, PushOutcome> = {};
    unique.forEach((id, i) => (out[id] = outcomes[i]!));
    return out;
  }

  /** Resolves when no push is on the wire (scheduled retries wait for their time). */
  async idle(): Promise<void> {
    while (this.running.size > 0) await Promise.all([...this.running]);
  }

  /** Pending retries, by device: what a lab shows as "APNs retrying". */
  get pendingRetries(): number {
    return this.retries.size;
  }

  close(): void {
    for (const t of this.retries.values()) t.cancel();
    this.retries.clear();
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.running.add(p);
    void p.finally(() => this.running.delete(p));
    return p;
  }

  private async attempt(id: string, why: PushWhy, attempt: number): Promise<PushOutcome> {
    // Read now, not when the push was asked for: a retry must use the device's newest token.
    const e = this.store.getEnrollment(id);
    if (!e) return this.skip(id, 'unknown-enrollment', why);
    if (!e.enabled) return this.skip(id, 'not-enabled', why);
    if (e.token === undefined || e.pushMagic === undefined) return this.skip(id, 'no-token', why);
    if (e.pushTokenInvalidAt !== undefined) return this.skip(id, 'token-invalid', why);
    const token = e.token;
    const result = await this.sender.send(token, mdmPayload(e.pushMagic), { topic: e.topic, pushType: 'mdm', priority: 10 });
    if (result.ok) {
      this.events.record({
        type: 'mdm.push.sent',
        udid: id,
        from: 'mdm',
        to: 'apns',
        summary: `push → APNs 200 apns-id ${result.apnsId}${attempt > 1 ? ` (attempt ${attempt})` : ''}`,
        data: { apnsId: result.apnsId, why, attempt, status: 200 },
      });
      return { status: 'sent', apnsId: result.apnsId };
    }
    return this.failed(id, token, why, attempt, result);
  }

  private failed(id: string, token: string, why: PushWhy, attempt: number, r: Exclude<ApnsSendResult, { ok: true }>): PushOutcome {
    const reason = 'reason' in r ? r.reason : undefined;
    const error = 'error' in r ? r.error : undefined;
    const what = r.status === 0 ? `no answer (${error})` : `${r.status}${reason ? ` ${reason}` : ''}`;
    let retrying = false;
    let nextAttemptInMs: number | undefined;
    let tail = '';
    if (r.status === 410) {
      const at = ('timestamp' in r ? r.timestamp : undefined) ?? this.clock.now();
      const marked = this.store.markPushTokenInvalid(id, token, at);
      tail = marked ? ': token marked invalid until the next TokenUpdate' : ' (the device has a new token since)';
    } else if (RETRYABLE.has(r.status) && attempt < this.retry.attempts) {
      retrying = true;
      nextAttemptInMs = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
      tail = `, retry ${attempt + 1}/${this.retry.attempts} in ${formatMs(nextAttemptInMs)}`;
      const timer = this.clock.setTimer(
        nextAttemptInMs,
        () => {
          this.retries.delete(id);
          return this.track(this.attempt(id, 'retry', attempt + 1));
        },
        `apns retry ${id}`,
      );
      this.retries.set(id, timer);
    } else if (RETRYABLE.has(r.status)) {
      tail = `, giving up after ${attempt} attempts`;
    }
    this.events.record({
      type: 'mdm.push.failed',
      udid: id,
      from: 'mdm',
      to: 'apns',
      summary: `push → APNs ${what}${tail}`,
      data: { httpStatus: r.status, reason, error, attempt, retrying, nextAttemptInMs, why },
    });
    return { status: 'failed', httpStatus: r.status, reason, error, retrying, attempt };
  }

  private skip(id: string, reason: Extract<PushOutcome, { status: 'skipped' }>['reason'], why: PushWhy): PushOutcome {
    const words: Record<typeof reason, string> = {
      'unknown-enrollment': 'no such enrollment',
      'not-enabled': 'the enrollment is not enabled',
      'no-token': 'no push token yet (no TokenUpdate)',
      'token-invalid': 'APNs said its token is unregistered; waiting for a new TokenUpdate',
      'retry-pending': 'a retry is already scheduled',
    };
    this.events.record({ type: 'mdm.push.skipped', udid: id, from: 'mdm', to: 'apns', summary: `push not sent: ${words[reason]}`, data: { reason, why } });
    return { status: 'skipped', reason };
  }
}

function formatMs(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
