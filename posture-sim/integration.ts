/**
 * The Kandji posture integration as Tailscale runs it (the seed: reference/seeds/002_…): it
 * syncs when created, when its configuration changes, and every 15 minutes; each sync reads
 * Prism's device information to the end, matches nodes to devices by serial number, writes
 * `kandji:mdmEnabled` and `kandji:agentInstalled` on matched nodes, and evaluates the posture
 * rules. An authentication error pauses it for up to 24 hours.
 *
 * Choices the seed leaves open, made here and documented in the README:
 * - A node that no longer matches any device (deleted from Kandji, or its serial changed) loses
 *   its kandji: attributes, so rules that need them deny it; each removal is an audited
 *   "Update node attribute" with new = null.
 * - A failed sync changes no attribute: what the last good sync wrote stays until the next good one.
 * - 401 and 403 both pause (a token without the Prism permission does not heal by retrying);
 *   `pauseOnStatus` changes that. The pause lasts `pauseOnAuthErrorMs`, then one sync tries again
 *   (and pauses again if the token is still refused); a configuration update resumes at once.
 * - 429 keeps the schedule: the next try is a full interval later, or later still if the server
 *   says so (`retry-after` / `ratelimit-reset`). Never sooner: a client that retries at the
 *   reset of a per-second window only joins the crowd that filled it.
 * - Syncs never overlap: a sync asked for while one runs starts after it.
 *
 * Everything runs on the injected Clock, so a lab's virtual clock drives the schedule and the
 * pause; a timer's sync is awaited by the clock, so its requests carry its own instant.
 */
import { RealClock, type Clock, type TimerHandle } from '../protocol/clock';
import { parseDuration } from '../protocol/duration';
import { AUDIT_ACTIONS, integrationEvent, nodeAttributeEvent, type AuditEvent, type NodeAuditEvent } from './audit';
import { indexBySerial, kandjiAttributes, KANDJI_ATTRIBUTES, matchNode } from './match';
import { parseNodeList, type PostureNodeInput } from './nodes';
import { PrismClient, PrismError, type PrismErrorKind } from './prism-client';
import { evaluatePosture, parseRules, type AttributeValue, type PostureDecision, type PostureRule } from './rules';

export interface PostureSyncOptions {
  /** The Kandji API URL, e.g. `https://your-org.api.kandji.io` (an mdmsim server's URL). */
  apiUrl: string;
  /** A Kandji API token with the Prism "Device Information" permission. */
  token: string;
  /** PEM trusted for HTTPS (mdmsim's CA: the ready line's caCert). */
  ca?: string | Buffer;
  /** Default: real time. A lab passes its virtual clock. */
  clock?: Clock;
  nodes: readonly PostureNodeInput[];
  /** One posture: a node is allowed when it satisfies every rule (none: every node is allowed). */
  rules?: readonly string[];
  /** Between scheduled syncs (default 15m). */
  intervalMs?: number | string;
  /** How long an authentication error pauses the integration (default 24h). */
  pauseOnAuthErrorMs?: number | string;
  /** Statuses that pause it (default [401, 403]). */
  pauseOnStatus?: readonly number[];
  /** Prism page size (default 300, Kandji's ceiling). */
  pageSize?: number;
  /** Who configures the integration, as audit events name them (default admin@example.com). */
  actor?: string;
  /** Every sync, audit event, access change, pause and resume, as it happens. */
  onEvent?: (event: PostureEvent) => void;
}

export type SyncTrigger = 'create' | 'update' | 'schedule' | 'manual';

export interface PostureSyncError {
  at: number;
  kind: PrismErrorKind | 'internal';
  status?: number;
  message: string;
}

export interface SyncReport {
  at: number;
  trigger: SyncTrigger;
  /** False when the sync failed or did not run (`skipped`). */
  ok: boolean;
  /** Why it did not run at all. */
  skipped?: 'paused' | 'stopped';
  pages: number;
  /** Prism records read. */
  devices: number;
  matched: number;
  unmatched: number;
  /** Attributes written or removed. */
  changes: NodeAuditEvent[];
  error?: PostureSyncError;
}

export interface PostureSyncStatus {
  state: 'active' | 'paused' | 'stopped';
  apiUrl: string;
  /** Last sync attempt (successful or not). */
  lastSyncAt: number | null;
  lastSuccessAt: number | null;
  /** From the last successful sync. */
  matched: number;
  unmatched: number;
  devices: number;
  /** The last sync's error (null once a sync succeeds). */
  error: PostureSyncError | null;
  pausedUntil: number | null;
  nextSyncAt: number | null;
  syncs: number;
  failures: number;
}

export interface PostureNodeState {
  id: string;
  name: string;
  os?: string;
  serialNumbers: readonly string[];
  /** The Kandji device it matched at the last successful sync. */
  deviceId: string | null;
  attributes: Readonly<Record<string, AttributeValue>>;
  allowed: boolean;
  /** Rules it fails, as written. */
  failing: readonly string[];
}

export type PostureEvent =
  | { type: 'sync'; report: SyncReport }
  | { type: 'audit'; event: AuditEvent }
  | { type: 'access'; at: number; nodeId: string; nodeName: string; allowed: boolean; failing: string[] }
  | { type: 'paused'; at: number; until: number; error: PostureSyncError }
  | { type: 'resumed'; at: number; trigger: SyncTrigger; pausedSince: number };

interface NodeRecord {
  input: PostureNodeInput;
  attributes: Record<string, AttributeValue>;
  deviceId: string | null;
  decision: PostureDecision;
}

export class PostureSync {
  private readonly clock: Clock;
  private readonly intervalMs: number;
  private readonly pauseMs: number;
  private readonly pauseOnStatus: ReadonlySet<number>;
  private readonly rules: PostureRule[];
  private readonly actor: string;
  private readonly pageSize: number | undefined;
  private readonly onEvent: ((event: PostureEvent) => void) | undefined;
  private readonly records = new Map<string, NodeRecord>();
  private readonly auditLog: AuditEvent[] = [];
  private config: { apiUrl: string; token: string; ca?: string | Buffer };
  private client: PrismClient;
  private timer: TimerHandle | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  private pending = 0;
  private stopped = false;
  private pausedSince: number | null = null;
  /**
   * Bumped by every configuration update: a sync that started under an older configuration
   * and fails must not pause the new one (its 401 says nothing about the new token).
   */
  private generation = 0;
  private readonly state = {
    lastSyncAt: null as number | null,
    lastSuccessAt: null as number | null,
    matched: 0,
    unmatched: 0,
    devices: 0,
    error: null as PostureSyncError | null,
    pausedUntil: null as number | null,
    syncs: 0,
    failures: 0,
  };

  /** Use startPostureSync(): it also creates the integration (audit event and first sync). */
  constructor(options: PostureSyncOptions) {
    this.clock = options.clock ?? new RealClock();
    this.intervalMs = parseDuration(options.intervalMs ?? '15m');
    this.pauseMs = parseDuration(options.pauseOnAuthErrorMs ?? '24h');
    if (this.intervalMs <= 0) throw new RangeError('intervalMs: expected a positive duration');
    // A zero pause would retry a refused token at once, forever (and hang a virtual clock).
    if (this.pauseMs <= 0) throw new RangeError('pauseOnAuthErrorMs: expected a positive duration');
    this.pauseOnStatus = new Set(options.pauseOnStatus ?? [401, 403]);
    this.rules = parseRules(options.rules ?? []);
    this.actor = options.actor ?? 'admin@example.com';
    this.pageSize = options.pageSize;
    this.onEvent = options.onEvent;
    for (const input of parseNodeList([...options.nodes], 'nodes')) {
      const attributes = { ...input.attributes };
      this.records.set(input.id, { input, attributes, deviceId: null, decision: evaluatePosture(this.rules, attributes) });
    }
    this.config = { apiUrl: options.apiUrl, token: options.token, ...(options.ca !== undefined ? { ca: options.ca } : {}) };
    this.client = this.newClient();
  }

  private newClient(config = this.config): PrismClient {
    return new PrismClient({ apiUrl: config.apiUrl, token: config.token, ca: config.ca, limit: this.pageSize });
  }

  /** Creates the integration: the audit event, then the first sync (resolved when it is done). */
  async create(): Promise<SyncReport> {
    this.audit(integrationEvent(this.clock.now(), AUDIT_ACTIONS.create, this.actor));
    return this.run('create');
  }

  /** Work in flight (a lab settles it before time moves on). */
  get busy(): boolean {
    return this.pending > 0;
  }

  async settled(): Promise<void> {
    while (this.pending > 0) await this.tail;
  }

  status(): PostureSyncStatus {
    const paused = !this.stopped && this.state.pausedUntil !== null;
    return {
      state: this.stopped ? 'stopped' : paused ? 'paused' : 'active',
      apiUrl: this.config.apiUrl,
      ...this.state,
      nextSyncAt: this.timer?.due ?? null,
    };
  }

  nodes(): PostureNodeState[] {
    return [...this.records.values()].map((r) => this.nodeState(r));
  }

  node(id: string): PostureNodeState | undefined {
    const r = this.records.get(id);
    return r && this.nodeState(r);
  }

  private nodeState(r: NodeRecord): PostureNodeState {
    return {
      id: r.input.id,
      name: r.input.name,
      ...(r.input.os !== undefined ? { os: r.input.os } : {}),
      serialNumbers: r.input.serialNumbers,
      deviceId: r.deviceId,
      attributes: { ...r.attributes },
      allowed: r.decision.allowed,
      failing: [...r.decision.failing],
    };
  }

  /** The audit log, oldest first. */
  audit(): AuditEvent[];
  audit(event: AuditEvent): void;
  audit(event?: AuditEvent): AuditEvent[] | void {
    if (event === undefined) return [...this.auditLog];
    this.auditLog.push(event);
    this.emit({ type: 'audit', event });
  }

  /** A sync now, out of schedule (skipped while paused: update the configuration to resume). */
  syncNow(): Promise<SyncReport> {
    return this.run('manual');
  }

  /**
   * Changes the configuration (a new token, another URL): audited, resumes a paused
   * integration, and syncs at once.
   */
  async update(changes: { apiUrl?: string; token?: string; ca?: string | Buffer }): Promise<SyncReport> {
    if (this.stopped) throw new Error('the posture integration was removed (stop()); start a new one');
    const changed = (['apiUrl', 'token', 'ca'] as const).filter((k) => changes[k] !== undefined && changes[k] !== this.config[k]);
    const config = { ...this.config, ...Object.fromEntries(Object.entries(changes).filter(([, v]) => v !== undefined)) };
    // Built before anything changes: a bad URL throws here and leaves the integration as it was.
    const client = this.newClient(config);
    const previous = this.client;
    this.config = config;
    this.client = client;
    this.generation++;
    previous.close();
    this.audit(integrationEvent(this.clock.now(), AUDIT_ACTIONS.update, this.actor, changed));
    // A new configuration deserves a try at once, whatever paused the old one.
    this.state.pausedUntil = null;
    return this.run('update');
  }

  /** Removes the integration: no more syncs; attributes stay as last written. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
    await this.settled();
    this.audit(integrationEvent(this.clock.now(), AUDIT_ACTIONS.remove, this.actor));
    this.client.close();
  }

  private emit(event: PostureEvent): void {
    try {
      this.onEvent?.(event);
    } catch {
      // A listener's bug must not stop the integration.
    }
  }

  private run(trigger: SyncTrigger): Promise<SyncReport> {
    this.pending++;
    const result = this.tail.then(() => this.syncOnce(trigger));
    this.tail = result.then(
      () => this.pending--,
      () => this.pending--,
    );
    return result;
  }

  private schedule(at: number): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimer(at - this.clock.now(), () => {
      this.timer = undefined;
      return this.run('schedule');
    }, 'posture-sync');
  }

  private emptyReport(at: number, trigger: SyncTrigger): SyncReport {
    return { at, trigger, ok: false, pages: 0, devices: 0, matched: 0, unmatched: 0, changes: [] };
  }

  private async syncOnce(trigger: SyncTrigger): Promise<SyncReport> {
    const at = this.clock.now();
    if (this.stopped) return { ...this.emptyReport(at, trigger), skipped: 'stopped' };
    const pausedUntil = this.state.pausedUntil;
    if (pausedUntil !== null && at < pausedUntil) return { ...this.emptyReport(at, trigger), skipped: 'paused' };
    this.state.lastSyncAt = at;
    this.state.syncs++;
    const generation = this.generation;
    try {
      const read = await this.client.readAll();
      // The integration may have been removed while the pages came in.
      if (this.stopped) return { ...this.emptyReport(at, trigger), skipped: 'stopped' };
      return this.apply(at, trigger, read.records, read.pages);
    } catch (caught) {
      return this.fail(at, trigger, caught, generation !== this.generation);
    }
  }

  private apply(at: number, trigger: SyncTrigger, records: Parameters<typeof indexBySerial>[0], pages: number): SyncReport {
    const index = indexBySerial(records);
    const changes: NodeAuditEvent[] = [];
    const access: PostureEvent[] = [];
    let matched = 0;
    for (const r of this.records.values()) {
      const device = matchNode(r.input, index);
      if (device) matched++;
      r.deviceId = device?.device_id ?? null;
      const desired: Partial<Record<string, boolean>> = device ? kandjiAttributes(device) : {};
      for (const key of KANDJI_ATTRIBUTES) {
        const old = Object.prototype.hasOwnProperty.call(r.attributes, key) ? r.attributes[key]! : null;
        const next = desired[key] ?? null;
        if (old === next) continue;
        if (next === null) delete r.attributes[key];
        else r.attributes[key] = next;
        changes.push(nodeAttributeEvent(at, { id: r.input.id, name: r.input.name }, key, old, next));
      }
      const decision = evaluatePosture(this.rules, r.attributes);
      if (decision.allowed !== r.decision.allowed || decision.failing.join('\n') !== r.decision.failing.join('\n')) {
        access.push({ type: 'access', at, nodeId: r.input.id, nodeName: r.input.name, allowed: decision.allowed, failing: decision.failing });
      }
      r.decision = decision;
    }
    const wasPausedSince = this.pausedSince;
    Object.assign(this.state, { lastSuccessAt: at, matched, unmatched: this.records.size - matched, devices: records.length, error: null, pausedUntil: null });
    this.pausedSince = null;
    const report: SyncReport = { at, trigger, ok: true, pages, devices: records.length, matched, unmatched: this.records.size - matched, changes };
    this.schedule(at + this.intervalMs);
    if (wasPausedSince !== null) this.emit({ type: 'resumed', at, trigger, pausedSince: wasPausedSince });
    this.emit({ type: 'sync', report });
    for (const c of changes) this.audit(c);
    for (const a of access) this.emit(a);
    return report;
  }

  /** `stale`: the configuration changed while this sync ran; the update's own sync, queued behind it, decides what comes next. */
  private fail(at: number, trigger: SyncTrigger, caught: unknown, stale: boolean): SyncReport {
    const error: PostureSyncError =
      caught instanceof PrismError
        ? { at, kind: caught.kind, ...(caught.status !== undefined ? { status: caught.status } : {}), message: caught.message }
        : { at, kind: 'internal', message: `the sync failed: ${(caught as Error)?.message ?? String(caught)}` };
    this.state.error = error;
    this.state.failures++;
    const report: SyncReport = { ...this.emptyReport(at, trigger), error };
    this.emit({ type: 'sync', report });
    if (this.stopped || stale) return report;
    if (error.status !== undefined && this.pauseOnStatus.has(error.status)) {
      const until = at + this.pauseMs;
      this.state.pausedUntil = until;
      this.pausedSince ??= at;
      this.schedule(until);
      this.emit({ type: 'paused', at, until, error });
    } else {
      // Not an authentication error: whatever paused the integration is over (pausedSince is
      // kept, so the next success still reports the resume).
      this.state.pausedUntil = null;
      const wait = caught instanceof PrismError && caught.retryAfterMs !== undefined ? Math.max(caught.retryAfterMs, this.intervalMs) : this.intervalMs;
      this.schedule(at + wait);
    }
    return report;
  }
}

/**
 * Creates a posture integration and runs its first sync; resolves when that sync is done
 * (whatever its outcome: read `status()`), with the schedule running on the clock.
 */
export async function startPostureSync(options: PostureSyncOptions): Promise<PostureSync> {
  const sync = new PostureSync(options);
  await sync.create();
  return sync;
}
