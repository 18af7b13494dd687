/**
 * How the server wakes a device: `{"mdm":"<PushMagic>"}` to the token of its last TokenUpdate,
 * through an APNs sender, with APNs' answers taking effect:
 *
 * - 410: the token is marked invalid until the device's next TokenUpdate (pushing to it again
 *   is pointless, and Apple frowns on providers that keep trying);
 * - 429, 5xx and no answer: retried with exponential backoff on the clock, so that a virtual
 *   clock replays a flaky APNs exactly;
 * - anything else (400, 403, 404, 405, 413) is the request's fault: retrying cannot help.
 *
 * A push is an idempotent wake-up, so each device has at most one push going at a time: a push
 * asked for while the first attempt is on the wire shares its answer, and one asked for while a
 * retry is pending is skipped (`retry-pending`).
 */
import type { Clock, TimerHandle } from '../../protocol/clock';
import { formatDuration } from '../../protocol/duration';
import { mdmPayload } from '../../protocol/apns';
import type { EventLog } from '../service/event-log';
import type { Storage } from '../storage/types';
import type { ApnsRequestHeaders, ApnsSendResult, ApnsSender } from './apns-client';

/** Who asked for the push: a queued command, a person, or a lab policy. */
export type PushWhy = 'enqueue' | 'operator' | 'policy';
/** What an attempt's events say it was for: the first carries the push's why, later ones `retry`. */
export type AttemptWhy = PushWhy | 'retry';

export type SkipReason = 'unknown-enrollment' | 'not-enabled' | 'no-token' | 'token-invalid' | 'retry-pending';

export type PushOutcome =
  | { status: 'sent'; apnsId: string }
  | { status: 'failed'; httpStatus: number; reason?: string; error?: string; retrying: boolean; attempt: number }
  | { status: 'skipped'; reason: SkipReason };

export interface RetryPolicy {
  /** Attempts in all, the first included (default 5). */
  attempts: number;
  /** Wait after the first failure; doubled after each (default 1000). */
  baseDelayMs: number;
  /** Longest wait between attempts (default 60 000). */
  maxDelayMs: number;
}

export interface PushServiceOptions {
  store: Storage;
  clock: Clock;
  events: EventLog;
  sender: ApnsSender;
  retry?: Partial<RetryPolicy>;
}

export const DEFAULT_RETRY_POLICY: Readonly<RetryPolicy> = { attempts: 5, baseDelayMs: 1000, maxDelayMs: 60_000 };

/** A retry of one device's push: scheduled (timer set) or running (timer fired). */
interface Retry {
  attempt: number;
  why: AttemptWhy;
  timer?: TimerHandle;
  /** Settles when the retry has run or was cancelled (real-clock idle() waits on it). */
  done: Promise<void>;
  settle: () => void;
}

type FailedResult = Exclude<ApnsSendResult, { ok: true }>;

const SKIP_WORDS: Record<SkipReason, string> = {
  'unknown-enrollment': 'no such enrollment',
  'not-enabled': 'the enrollment is not enabled (no TokenUpdate since Authenticate, or checked out)',
  'no-token': 'no push token or PushMagic yet (the device has sent no TokenUpdate)',
  'token-invalid': 'APNs called its token Unregistered (410); waiting for its next TokenUpdate',
  'retry-pending': 'a retry of the last push is already pending',
};

export class PushService {
  private readonly store: Storage;
  private readonly clock: Clock;
  private readonly events: EventLog;
  private readonly sender: ApnsSender;
  private readonly policy: RetryPolicy;
  /** First attempts on the wire, by enrollment id. */
  private readonly firsts = new Map<string, Promise<PushOutcome>>();
  private readonly retries = new Map<string, Retry>();
  /** Work on the wire (first attempts and running retries), for idle(). */
  private readonly running = new Set<Promise<unknown>>();
  private closed = false;

  constructor(options: PushServiceOptions) {
    this.store = options.store;
    this.clock = options.clock;
    this.events = options.events;
    this.sender = options.sender;
    this.policy = retryPolicy(options.retry);
  }

  /**
   * Pushes to each enrollment once, in parallel; resolves with every first attempt's answer.
   * Retries go on in the background, on the clock.
   */
  async push(ids: readonly string[], why: PushWhy): Promise<Record<string, PushOutcome>> {
    const unique = [...new Set(ids)];
    const answers = unique.map((id) => {
      if (this.retries.has(id)) return this.skip(id, 'retry-pending', why);
      return this.firsts.get(id) ?? this.first(id, why);
    });
    const outcomes = await Promise.all(answers);
    const out: Record<string, PushOutcome> = {};
    unique.forEach((id, i) => (out[id] = outcomes[i]!));
    return out;
  }

  /**
   * Resolves when nothing is on the wire. On a real clock it also waits for scheduled retries
   * (they fire on their own); on a virtual clock it cannot, as they run only when the clock is
   * advanced: advance it, then call idle().
   */
  async idle(): Promise<void> {
    for (;;) {
      const waits: Promise<unknown>[] = [...this.running];
      if (this.clock.mode === 'real') for (const r of this.retries.values()) waits.push(r.done);
      if (waits.length === 0) return;
      await Promise.all(waits);
    }
  }

  /** Attempts on the wire now (first attempts and running retries; scheduled retries are not). */
  get inFlight(): number {
    return this.running.size;
  }

  /** Devices with a retry scheduled or running. */
  get pendingRetries(): number {
    return this.retries.size;
  }

  /** Cancels scheduled retries; attempts on the wire finish but schedule no more. */
  close(): void {
    this.closed = true;
    for (const r of this.retries.values()) {
      r.timer?.cancel();
      r.settle();
    }
    this.retries.clear();
  }

  // ---- attempts --------------------------------------------------------------------------

  private first(id: string, why: PushWhy): PushOutcome | Promise<PushOutcome> {
    const answer = this.attempt(id, why, 1);
    if (!(answer instanceof Promise)) return answer;
    this.firsts.set(id, answer);
    void answer.finally(() => this.firsts.delete(id));
    return answer;
  }

  /** One attempt: reads the enrollment now, so that a retry uses the device's newest token. */
  private attempt(id: string, why: AttemptWhy, attempt: number): PushOutcome | Promise<PushOutcome> {
    const e = this.store.getEnrollment(id);
    if (!e) return this.skip(id, 'unknown-enrollment', why);
    if (!e.enabled) return this.skip(id, 'not-enabled', why);
    if (!e.token || !e.pushMagic) return this.skip(id, 'no-token', why);
    if (e.pushTokenInvalidAt !== undefined) return this.skip(id, 'token-invalid', why);
    const token = e.token;
    const headers: ApnsRequestHeaders = { topic: e.topic, pushType: 'mdm', priority: 10 };
    const work = this.sender
      .send(token, mdmPayload(e.pushMagic), headers)
      // The sender promises never to reject; a foreign one might, and that is "no answer" too.
      .catch((error: unknown): ApnsSendResult => ({ ok: false, status: 0, error: `sender failed: ${messageOf(error)}` }))
      .then((result) => this.answered(id, token, why, attempt, result));
    return this.track(work);
  }

  private answered(id: string, token: string, why: AttemptWhy, attempt: number, result: ApnsSendResult): PushOutcome {
    if (result.ok) {
      const short = result.apnsId.length > 8 ? `${result.apnsId.slice(0, 8)}…` : result.apnsId || '(none)';
      const of = attempt > 1 ? ` (attempt ${attempt}/${this.policy.attempts})` : '';
      this.record('mdm.push.sent', id, `push → APNs 200 apns-id ${short}${of}`, { apnsId: result.apnsId, why, attempt, status: 200 });
      return { status: 'sent', apnsId: result.apnsId };
    }
    return this.failed(id, token, why, attempt, result);
  }

  private failed(id: string, token: string, why: AttemptWhy, attempt: number, r: FailedResult): PushOutcome {
    const reason = 'reason' in r ? r.reason : undefined;
    const error = 'error' in r ? r.error : undefined;
    const what = r.status === 0 ? `push → APNs: no answer (${error ?? 'unknown error'})` : `push → APNs ${r.status}${reason ? ` ${reason}` : ''}`;
    const data: Record<string, unknown> = { httpStatus: r.status, attempt, why };
    if (reason !== undefined) data.reason = reason;
    if (error !== undefined) data.error = error;
    let retrying = false;
    let tail: string;

    if (r.status === 410) {
      const at = ('timestamp' in r ? r.timestamp : undefined) ?? this.clock.now();
      const marked = this.store.markPushTokenInvalid(id, token, at);
      data.tokenInvalid = marked;
      // A TokenUpdate that came while the push was out replaced the token APNs refused.
      tail = marked ? ': token marked invalid until the next TokenUpdate' : ': that token was already replaced by a newer TokenUpdate, which stays valid';
    } else if (!isRetryable(r.status)) {
      tail = ', not retried (retrying cannot fix the request)';
    } else if (attempt >= this.policy.attempts) {
      tail = `, giving up after ${attempt} attempts`;
    } else if (this.closed) {
      tail = ', not retried: the push service is closed';
    } else {
      const delay = this.delayAfter(attempt);
      this.schedule(id, attempt + 1, delay);
      retrying = true;
      data.nextAttemptInMs = delay;
      tail = `, retry ${attempt + 1}/${this.policy.attempts} in ${formatDuration(delay)}`;
    }
    data.retrying = retrying;
    this.record('mdm.push.failed', id, what + tail, data);
    const outcome: PushOutcome = { status: 'failed', httpStatus: r.status, retrying, attempt };
    if (reason !== undefined) outcome.reason = reason;
    if (error !== undefined) outcome.error = error;
    return outcome;
  }

  private skip(id: string, reason: SkipReason, why: AttemptWhy): PushOutcome {
    this.record('mdm.push.skipped', id, `push not sent: ${SKIP_WORDS[reason]}`, { reason, why });
    return { status: 'skipped', reason };
  }

  // ---- retries ---------------------------------------------------------------------------

  private delayAfter(attempt: number): number {
    return Math.min(this.policy.maxDelayMs, this.policy.baseDelayMs * 2 ** (attempt - 1));
  }

  private schedule(id: string, attempt: number, delayMs: number): void {
    let settle!: () => void;
    const done = new Promise<void>((resolve) => (settle = resolve));
    const retry: Retry = { attempt, why: 'retry', done, settle };
    this.retries.set(id, retry);
    retry.timer = this.clock.setTimer(delayMs, () => this.runRetry(id, retry), `push retry ${attempt}/${this.policy.attempts} ${id}`);
  }

  /** A timer callback: returns its work (a virtual clock awaits it) and never throws. */
  private runRetry(id: string, retry: Retry): Promise<void> | undefined {
    if (this.retries.get(id) !== retry) return undefined;
    // Still in `retries` while it runs: a push asked for now is this retry's business.
    retry.timer = undefined;
    const work = (async () => {
      try {
        await this.attempt(id, retry.why, retry.attempt);
      } catch (error) {
        this.recordQuietly('mdm.push.failed', id, `push retry ${retry.attempt} failed inside mdmsim: ${messageOf(error)}`, { attempt: retry.attempt, error: messageOf(error), retrying: false, why: retry.why });
      } finally {
        // The attempt may have scheduled the next retry in its place.
        if (this.retries.get(id) === retry) this.retries.delete(id);
        retry.settle();
      }
    })();
    return this.track(work);
  }

  // ---- bookkeeping -----------------------------------------------------------------------

  private track<T>(work: Promise<T>): Promise<T> {
    this.running.add(work);
    const untrack = () => this.running.delete(work);
    work.then(untrack, untrack);
    return work;
  }

  private record(type: string, udid: string, summary: string, data: Record<string, unknown>): void {
    this.events.record({ type, udid, from: 'mdm', to: 'apns', summary, data });
  }

  private recordQuietly(type: string, udid: string, summary: string, data: Record<string, unknown>): void {
    try {
      this.record(type, udid, summary, data);
    } catch {
      // The event log itself is failing (storage closed during shutdown): nothing left to tell.
    }
  }
}

/** APNs' own trouble (429, 5xx) and no answer at all: worth another try later. */
function isRetryable(status: number): boolean {
  return status === 0 || status === 429 || status >= 500;
}

function retryPolicy(given: Partial<RetryPolicy> | undefined): RetryPolicy {
  const p = { ...DEFAULT_RETRY_POLICY, ...given };
  if (!Number.isInteger(p.attempts) || p.attempts < 1) throw new RangeError(`retry.attempts counts the first attempt too: an integer ≥ 1; got ${p.attempts}`);
  if (!(p.baseDelayMs >= 0) || !Number.isFinite(p.baseDelayMs)) throw new RangeError(`retry.baseDelayMs must be a finite number ≥ 0; got ${p.baseDelayMs}`);
  if (!(p.maxDelayMs >= p.baseDelayMs) || !Number.isFinite(p.maxDelayMs)) throw new RangeError(`retry.maxDelayMs must be finite and ≥ baseDelayMs (${p.baseDelayMs}); got ${p.maxDelayMs}`);
  return p;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
