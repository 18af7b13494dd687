/**
 * The fleet policies the server runs on its own, on its clock:
 *
 * - Agent install on enrollment: after the first TokenUpdate of a macOS enrollment, the
 *   agent's InstallEnterpriseApplication is queued and the Mac pushed (attempt 1).
 * - The reinstall rule (decide.ts): evaluated by a sweep every `sweepInterval` over the
 *   devices whose agent is overdue, and on each MDM check-in and connect of such a device.
 * - Results of the agent install: Acknowledged, Error and CommandFormatError end the pending
 *   install and are recorded; NotNow keeps it pending.
 * - The daily MDM inventory (./inventory.ts).
 *
 * Skips are recorded only for devices whose agent is overdue, and only when the reason for
 * that device changes (kept in storage as agentPolicyLastSkip, cleared by an agent check-in
 * or a fired install): an hourly sweep over a fleet of broken Macs adds nothing to the log
 * until something about them changes.
 *
 * Timers are armed when the server has its first enabled enrollment (an empty server
 * schedules nothing), re-armed at each run, and their callbacks return their work so a
 * VirtualClock awaits it.
 */
import { formatDuration } from '../../protocol/duration';
import type { Clock, TimerHandle } from '../../protocol/clock';
import { FINAL_STATUSES, type CommandResults } from '../../protocol/result';
import type { EventLog } from '../service/event-log';
import type { MdmObserver, MdmService } from '../service/mdm-service';
import type { PushService } from '../push';
import type { AgentInstallOutcome, EnrollmentRecord, Storage } from '../storage/types';
import { AgentPresence } from './agent-presence';
import { PolicyCommands, type AgentUrls } from './commands';
import { agentSilentSince, decideReinstall, isAgentOverdue, lastAttemptAt, type DecideContext, type FireReason, type SkipReason } from './decide';
import { InventoryScheduler, type InventoryReport } from './inventory';
import { agentPolicyToJson, resolveAgentPolicy, type AgentPolicySettings, type AgentPolicySettingsJson } from './settings';

export interface AgentPolicyDeps {
  store: Storage;
  clock: Clock;
  events: EventLog;
  service: MdmService;
  /** The push path (undefined without APNs: commands are then queued, not pushed). */
  push: () => PushService | undefined;
  /** The agent's manifest and check-in URLs (known once the server listens). */
  urls: () => AgentUrls;
  /** ServerOptions.agentPolicy, unvalidated. */
  settings?: unknown;
  onError?: (error: unknown) => void;
}

export interface SweepReport {
  at: string;
  /** Devices whose agent was overdue. */
  evaluated: number;
  fired: string[];
  skipped: Partial<Record<SkipReason, number>>;
}

/** The server's view of one device's install policy (what the control API shows). */
export interface ReinstallStateJson {
  pendingCommandUUID: string | null;
  lastFiredAt: string | null;
  attempts: number;
  lastOutcome: AgentInstallOutcome | null;
  lastOutcomeAt: string | null;
}

export class AgentPolicy {
  private current: Readonly<AgentPolicySettings>;
  private readonly store: Storage;
  private readonly clock: Clock;
  private readonly events: EventLog;
  private readonly service: MdmService;
  private readonly pushes: () => PushService | undefined;
  private readonly onError: (error: unknown) => void;
  readonly commands: PolicyCommands;
  readonly inventory: InventoryScheduler;
  /** Learns from InstalledApplicationList answers whether the agent is gone. */
  readonly presence: AgentPresence;
  private sweepTimer?: TimerHandle;
  private armed = false;
  private stopped = false;
  private readonly decideContext: DecideContext;

  /** Hooks MdmService calls after it has computed each answer. */
  readonly observer: MdmObserver;

  constructor(deps: AgentPolicyDeps) {
    this.store = deps.store;
    this.clock = deps.clock;
    this.events = deps.events;
    this.service = deps.service;
    this.pushes = deps.push;
    this.onError = deps.onError ?? (() => undefined);
    this.current = Object.freeze(resolveAgentPolicy(deps.settings, undefined, 'agentPolicy.'));
    this.commands = new PolicyCommands(deps.urls);
    this.presence = new AgentPresence(deps.store, deps.clock, deps.events);
    this.inventory = new InventoryScheduler({
      presence: this.presence,
      store: deps.store,
      clock: deps.clock,
      events: deps.events,
      service: deps.service,
      push: deps.push,
      commands: this.commands,
      interval: () => this.current.inventoryInterval,
      onError: this.onError,
    });
    this.decideContext = {
      now: 0,
      settings: this.current,
      isQueued: (e, uuid) => this.store.queuedCommand(e.id, uuid) !== undefined,
      unsupported: (e) => this.commands.installSupported(e),
    };
    // A policy failure must never turn a device's answer into a 500: report it and go on.
    // (try/catch inline rather than a guard(() => ...) helper: no closure per request.)
    this.observer = {
      checkedIn: (e, messageType, tally) => {
        try {
          this.afterCheckin(e, messageType, tally);
        } catch (error) {
          this.onError(error);
        }
      },
      connected: (e, results, requestType) => {
        try {
          this.afterConnect(e, results, requestType);
        } catch (error) {
          this.onError(error);
        }
      },
    };
  }

  get settings(): Readonly<AgentPolicySettings> {
    return this.current;
  }

  settingsJson(): AgentPolicySettingsJson {
    return agentPolicyToJson(this.current);
  }

  /**
   * Changes settings at runtime (PATCH semantics). Throws a 400 ProblemError naming the field
   * at fault, and then changes nothing. Timers follow new intervals at once.
   */
  update(patch: unknown): Readonly<AgentPolicySettings> {
    const before = this.current;
    const next = Object.freeze(resolveAgentPolicy(patch, before));
    this.current = next;
    this.decideContext.settings = next;
    const changed = (Object.keys(next) as (keyof AgentPolicySettings)[]).filter((k) => next[k] !== before[k]);
    if (changed.length > 0) {
      const json = agentPolicyToJson(next);
      this.events.record({
        type: 'agent.policy.changed',
        from: 'operator',
        to: 'policy',
        summary: `agent policy: ${changed.map((k) => `${k} ${String(json[k])}`).join(', ')}`,
        data: { changed, settings: json },
      });
      if (this.armed && (changed.includes('sweepInterval') || changed.includes('inventoryInterval'))) {
        this.armSweep();
        this.inventory.arm();
      }
    }
    return next;
  }

  /** Arms the timers if the server already has enrollments (a restart on stored data). */
  start(): void {
    if (this.store.countEnrollments({ enabled: true }) > 0) this.ensureArmed();
  }

  stop(): void {
    this.stopped = true;
    this.sweepTimer?.cancel();
    this.sweepTimer = undefined;
    this.inventory.stop();
  }

  /** The state of a device's agent install policy, as the control API shows it. */
  stateJson(e: Readonly<EnrollmentRecord>): ReinstallStateJson {
    return {
      pendingCommandUUID: e.agentInstallPending ?? null,
      lastFiredAt: iso(e.agentInstallLastFiredAt),
      attempts: e.agentInstallAttempts,
      lastOutcome: e.agentInstallLastOutcome ?? null,
      lastOutcomeAt: iso(e.agentInstallLastOutcomeAt),
    };
  }

  /**
   * The agent's InstallEnterpriseApplication for one device now, on request (the API's
   * reinstallagent action), queued the way the reinstall rule queues it (counted as an attempt,
   * marked pending). Not pushed: the caller pushes. `pending` when one is already queued;
   * `unsupported` when the device's OS cannot take it (or it is not a Mac).
   */
  installOnRequest(e: Readonly<EnrollmentRecord>, by: string): { commandUUID: string; attempt: number } | 'pending' | { unsupported: string } {
    if (e.platform !== 'macOS') return { unsupported: `${e.platform ?? 'an unknown platform'} runs no agent` };
    const unsupported = this.commands.installSupported(e);
    if (unsupported) return unsupported;
    if (e.agentInstallPending !== undefined && this.store.queuedCommand(e.id, e.agentInstallPending) !== undefined) return 'pending';
    const queued = this.queueInstall(e, this.clock.now());
    if (queued === undefined) return { unsupported: 'the enrollment is not enabled' };
    this.events.record({
      type: 'agent.install.queued',
      udid: e.id,
      from: 'operator',
      to: 'mdm',
      summary: `${by}: agent InstallEnterpriseApplication ${queued.commandUUID} queued (attempt ${queued.attempt})`,
      data: { reason: 'request', by, commandUUID: queued.commandUUID, attempt: queued.attempt },
    });
    return queued;
  }

  // ---- the sweep -------------------------------------------------------------------------

  /** Evaluates the rule for every device whose agent is overdue, now; resolves once its pushes have been answered. */
  async sweepNow(): Promise<SweepReport> {
    const now = this.clock.now();
    const report: SweepReport = { at: new Date(now).toISOString(), evaluated: 0, fired: [], skipped: {} };
    for (const e of this.store.listAgentSilent(now - this.current.agentWindow)) {
      report.evaluated++;
      const outcome = this.evaluate(e, now);
      if (outcome === undefined) continue;
      if (outcome === 'fired') report.fired.push(e.id);
      else report.skipped[outcome] = (report.skipped[outcome] ?? 0) + 1;
    }
    const push = this.pushes();
    if (push && report.fired.length > 0) await push.push(report.fired, 'policy');
    return report;
  }

  /** Queues the inventory for every device due now (see InventoryScheduler). */
  inventoryNow(): Promise<InventoryReport> {
    return this.inventory.runNow();
  }

  private ensureArmed(): void {
    if (this.armed || this.stopped) return;
    this.armed = true;
    this.armSweep();
    this.inventory.arm();
  }

  private armSweep(): void {
    this.sweepTimer?.cancel();
    if (this.stopped) return;
    this.sweepTimer = this.clock.setTimer(this.current.sweepInterval, () => this.onSweepTimer(), 'agent reinstall sweep');
  }

  /** A timer callback: re-arms first (a failing sweep must not end the cycle), then returns its work. */
  private onSweepTimer(): Promise<unknown> {
    this.armSweep();
    return this.sweepNow().catch((error: unknown) => this.onError(error));
  }

  // ---- hooks on MDM traffic --------------------------------------------------------------

  private afterCheckin(e: Readonly<EnrollmentRecord>, messageType: string, tally: number | undefined): void {
    if (messageType === 'TokenUpdate' && tally === 1) {
      this.ensureArmed();
      if (this.current.installOnEnrollment && e.platform === 'macOS') this.installOnEnrollment(e);
      return;
    }
    this.onTraffic(e);
  }

  private afterConnect(e: Readonly<EnrollmentRecord>, results: CommandResults, requestType: string | undefined): void {
    const uuid = results.CommandUUID;
    if (uuid !== undefined && results.Status !== 'Idle') {
      if (uuid === e.agentInstallPending) this.installResult(e, results);
      else if (uuid === e.inventoryPending && FINAL_STATUSES.has(results.Status)) this.store.clearInventoryPending(e.id, uuid);
      else this.presence.onReport(e, results, requestType);
    }
    this.onTraffic(e);
  }

  /** On every check-in and connect: a couple of comparisons for a device whose agent is fine. */
  private onTraffic(e: Readonly<EnrollmentRecord>): void {
    const now = this.clock.now();
    if (!isAgentOverdue(e, now, this.current.agentWindow)) return;
    // A backend may hand out snapshots: read the record as this exchange left it.
    const fresh = this.store.getEnrollment(e.id);
    if (!fresh) return;
    if (this.evaluate(fresh, now) === 'fired') this.pushLater([fresh.id]);
  }

  // ---- decisions -------------------------------------------------------------------------

  /** Decides for one device and acts: returns what happened (undefined: nothing to do or already said). */
  private evaluate(e: Readonly<EnrollmentRecord>, now: number): 'fired' | SkipReason | undefined {
    this.decideContext.now = now;
    const d = decideReinstall(e, this.decideContext);
    if (d.action === 'none') {
      if (e.agentPolicyLastSkip !== undefined) this.store.setAgentPolicySkip(e.id, undefined);
      return undefined;
    }
    if (d.action === 'fire') return this.fire(e, d.reason, now) ? 'fired' : undefined;
    if (e.agentPolicyLastSkip !== d.reason) {
      this.store.setAgentPolicySkip(e.id, d.reason);
      this.recordSkip(e, d.reason, now);
    }
    return d.reason;
  }

  private fire(e: Readonly<EnrollmentRecord>, reason: FireReason, now: number): boolean {
    const queued = this.queueInstall(e, now);
    if (queued === undefined) return false;
    const { commandUUID, attempt } = queued;
    const silentFor = formatDuration(now - agentSilentSince(e));
    const last = e.agentLastCheckinAt;
    this.events.record({
      type: 'agent.reinstall.fired',
      udid: e.id,
      from: 'policy',
      to: 'mdm',
      summary:
        (reason === 'agent-silent' ? `agent silent for ${silentFor}` : `agent has not checked in since enrollment ${silentFor} ago`) +
        ` while MDM checked in ${formatDuration(now - e.lastSeenAt)} ago: InstallEnterpriseApplication ${commandUUID} queued (attempt ${attempt})`,
      data: {
        reason,
        commandUUID,
        attempt,
        lastMdmCheckinAt: new Date(e.lastSeenAt).toISOString(),
        lastAgentCheckinAt: iso(last),
        agentSilentFor: silentFor,
      },
    });
    return true;
  }

  private installOnEnrollment(e: Readonly<EnrollmentRecord>): void {
    const now = this.clock.now();
    const unsupported = this.commands.installSupported(e);
    if (unsupported) {
      this.events.record({
        type: 'agent.install.skipped',
        udid: e.id,
        from: 'policy',
        to: 'policy',
        summary: `agent not installed on enrollment: macOS ${e.osVersion ?? '(unknown version)'} cannot take InstallEnterpriseApplication (${unsupported.unsupported})`,
        data: { reason: 'unsupported-os', osVersion: e.osVersion, detail: unsupported.unsupported },
      });
      return;
    }
    const queued = this.queueInstall(e, now);
    if (queued === undefined) return;
    this.events.record({
      type: 'agent.install.queued',
      udid: e.id,
      from: 'policy',
      to: 'mdm',
      summary: `enrolled: agent InstallEnterpriseApplication ${queued.commandUUID} queued (attempt ${queued.attempt})`,
      data: { reason: 'enrollment', commandUUID: queued.commandUUID, attempt: queued.attempt },
    });
    this.pushLater([e.id]);
  }

  /** Queues the install for one device and marks it pending; undefined if it was refused. */
  private queueInstall(e: Readonly<EnrollmentRecord>, now: number): { commandUUID: string; attempt: number } | undefined {
    const command = this.commands.agentInstall(e);
    if ('unsupported' in command) return undefined;
    const result = this.service.enqueue([e.id], command, 'policy');
    if (result.queued.length === 0) return undefined;
    return { commandUUID: command.CommandUUID, attempt: this.store.markAgentInstallQueued(e.id, command.CommandUUID, now) };
  }

  private installResult(e: Readonly<EnrollmentRecord>, results: CommandResults): void {
    const uuid = results.CommandUUID!;
    const status = results.Status;
    const chain = results.ErrorChain?.[0];
    const data: Record<string, unknown> = { commandUUID: uuid, status, attempt: e.agentInstallAttempts };
    if (results.ErrorChain) data.errorChain = results.ErrorChain;
    let tail: string;
    if (FINAL_STATUSES.has(status)) {
      this.store.storeAgentInstallOutcome(e.id, uuid, status as AgentInstallOutcome, this.clock.now());
      tail =
        status === 'Acknowledged'
          ? ': the agent is installed'
          : `: not installed${chain ? ` (${chain.ErrorDomain} ${chain.ErrorCode}: ${chain.LocalizedDescription})` : ''}; retried no sooner than ${formatDuration(this.current.retryInterval)} from now, if the agent stays silent`;
    } else {
      data.pending = true;
      tail = ': still pending, offered again at its next connect';
    }
    this.events.record({ type: 'agent.install.result', udid: e.id, from: 'device', to: 'policy', summary: `agent install ${uuid} ${status}${tail}`, data });
  }

  private recordSkip(e: Readonly<EnrollmentRecord>, reason: SkipReason, now: number): void {
    const silentFor = formatDuration(now - agentSilentSince(e));
    const s = this.current;
    const data: Record<string, unknown> = {
      reason,
      lastMdmCheckinAt: new Date(e.lastSeenAt).toISOString(),
      lastAgentCheckinAt: iso(e.agentLastCheckinAt),
      agentSilentFor: silentFor,
      attempts: e.agentInstallAttempts,
    };
    let why: string;
    switch (reason) {
      case 'not-macos':
        why = `${e.platform ?? 'an unknown platform'} runs no agent`;
        break;
      case 'disabled':
        why = 'the reinstall rule is turned off';
        break;
      case 'unsupported-os':
        why = `macOS ${e.osVersion ?? '(unknown version)'} cannot take InstallEnterpriseApplication`;
        break;
      case 'mdm-silent':
        why = `MDM silent too (last MDM check-in ${formatDuration(now - e.lastSeenAt)} ago, window ${formatDuration(s.mdmWindow)})`;
        break;
      case 'pending':
        data.pendingCommandUUID = e.agentInstallPending;
        why = `install ${e.agentInstallPending} is still pending`;
        break;
      case 'retry-wait': {
        const last = lastAttemptAt(e)!;
        data.lastFiredAt = iso(e.agentInstallLastFiredAt);
        data.lastOutcome = e.agentInstallLastOutcome ?? null;
        data.nextAttemptAt = new Date(last + s.retryInterval).toISOString();
        why =
          `last install queued ${formatDuration(now - e.agentInstallLastFiredAt!)} ago` +
          (e.agentInstallLastOutcome ? ` and answered ${e.agentInstallLastOutcome} ${formatDuration(now - e.agentInstallLastOutcomeAt!)} ago` : '') +
          ` (attempt ${e.agentInstallAttempts}); next no sooner than ${data.nextAttemptAt as string}`;
        break;
      }
    }
    this.events.record({
      type: 'agent.reinstall.skipped',
      udid: e.id,
      from: 'policy',
      to: 'policy',
      summary: `agent silent for ${silentFor}, not reinstalled: ${why}`,
      data,
    });
  }

  private pushLater(ids: string[]): void {
    const push = this.pushes();
    // PushService tracks the attempt (server.settled() waits for it) and never rejects.
    if (push) push.push(ids, 'policy').catch((error: unknown) => this.onError(error));
  }

}

function iso(t: number | undefined): string | null {
  return t === undefined ? null : new Date(t).toISOString();
}
