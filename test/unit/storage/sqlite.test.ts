/**
 * The SQLite backend: the shared conformance suite (on a real file, WAL and all), then what
 * only a durable store promises: everything back after a reopen, event retention, the sweeps
 * answered from their indexes, and clear refusals of files it must not touch.
 */
import { copyFileSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { VirtualClock } from '../../../protocol/clock';
import { createStoreClock } from '../../../server/storage/clock';
import { openStore, parseStoreSpec } from '../../../server/storage/open';
import { EVENT_PRUNE_BATCH, FLUSH_INTERVAL_MS, SqliteStorage, StoreFileError } from '../../../server/storage/sqlite';
import { APPLICATION_ID, MIGRATIONS, SCHEMA_VERSION } from '../../../server/storage/sqlite/schema';
import { MemoryStorage } from '../../../server/storage/memory';
import { runStorageConformance } from '../../conformance/storage';

const T0 = Date.UTC(2026, 0, 1, 12, 0, 0);
const TOPIC = 'com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9';

let dir: string;
let n = 0;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'mdmsim-sqlite-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const freshFile = () => join(dir, `store-${++n}.db`);

/**
 * The conformance suite on a store that, when each test closes it, also checks that the file
 * reopened says exactly what the store said from memory: every enrollment, field by field.
 */
class ReopenCheckedStorage extends SqliteStorage {
  override close(): void {
    const fromMemory = this.listEnrollments().map((e) => ({ ...e }));
    super.close();
    const reopened = new SqliteStorage(this.file);
    try {
      expect(reopened.listEnrollments().map((e) => ({ ...e }))).toEqual(fromMemory);
    } finally {
      reopened.close();
    }
  }
}

runStorageConformance('sqlite', () => new ReopenCheckedStorage(freshFile()));

function enroll(store: SqliteStorage | MemoryStorage, id: string, at = T0): void {
  store.storeAuthenticate({ id, udid: id, topic: TOPIC, serialNumber: `SN-${id}`, platform: 'macOS', osVersion: '14.4.1', identityCertSha256: `${id}-cert`.padEnd(64, '0') }, at);
  store.storeTokenUpdate(id, { topic: TOPIC, token: `${id}-token`.padEnd(64, '0'), pushMagic: `MAGIC-${id}`, unlockToken: Buffer.from(`unlock-${id}`) }, at + 1000);
}

describe('SqliteStorage on disk', () => {
  it('has everything back after a reopen: enrollments, lookups, queue order and NotNow, results, inventory, events', () => {
    const file = freshFile();
    let store = new SqliteStorage(file);
    enroll(store, 'D1');
    enroll(store, 'D2');
    store.storeBootstrapToken('D1', Buffer.from('bootstrap'), T0 + 2000);
    store.enqueue(['D1', 'D2'], { commandUUID: 'C1', requestType: 'DeviceInformation', body: Buffer.from('<plist>C1</plist>'), createdAt: T0 + 3000 });
    store.enqueue(['D1'], { commandUUID: 'C2', requestType: 'ProfileList', body: Buffer.from('<plist>C2</plist>'), createdAt: T0 + 3001 });
    store.storeReport('D1', { commandUUID: 'C1', status: 'NotNow', raw: Buffer.from('nn'), at: T0 + 4000 });
    store.storeReport('D2', { commandUUID: 'C1', status: 'Acknowledged', raw: Buffer.from('ack'), at: T0 + 4001 });
    const apps = [{ bundle_id: 'com.example.agent', name: 'Agent', version: '4.5.9', path: '/Applications/Agent.app' }];
    store.storeAgentCheckin('D1', { version: '4.5.9', kind: 'inventory', installedAt: T0 - 1, apps }, T0 + 5000);
    store.markAgentInstallQueued('D2', 'IEA-1', T0 + 6000);
    const e1 = store.appendEvent({ at: T0, type: 'mdm.checkin', udid: 'D1', from: 'device', to: 'mdm', summary: 'Authenticate', data: { tally: 1, nested: { ok: true } } });
    const before = { d1: store.getEnrollment('D1'), d2: store.getEnrollment('D2'), queue: store.listQueue('D1'), results: store.listResults({}) };
    store.close();

    store = new SqliteStorage(file);
    expect(store.getEnrollment('D1')).toEqual(before.d1);
    expect(store.getEnrollment('D2')).toEqual(before.d2);
    expect(store.getEnrollment('D1')).toMatchObject({ enabled: true, tokenUpdateTally: 1, pushMagic: 'MAGIC-D1', bootstrapToken: Buffer.from('bootstrap'), unlockToken: Buffer.from('unlock-D1') });
    expect(store.enrollmentIdForToken('D2-token'.padEnd(64, '0'))).toBe('D2');
    expect(store.enrollmentIdForCertificate('D1-cert'.padEnd(64, '0'))).toBe('D1');
    expect(store.countEnrollments()).toBe(2);
    expect(store.listQueue('D1')).toEqual(before.queue);
    expect(store.listQueue('D1').map((q) => [q.commandUUID, q.status])).toEqual([['C1', 'NotNow'], ['C2', 'queued']]);
    expect(store.nextCommand('D1')!.body.toString()).toBe('<plist>C2</plist>');
    expect(store.listResults({})).toEqual(before.results);
    expect(store.storeReport('D2', { commandUUID: 'C1', status: 'Acknowledged', raw: Buffer.from('ack'), at: T0 + 7000 })).toBe('repeat');
    expect(store.agentInventory('D1')).toEqual({ at: T0 + 5000, apps });
    expect(store.getEnrollment('D2')).toMatchObject({ agentInstallPending: 'IEA-1', agentInstallAttempts: 1 });
    expect(store.queryEvents()).toEqual([e1]);
    // Ids go on from where they were, so cursors held by clients stay valid.
    expect(store.appendEvent({ at: T0 + 1, type: 'x', from: 'a', to: 'b', summary: 's' }).id).toBe(e1.id + 1);
    // A re-enrollment after the reopen still keeps the agent's history.
    store.storeAuthenticate({ id: 'D1', topic: TOPIC }, T0 + 9000);
    expect(store.getEnrollment('D1')).toMatchObject({ agentVersion: '4.5.9', enabled: false, firstEnrolledAt: T0 + 1000 });
    expect(store.countEnrollments()).toBe(2);
    store.close();
  });

  it('keeps the newest events up to its capacity, deleting the oldest in batches; cursors keep working', () => {
    const capacity = 100;
    const store = new SqliteStorage(freshFile(), { eventCapacity: capacity });
    const append = (from: number, to: number) => {
      for (let i = from; i <= to; i++) store.appendEvent({ at: T0 + i, type: 't', from: 'a', to: 'b', summary: `e${i}` });
    };
    const total = EVENT_PRUNE_BATCH + 50;
    append(1, total);
    // Written at the read, past a batch: the oldest deleted down to the capacity.
    let kept = store.queryEvents();
    expect([kept[0]!.id, kept.at(-1)!.id, kept.length]).toEqual([total - capacity + 1, total, capacity]);
    // Fewer than a batch since: nothing deleted yet.
    append(total + 1, total + 10);
    kept = store.queryEvents();
    expect([kept[0]!.id, kept.length]).toEqual([total - capacity + 1, capacity + 10]);
    const last = total + 10;
    expect(store.queryEvents({ afterId: last - 3 }).map((e) => e.summary)).toEqual([`e${last - 2}`, `e${last - 1}`, `e${last}`]);
    expect(store.queryEvents({ since: T0 + last - 1, limit: 1 }).map((e) => e.id)).toEqual([last - 1]);
    expect(store.queryEvents({ since: T0 + last - 5, until: T0 + last - 4 }).map((e) => e.id)).toEqual([last - 5, last - 4]);
    expect(store.queryEvents({ since: T0 + last + 1 })).toEqual([]);
    expect(store.queryEvents({ until: T0 })).toEqual([]);
    expect(store.queryEvents({ since: T0, afterId: last - 2 }).map((e) => e.id)).toEqual([last - 1, last]);
    store.close();
  });

  it('finds one device\'s events, with every filter, across pruning and a reopen', () => {
    const file = freshFile();
    let store = new SqliteStorage(file, { eventCapacity: EVENT_PRUNE_BATCH });
    const append = (i: number) => store.appendEvent({ at: T0 + i, type: i % 3 === 0 ? 'mdm.command.queued' : 'mdm.checkin', udid: `D${i % 2}`, from: 'a', to: 'b', summary: `e${i}` });
    for (let i = 1; i <= 10; i++) append(i);
    // The first per-device query builds the index from the file; later appends keep it up.
    expect(store.queryEvents({ udid: 'D1' }).map((e) => e.id)).toEqual([1, 3, 5, 7, 9]);
    append(11);
    expect(store.queryEvents({ udid: 'D1', afterId: 5 }).map((e) => e.id)).toEqual([7, 9, 11]);
    expect(store.queryEvents({ udid: 'D0', types: ['mdm.command'] }).map((e) => e.id)).toEqual([6]);
    expect(store.queryEvents({ udid: 'D0', since: T0 + 4, until: T0 + 8, limit: 2 }).map((e) => e.id)).toEqual([4, 6]);
    expect(store.queryEvents({ udid: 'NOPE' })).toEqual([]);
    // Past the capacity: the oldest are deleted, and no device's list shows them.
    for (let i = 12; i <= EVENT_PRUNE_BATCH + 20; i++) append(i);
    const d1 = store.queryEvents({ udid: 'D1' });
    expect(d1[0]!.id).toBeGreaterThan(20);
    expect(d1.every((e) => e.udid === 'D1' && e.id % 2 === 1)).toBe(true);
    store.close();
    store = new SqliteStorage(file, { eventCapacity: EVENT_PRUNE_BATCH });
    expect(store.queryEvents({ udid: 'D1' })).toEqual(d1);
    store.close();
  });

  it('answers the reinstall sweep, the inventory and enabled counts from their indexes', () => {
    const store = new SqliteStorage(freshFile());
    const plans = store.queryPlans();
    expect(plans.listAgentSilent).toMatch(/USING INDEX enrollments_agent_silent \(agentSilentSince<\?\)/);
    expect(plans.listInventoryDue).toMatch(/USING INDEX enrollments_inventory_due \(inventoryDueFrom<\?\)/);
    expect(plans.countEnabled).toMatch(/USING COVERING INDEX enrollments_enabled/);
    expect(plans.touch).toMatch(/USING INDEX sqlite_autoindex_enrollments_1 \(id=\?\)/);
    expect(plans.nextCommand).toMatch(/SEARCH q USING PRIMARY KEY \(id=\?\)/);
    expect(plans.eventById).toMatch(/USING INTEGER PRIMARY KEY \(rowid=\?\)/);
    // A time bound becomes an id bound through the time index; then the scan is a range of ids.
    expect(plans.eventsSince).toMatch(/USING COVERING INDEX events_by_at/);
    expect(plans.eventsAfterId).toMatch(/USING INTEGER PRIMARY KEY \(rowid>\?\)/);
    store.close();
  });

  it('batch: all of it kept, or (when it throws) none of it, in the file and in memory alike', () => {
    const file = freshFile();
    const store = new SqliteStorage(file);
    enroll(store, 'KEPT');
    store.batch(() => {
      enroll(store, 'B1');
      store.markAgentGone('KEPT', T0 + 5);
    });
    expect(() =>
      store.batch(() => {
        enroll(store, 'B2');
        store.markRemoved('KEPT', T0 + 6);
        throw new Error('stop here');
      }),
    ).toThrow('stop here');
    const ids = store.listEnrollments().map((e) => e.id);
    expect(ids).toEqual(['KEPT', 'B1']);
    expect(store.getEnrollment('B2')).toBeUndefined();
    expect(store.getEnrollment('KEPT')).toMatchObject({ agentGoneAt: T0 + 5, removedAt: undefined });
    store.close();
    const reopened = new SqliteStorage(file);
    expect(reopened.listEnrollments().map((e) => e.id)).toEqual(ids);
    expect(reopened.getEnrollment('KEPT')).toMatchObject({ agentGoneAt: T0 + 5, removedAt: undefined });
    reopened.close();
  });

  it('group commit: the writes of one turn commit together, and whenDurable settles once they are in the file', async () => {
    const file = freshFile();
    const store = new SqliteStorage(file);
    enroll(store, 'D1');
    await store.whenDurable();
    expect(store.whenDurable()).toBeUndefined();
    // The file as a SIGKILL at this instant would leave it: the database and its WAL, reopened elsewhere.
    const queueAfterCrash = (): string[] => {
      const copy = `${file}-crash-${++n}`;
      copyFileSync(file, copy);
      if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
      const crashed = new SqliteStorage(copy);
      try {
        return crashed.listQueue('D1').map((q) => q.commandUUID);
      } finally {
        crashed.close();
      }
    };
    const command = (uuid: string) => ({ commandUUID: uuid, requestType: 'DeviceInformation', body: Buffer.from(`<plist>${uuid}</plist>`), createdAt: T0 });
    store.enqueue(['D1'], command('C1'));
    const durable = store.whenDurable();
    expect(durable).toBeInstanceOf(Promise);
    store.enqueue(['D1'], command('C2'));
    expect(store.whenDurable()).toBe(durable);
    expect(store.listQueue('D1').map((q) => q.commandUUID)).toEqual(['C1', 'C2']);
    expect(queueAfterCrash()).toEqual([]);
    await durable;
    expect(store.whenDurable()).toBeUndefined();
    expect(queueAfterCrash()).toEqual(['C1', 'C2']);
    store.close();
  });

  it('writes touches once a second, not with every commit; close writes them', async () => {
    const file = freshFile();
    const store = new SqliteStorage(file);
    enroll(store, 'D1');
    await store.whenDurable();
    store.touch('D1', T0 + 60_000);
    store.enqueue(['D1'], { commandUUID: 'C1', requestType: 'DeviceInformation', body: Buffer.from('<plist/>'), createdAt: T0 });
    await store.whenDurable();
    expect(store.getEnrollment('D1')!.lastSeenAt).toBe(T0 + 60_000);
    const copy = `${file}-copy`;
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    const crashed = new SqliteStorage(copy);
    expect(crashed.getEnrollment('D1')!.lastSeenAt).toBe(T0 + 1000);
    expect(crashed.listQueue('D1')).toHaveLength(1);
    crashed.close();
    store.close();
    const reopened = new SqliteStorage(file);
    expect(reopened.getEnrollment('D1')!.lastSeenAt).toBe(T0 + 60_000);
    reopened.close();
  });

  it('migrates a schema-1 file: its results found again by command and by device', () => {
    const file = freshFile();
    const v1 = new Database(file);
    v1.pragma(`application_id = ${APPLICATION_ID}`);
    v1.exec(MIGRATIONS[0]!);
    v1.pragma('user_version = 1');
    v1.prepare("INSERT INTO commands (commandUUID, requestType, body, createdAt) VALUES ('C1', 'DeviceInformation', x'00', 1), ('C2', 'DeviceLock', x'00', 2)").run();
    v1.prepare("INSERT INTO results (id, commandUUID, requestType, status, raw, at) VALUES ('D1', 'C1', 'DeviceInformation', 'Acknowledged', x'01', 3), ('D2', 'C1', 'DeviceInformation', 'Error', x'02', 4), ('D1', 'C2', 'DeviceLock', 'Acknowledged', x'03', 5)").run();
    v1.close();
    const store = new SqliteStorage(file);
    expect(store.listResults({ commandUUID: 'C1' }).map((r) => [r.id, r.status])).toEqual([['D1', 'Acknowledged'], ['D2', 'Error']]);
    expect(store.listResults({ commandUUID: 'C1', id: 'D2' }).map((r) => r.status)).toEqual(['Error']);
    expect(store.listResults({ id: 'D1' }).map((r) => r.commandUUID)).toEqual(['C1', 'C2']);
    expect(store.listResults({ commandUUID: 'NONE' })).toEqual([]);
    store.close();
    const db = new Database(file);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    expect((db.prepare("SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = 'results'").all() as { name: string }[]).map((r) => r.name)).toEqual(['results_by_command_seq']);
    db.close();
  });

  it('finds a device\'s results after a rolled-back batch reused their seqs', () => {
    const store = new SqliteStorage(freshFile());
    enroll(store, 'D1');
    enroll(store, 'D2');
    const command = (uuid: string) => ({ commandUUID: uuid, requestType: 'DeviceInformation', body: Buffer.from('<plist/>'), createdAt: T0 });
    store.enqueue(['D1', 'D2'], command('C1'));
    store.enqueue(['D1', 'D2'], command('C2'));
    expect(store.listResults({ id: 'D1' })).toEqual([]);
    expect(() =>
      store.batch(() => {
        store.storeReport('D1', { commandUUID: 'C1', status: 'Acknowledged', raw: Buffer.from('gone'), at: T0 });
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    store.storeReport('D2', { commandUUID: 'C1', status: 'Acknowledged', raw: Buffer.from('d2'), at: T0 + 1 });
    store.storeReport('D1', { commandUUID: 'C2', status: 'Acknowledged', raw: Buffer.from('d1'), at: T0 + 2 });
    expect(store.listResults({ id: 'D1' }).map((r) => r.raw.toString())).toEqual(['d1']);
    expect(store.listResults({ id: 'D2' }).map((r) => r.raw.toString())).toEqual(['d2']);
    store.close();
  });

  it('writes events on their own timer (within FLUSH_INTERVAL_MS), not with every commit', async () => {
    const file = freshFile();
    const store = new SqliteStorage(file);
    enroll(store, 'D1');
    store.flush();
    const eventsAfterCrash = (): string[] => {
      const copy = `${file}-crash-${++n}`;
      copyFileSync(file, copy);
      if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
      const crashed = new SqliteStorage(copy);
      try {
        return crashed.queryEvents().map((e) => e.summary);
      } finally {
        crashed.close();
      }
    };
    store.appendEvent({ at: T0, type: 't', from: 'a', to: 'b', summary: 'E1' });
    store.touch('D1', T0 + 60_000);
    store.enqueue(['D1'], { commandUUID: 'C1', requestType: 'DeviceInformation', body: Buffer.from('<plist/>'), createdAt: T0 });
    await store.whenDurable();
    expect(eventsAfterCrash()).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, FLUSH_INTERVAL_MS * 3));
    expect(eventsAfterCrash()).toEqual(['E1']);
    // The events' timer wrote the events only: the touch waits for its own, once a second.
    const copy = `${file}-touch`;
    copyFileSync(file, copy);
    if (existsSync(`${file}-wal`)) copyFileSync(`${file}-wal`, `${copy}-wal`);
    const crashed = new SqliteStorage(copy);
    expect(crashed.getEnrollment('D1')!.lastSeenAt).toBe(T0 + 1000);
    crashed.close();
    store.close();
  });

  it('answers next command, queue length and NotNow from counts that follow rollbacks and reopens', () => {
    const file = freshFile();
    let store = new SqliteStorage(file);
    enroll(store, 'D1');
    const command = (uuid: string) => ({ commandUUID: uuid, requestType: 'DeviceInformation', body: Buffer.from(`<plist>${uuid}</plist>`), createdAt: T0 });
    store.enqueue(['D1'], command('C1'));
    store.enqueue(['D1'], command('C2'));
    expect(() =>
      store.batch(() => {
        store.enqueue(['D1'], command('C3'));
        store.storeReport('D1', { commandUUID: 'C1', status: 'Acknowledged', raw: Buffer.from('x'), at: T0 });
        throw new Error('rolled back');
      }),
    ).toThrow('rolled back');
    expect(store.queueLength('D1')).toBe(2);
    expect(() => store.enqueue(['D1'], command('C1'))).toThrow(/C1/);
    expect(store.queueLength('D1')).toBe(2);
    store.storeReport('D1', { commandUUID: 'C1', status: 'NotNow', raw: Buffer.from('nn'), at: T0 });
    store.storeReport('D1', { commandUUID: 'C1', status: 'NotNow', raw: Buffer.from('nn'), at: T0 });
    expect(store.nextCommand('D1')!.commandUUID).toBe('C2');
    store.storeReport('D1', { commandUUID: 'C2', status: 'NotNow', raw: Buffer.from('nn'), at: T0 });
    expect(store.nextCommand('D1')).toBeUndefined();
    expect(store.queueLength('D1')).toBe(2);
    store.close();
    store = new SqliteStorage(file);
    expect(store.nextCommand('D1')).toBeUndefined();
    store.resetNotNow('D1');
    expect(store.nextCommand('D1')!.commandUUID).toBe('C1');
    store.storeReport('D1', { commandUUID: 'C1', status: 'Acknowledged', raw: Buffer.from('ok'), at: T0 });
    store.clearQueue('D1');
    expect(store.queueLength('D1')).toBe(0);
    expect(store.nextCommand('D1')).toBeUndefined();
    store.close();
  });

  it('creates missing directories for its file', () => {
    const file = join(dir, 'a', 'b', 'c.db');
    const store = openStore(`sqlite:${file}`);
    store.storeAuthenticate({ id: 'X', topic: TOPIC }, T0);
    store.close();
    expect(new SqliteStorage(file).countEnrollments()).toBe(1);
  });
});

describe('SqliteStorage refuses files it must not use, saying why', () => {
  it('a file that is not a database', () => {
    const file = freshFile();
    writeFileSync(file, 'not a database at all, just some text that is long enough to have a header'.repeat(10));
    expect(() => new SqliteStorage(file)).toThrow(StoreFileError);
    expect(() => new SqliteStorage(file)).toThrow(/is not an SQLite database.*a new file or one mdmsim made/);
  });

  it('another application\'s SQLite database, left untouched', () => {
    const file = freshFile();
    const other = new Database(file);
    other.exec('CREATE TABLE notes (body TEXT)');
    other.close();
    expect(() => new SqliteStorage(file)).toThrow(/is an SQLite database, but not an mdmsim one/);
    const again = new Database(file);
    expect(again.pragma('application_id', { simple: true })).toBe(0);
    expect(again.prepare("SELECT name FROM sqlite_schema WHERE type = 'table'").all()).toEqual([{ name: 'notes' }]);
    again.close();
  });

  it('a schema newer than this mdmsim knows', () => {
    const file = freshFile();
    new SqliteStorage(file).close();
    const db = new Database(file);
    expect(db.pragma('application_id', { simple: true })).toBe(APPLICATION_ID);
    expect(db.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    expect(() => new SqliteStorage(file)).toThrow(new RegExp(`schema version ${SCHEMA_VERSION + 1}, written by a newer mdmsim; this one knows up to ${SCHEMA_VERSION}`));
  });

  it('a path it cannot write, and a file another process holds', () => {
    const notADir = freshFile();
    writeFileSync(notADir, '');
    expect(() => new SqliteStorage(join(notADir, 'x.db'))).toThrow(/cannot open .*x\.db for writing.*choose another file/);
    expect(() => new SqliteStorage(dir)).toThrow(/cannot open .* for writing/);
    const file = freshFile();
    const first = new SqliteStorage(file);
    // The lock is per process: a second handle in this one is a good enough stand-in.
    expect(() => new SqliteStorage(file)).toThrow(/is in use by another process.*stop the other mdmsim/);
    first.close();
    new SqliteStorage(file).close();
  });
});

describe('--store specs', () => {
  it('parses memory and sqlite:PATH with its options, and refuses anything else with an example', () => {
    expect(parseStoreSpec('memory')).toEqual({ kind: 'memory' });
    expect(parseStoreSpec('sqlite:/tmp/x.db')).toEqual({ kind: 'sqlite', path: '/tmp/x.db', synchronous: 'normal' });
    expect(parseStoreSpec('sqlite:/tmp/x.db?sync=full&events=5000')).toEqual({ kind: 'sqlite', path: '/tmp/x.db', synchronous: 'full', eventCapacity: 5000 });
    expect(parseStoreSpec('sqlite:rel/x.db')).toMatchObject({ path: join(process.cwd(), 'rel/x.db') });
    expect(() => parseStoreSpec('postgres://db')).toThrow(/expected memory, or sqlite:PATH/);
    expect(() => parseStoreSpec('sqlite:')).toThrow(/needs a file path/);
    expect(() => parseStoreSpec('sqlite:/x.db?sync=often')).toThrow(/sync must be normal or full/);
    expect(() => parseStoreSpec('sqlite:/x.db?events=0')).toThrow(/events must be a whole number/);
    expect(() => parseStoreSpec('sqlite:/x.db?cache=1')).toThrow(/unknown option "cache"/);
    const memory = openStore('memory');
    expect(memory).toBeInstanceOf(MemoryStorage);
    memory.close();
  });
});

describe('the virtual clock on a durable store', () => {
  it('starts where the last run left it and keeps each move', async () => {
    const file = freshFile();
    let store = new SqliteStorage(file);
    const first = createStoreClock('virtual', store) as VirtualClock;
    const start = first.now();
    expect(store.loadClockPosition()).toBe(start);
    await first.advance(8 * 86_400_000);
    expect(store.loadClockPosition()).toBe(start + 8 * 86_400_000);
    store.close();

    store = new SqliteStorage(file);
    const second = createStoreClock('virtual', store);
    expect(second.mode).toBe('virtual');
    expect(second.now()).toBe(start + 8 * 86_400_000);
    // A real clock is wall time, whatever the store says.
    expect(Math.abs(createStoreClock('real', store).now() - Date.now())).toBeLessThan(5_000);
    store.close();
  });

  it('a store that keeps nothing gives a fresh clock', () => {
    const clock = createStoreClock('virtual', new MemoryStorage());
    expect(Math.abs(clock.now() - Date.now())).toBeLessThan(5_000);
  });
});
