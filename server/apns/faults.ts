/**
 * What an operator (or a test) can make the APNs mock do wrong: answer a chosen reason for one
 * token or for every push, deliver late, lose deliveries, or go away altogether.
 */
import { isApnsReason, isDeviceTokenHex, type ApnsReason } from '../../protocol/apns';
import { DurationError, parseDuration } from '../../protocol/duration';
import { problem } from '../../protocol/problem';

/** `refused`: the port stops listening. `goaway`: connections are accepted and sent GOAWAY (Shutdown). */
export type ProviderState = 'up' | 'refused' | 'goaway';
export const PROVIDER_STATES: readonly ProviderState[] = ['up', 'refused', 'goaway'];

export interface ApnsFaultState {
  /** Every well-formed push is answered this reason. */
  reason: ApnsReason | null;
  /** Per token (lower-case hex): answered this reason. */
  tokens: Record<string, ApnsReason>;
  /** Accepted pushes reach the courier this much later (clock time). */
  latencyMs: number;
  /** Fraction (0–1) of accepted pushes that are never delivered. */
  drop: number;
  provider: ProviderState;
  /** A provider connection idle this long (real time) is sent GOAWAY IdleTimeout; 0 = never. */
  idleTimeoutMs: number;
}

export function noFaults(): ApnsFaultState {
  return { reason: null, tokens: {}, latencyMs: 0, drop: 0, provider: 'up', idleTimeoutMs: 0 };
}

export class ApnsFaults {
  private state = noFaults();
  /** Any per-token fault set? With none, a push's token is not used as a property key at all. */
  private anyTokenFault = false;
  /** Drops are spread evenly, not at random, so that a test's outcome is repeatable. */
  private dropCounter = 0;

  get current(): Readonly<ApnsFaultState> {
    return this.state;
  }

  reasonFor(token: string): ApnsReason | undefined {
    // A string used as a property key is first looked up in V8's string table: ~1 µs a push.
    return (this.anyTokenFault ? this.state.tokens[token] : undefined) ?? this.state.reason ?? undefined;
  }

  /** Whether this accepted push is to be lost (spread: with drop 0.25, every 4th). */
  shouldDrop(): boolean {
    const d = this.state.drop;
    if (d <= 0) return false;
    const before = Math.floor(this.dropCounter * d);
    this.dropCounter += 1;
    return Math.floor(this.dropCounter * d) > before;
  }

  /** Applies a partial update (PATCH semantics; `tokens` entries set to null are removed). */
  update(patch: unknown): Readonly<ApnsFaultState> {
    const next = parseFaultPatch(patch, this.state);
    if (next.drop !== this.state.drop) this.dropCounter = 0;
    this.state = next;
    this.anyTokenFault = Object.keys(next.tokens).length > 0;
    return this.state;
  }

  reset(): Readonly<ApnsFaultState> {
    this.state = noFaults();
    this.anyTokenFault = false;
    this.dropCounter = 0;
    return this.state;
  }
}

const KEYS = ['reason', 'tokens', 'latency', 'latencyMs', 'drop', 'provider', 'idleTimeout', 'idleTimeoutMs'];

/** Validates a fault update; throws a 400 problem naming the field at fault. */
export function parseFaultPatch(patch: unknown, base: ApnsFaultState): ApnsFaultState {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) {
    throw problem(400, 'bad-faults', 'send the faults as a JSON object', { expected: '{"reason": "TooManyRequests", "tokens": {"<hex>": "Unregistered"}, "latency": "2s", "drop": 0.5, "provider": "goaway"}' });
  }
  const p = patch as Record<string, unknown>;
  const unknown = Object.keys(p).filter((k) => !KEYS.includes(k));
  if (unknown.length > 0) throw problem(400, 'bad-faults', `unknown fault field ${JSON.stringify(unknown[0])}`, { field: unknown[0], expected: KEYS.join(', ') });
  const next: ApnsFaultState = { ...base, tokens: { ...base.tokens } };
  if ('reason' in p) next.reason = p.reason === null ? null : reasonField(p.reason, 'reason');
  if ('tokens' in p) {
    const t = p.tokens;
    if (t === null) next.tokens = {};
    else {
      if (typeof t !== 'object' || Array.isArray(t)) throw problem(400, 'bad-faults', 'tokens maps a device token (hex) to a reason, or to null to clear it', { field: 'tokens' });
      for (const [token, reason] of Object.entries(t as Record<string, unknown>)) {
        const key = token.toLowerCase();
        if (!isDeviceTokenHex(key)) throw problem(400, 'bad-faults', `tokens: ${JSON.stringify(token)} is not a hex device token`, { field: `tokens.${token}` });
        if (reason === null) delete next.tokens[key];
        else next.tokens[key] = reasonField(reason, `tokens.${token}`);
      }
    }
  }
  if ('latency' in p || 'latencyMs' in p) next.latencyMs = durationField('latency' in p ? p.latency : p.latencyMs, 'latency');
  if ('drop' in p) {
    const d = p.drop === true ? 1 : p.drop === false ? 0 : p.drop;
    if (typeof d !== 'number' || !(d >= 0 && d <= 1)) throw problem(400, 'bad-faults', `drop is true, false or a fraction from 0 to 1; got ${JSON.stringify(p.drop)}`, { field: 'drop' });
    next.drop = d;
  }
  if ('provider' in p) {
    if (!PROVIDER_STATES.includes(p.provider as ProviderState)) {
      throw problem(400, 'bad-faults', `provider is one of ${PROVIDER_STATES.join(', ')}; got ${JSON.stringify(p.provider)}`, { field: 'provider' });
    }
    next.provider = p.provider as ProviderState;
  }
  if ('idleTimeout' in p || 'idleTimeoutMs' in p) next.idleTimeoutMs = durationField('idleTimeout' in p ? p.idleTimeout : p.idleTimeoutMs, 'idleTimeout');
  return next;
}

function reasonField(v: unknown, field: string): ApnsReason {
  if (!isApnsReason(v)) {
    throw problem(400, 'bad-faults', `${field}: ${JSON.stringify(v)} is not an APNs reason`, {
      field,
      expected: 'an APNs reason such as BadDeviceToken, Unregistered, TooManyRequests, ServiceUnavailable (see the README for all)',
    });
  }
  return v;
}

function durationField(v: unknown, field: string): number {
  if (v === null || v === 0 || v === '0') return 0;
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return v;
  if (typeof v === 'string') {
    try {
      return parseDuration(v);
    } catch (error) {
      if (error instanceof DurationError) throw problem(400, 'bad-faults', `${field}: ${error.message}`, { field });
      throw error;
    }
  }
  throw problem(400, 'bad-faults', `${field} is a duration ("2s", "500ms", "1m") or milliseconds; got ${JSON.stringify(v)}`, { field });
}
