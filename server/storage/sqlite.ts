/**
 * SQLite storage (better-sqlite3): everything the in-memory store keeps, kept in one file, so a
 * server restarted on it has every enrollment, queued command, result, inventory and recent
 * event it had, and, in virtual mode, its clock's position.
 *
 * Durability by group commit: the first write opens a transaction, every Storage call after it
 * runs inside it (a call that writes several rows is a savepoint of its own: it is kept or rolled
 * back whole), and the transaction commits once the event loop has handled what arrived with it
 * (setImmediate), so one commit covers every request of that turn instead of one commit each.
 * whenDurable() answers the commit that covers the writes made so far; the HTTPS server holds
 * every answer until then (server/http/durable-answers.ts), so whatever was acknowledged to a
 * client is in the WAL, and a crash before the commit loses only what nobody was told. Two
 * kinds of writes promise nothing to a client and wait: events, written FLUSH_INTERVAL_MS after
 * they were appended, and touch()'s lastSeenAt, written once per TOUCH_FLUSH_INTERVAL_MS (both
 * with the group open then, if one is, and both before events are read, and at close). A crash
 * loses at most those intervals of them.
 * `synchronous=NORMAL` (the default here) leaves a commit in the OS's page cache, which survives
 * the server being killed (SIGKILL, a crash) but not the machine losing power; `sync=full`
 * fsyncs the WAL at every commit for that too, at a large cost per request.
 *
 * The file is locked for this process (locking_mode=EXCLUSIVE): a second server on the same
 * file is refused at open instead of interleaving its own event ids and queues.
 *
 * Events: the newest `eventCapacity` (default 1,000,000) are kept; older ones are deleted in
 * batches of EVENT_PRUNE_BATCH, so up to that many more can be there between two prunes. A
 * device's events, and its command results, are found through indexes kept in memory (see
 * eventIdsOf, resultSeqsOf): a b-tree on a device id would cost a random page per row written.
 *
 * Enrollment records are also held in memory, one object per enrollment as the in-memory store
 * holds them, loaded at open and brought up to date from each write's RETURNING row after it
 * committed: reads of enrollments (every request, the API's listings) cost what they cost in the
 * in-memory store, while 41 columns decoded per read would cost ~10 µs each, and a listing of
 * 100,000 seconds. The file stays the truth: what is in memory is what the last write returned
 * (in the open group), and what the file holds again after a rollback.
 * Queues, results, inventories and events are read from the file.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { FINAL_STATUSES, type CommandStatus } from '../../protocol/result';
import { pageEnrollments } from './enrollment-page';
import { matchesEventQuery } from './events';
import { migrate, StoreFileError } from './sqlite/schema';
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

export { StoreFileError } from './sqlite/schema';

export type SqliteSynchronous = 'normal' | 'full';

export interface SqliteStorageOptions {
  /** See the module comment; default 'normal'. */
  synchronous?: SqliteSynchronous;
  /** Newest events kept (default 1,000,000). */
  eventCapacity?: number;
}

/** Events deleted at once when the log is past its capacity. */
export const EVENT_PRUNE_BATCH = 1024;
/** Events written by one INSERT (see writePending). */
const EVENT_INSERT_RUN = 8;
export const DEFAULT_SQLITE_EVENT_CAPACITY = 1_000_000;
/** How long events and touches wait to be written together (see flush). */
export const FLUSH_INTERVAL_MS = 20;
/** How long touch()'s lastSeenAt waits to be written (see scheduleTouches). */
export const TOUCH_FLUSH_INTERVAL_MS = 1_000;

/** Whatever a store can persist besides the Storage interface: the virtual clock's position. */
export interface ClockPositionStore {
  loadClockPosition(): number | undefined;
  saveClockPosition(now: number): void;
}

const ENROLLMENT_COLUMNS = [
  'id', 'udid', 'enrollmentId', 'serialNumber', 'platform', 'osVersion', 'buildVersion', 'productName', 'model', 'modelName', 'deviceName',
  'topic', 'token', 'pushMagic', 'unlockToken', 'awaitingConfiguration', 'enabled', 'tokenUpdateTally', 'authenticatedAt', 'enrolledAt',
  'lastSeenAt', 'bootstrapToken', 'identityCertSha256', 'pushTokenInvalidAt', 'agentLastCheckinAt', 'agentLastCheckinKind', 'agentVersion',
  'agentInstalledAt', 'agentInventoryAt', 'agentInstallAcknowledgedAt', 'agentGoneAt', 'firstEnrolledAt', 'removedAt', 'agentInstallPending',
  'agentInstallLastFiredAt', 'agentInstallAttempts', 'agentInstallLastOutcome', 'agentInstallLastOutcomeAt', 'agentPolicyLastSkip',
  'inventoryPending', 'inventoryLastQueuedAt',
].join(', ');

/** A row of ENROLLMENT_COLUMNS: SQLite's nulls and 0/1 where the record has undefined and booleans. */
type EnrollmentRow = { [K in keyof EnrollmentRecord]-?: unknown };
type SeqRow = EnrollmentRow & { seq: number };

const CLOCK_KEY = 'clock.virtualNow';

export class SqliteStorage implements Storage, ClockPositionStore {
  readonly file: string;
  private readonly db: Database.Database;
  private readonly eventCapacity: number;
  private lastEventId: number;
  /** Queue rows carry their order (seq) from here: the queue is clustered by enrollment, with no rowid to count. */
  private lastQueueSeq: number;
  private eventsSincePrune = 0;
  /** Events with ids up to this one are deleted (see writePending). */
  private prunedThrough = 0;
  /**
   * Each enrollment's queue, counted (absent = empty): a connect asks for the next command and
   * an Idle resets NotNow on every request, and most find nothing to do; the counts answer that
   * without a query, and skip a write that would change nothing. Kept by the calls that change
   * the queue; read again from the file after any rollback.
   */
  private readonly queueCounts = new Map<string, { total: number; notNow: number }>();
  /** See resultSeqsOf; undefined until the first per-device query. */
  private resultSeqsById: Map<string, number[]> | undefined;
  /** See eventIdsOf; undefined until the first per-device query. */
  private eventIdsByUdid: Map<string, number[]> | undefined;
  /** Events appended and touches made, not yet written (see flush). */
  private pendingEvents: EventInsert[] = [];
  private readonly pendingTouches = new Map<string, number>();
  /** The touch timer fired: the next commit writes the pending touches (see scheduleTouches). */
  private touchesDue = false;
  /** The event timer fired: the next commit writes the pending events (see scheduleFlush). */
  private eventsDue = false;
  private touchTimer: NodeJS.Timeout | undefined;
  private flushTimer: NodeJS.Timeout | undefined;
  private readonly s: ReturnType<typeof prepare>;
  private readonly eventStatements = new Map<string, Database.Statement>();
  /** Every enrollment, in enrollment order (see the module comment). */
  private readonly records = new Map<string, EnrollmentRecord>();
  /** Enrollment ids by seq: rows are never deleted, and the sweeps' indexes answer seqs. */
  private readonly idBySeq: string[] = [];
  /** Work as a savepoint of the open group (rolled back alone if it throws); built once rather than per call. */
  private readonly runInTransaction: (work: () => unknown) => unknown;
  /** The open group commit: its transaction is open, and its promise settles when it commits (see whenDurable). */
  private group: { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } | undefined;
  private closed = false;

  constructor(file: string, options: SqliteStorageOptions = {}) {
    this.file = file;
    this.eventCapacity = Math.max(1, options.eventCapacity ?? DEFAULT_SQLITE_EVENT_CAPACITY);
    this.db = openDatabase(file, options.synchronous ?? 'normal');
    try {
      migrate(this.db, file);
      this.s = prepare(this.db);
      this.runInTransaction = this.db.transaction((work: () => unknown) => work());
      for (const row of this.s.loadEnrollments.iterate() as Iterable<SeqRow>) this.keep(row);
      this.loadQueueCounts();
      this.lastEventId = (this.s.lastEventId.get() as { id: number | null }).id ?? 0;
      this.lastQueueSeq = (this.s.lastQueueSeq.get() as { seq: number | null }).seq ?? 0;
      this.prunedThrough = ((this.s.firstEventId.get() as { id: number | null }).id ?? this.lastEventId + 1) - 1;
    } catch (error) {
      this.db.close();
      throw asStoreFileError(error, file);
    }
  }

  // ---- enrollments -------------------------------------------------------------------------

  storeAuthenticate(facts: AuthenticateFacts, at: number): void {
    this.tx(() => {
      const old = this.s.pushIdentity.get(facts.id) as { token: string | null; identityCertSha256: string | null } | undefined;
      const row = {
        id: facts.id,
        udid: facts.udid ?? null,
        enrollmentId: facts.enrollmentId ?? null,
        serialNumber: facts.serialNumber ?? null,
        platform: facts.platform ?? null,
        osVersion: facts.osVersion ?? null,
        buildVersion: facts.buildVersion ?? null,
        productName: facts.productName ?? null,
        model: facts.model ?? null,
        modelName: facts.modelName ?? null,
        deviceName: facts.deviceName ?? null,
        topic: facts.topic,
        identityCertSha256: facts.identityCertSha256 ?? null,
        at,
      };
      let stored: SeqRow;
      if (old) {
        // The agent's history columns are left as they are: they belong to the Mac.
        stored = this.s.reauthenticate.get(row) as SeqRow;
        if (old.token !== null) this.s.releaseToken.run(old.token, facts.id);
        if (old.identityCertSha256 !== null) this.s.releaseCert.run(old.identityCertSha256, facts.id);
      } else {
        stored = this.s.insertEnrollment.get(row) as SeqRow;
      }
      if (facts.identityCertSha256 !== undefined) this.s.bindCert.run(facts.identityCertSha256, facts.id);
      this.s.clearQueue.run(facts.id);
      this.queueCounts.delete(facts.id);
      return stored;
    }, (stored) => this.keep(stored), facts.id);
  }

  enrollmentIdForCertificate(sha256: string): string | undefined {
    return (this.s.certOwner.get(sha256) as { id: string } | undefined)?.id;
  }

  storeTokenUpdate(id: string, push: PushInfo, at: number): number {
    return this.tx(() => {
      const old = this.s.pushIdentity.get(id) as { token: string | null } | undefined;
      if (!old) throw mustAuthenticate(id);
      const stored = this.s.tokenUpdate.get({
        id,
        topic: push.topic,
        token: push.token,
        pushMagic: push.pushMagic,
        // A later TokenUpdate may omit the UnlockToken; the statement keeps the one we have.
        unlockToken: push.unlockToken && push.unlockToken.length > 0 ? push.unlockToken : null,
        awaitingConfiguration: push.awaitingConfiguration === undefined ? null : push.awaitingConfiguration ? 1 : 0,
        at,
      }) as SeqRow;
      if (old.token !== null && old.token !== push.token) this.s.releaseToken.run(old.token, id);
      this.s.bindToken.run(push.token, id);
      return stored;
    }, (stored) => this.keep(stored).tokenUpdateTally, id);
  }

  enrollmentIdForToken(token: string): string | undefined {
    return (this.s.tokenOwner.get(token) as { id: string } | undefined)?.id;
  }

  markPushTokenInvalid(id: string, token: string, at: number): boolean {
    return this.update(id, this.s.markPushTokenInvalid, at, id, token);
  }

  disable(id: string, at: number): void {
    this.update(id, this.s.disable, at, id);
  }

  touch(id: string, at: number): void {
    const e = this.records.get(id);
    if (!e) return;
    // Every request touches: written once per TOUCH_FLUSH_INTERVAL_MS, or first in the next transaction on this row (see tx).
    e.lastSeenAt = at;
    this.pendingTouches.set(id, at);
    this.scheduleTouches();
  }

  storeBootstrapToken(id: string, token: Buffer | undefined, at: number): void {
    if (!this.update(id, this.s.bootstrapToken, token && token.length > 0 ? token : null, at, id)) throw mustAuthenticate(id);
  }

  getEnrollment(id: string): Readonly<EnrollmentRecord> | undefined {
    return this.records.get(id);
  }

  listEnrollments(query: EnrollmentQuery = {}): Readonly<EnrollmentRecord>[] {
    return pageEnrollments(this.records.values(), query);
  }

  countEnrollments(query: Pick<EnrollmentQuery, 'enabled'> = {}): number {
    if (query.enabled === undefined) return this.records.size;
    return (this.s.countEnabled.get(query.enabled ? 1 : 0) as { n: number }).n;
  }

  // ---- the queue ---------------------------------------------------------------------------

  enqueue(ids: readonly string[], command: StoredCommand): void {
    this.tx(() => {
      if (this.s.commandExists.get(command.commandUUID)) throw new DuplicateCommandError(command.commandUUID);
      this.s.insertCommand.run(command.commandUUID, command.requestType, command.body, command.createdAt);
      for (const id of ids) {
        this.s.insertQueued.run(id, ++this.lastQueueSeq, command.commandUUID, command.createdAt);
        const counts = this.queueCounts.get(id);
        if (counts) counts.total++;
        else this.queueCounts.set(id, { total: 1, notNow: 0 });
      }
    });
  }

  nextCommand(id: string): StoredCommand | undefined {
    const counts = this.queueCounts.get(id);
    if (counts === undefined || counts.total === counts.notNow) return undefined;
    return this.s.nextCommand.get(id) as StoredCommand | undefined;
  }

  resetNotNow(id: string): void {
    const counts = this.queueCounts.get(id);
    if (counts === undefined || counts.notNow === 0) return;
    this.openGroup();
    this.s.resetNotNow.run(id);
    counts.notNow = 0;
  }

  queuedCommand(id: string, commandUUID: string): StoredCommand | undefined {
    return this.s.queuedCommand.get(id, commandUUID) as StoredCommand | undefined;
  }

  storeReport(id: string, report: Omit<ResultRecord, 'id' | 'requestType'>): ReportOutcome {
    return this.tx(() => {
      const item = this.s.queueItem.get(id, report.commandUUID) as QueueItem | undefined;
      if (!item) {
        // Not queued: a retried final report, or a command this device never had.
        const last = this.s.lastResultStatus.get(report.commandUUID, id) as { status: CommandStatus } | undefined;
        return last !== undefined && FINAL_STATUSES.has(last.status) ? 'repeat' : 'unknown';
      }
      const counts = this.queueCounts.get(id)!;
      if (FINAL_STATUSES.has(report.status)) {
        this.s.dequeue.run(id, item.seq);
        counts.total--;
        if (item.status === 'NotNow') counts.notNow--;
      } else if (report.status === 'NotNow' && item.status !== 'NotNow') {
        this.s.markNotNow.run(id, item.seq);
        counts.notNow++;
      }
      const seq = Number(this.s.insertResult.run(id, report.commandUUID, item.commandSeq, item.requestType, report.status, report.raw, report.at).lastInsertRowid);
      const seqs = this.resultSeqsById?.get(id);
      if (seqs !== undefined) seqs.push(seq);
      else this.resultSeqsById?.set(id, [seq]);
      return 'stored';
    });
  }

  clearQueue(id: string): void {
    this.openGroup();
    this.s.clearQueue.run(id);
    this.queueCounts.delete(id);
  }

  getCommand(commandUUID: string): StoredCommand | undefined {
    return this.s.command.get(commandUUID) as StoredCommand | undefined;
  }

  listQueue(id: string): QueueEntry[] {
    return this.s.listQueue.all(id) as QueueEntry[];
  }

  queueLength(id: string): number {
    return this.queueCounts.get(id)?.total ?? 0;
  }

  listResults(query: { id?: string; commandUUID?: string }): ResultRecord[] {
    if (query.commandUUID !== undefined) {
      return (query.id === undefined ? this.s.resultsOfCommand.all(query.commandUUID) : this.s.resultsOfBoth.all(query.commandUUID, query.id)) as ResultRecord[];
    }
    if (query.id !== undefined) {
      const out: ResultRecord[] = [];
      for (const seq of this.resultSeqsOf(query.id)) {
        const row = this.s.resultBySeq.get(seq) as ResultRecord | undefined;
        // A seq of a rolled-back row may have been reused by another device's result.
        if (row !== undefined && row.id === query.id) out.push(row);
      }
      return out;
    }
    return this.s.allResults.all() as ResultRecord[];
  }

  // ---- the vendor agent --------------------------------------------------------------------

  storeAgentCheckin(id: string, checkin: AgentCheckinFacts, at: number): void {
    this.tx(() => {
      const stored = this.s.agentCheckin.get({ id, at, kind: checkin.kind, version: checkin.version, installedAt: checkin.installedAt, withApps: checkin.apps === undefined ? 0 : 1 }) as SeqRow | undefined;
      if (!stored) throw mustAuthenticate(id);
      if (checkin.apps !== undefined) this.s.storeInventory.run(id, at, JSON.stringify(checkin.apps));
      return stored;
    }, (stored) => this.keep(stored), id);
  }

  agentInventory(id: string): AgentInventory | undefined {
    const row = this.s.inventory.get(id) as { at: number; apps: string } | undefined;
    return row && { at: row.at, apps: JSON.parse(row.apps) as AgentInventory['apps'] };
  }

  listAgentSilent(silentBefore: number): Readonly<EnrollmentRecord>[] {
    return this.bySeqs(this.s.agentSilent.all(silentBefore) as number[]);
  }

  markAgentInstallQueued(id: string, commandUUID: string, at: number): number {
    const row = this.tx(() => this.s.agentInstallQueued.get(commandUUID, at, id) as SeqRow | undefined, undefined, id);
    if (!row) throw mustAuthenticate(id);
    return this.keep(row).agentInstallAttempts;
  }

  storeAgentInstallOutcome(id: string, commandUUID: string, outcome: AgentInstallOutcome, at: number): boolean {
    return this.update(id, this.s.agentInstallOutcome, { id, commandUUID, outcome, at });
  }

  setAgentPolicySkip(id: string, reason: string | undefined): void {
    this.update(id, this.s.agentPolicySkip, reason ?? null, id);
  }

  markAgentGone(id: string, at: number): boolean {
    return this.update(id, this.s.agentGone, at, id);
  }

  // ---- the Kandji-compatible API -----------------------------------------------------------

  markRemoved(id: string, at: number): boolean {
    return this.update(id, this.s.removed, at, id);
  }

  // ---- periodic inventory ------------------------------------------------------------------

  markInventoryQueued(id: string, commandUUID: string, at: number): void {
    if (!this.update(id, this.s.inventoryQueued, commandUUID, at, id)) throw mustAuthenticate(id);
  }

  clearInventoryPending(id: string, commandUUID: string): boolean {
    return this.update(id, this.s.inventoryCleared, id, commandUUID);
  }

  listInventoryDue(queuedBefore: number): Readonly<EnrollmentRecord>[] {
    return this.bySeqs(this.s.inventoryDue.all(queuedBefore) as number[]);
  }

  // ---- events ------------------------------------------------------------------------------

  appendEvent(event: Omit<EventRecord, 'id'>): EventRecord {
    const record: EventRecord = { id: this.lastEventId + 1, at: event.at, type: event.type, udid: event.udid, from: event.from, to: event.to, summary: event.summary, data: event.data };
    // Serialized now: the caller's data object may change after this call.
    this.pendingEvents.push([record.id, record.at, record.type, record.udid ?? null, record.from, record.to, record.summary, record.data === undefined ? null : JSON.stringify(record.data)]);
    this.lastEventId = record.id;
    if (this.eventIdsByUdid !== undefined && record.udid !== undefined) {
      const list = this.eventIdsByUdid.get(record.udid);
      if (list) list.push(record.id);
      else this.eventIdsByUdid.set(record.udid, [record.id]);
    }
    this.scheduleFlush();
    return record;
  }

  /** Commits everything pending now: the open group, events appended, devices touched. Runs before events are read, and at close. */
  flush(): void {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    this.eventsDue = true;
    this.touchesDue = true;
    if (this.group !== undefined) {
      this.commitGroup();
      return;
    }
    this.writeDue();
  }

  /** Writes what is due (see scheduleFlush, scheduleTouches) in a transaction of its own, unless a group is open: its commit writes them. */
  private writeDue(): void {
    if (this.group !== undefined || this.closed) return;
    const events = this.eventsDue && this.pendingEvents.length > 0;
    const touches = this.touchesDue && this.pendingTouches.size > 0;
    if (!events && !touches) return;
    try {
      this.runInTransaction(() => this.writePending(events, touches));
    } catch (error) {
      // A log that cannot be written (a full disk) must not take the server down; the next write retries.
      process.emitWarning(`mdmsim could not write ${this.pendingEvents.length} event(s) to ${this.file}: ${(error as Error).message}`);
      return;
    }
    if (events) {
      this.pendingEvents = [];
      this.eventsDue = false;
    }
    if (touches) {
      this.pendingTouches.clear();
      this.touchesDue = false;
    }
  }

  queryEvents(query: EventQuery = {}): EventRecord[] {
    this.flush();
    const limit = query.limit ?? Number.POSITIVE_INFINITY;
    if (limit <= 0) return [];
    const bounded = this.withIdBounds(query);
    const types = query.types !== undefined && query.types.length > 0 ? query.types : undefined;
    const keep = (out: EventRecord[], row: EventRow): boolean => {
      const e = eventOf(row);
      if (types === undefined || matchesEventQuery(e, { types })) out.push(e);
      return out.length < limit;
    };
    const out: EventRecord[] = [];
    if (query.udid !== undefined) {
      // One device's events: their ids from the in-memory index, each row by its key.
      const ids = this.eventIdsOf(query.udid);
      for (let i = firstAbove(ids, bounded.afterId ?? 0); i < ids.length; i++) {
        if (bounded.maxId !== undefined && ids[i]! > bounded.maxId) break;
        const row = this.s.eventById.get(ids[i]) as EventRow | undefined;
        if (row && !keep(out, row)) break;
      }
      return out;
    }
    const { sql, args } = eventsSql(bounded);
    let stmt = this.eventStatements.get(sql);
    if (!stmt) this.eventStatements.set(sql, (stmt = this.db.prepare(sql)));
    // Leaving the loop early ends the statement (better-sqlite3 resets it on return()).
    for (const row of stmt.iterate(...args) as Iterable<EventRow>) if (!keep(out, row)) break;
    return out;
  }

  /**
   * The ids of one device's retained events, ascending. The index lives in memory, built from
   * the file on the first per-device query and kept up as events are appended: a b-tree index
   * on udid would dirty a page per event (devices' events land all over it), the largest cost
   * of writing the log. Ids of pruned events are dropped from the front as they are met.
   */
  private eventIdsOf(udid: string): number[] {
    if (this.eventIdsByUdid === undefined) {
      const index = new Map<string, number[]>();
      for (const [id, u] of this.s.eventUdids.raw(true).iterate() as Iterable<[number, string]>) {
        const list = index.get(u);
        if (list) list.push(id);
        else index.set(u, [id]);
      }
      this.eventIdsByUdid = index;
    }
    const ids = this.eventIdsByUdid.get(udid);
    if (ids === undefined) return [];
    let dropped = 0;
    while (dropped < ids.length && ids[dropped]! <= this.prunedThrough) dropped++;
    if (dropped > 0) ids.splice(0, dropped);
    if (ids.length === 0) this.eventIdsByUdid.delete(udid);
    return ids;
  }

  /**
   * Time bounds as id bounds too, found on the time index: clock time only moves forward, so
   * the events from `since` on are the ids from the first one at or after it (the in-memory
   * ring's binary search, the same assumption), and a scan by id can start there instead of
   * at the oldest event.
   */
  private withIdBounds(query: EventQuery): EventQuery & { maxId?: number } {
    const out: EventQuery & { maxId?: number } = { ...query };
    if (query.since !== undefined) {
      const first = this.s.firstEventAtOrAfter.get(query.since) as { id: number } | undefined;
      out.afterId = Math.max(query.afterId ?? 0, (first?.id ?? this.lastEventId + 1) - 1);
    }
    if (query.until !== undefined) {
      const last = this.s.lastEventAtOrBefore.get(query.until) as { id: number } | undefined;
      out.maxId = last?.id ?? 0;
    }
    return out;
  }

  // ---- the virtual clock -------------------------------------------------------------------

  loadClockPosition(): number | undefined {
    const row = this.s.getMeta.get(CLOCK_KEY) as { value: string } | undefined;
    if (row === undefined) return undefined;
    const n = Number(row.value);
    return Number.isFinite(n) ? n : undefined;
  }

  saveClockPosition(now: number): void {
    this.openGroup();
    this.s.setMeta.run(CLOCK_KEY, String(now));
  }

  /**
   * Runs `work` (Storage calls on this store) as one transaction: all of it is kept or none.
   * For bulk loads (seeding a fleet), where a commit per call would cost more than the work.
   */
  batch<T>(work: () => T): T {
    try {
      return this.tx(work);
    } catch (error) {
      // Calls inside kept their rows as they went; after a rollback, memory follows the file.
      this.reloadRecords();
      throw error;
    }
  }

  /**
   * Settles when the writes made so far are committed (rejects if that commit failed and was
   * rolled back); undefined when there is nothing uncommitted. Answer a client after it.
   */
  whenDurable(): Promise<void> | undefined {
    return this.group?.promise;
  }

  /**
   * How SQLite answers the hot queries (EXPLAIN QUERY PLAN, one line per step): a check that
   * each is answered from its index, for tests and for anyone tuning the schema.
   */
  queryPlans(): Record<string, string> {
    const plan = (sql: string, ...args: unknown[]) =>
      (this.db.prepare(`EXPLAIN QUERY PLAN ${sql}`).all(...args) as { detail: string }[]).map((r) => r.detail).join('; ');
    return {
      touch: plan(this.s.touch.source, 0, 'x'),
      listAgentSilent: plan(this.s.agentSilent.source, 0),
      listInventoryDue: plan(this.s.inventoryDue.source, 0),
      countEnabled: plan(this.s.countEnabled.source, 1),
      nextCommand: plan(this.s.nextCommand.source, 'x'),
      storeReport: plan(this.s.queueItem.source, 'x', 'y'),
      resultsOfCommand: plan(this.s.resultsOfCommand.source, 'x'),
      resultBySeq: plan(this.s.resultBySeq.source, 1),
      eventById: plan(this.s.eventById.source, 1),
      eventsSince: plan(this.s.firstEventAtOrAfter.source, 0),
      eventsAfterId: plan(eventsSql({ afterId: 0 }).sql, 0),
    };
  }

  close(): void {
    if (this.closed) return;
    this.flush();
    if (this.touchTimer !== undefined) clearTimeout(this.touchTimer);
    this.closed = true;
    // A clean close folds the WAL back into the file (the next start has nothing to replay).
    this.db.close();
  }

  /**
   * Runs `work` in a transaction; `after` sees its result once committed (a rollback keeps
   * memory as it was). With `id`, that enrollment's pending touch is written first, so a row
   * it returns carries the lastSeenAt memory has.
   */
  private tx<T, R = T>(work: () => T, after?: (result: T) => R, id?: string): R {
    this.openGroup();
    const touch = id === undefined ? undefined : this.pendingTouches.get(id);
    let result: T;
    try {
      result = this.runInTransaction(() => {
        if (touch !== undefined) this.s.touch.run(touch, id);
        return work();
      }) as T;
    } catch (error) {
      // The work's savepoint was rolled back: the counts it changed on the way are not true.
      this.loadQueueCounts();
      throw error;
    }
    if (touch !== undefined) this.pendingTouches.delete(id!);
    return after ? after(result) : (result as unknown as R);
  }

  /** Opens the group commit's transaction unless one is open; it commits once this turn of the event loop is done. */
  private openGroup(): void {
    if (this.group !== undefined || this.closed) return;
    this.s.begin.run();
    let resolve!: () => void;
    let reject!: (error: Error) => void;
    const promise = new Promise<void>((res, rej) => ((resolve = res), (reject = rej)));
    // Nobody may be waiting on a group that fails: that must not be an unhandled rejection.
    promise.catch(() => undefined);
    this.group = { promise, resolve, reject };
    setImmediate(() => this.commitGroup());
  }

  /** Commits the open group with what is pending; on failure rolls it all back and memory follows the file. */
  private commitGroup(): void {
    const group = this.group;
    if (group === undefined) return;
    this.group = undefined;
    const events = this.eventsDue;
    const touches = this.touchesDue;
    try {
      this.writePending(events, touches);
      this.s.commit.run();
    } catch (error) {
      if (this.db.inTransaction) this.s.rollback.run();
      this.reloadRecords();
      group.reject(error as Error);
      process.emitWarning(`mdmsim could not commit to ${this.file}: ${(error as Error).message}; the requests waiting on it were not answered`);
      return;
    }
    if (events) {
      this.pendingEvents = [];
      this.eventsDue = false;
    }
    if (touches) {
      this.pendingTouches.clear();
      this.touchesDue = false;
    }
    group.resolve();
  }

  /**
   * A device's results, as seqs in order: kept in memory rather than in a b-tree on the
   * enrollment id, which would cost a random page per result written (see schema V2). Built at
   * the first per-device query from one scan, then kept up to date by storeReport.
   */
  private resultSeqsOf(id: string): readonly number[] {
    if (this.resultSeqsById === undefined) {
      const byId = new Map<string, number[]>();
      for (const r of this.s.resultOwners.iterate() as Iterable<{ seq: number; id: string }>) {
        const list = byId.get(r.id);
        if (list) list.push(r.seq);
        else byId.set(r.id, [r.seq]);
      }
      this.resultSeqsById = byId;
    }
    return this.resultSeqsById.get(id) ?? [];
  }

  private loadQueueCounts(): void {
    this.queueCounts.clear();
    for (const r of this.s.queueCounts.iterate() as Iterable<{ id: string; total: number; notNow: number }>) this.queueCounts.set(r.id, { total: r.total, notNow: r.notNow });
  }

  /** Memory as the file has it (after a rollback); touches not yet written are still true. */
  private reloadRecords(): void {
    // Rebuilt from the file at the next per-device query.
    this.resultSeqsById = undefined;
    this.loadQueueCounts();
    this.records.clear();
    this.idBySeq.length = 0;
    for (const row of this.s.loadEnrollments.iterate() as Iterable<SeqRow>) this.keep(row);
    for (const [id, at] of this.pendingTouches) {
      const e = this.records.get(id);
      if (e) e.lastSeenAt = at;
    }
  }

  /** Writes the pending events and touches (each when asked), in the transaction it is called in. */
  private writePending(withEvents: boolean, touches: boolean): void {
    if (touches) for (const [id, at] of this.pendingTouches) this.s.touch.run(at, id);
    if (!withEvents) return;
    const events = this.pendingEvents;
    let i = 0;
    for (; i + EVENT_INSERT_RUN <= events.length; i += EVENT_INSERT_RUN) this.s.insertEventRun.run(...events.slice(i, i + EVENT_INSERT_RUN).flat());
    for (; i < events.length; i++) this.s.insertEvent.run(...events[i]!);
    this.eventsSincePrune += this.pendingEvents.length;
    if (this.eventsSincePrune >= EVENT_PRUNE_BATCH) {
      this.eventsSincePrune = 0;
      if (this.lastEventId > this.eventCapacity) {
        this.s.pruneEvents.run(this.lastEventId - this.eventCapacity);
        this.prunedThrough = this.lastEventId - this.eventCapacity;
      }
    }
  }

  /**
   * Touches wait longer than events: each is a random page of the enrollments table, and a
   * device asks several times a second under load, so one write per device per interval
   * replaces one per request (the largest share of each commit, measured by bench:storage).
   */
  private scheduleTouches(): void {
    if (this.touchTimer !== undefined) return;
    this.touchTimer = setTimeout(() => {
      this.touchTimer = undefined;
      this.touchesDue = true;
      this.writeDue();
    }, TOUCH_FLUSH_INTERVAL_MS);
    this.touchTimer.unref();
  }

  /**
   * Events wait FLUSH_INTERVAL_MS rather than going with every commit: appended together, a few
   * hundred share their pages, where a commit each rewrote the log's last pages every time (40%
   * of what each commit wrote, counted in the WAL under bench:storage).
   */
  private scheduleFlush(): void {
    if (this.flushTimer !== undefined) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      this.eventsDue = true;
      this.writeDue();
    }, FLUSH_INTERVAL_MS);
    // close() flushes; the timer alone must not keep a process alive.
    this.flushTimer.unref();
  }

  /** One UPDATE … RETURNING of enrollment `id`; keeps the row it returned. Returns whether a row matched. */
  private update(id: string, statement: Database.Statement, ...params: unknown[]): boolean {
    this.openGroup();
    const row = (this.pendingTouches.has(id) ? this.tx(() => statement.get(...params), undefined, id) : statement.get(...params)) as SeqRow | undefined;
    if (row === undefined) return false;
    this.keep(row);
    return true;
  }

  /** The committed row as the in-memory record: the same object from then on, updated in place. */
  private keep(row: SeqRow): EnrollmentRecord {
    const fresh = toRecord(row);
    const cached = this.records.get(fresh.id);
    if (cached) return Object.assign(cached, fresh);
    this.records.set(fresh.id, fresh);
    this.idBySeq[row.seq] = fresh.id;
    return fresh;
  }

  private bySeqs(seqs: readonly number[]): EnrollmentRecord[] {
    return seqs.map((seq) => this.records.get(this.idBySeq[seq]!)!);
  }
}

/** The SELECT for a query's cursor and time bounds (a device's events go by eventIdsOf; types are matched as rows come). */
function eventsSql(query: EventQuery & { maxId?: number }): { sql: string; args: (number | string)[] } {
  const where: string[] = [];
  const args: (number | string)[] = [];
  if (query.afterId !== undefined) (where.push('id > ?'), args.push(query.afterId));
  if (query.maxId !== undefined) (where.push('id <= ?'), args.push(query.maxId));
  if (query.since !== undefined) (where.push('at >= ?'), args.push(query.since));
  if (query.until !== undefined) (where.push('at <= ?'), args.push(query.until));
  return { sql: `SELECT id, at, type, udid, "from", "to", summary, data FROM events${where.length > 0 ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY id`, args };
}

type EventInsert = [id: number, at: number, type: string, udid: string | null, from: string, to: string, summary: string, data: string | null];

function eventOf(row: EventRow): EventRecord {
  return { id: row.id, at: row.at, type: row.type, udid: row.udid ?? undefined, from: row.from, to: row.to, summary: row.summary, data: row.data === null ? undefined : (JSON.parse(row.data) as Record<string, unknown>) };
}

/** The first position in ascending `ids` holding an id above `after` (binary search). */
function firstAbove(ids: readonly number[], after: number): number {
  let lo = 0;
  let hi = ids.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (ids[mid]! <= after) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

interface EventRow {
  id: number;
  at: number;
  type: string;
  udid: string | null;
  from: string;
  to: string;
  summary: string;
  data: string | null;
}

function openDatabase(file: string, synchronous: SqliteSynchronous): Database.Database {
  if (file !== ':memory:') {
    try {
      makeParents(dirname(file));
    } catch (error) {
      throw new StoreFileError(`cannot create the directory of ${file} (${(error as Error).message}); choose a writable path for --store sqlite:PATH`, file);
    }
  }
  let db: Database.Database;
  try {
    db = new Database(file);
  } catch (error) {
    throw asStoreFileError(error, file);
  }
  try {
    db.pragma('locking_mode = EXCLUSIVE');
    // Takes the lock and checks the file (a non-database fails here), before anything else.
    db.pragma('journal_mode = WAL');
    db.pragma(`synchronous = ${synchronous === 'full' ? 'FULL' : 'NORMAL'}`);
  } catch (error) {
    db.close();
    throw asStoreFileError(error, file);
  }
  return db;
}

/**
 * mkdir -p, one level at a time: Node's recursive mkdirSync never returns for some paths that
 * cannot be made (under /proc, for one), and a server that hangs at start says nothing.
 */
function makeParents(dir: string): void {
  if (existsSync(dir)) return;
  const parent = dirname(dir);
  if (parent !== dir) makeParents(parent);
  mkdirSync(dir, { mode: 0o700 });
}

/** SQLite's errors about the file, said as what to do. */
function asStoreFileError(error: unknown, file: string): Error {
  if (error instanceof StoreFileError || error instanceof DuplicateCommandError) return error;
  const code = (error as { code?: string }).code ?? '';
  const message = (error as Error).message ?? String(error);
  if (code === 'SQLITE_NOTADB' || code === 'SQLITE_CORRUPT') {
    return new StoreFileError(`${file} is not an SQLite database (${message}); give --store sqlite: a new file or one mdmsim made`, file);
  }
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_LOCKED') {
    return new StoreFileError(`${file} is in use by another process (${message}); stop the other mdmsim, or use another file`, file);
  }
  if (code === 'SQLITE_CANTOPEN' || code === 'SQLITE_READONLY' || code.startsWith('SQLITE_READONLY') || code === 'SQLITE_PERM' || code === 'SQLITE_IOERR' || code.startsWith('SQLITE_IOERR') || code === 'SQLITE_AUTH') {
    return new StoreFileError(`cannot open ${file} for writing (${message}); check the path and its permissions, or choose another file for --store sqlite:PATH`, file);
  }
  return error instanceof Error ? error : new Error(message);
}

function mustAuthenticate(id: string): Error {
  return new Error(`no enrollment ${id}: it must Authenticate first`);
}

function u<T>(v: T | null): T | undefined {
  return v === null ? undefined : v;
}

/** A row as the in-memory store's record: one fixed shape, undefined where SQL has NULL. */
function toRecord(r: EnrollmentRow): EnrollmentRecord {
  return {
    id: r.id as string,
    udid: u(r.udid) as string | undefined,
    enrollmentId: u(r.enrollmentId) as string | undefined,
    serialNumber: u(r.serialNumber) as string | undefined,
    platform: u(r.platform) as EnrollmentRecord['platform'],
    osVersion: u(r.osVersion) as string | undefined,
    buildVersion: u(r.buildVersion) as string | undefined,
    productName: u(r.productName) as string | undefined,
    model: u(r.model) as string | undefined,
    modelName: u(r.modelName) as string | undefined,
    deviceName: u(r.deviceName) as string | undefined,
    topic: r.topic as string,
    token: u(r.token) as string | undefined,
    pushMagic: u(r.pushMagic) as string | undefined,
    unlockToken: u(r.unlockToken) as Buffer | undefined,
    awaitingConfiguration: r.awaitingConfiguration === null ? undefined : r.awaitingConfiguration === 1,
    enabled: r.enabled === 1,
    tokenUpdateTally: r.tokenUpdateTally as number,
    authenticatedAt: r.authenticatedAt as number,
    enrolledAt: u(r.enrolledAt) as number | undefined,
    lastSeenAt: r.lastSeenAt as number,
    bootstrapToken: u(r.bootstrapToken) as Buffer | undefined,
    identityCertSha256: u(r.identityCertSha256) as string | undefined,
    pushTokenInvalidAt: u(r.pushTokenInvalidAt) as number | undefined,
    agentLastCheckinAt: u(r.agentLastCheckinAt) as number | undefined,
    agentLastCheckinKind: u(r.agentLastCheckinKind) as EnrollmentRecord['agentLastCheckinKind'],
    agentVersion: u(r.agentVersion) as string | undefined,
    agentInstalledAt: u(r.agentInstalledAt) as number | undefined,
    agentInventoryAt: u(r.agentInventoryAt) as number | undefined,
    agentInstallAcknowledgedAt: u(r.agentInstallAcknowledgedAt) as number | undefined,
    agentGoneAt: u(r.agentGoneAt) as number | undefined,
    firstEnrolledAt: u(r.firstEnrolledAt) as number | undefined,
    removedAt: u(r.removedAt) as number | undefined,
    agentInstallPending: u(r.agentInstallPending) as string | undefined,
    agentInstallLastFiredAt: u(r.agentInstallLastFiredAt) as number | undefined,
    agentInstallAttempts: r.agentInstallAttempts as number,
    agentInstallLastOutcome: u(r.agentInstallLastOutcome) as AgentInstallOutcome | undefined,
    agentInstallLastOutcomeAt: u(r.agentInstallLastOutcomeAt) as number | undefined,
    agentPolicyLastSkip: u(r.agentPolicyLastSkip) as string | undefined,
    inventoryPending: u(r.inventoryPending) as string | undefined,
    inventoryLastQueuedAt: u(r.inventoryLastQueuedAt) as number | undefined,
  };
}

const SEQ_ROW = `seq, ${ENROLLMENT_COLUMNS}`;
/** A queue entry as storeReport needs it. */
interface QueueItem {
  seq: number;
  status: string;
  requestType: string;
  commandSeq: number;
}

const COMMAND_COLUMNS = 'c.commandUUID AS commandUUID, c.requestType AS requestType, c.body AS body, c.createdAt AS createdAt';
const RESULT_COLUMNS = 'id, commandUUID, requestType, status, raw, at';
/** A command's seq from its CommandUUID (0 matches no result: seqs start at 1). */
const COMMAND_SEQ = 'SELECT coalesce((SELECT seq FROM commands WHERE commandUUID = ?), 0)';

/** Every statement, prepared once. */
function prepare(db: Database.Database) {
  const p = (sql: string) => db.prepare(sql);
  const pluck = (sql: string) => db.prepare(sql).pluck();
  return {
    begin: p('BEGIN'),
    commit: p('COMMIT'),
    rollback: p('ROLLBACK'),
    countEnabled: p('SELECT count(*) AS n FROM enrollments WHERE enabled = ?'),
    lastEventId: p('SELECT max(id) AS id FROM events'),
    loadEnrollments: p(`SELECT ${SEQ_ROW} FROM enrollments ORDER BY seq`),
    pushIdentity: p('SELECT token, identityCertSha256 FROM enrollments WHERE id = ?'),
    insertEnrollment: p(`INSERT INTO enrollments (id, udid, enrollmentId, serialNumber, platform, osVersion, buildVersion, productName, model, modelName, deviceName,
        topic, enabled, tokenUpdateTally, authenticatedAt, lastSeenAt, identityCertSha256, agentInstallAttempts)
      VALUES (@id, @udid, @enrollmentId, @serialNumber, @platform, @osVersion, @buildVersion, @productName, @model, @modelName, @deviceName,
        @topic, 0, 0, @at, @at, @identityCertSha256, 0) RETURNING ${SEQ_ROW}`),
    // Authenticate again: device facts replaced; push info, tokens, policy and inventory state reset; agent history kept.
    reauthenticate: p(`UPDATE enrollments SET udid = @udid, enrollmentId = @enrollmentId, serialNumber = @serialNumber, platform = @platform,
        osVersion = @osVersion, buildVersion = @buildVersion, productName = @productName, model = @model, modelName = @modelName, deviceName = @deviceName,
        topic = @topic, token = NULL, pushMagic = NULL, unlockToken = NULL, awaitingConfiguration = NULL, enabled = 0, tokenUpdateTally = 0,
        authenticatedAt = @at, enrolledAt = NULL, lastSeenAt = @at, bootstrapToken = NULL, identityCertSha256 = @identityCertSha256,
        pushTokenInvalidAt = NULL, removedAt = NULL, agentInstallPending = NULL, agentInstallLastFiredAt = NULL, agentInstallAttempts = 0,
        agentInstallLastOutcome = NULL, agentInstallLastOutcomeAt = NULL, agentPolicyLastSkip = NULL, inventoryPending = NULL, inventoryLastQueuedAt = NULL
      WHERE id = @id RETURNING ${SEQ_ROW}`),
    tokenUpdate: p(`UPDATE enrollments SET topic = @topic, token = @token, pushTokenInvalidAt = NULL, pushMagic = @pushMagic,
        unlockToken = coalesce(@unlockToken, unlockToken), awaitingConfiguration = coalesce(@awaitingConfiguration, awaitingConfiguration),
        tokenUpdateTally = tokenUpdateTally + 1,
        enrolledAt = CASE WHEN tokenUpdateTally = 0 THEN @at ELSE enrolledAt END,
        firstEnrolledAt = CASE WHEN tokenUpdateTally = 0 AND firstEnrolledAt IS NULL THEN @at ELSE firstEnrolledAt END,
        enabled = 1, lastSeenAt = @at
      WHERE id = @id RETURNING ${SEQ_ROW}`),
    releaseToken: p('DELETE FROM push_tokens WHERE token = ? AND id = ?'),
    bindToken: p('INSERT INTO push_tokens (token, id) VALUES (?, ?) ON CONFLICT (token) DO UPDATE SET id = excluded.id'),
    tokenOwner: p('SELECT id FROM push_tokens WHERE token = ?'),
    releaseCert: p('DELETE FROM identity_certs WHERE sha256 = ? AND id = ?'),
    bindCert: p('INSERT INTO identity_certs (sha256, id) VALUES (?, ?) ON CONFLICT (sha256) DO UPDATE SET id = excluded.id'),
    certOwner: p('SELECT id FROM identity_certs WHERE sha256 = ?'),
    markPushTokenInvalid: p(`UPDATE enrollments SET pushTokenInvalidAt = ? WHERE id = ? AND token = ? RETURNING ${SEQ_ROW}`),
    disable: p(`UPDATE enrollments SET enabled = 0, lastSeenAt = ? WHERE id = ? RETURNING ${SEQ_ROW}`),
    touch: p('UPDATE enrollments SET lastSeenAt = ? WHERE id = ?'),
    bootstrapToken: p(`UPDATE enrollments SET bootstrapToken = ?, lastSeenAt = ? WHERE id = ? RETURNING ${SEQ_ROW}`),

    commandExists: p('SELECT 1 FROM commands WHERE commandUUID = ?'),
    insertCommand: p('INSERT INTO commands (commandUUID, requestType, body, createdAt) VALUES (?, ?, ?, ?)'),
    insertQueued: p("INSERT INTO queue (id, seq, commandUUID, status, queuedAt) VALUES (?, ?, ?, 'queued', ?)"),
    lastQueueSeq: p('SELECT max(seq) AS seq FROM queue'),
    nextCommand: p(`SELECT ${COMMAND_COLUMNS} FROM queue q JOIN commands c ON c.commandUUID = q.commandUUID WHERE q.id = ? AND q.status = 'queued' ORDER BY q.seq LIMIT 1`),
    resetNotNow: p("UPDATE queue SET status = 'queued' WHERE id = ? AND status = 'NotNow'"),
    queuedCommand: p(`SELECT ${COMMAND_COLUMNS} FROM queue q JOIN commands c ON c.commandUUID = q.commandUUID WHERE q.id = ? AND q.commandUUID = ? ORDER BY q.seq LIMIT 1`),
    queueItem: p('SELECT q.seq AS seq, q.status AS status, c.requestType AS requestType, c.seq AS commandSeq FROM queue q JOIN commands c ON c.commandUUID = q.commandUUID WHERE q.id = ? AND q.commandUUID = ? ORDER BY q.seq LIMIT 1'),
    lastResultStatus: p(`SELECT status FROM results WHERE commandSeq = (${COMMAND_SEQ}) AND id = ? ORDER BY seq DESC LIMIT 1`),
    dequeue: p('DELETE FROM queue WHERE id = ? AND seq = ?'),
    markNotNow: p("UPDATE queue SET status = 'NotNow' WHERE id = ? AND seq = ?"),
    insertResult: p('INSERT INTO results (id, commandUUID, commandSeq, requestType, status, raw, at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    clearQueue: p('DELETE FROM queue WHERE id = ?'),
    command: p('SELECT commandUUID, requestType, body, createdAt FROM commands WHERE commandUUID = ?'),
    listQueue: p('SELECT q.commandUUID AS commandUUID, c.requestType AS requestType, q.status AS status, q.queuedAt AS queuedAt FROM queue q JOIN commands c ON c.commandUUID = q.commandUUID WHERE q.id = ? ORDER BY q.seq'),
    queueCounts: p("SELECT id, count(*) AS total, sum(status = 'NotNow') AS notNow FROM queue GROUP BY id"),
    resultsOfCommand: p(`SELECT ${RESULT_COLUMNS} FROM results WHERE commandSeq = (${COMMAND_SEQ}) ORDER BY seq`),
    resultsOfBoth: p(`SELECT ${RESULT_COLUMNS} FROM results WHERE commandSeq = (${COMMAND_SEQ}) AND id = ? ORDER BY seq`),
    resultBySeq: p(`SELECT ${RESULT_COLUMNS} FROM results WHERE seq = ?`),
    resultOwners: p('SELECT seq, id FROM results ORDER BY seq'),
    allResults: p(`SELECT ${RESULT_COLUMNS} FROM results ORDER BY at, seq`),

    agentCheckin: p(`UPDATE enrollments SET agentLastCheckinAt = @at, agentLastCheckinKind = @kind, agentVersion = @version, agentInstalledAt = @installedAt,
        agentPolicyLastSkip = NULL, agentGoneAt = NULL, agentInventoryAt = CASE WHEN @withApps = 1 THEN @at ELSE agentInventoryAt END
      WHERE id = @id RETURNING ${SEQ_ROW}`),
    storeInventory: p('INSERT INTO inventories (id, at, apps) VALUES (?, ?, ?) ON CONFLICT (id) DO UPDATE SET at = excluded.at, apps = excluded.apps'),
    inventory: p('SELECT at, apps FROM inventories WHERE id = ?'),
    // The partial indexes answer these (named: with no statistics the planner may pick the enabled index and read every enabled row); the ORDER BY keeps the in-memory store's order (enrollment order).
    agentSilent: pluck(`SELECT seq FROM enrollments INDEXED BY enrollments_agent_silent WHERE enabled = 1 AND agentSilentSince < ? ORDER BY seq`),
    agentInstallQueued: p(`UPDATE enrollments SET agentInstallPending = ?, agentInstallLastFiredAt = ?, agentInstallAttempts = agentInstallAttempts + 1,
        agentPolicyLastSkip = NULL WHERE id = ? RETURNING ${SEQ_ROW}`),
    agentInstallOutcome: p(`UPDATE enrollments SET agentInstallPending = NULL, agentInstallLastOutcome = @outcome, agentInstallLastOutcomeAt = @at,
        agentInstallAcknowledgedAt = CASE WHEN @outcome = 'Acknowledged' THEN @at ELSE agentInstallAcknowledgedAt END,
        agentGoneAt = CASE WHEN @outcome = 'Acknowledged' THEN NULL ELSE agentGoneAt END
      WHERE id = @id AND agentInstallPending = @commandUUID RETURNING ${SEQ_ROW}`),
    agentPolicySkip: p(`UPDATE enrollments SET agentPolicyLastSkip = ? WHERE id = ? RETURNING ${SEQ_ROW}`),
    agentGone: p(`UPDATE enrollments SET agentGoneAt = ? WHERE id = ? RETURNING ${SEQ_ROW}`),
    removed: p(`UPDATE enrollments SET removedAt = ? WHERE id = ? RETURNING ${SEQ_ROW}`),
    inventoryQueued: p(`UPDATE enrollments SET inventoryPending = ?, inventoryLastQueuedAt = ? WHERE id = ? RETURNING ${SEQ_ROW}`),
    inventoryCleared: p(`UPDATE enrollments SET inventoryPending = NULL WHERE id = ? AND inventoryPending = ? RETURNING ${SEQ_ROW}`),
    inventoryDue: pluck(`SELECT seq FROM enrollments INDEXED BY enrollments_inventory_due WHERE enabled = 1 AND inventoryDueFrom <= ? ORDER BY seq`),

    insertEvent: p('INSERT INTO events (id, at, type, udid, "from", "to", summary, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    // Events come in runs (three or more per connect); one statement per EVENT_INSERT_RUN of them costs a third of one each.
    insertEventRun: p(`INSERT INTO events (id, at, type, udid, "from", "to", summary, data) VALUES ${Array(EVENT_INSERT_RUN).fill('(?, ?, ?, ?, ?, ?, ?, ?)').join(', ')}`),
    pruneEvents: p('DELETE FROM events WHERE id <= ?'),
    firstEventId: p('SELECT min(id) AS id FROM events'),
    eventById: p('SELECT id, at, type, udid, "from", "to", summary, data FROM events WHERE id = ?'),
    eventUdids: p('SELECT id, udid FROM events WHERE udid IS NOT NULL ORDER BY id'),
    firstEventAtOrAfter: p('SELECT id FROM events WHERE at >= ? ORDER BY at, id LIMIT 1'),
    lastEventAtOrBefore: p('SELECT id FROM events WHERE at <= ? ORDER BY at DESC, id DESC LIMIT 1'),
    getMeta: p('SELECT value FROM meta WHERE key = ?'),
    setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value'),
  };
}
