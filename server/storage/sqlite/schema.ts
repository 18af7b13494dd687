/**
 * The SQLite schema, as numbered migrations. `PRAGMA user_version` holds the number of the last
 * one applied and `PRAGMA application_id` marks the file as mdmsim's, so a stray database (or
 * one written by a newer mdmsim) is refused with a reason instead of being altered.
 *
 * Migrations only ever get appended: an applied one is never edited, since files in the field
 * already carry its result.
 */
import type Database from 'better-sqlite3';

/** 'mdms' in ASCII: what `PRAGMA application_id` says in every mdmsim database. */
export const APPLICATION_ID = 0x6d646d73;

/**
 * Column names follow EnrollmentRecord's field names, so a row maps onto a record field by
 * field. Two generated columns feed the sweeps' partial indexes (enabled rows only):
 * - agentSilentSince: the later of the agent's last check-in and the enrollment (tally 1, or
 *   the Authenticate before it), which is what listAgentSilent compares;
 * - inventoryDueFrom: the last inventory cycle, else the enrollment, which listInventoryDue compares.
 */
const V1 = `
CREATE TABLE meta (
  key TEXT PRIMARY KEY,
  value TEXT NOT NULL
) WITHOUT ROWID;

CREATE TABLE enrollments (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL UNIQUE,
  udid TEXT, enrollmentId TEXT, serialNumber TEXT, platform TEXT, osVersion TEXT, buildVersion TEXT,
  productName TEXT, model TEXT, modelName TEXT, deviceName TEXT,
  topic TEXT NOT NULL,
  token TEXT, pushMagic TEXT, unlockToken BLOB, awaitingConfiguration INTEGER,
  enabled INTEGER NOT NULL,
  tokenUpdateTally INTEGER NOT NULL,
  authenticatedAt INTEGER NOT NULL,
  enrolledAt INTEGER,
  lastSeenAt INTEGER NOT NULL,
  bootstrapToken BLOB,
  identityCertSha256 TEXT,
  pushTokenInvalidAt INTEGER,
  agentLastCheckinAt INTEGER, agentLastCheckinKind TEXT, agentVersion TEXT, agentInstalledAt INTEGER,
  agentInventoryAt INTEGER, agentInstallAcknowledgedAt INTEGER, agentGoneAt INTEGER, firstEnrolledAt INTEGER,
  removedAt INTEGER,
  agentInstallPending TEXT, agentInstallLastFiredAt INTEGER, agentInstallAttempts INTEGER NOT NULL,
  agentInstallLastOutcome TEXT, agentInstallLastOutcomeAt INTEGER, agentPolicyLastSkip TEXT,
  inventoryPending TEXT, inventoryLastQueuedAt INTEGER,
  agentSilentSince INTEGER GENERATED ALWAYS AS (
    max(coalesce(agentLastCheckinAt, enrolledAt, authenticatedAt), coalesce(enrolledAt, authenticatedAt))
  ) VIRTUAL,
  inventoryDueFrom INTEGER GENERATED ALWAYS AS (coalesce(inventoryLastQueuedAt, enrolledAt, authenticatedAt)) VIRTUAL
);
CREATE INDEX enrollments_enabled ON enrollments(enabled);
-- Partial: a sweep reads only the enabled enrollments past their time, not the fleet.
CREATE INDEX enrollments_agent_silent ON enrollments(agentSilentSince) WHERE enabled = 1;
CREATE INDEX enrollments_inventory_due ON enrollments(inventoryDueFrom) WHERE enabled = 1;

-- Who a push token and an identity certificate speak for: the latest enrollment to claim them.
CREATE TABLE push_tokens (token TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE identity_certs (sha256 TEXT PRIMARY KEY, id TEXT NOT NULL) WITHOUT ROWID;

CREATE TABLE commands (
  seq INTEGER PRIMARY KEY,
  commandUUID TEXT NOT NULL UNIQUE,
  requestType TEXT NOT NULL,
  body BLOB NOT NULL,
  createdAt INTEGER NOT NULL
);

-- One row per (enrollment, command) still owed; seq is the delivery order. Clustered by
-- enrollment: a report or a delivery changes one b-tree, not a table and an index.
CREATE TABLE queue (
  id TEXT NOT NULL,
  seq INTEGER NOT NULL,
  commandUUID TEXT NOT NULL,
  status TEXT NOT NULL,
  queuedAt INTEGER NOT NULL,
  PRIMARY KEY (id, seq)
) WITHOUT ROWID;

CREATE TABLE results (
  seq INTEGER PRIMARY KEY,
  id TEXT NOT NULL,
  commandUUID TEXT NOT NULL,
  requestType TEXT NOT NULL,
  status TEXT NOT NULL,
  raw BLOB NOT NULL,
  at INTEGER NOT NULL
);
CREATE INDEX results_by_enrollment ON results(id);
CREATE INDEX results_by_command ON results(commandUUID);

CREATE TABLE inventories (
  id TEXT PRIMARY KEY,
  at INTEGER NOT NULL,
  apps TEXT NOT NULL
);

CREATE TABLE events (
  id INTEGER PRIMARY KEY,
  at INTEGER NOT NULL,
  type TEXT NOT NULL,
  udid TEXT,
  "from" TEXT NOT NULL,
  "to" TEXT NOT NULL,
  summary TEXT NOT NULL,
  data TEXT
);
-- No index on udid: per-device lookups use an index the store keeps in memory (a b-tree on
-- udid would take a page write per event). The time index only ever appends.
CREATE INDEX events_by_at ON events(at);
`;

/**
 * Results found by command through the command's seq, and by device through an index the store
 * keeps in memory (see SqliteStorage.resultSeqsOf): the two b-trees on random keys (a UUID, an
 * enrollment id) were half of the pages every commit wrote (bench:storage, counted from the
 * WAL: 13.7 of 28.3 pages per commit), while command seqs grow, so their index only appends.
 */
const V2 = `
ALTER TABLE results ADD COLUMN commandSeq INTEGER NOT NULL DEFAULT 0;
UPDATE results SET commandSeq = coalesce((SELECT c.seq FROM commands c WHERE c.commandUUID = results.commandUUID), 0);
DROP INDEX results_by_command;
DROP INDEX results_by_enrollment;
CREATE INDEX results_by_command_seq ON results(commandSeq);
`;

/** MIGRATIONS[i] takes a database from schema i to schema i + 1. */
export const MIGRATIONS: readonly string[] = [V1, V2];

export const SCHEMA_VERSION = MIGRATIONS.length;

/** Why a file cannot be used as this mdmsim's database; the message says what to do. */
export class StoreFileError extends Error {
  constructor(
    message: string,
    readonly file: string,
  ) {
    super(message);
    this.name = 'StoreFileError';
  }
}

/**
 * Brings the database to SCHEMA_VERSION in one transaction (a crash mid-migration leaves the
 * file as it was). Refuses a file that is not mdmsim's or that a newer mdmsim wrote.
 */
export function migrate(db: Database.Database, file: string): void {
  db.transaction(() => {
    const appId = db.pragma('application_id', { simple: true }) as number;
    const version = db.pragma('user_version', { simple: true }) as number;
    if (appId !== APPLICATION_ID) {
      const tables = (db.prepare("SELECT count(*) AS n FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'").get() as { n: number }).n;
      if (appId !== 0 || version !== 0 || tables > 0) {
        throw new StoreFileError(`${file} is an SQLite database, but not an mdmsim one (application_id ${appId}, ${tables} tables); give --store sqlite: a new file or one mdmsim made`, file);
      }
      db.pragma(`application_id = ${APPLICATION_ID}`);
    }
    if (version > SCHEMA_VERSION) {
      throw new StoreFileError(`${file} has schema version ${version}, written by a newer mdmsim; this one knows up to ${SCHEMA_VERSION}: upgrade mdmsim, or use another file`, file);
    }
    for (let v = version; v < SCHEMA_VERSION; v++) {
      db.exec(MIGRATIONS[v]!);
      db.pragma(`user_version = ${v + 1}`);
    }
  }).immediate();
}
