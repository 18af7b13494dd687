/**
 * One storage interface, several backends (in-memory now, SQLite later). The service
 * decides what a check-in means; storage keeps the facts. Every backend passes the same
 * conformance suite (test/conformance/storage.ts).
 *
 * The interface is synchronous on purpose: both planned backends (a Map and better-sqlite3)
 * are synchronous, and the connect hot path would otherwise pay a promise per call.
 */
import type { AgentApp, AgentCheckinKind } from '../../protocol/agent';
import type { Platform } from '../../protocol/platform';
import type { CommandStatus } from '../../protocol/result';

export interface DeviceFacts {
  udid?: string;
  enrollmentId?: string;
  serialNumber?: string;
  platform?: Platform;
  osVersion?: string;
  buildVersion?: string;
  productName?: string;
  model?: string;
  modelName?: string;
  deviceName?: string;
}

export interface EnrollmentRecord extends DeviceFacts {
  /** The enrollment id: the UDID, or the EnrollmentID of a User Enrollment. */
  id: string;
  topic: string;
  /** Push token as lower-case hex (64 characters for a real token). */
  token?: string;
  pushMagic?: string;
  unlockToken?: Buffer;
  awaitingConfiguration?: boolean;
  enabled: boolean;
  /** TokenUpdates since the last Authenticate; 1 = the enrollment's first. */
  tokenUpdateTally: number;
  /** Clock time of the Authenticate that began this enrollment. */
  authenticatedAt: number;
  /** Clock time of tally 1, once enrolled. */
  enrolledAt?: number;
  /** Clock time of the last check-in or connect. */
  lastSeenAt: number;
  bootstrapToken?: Buffer;
  /**
   * SHA-256 (lower-case hex) of the identity certificate that signed the Authenticate: every
   * later message must be signed by it. Absent when the server runs without signatures.
   */
  identityCertSha256?: string;
  /**
   * When APNs answered 410 Unregistered for `token`: pushes to it are pointless until the
   * device sends a TokenUpdate again (which clears this).
   */
  pushTokenInvalidAt?: number;

  // ---- the vendor agent: history, kept across re-enrollment ------------------------------
  // A wiped Mac that enrolls again is still the Mac whose agent last spoke at that time; the
  // control API derives "installed since this enrollment" from agentLastCheckinAt and
  // authenticatedAt instead of forgetting the history.

  /** Server clock time of the agent's last accepted check-in. */
  agentLastCheckinAt?: number;
  agentLastCheckinKind?: AgentCheckinKind;
  agentVersion?: string;
  /** When the running copy of the agent was installed, as the agent said (device clock). */
  agentInstalledAt?: number;
  /** Server clock time of the last check-in that carried apps; the list is agentInventory(id). */
  agentInventoryAt?: number;
  /** Server clock time the agent's InstallEnterpriseApplication was last Acknowledged. */
  agentInstallAcknowledgedAt?: number;
  /**
   * Server clock time the server learned the agent is gone (an MDM InstalledApplicationList
   * without the agent's bundle id). Cleared by an agent check-in and by an Acknowledged agent
   * install: the agent is back.
   */
  agentGoneAt?: number;
  /** Clock time of the first enrollment's tally 1 ever; kept across re-enrollment. */
  firstEnrolledAt?: number;

  // ---- the Kandji-compatible API: reset by Authenticate -----------------------------------

  /**
   * When the device was deleted through the API (DELETE /api/v1/devices/{id}): its agent is
   * told to uninstall and its MDM profile removed. A later Authenticate (the Mac enrolling
   * again) clears it.
   */
  removedAt?: number;

  // ---- the agent (re)install policy: reset by Authenticate --------------------------------

  /** CommandUUID of the agent's InstallEnterpriseApplication while it is queued (or NotNow). */
  agentInstallPending?: string;
  /** Clock time the policy last queued the agent install (the enrollment install included). */
  agentInstallLastFiredAt?: number;
  /** Installs queued since the last Authenticate; the enrollment install is attempt 1. */
  agentInstallAttempts: number;
  /** The device's final answer to the last agent install, and when it came. */
  agentInstallLastOutcome?: AgentInstallOutcome;
  agentInstallLastOutcomeAt?: number;
  /**
   * The reason of the last `agent.reinstall.skipped` event recorded for this device while its
   * agent is overdue: the same reason is not recorded again, so an hourly sweep does not flood
   * the log. Cleared by an agent check-in and by a fired install.
   */
  agentPolicyLastSkip?: string;

  // ---- periodic MDM inventory (DeviceInformation): reset by Authenticate ------------------

  /** CommandUUID of the inventory DeviceInformation while it is queued (or NotNow). */
  inventoryPending?: string;
  /** Clock time of the last inventory cycle: a DeviceInformation queued, or a pending one pushed again. */
  inventoryLastQueuedAt?: number;
}

/** Final answers to the agent's InstallEnterpriseApplication (NotNow keeps it pending). */
export type AgentInstallOutcome = 'Acknowledged' | 'Error' | 'CommandFormatError';

/** What an accepted agent check-in tells the server. */
export interface AgentCheckinFacts {
  version: string;
  kind: AgentCheckinKind;
  /** When that copy of the agent was installed (device clock, ms since the epoch). */
  installedAt: number;
  /** The app inventory, when the check-in carries one; replaces the stored one. */
  apps?: readonly AgentApp[];
}

export interface AgentInventory {
  /** Server clock time of the check-in that carried it. */
  at: number;
  apps: readonly AgentApp[];
}

export interface AuthenticateFacts extends DeviceFacts {
  id: string;
  topic: string;
  identityCertSha256?: string;
}

export interface PushInfo {
  topic: string;
  token: string;
  pushMagic: string;
  unlockToken?: Buffer;
  awaitingConfiguration?: boolean;
}

export interface StoredCommand {
  commandUUID: string;
  requestType: string;
  /** The command plist, serialized once at enqueue and sent as is on every delivery. */
  body: Buffer;
  createdAt: number;
}

/**
 * `NotNow`: the device answered NotNow in its current connection, so the command is skipped
 * until that device's next Idle, which makes it `queued` again (resetNotNow).
 */
export type QueueStatus = 'queued' | 'NotNow';

export interface QueueEntry {
  commandUUID: string;
  requestType: string;
  status: QueueStatus;
  queuedAt: number;
}

export interface ResultRecord {
  id: string;
  commandUUID: string;
  requestType: string;
  status: CommandStatus;
  /** The device's report exactly as it came over the wire. */
  raw: Buffer;
  at: number;
}

export type ReportOutcome =
  /** The command was queued for this enrollment; the report is stored. */
  | 'stored'
  /** A repeat of a final report already stored (a retried request); nothing changed. */
  | 'repeat'
  /** No such command was ever queued for this enrollment. */
  | 'unknown';

export interface EventRecord {
  id: number;
  /** Clock time, ms since the epoch. */
  at: number;
  type: string;
  udid?: string;
  from: string;
  to: string;
  summary: string;
  data?: Record<string, unknown>;
}

export interface EventQuery {
  /** Only events with a larger id (a cursor). */
  afterId?: number;
  /** Only events at or after this clock time. */
  since?: number;
  until?: number;
  /** Dotted prefixes: `mdm.command` matches `mdm.command.queued`. */
  types?: string[];
  udid?: string;
  limit?: number;
}

export interface EnrollmentQuery {
  offset?: number;
  limit?: number;
  enabled?: boolean;
}

export class DuplicateCommandError extends Error {
  constructor(readonly commandUUID: string) {
    super(`a command with CommandUUID ${commandUUID} already exists`);
    this.name = 'DuplicateCommandError';
  }
}

export interface Storage {
  /**
   * For a store that commits writes in groups (SQLite): settles once the writes made so far
   * are durable, rejects if their commit failed; undefined when nothing is waiting to be
   * committed. A store that is done when each call returns (memory) leaves it out. Whatever
   * answers a client waits for it first (server/http/durable-answers.ts).
   */
  whenDurable?(): Promise<void> | undefined;
  /**
   * Records an Authenticate: device facts kept, push info, tally, bootstrap and unlock tokens
   * reset, queue cleared, enrollment disabled, and the identity certificate (re)bound. The
   * agent's history (last check-in, version, install date, inventory) is kept; the install
   * policy's and the inventory's per-device state is reset (their commands left with the queue).
   */
  storeAuthenticate(facts: AuthenticateFacts, at: number): void;
  /** Records a TokenUpdate for an existing enrollment, enables it, and returns the new tally. Throws if the enrollment is unknown. */
  storeTokenUpdate(id: string, push: PushInfo, at: number): number;
  /** Disables the enrollment (CheckOut, or a device that went away). */
  disable(id: string, at: number): void;
  touch(id: string, at: number): void;
  /** Stores (or, with an empty/undefined token, removes) the bootstrap token. */
  storeBootstrapToken(id: string, token: Buffer | undefined, at: number): void;
  getEnrollment(id: string): Readonly<EnrollmentRecord> | undefined;
  /** The enrollment whose latest Authenticate bound this certificate (see identityCertSha256). */
  enrollmentIdForCertificate(sha256: string): string | undefined;
  /** The enrollment whose latest TokenUpdate gave this push token (lower-case hex). */
  enrollmentIdForToken(token: string): string | undefined;
  /**
   * APNs said `token` is no longer valid (410): marks the enrollment, if `token` is still its
   * token (a TokenUpdate may have replaced it since the push left). Returns whether it did.
   */
  markPushTokenInvalid(id: string, token: string, at: number): boolean;
  listEnrollments(query?: EnrollmentQuery): Readonly<EnrollmentRecord>[];
  countEnrollments(query?: Pick<EnrollmentQuery, 'enabled'>): number;

  /** Queues one command for each id, in order. Throws DuplicateCommandError if the CommandUUID exists. */
  enqueue(ids: readonly string[], command: StoredCommand): void;
  /** The first command in id's queue whose status is `queued` (NotNow ones are skipped). */
  nextCommand(id: string): StoredCommand | undefined;
  /** A new connection (Idle): every NotNow command of id is offered again. */
  resetNotNow(id: string): void;
  /** The command with this CommandUUID if it is in id's queue. */
  queuedCommand(id: string, commandUUID: string): StoredCommand | undefined;
  /** Stores a report. A NotNow keeps the command queued (status NotNow); a final status dequeues it. */
  storeReport(id: string, report: Omit<ResultRecord, 'id' | 'requestType'>): ReportOutcome;
  clearQueue(id: string): void;
  getCommand(commandUUID: string): StoredCommand | undefined;
  listQueue(id: string): QueueEntry[];
  queueLength(id: string): number;
  listResults(query: { id?: string; commandUUID?: string }): ResultRecord[];

  // ---- the vendor agent and its install policy --------------------------------------------

  /**
   * Records an accepted agent check-in (history facts; `apps`, when given, replace the stored
   * inventory), ends the device's overdue episode (agentPolicyLastSkip cleared) and clears
   * agentGoneAt (the agent is evidently there). Throws if
   * the enrollment is unknown.
   */
  storeAgentCheckin(id: string, checkin: AgentCheckinFacts, at: number): void;
  /** The latest app inventory the agent sent (latest only). */
  agentInventory(id: string): AgentInventory | undefined;
  /**
   * Enabled enrollments whose agent has been silent since before `silentBefore`, silence
   * counted from the later of the last agent check-in and the enrollment (enrolledAt). The
   * reinstall sweep reads only these, so a backend should answer from an index, not a scan
   * of every row's details.
   */
  listAgentSilent(silentBefore: number): Readonly<EnrollmentRecord>[];
  /**
   * The policy queued the agent's InstallEnterpriseApplication: it is pending, fired now,
   * attempts + 1 (returned), and the skip reason cleared. Throws if the enrollment is unknown.
   */
  markAgentInstallQueued(id: string, commandUUID: string, at: number): number;
  /**
   * A final answer to an agent install: if `commandUUID` is the pending one, clears it and
   * records the outcome (an Acknowledged one also as agentInstallAcknowledgedAt, clearing
   * agentGoneAt). Returns
   * whether it was the pending one.
   */
  storeAgentInstallOutcome(id: string, commandUUID: string, outcome: AgentInstallOutcome, at: number): boolean;
  /** Remembers (or, undefined, forgets) the reason of the last skip event recorded for id. */
  setAgentPolicySkip(id: string, reason: string | undefined): void;
  /**
   * The server learned the agent is gone from id (see agentGoneAt). Returns whether the
   * enrollment exists.
   */
  markAgentGone(id: string, at: number): boolean;

  // ---- the Kandji-compatible API ------------------------------------------------------------

  /** The device was deleted through the API (see removedAt). Returns whether the enrollment exists. */
  markRemoved(id: string, at: number): boolean;

  // ---- periodic inventory ----------------------------------------------------------------

  /**
   * An inventory cycle ran for id at `at`: `commandUUID` is pending (a new DeviceInformation,
   * or the one still pending that was pushed again).
   */
  markInventoryQueued(id: string, commandUUID: string, at: number): void;
  /** A final answer to an inventory: clears it if `commandUUID` is the pending one; returns whether it was. */
  clearInventoryPending(id: string, commandUUID: string): boolean;
  /**
   * Enabled enrollments whose last inventory cycle (or, with none yet, whose enrollment) was
   * at or before `queuedBefore`, whether or not an inventory is still pending.
   */
  listInventoryDue(queuedBefore: number): Readonly<EnrollmentRecord>[];

  /** Appends an event and gives it the next id. */
  appendEvent(event: Omit<EventRecord, 'id'>): EventRecord;
  queryEvents(query?: EventQuery): EventRecord[];

  close(): void;
}
