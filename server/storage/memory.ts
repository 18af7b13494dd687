/**
 * In-memory storage: the default for tests and labs. Built to stay small at 100,000
 * enrollments: one record object per enrollment, repeated strings (topics, models, OS
 * versions) shared, and per-enrollment collections created only when something is in them.
 */
import {
  DuplicateCommandError,
  type AgentCheckinFacts,
  type AgentInstallOutcome,
  type AgentInventory,
  type AuthenticateFacts,
  type EnrollmentQuery,
  type EnrollmentRecord,
  type EventQuery,
  type EventRecord,
  type PushInfo,
  type QueueEntry,
  type ReportOutcome,
  type ResultRecord,
  type Storage,
  type StoredCommand,
} from './types';
import { FINAL_STATUSES } from '../../protocol/result';
import { pageEnrollments } from './enrollment-page';
import { matchesEventQuery } from './events';

interface QueueItem {
  command: StoredCommand;
  status: QueueEntry['status'];
  queuedAt: number;
}

export interface MemoryStorageOptions {
  /** Events kept; the oldest are dropped past this (default 200,000). */
  eventCapacity?: number;
}

export class MemoryStorage implements Storage {
  private readonly enrollments = new Map<string, EnrollmentRecord>();
  /** Identity certificate SHA-256 → the enrollment it is bound to. */
  private readonly byCertificate = new Map<string, string>();
  private readonly byToken = new Map<string, string>();
  private readonly queues = new Map<string, QueueItem[]>();
  private readonly commands = new Map<string, StoredCommand>();
  private readonly resultsById = new Map<string, ResultRecord[]>();
  private readonly resultsByCommand = new Map<string, ResultRecord[]>();
  /** Latest app inventory per enrollment: only devices whose agent sent one have an entry. */
  private readonly inventories = new Map<string, AgentInventory>();
  /** Few distinct values repeat across a fleet; keep one copy of each. */
  private readonly interned = new Map<string, string>();
  private readonly events: EventRecord[] = [];
  private readonly eventCapacity: number;
  private eventStart = 0;
  private lastEventId = 0;

  constructor(options: MemoryStorageOptions = {}) {
    this.eventCapacity = Math.max(1, options.eventCapacity ?? 200_000);
  }

  private intern(s: string | undefined): string | undefined {
    if (s === undefined) return undefined;
    const hit = this.interned.get(s);
    if (hit !== undefined) return hit;
    if (this.interned.size < 10_000) this.interned.set(s, s);
    return s;
  }

  storeAuthenticate(facts: AuthenticateFacts, at: number): void {
    // One fixed shape for every record keeps V8's hidden classes shared and objects small.
    const record: EnrollmentRecord = {
      id: facts.id,
      udid: facts.udid,
      enrollmentId: facts.enrollmentId,
      serialNumber: facts.serialNumber,
      platform: facts.platform,
      osVersion: this.intern(facts.osVersion),
      buildVersion: this.intern(facts.buildVersion),
      productName: this.intern(facts.productName),
      model: this.intern(facts.model),
      modelName: this.intern(facts.modelName),
      deviceName: facts.deviceName,
      topic: this.intern(facts.topic)!,
      token: undefined,
      pushMagic: undefined,
      unlockToken: undefined,
      awaitingConfiguration: undefined,
      enabled: false,
      tokenUpdateTally: 0,
      authenticatedAt: at,
      enrolledAt: undefined,
      lastSeenAt: at,
      bootstrapToken: undefined,
      identityCertSha256: facts.identityCertSha256,
      pushTokenInvalidAt: undefined,
      agentLastCheckinAt: undefined,
      agentLastCheckinKind: undefined,
      agentVersion: undefined,
      agentInstalledAt: undefined,
      agentInventoryAt: undefined,
      agentInstallAcknowledgedAt: undefined,
      agentGoneAt: undefined,
      firstEnrolledAt: undefined,
      removedAt: undefined,
      agentInstallPending: undefined,
      agentInstallLastFiredAt: undefined,
      agentInstallAttempts: 0,
      agentInstallLastOutcome: undefined,
      agentInstallLastOutcomeAt: undefined,
      agentPolicyLastSkip: undefined,
      inventoryPending: undefined,
      inventoryLastQueuedAt: undefined,
    };
    const old = this.enrollments.get(facts.id);
    if (old) {
      // The agent's history belongs to the Mac, not to one enrollment of it.
      record.agentLastCheckinAt = old.agentLastCheckinAt;
      record.agentLastCheckinKind = old.agentLastCheckinKind;
      record.agentVersion = old.agentVersion;
      record.agentInstalledAt = old.agentInstalledAt;
      record.agentInventoryAt = old.agentInventoryAt;
      record.agentInstallAcknowledgedAt = old.agentInstallAcknowledgedAt;
      record.agentGoneAt = old.agentGoneAt;
      record.firstEnrolledAt = old.firstEnrolledAt;
    }
    // Authenticate forgets the push token: the next TokenUpdate brings the one to use.
    if (old?.token !== undefined && this.byToken.get(old.token) === facts.id) this.byToken.delete(old.token);
    // The previous Authenticate's certificate no longer speaks for this enrollment.
    const previous = old?.identityCertSha256;
    if (previous !== undefined && this.byCertificate.get(previous) === facts.id) this.byCertificate.delete(previous);
    if (facts.identityCertSha256 !== undefined) this.byCertificate.set(facts.identityCertSha256, facts.id);
    this.enrollments.set(facts.id, record);
    this.clearQueue(facts.id);
  }

  enrollmentIdForCertificate(sha256: string): string | undefined {
    return this.byCertificate.get(sha256);
  }

  storeTokenUpdate(id: string, push: PushInfo, at: number): number {
    const e = this.mustGet(id);
    if (e.token !== undefined && e.token !== push.token && this.byToken.get(e.token) === id) this.byToken.delete(e.token);
    this.byToken.set(push.token, id);
    e.topic = this.intern(push.topic)!;
    e.token = push.token;
    // The device has just told us its token: whatever APNs said about the old one is past.
    e.pushTokenInvalidAt = undefined;
    e.pushMagic = push.pushMagic;
    // A later TokenUpdate may omit the UnlockToken; keep the one we have.
    if (push.unlockToken && push.unlockToken.length > 0) e.unlockToken = push.unlockToken;
    if (push.awaitingConfiguration !== undefined) e.awaitingConfiguration = push.awaitingConfiguration;
    e.tokenUpdateTally += 1;
    if (e.tokenUpdateTally === 1) {
      e.enrolledAt = at;
      if (e.firstEnrolledAt === undefined) e.firstEnrolledAt = at;
    }
    e.enabled = true;
    e.lastSeenAt = at;
    return e.tokenUpdateTally;
  }

  enrollmentIdForToken(token: string): string | undefined {
    return this.byToken.get(token);
  }

  markPushTokenInvalid(id: string, token: string, at: number): boolean {
    const e = this.enrollments.get(id);
    if (!e || e.token !== token) return false;
    e.pushTokenInvalidAt = at;
    return true;
  }

  disable(id: string, at: number): void {
    const e = this.enrollments.get(id);
    if (!e) return;
    e.enabled = false;
    e.lastSeenAt = at;
  }

  touch(id: string, at: number): void {
    const e = this.enrollments.get(id);
    if (e) e.lastSeenAt = at;
  }

  storeBootstrapToken(id: string, token: Buffer | undefined, at: number): void {
    const e = this.mustGet(id);
    e.bootstrapToken = token && token.length > 0 ? Buffer.from(token) : undefined;
    e.lastSeenAt = at;
  }

  getEnrollment(id: string): Readonly<EnrollmentRecord> | undefined {
    return this.enrollments.get(id);
  }

  listEnrollments(query: EnrollmentQuery = {}): Readonly<EnrollmentRecord>[] {
    return pageEnrollments(this.enrollments.values(), query);
  }

  countEnrollments(query: Pick<EnrollmentQuery, 'enabled'> = {}): number {
    if (query.enabled === undefined) return this.enrollments.size;
    let n = 0;
    for (const e of this.enrollments.values()) if (e.enabled === query.enabled) n++;
    return n;
  }

  enqueue(ids: readonly string[], command: StoredCommand): void {
    if (this.commands.has(command.commandUUID)) throw new DuplicateCommandError(command.commandUUID);
    this.commands.set(command.commandUUID, command);
    for (const id of ids) {
      let q = this.queues.get(id);
      if (!q) this.queues.set(id, (q = []));
      q.push({ command, status: 'queued', queuedAt: command.createdAt });
    }
  }

  nextCommand(id: string): StoredCommand | undefined {
    const q = this.queues.get(id);
    if (!q) return undefined;
    for (const item of q) if (item.status === 'queued') return item.command;
    return undefined;
  }

  resetNotNow(id: string): void {
    const q = this.queues.get(id);
    if (q) for (const item of q) item.status = 'queued';
  }

  queuedCommand(id: string, commandUUID: string): StoredCommand | undefined {
    return this.queues.get(id)?.find((item) => item.command.commandUUID === commandUUID)?.command;
  }

  storeReport(id: string, report: Omit<ResultRecord, 'id' | 'requestType'>): ReportOutcome {
    const q = this.queues.get(id);
    const index = q ? q.findIndex((item) => item.command.commandUUID === report.commandUUID) : -1;
    if (index < 0) {
      // Not queued: a retried final report, or a command this device never had. Rare, so a
      // scan of this device's own history (newest first) is fine.
      const history = this.resultsById.get(id);
      if (history) {
        for (let i = history.length - 1; i >= 0; i--) {
          if (history[i]!.commandUUID === report.commandUUID) return FINAL_STATUSES.has(history[i]!.status) ? 'repeat' : 'unknown';
        }
      }
      return 'unknown';
    }
    const item = q![index]!;
    if (FINAL_STATUSES.has(report.status)) {
      q!.splice(index, 1);
      if (q!.length === 0) this.queues.delete(id);
    } else if (report.status === 'NotNow') {
      item.status = 'NotNow';
    }
    // The queue's own strings, not the report's: they are already kept, so nothing new is pinned.
    const record: ResultRecord = { id: this.enrollments.get(id)?.id ?? id, commandUUID: item.command.commandUUID, requestType: item.command.requestType, status: report.status, raw: report.raw, at: report.at };
    push(this.resultsById, record.id, record);
    push(this.resultsByCommand, record.commandUUID, record);
    return 'stored';
  }

  clearQueue(id: string): void {
    this.queues.delete(id);
  }

  getCommand(commandUUID: string): StoredCommand | undefined {
    return this.commands.get(commandUUID);
  }

  listQueue(id: string): QueueEntry[] {
    return (this.queues.get(id) ?? []).map((item) => ({
      commandUUID: item.command.commandUUID,
      requestType: item.command.requestType,
      status: item.status,
      queuedAt: item.queuedAt,
    }));
  }

  queueLength(id: string): number {
    return this.queues.get(id)?.length ?? 0;
  }

  listResults(query: { id?: string; commandUUID?: string }): ResultRecord[] {
    if (query.commandUUID !== undefined) {
      const list = this.resultsByCommand.get(query.commandUUID) ?? [];
      return query.id === undefined ? [...list] : list.filter((r) => r.id === query.id);
    }
    if (query.id !== undefined) return [...(this.resultsById.get(query.id) ?? [])];
    return [...this.resultsById.values()].flat().sort((a, b) => a.at - b.at);
  }

  // ---- the vendor agent ------------------------------------------------------------------

  storeAgentCheckin(id: string, checkin: AgentCheckinFacts, at: number): void {
    const e = this.mustGet(id);
    e.agentLastCheckinAt = at;
    e.agentLastCheckinKind = checkin.kind;
    // Every check-in of a fleet carries its own copy of the same version string.
    e.agentVersion = this.intern(checkin.version);
    e.agentInstalledAt = checkin.installedAt;
    e.agentPolicyLastSkip = undefined;
    // An agent that checks in is there, whatever an earlier inventory said.
    e.agentGoneAt = undefined;
    if (checkin.apps !== undefined) {
      e.agentInventoryAt = at;
      this.inventories.set(e.id, { at, apps: checkin.apps });
    }
  }

  agentInventory(id: string): AgentInventory | undefined {
    return this.inventories.get(id);
  }

  listAgentSilent(silentBefore: number): Readonly<EnrollmentRecord>[] {
    const out: EnrollmentRecord[] = [];
    for (const e of this.enrollments.values()) {
      if (!e.enabled) continue;
      const enrolled = e.enrolledAt ?? e.authenticatedAt;
      const last = e.agentLastCheckinAt;
      const since = last !== undefined && last > enrolled ? last : enrolled;
      if (since < silentBefore) out.push(e);
    }
    return out;
  }

  markAgentInstallQueued(id: string, commandUUID: string, at: number): number {
    const e = this.mustGet(id);
    e.agentInstallPending = commandUUID;
    e.agentInstallLastFiredAt = at;
    e.agentInstallAttempts += 1;
    e.agentPolicyLastSkip = undefined;
    return e.agentInstallAttempts;
  }

  storeAgentInstallOutcome(id: string, commandUUID: string, outcome: AgentInstallOutcome, at: number): boolean {
    const e = this.enrollments.get(id);
    if (!e || e.agentInstallPending !== commandUUID) return false;
    e.agentInstallPending = undefined;
    e.agentInstallLastOutcome = outcome;
    e.agentInstallLastOutcomeAt = at;
    if (outcome === 'Acknowledged') {
      e.agentInstallAcknowledgedAt = at;
      e.agentGoneAt = undefined;
    }
    return true;
  }

  setAgentPolicySkip(id: string, reason: string | undefined): void {
    const e = this.enrollments.get(id);
    if (e) e.agentPolicyLastSkip = reason;
  }

  markAgentGone(id: string, at: number): boolean {
    const e = this.enrollments.get(id);
    if (!e) return false;
    e.agentGoneAt = at;
    return true;
  }

  // ---- the Kandji-compatible API ---------------------------------------------------------

  markRemoved(id: string, at: number): boolean {
    const e = this.enrollments.get(id);
    if (!e) return false;
    e.removedAt = at;
    return true;
  }

  // ---- periodic inventory ----------------------------------------------------------------

  markInventoryQueued(id: string, commandUUID: string, at: number): void {
    const e = this.mustGet(id);
    e.inventoryPending = commandUUID;
    e.inventoryLastQueuedAt = at;
  }

  clearInventoryPending(id: string, commandUUID: string): boolean {
    const e = this.enrollments.get(id);
    if (!e || e.inventoryPending !== commandUUID) return false;
    e.inventoryPending = undefined;
    return true;
  }

  listInventoryDue(queuedBefore: number): Readonly<EnrollmentRecord>[] {
    const out: EnrollmentRecord[] = [];
    for (const e of this.enrollments.values()) {
      if (!e.enabled) continue;
      if ((e.inventoryLastQueuedAt ?? e.enrolledAt ?? e.authenticatedAt) <= queuedBefore) out.push(e);
    }
    return out;
  }

  appendEvent(event: Omit<EventRecord, 'id'>): EventRecord {
    // Every field named: one object shape for all events, and no spread on a per-request path.
    const record: EventRecord = { id: ++this.lastEventId, at: event.at, type: event.type, udid: event.udid, from: event.from, to: event.to, summary: event.summary, data: event.data };
    if (this.events.length < this.eventCapacity) {
      this.events.push(record);
    } else {
      // Ring buffer: overwrite the oldest.
      this.events[this.eventStart] = record;
      this.eventStart = (this.eventStart + 1) % this.eventCapacity;
    }
    return record;
  }

  queryEvents(query: EventQuery = {}): EventRecord[] {
    const n = this.events.length;
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    const firstId = this.lastEventId - n + 1;
    // Ids are consecutive in the ring, so a cursor maps straight to a position.
    let i = query.afterId !== undefined ? Math.max(0, query.afterId - firstId + 1) : 0;
    if (query.since !== undefined) i = Math.max(i, this.firstAtOrAfter(query.since));
    const out: EventRecord[] = [];
    for (; i < n && out.length < limit; i++) {
      const e = this.events[(this.eventStart + i) % n]!;
      if (query.until !== undefined && e.at > query.until) break;
      if (matchesEventQuery(e, query)) out.push(e);
    }
    return out;
  }

  /** Binary search over clock time, which only moves forward. */
  private firstAtOrAfter(time: number): number {
    const n = this.events.length;
    let lo = 0;
    let hi = n;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.events[(this.eventStart + mid) % n]!.at < time) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  close(): void {
    // Nothing to release; present so callers treat every backend alike.
  }

  private mustGet(id: string): EnrollmentRecord {
    const e = this.enrollments.get(id);
    if (!e) throw new Error(`no enrollment ${id}: it must Authenticate first`);
    return e;
  }
}

function push<K, V>(map: Map<K, V[]>, key: K, value: V): void {
  const list = map.get(key);
  if (list) list.push(value);
  else map.set(key, [value]);
}
