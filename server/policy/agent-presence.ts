/**
 * Whether the server believes the agent is installed on a Mac, and how it learns otherwise:
 * an MDM InstalledApplicationList that the server asked for (the daily inventory, or the API's
 * updateinventory) and that lists no app with the agent's bundle id means the agent is gone
 * (storage's agentGoneAt, event `agent.gone`). Only lists the server watches count: an
 * operator's InstalledApplicationList filtered by Identifiers proves nothing about the agent.
 * An acknowledged EraseDevice means the same (the Mac is wiped, its agent with it), and so does
 * a deleted device's agent told to uninstall (../agent/agent-service.ts). The agent's history
 * survives a re-enrollment, so the wiped Mac enrolling again is not taken for one with an agent.
 */
import { AGENT_BUNDLE_ID } from '../../protocol/agent';
import type { Clock } from '../../protocol/clock';
import { FINAL_STATUSES, type CommandResults } from '../../protocol/result';
import type { EventLog } from '../service/event-log';
import type { EnrollmentRecord, Storage } from '../storage/types';

/**
 * Installed once an install was acknowledged or the agent checked in, until the server
 * learned it is gone or the device was deleted through the API.
 */
export function agentKnownInstalled(e: Readonly<EnrollmentRecord>): boolean {
  if (e.removedAt !== undefined || e.agentGoneAt !== undefined) return false;
  return e.agentLastCheckinAt !== undefined || e.agentInstallAcknowledgedAt !== undefined;
}

/** Whether an InstalledApplicationList answer lists the agent. */
export function listsAgent(results: CommandResults): boolean {
  const list = results.InstalledApplicationList;
  if (!Array.isArray(list)) return false;
  for (const app of list) {
    if (typeof app === 'object' && app !== null && !Buffer.isBuffer(app) && !(app instanceof Date) && !Array.isArray(app) && (app as { Identifier?: unknown }).Identifier === AGENT_BUNDLE_ID) return true;
  }
  return false;
}

export class AgentPresence {
  /** UDID → CommandUUID of the InstalledApplicationList the server waits for (one per device). */
  private readonly watched = new Map<string, string>();

  constructor(
    private readonly store: Storage,
    private readonly clock: Clock,
    private readonly events: EventLog,
  ) {}

  /** The server queued this InstalledApplicationList for id: its answer decides whether the agent is there. */
  watch(id: string, commandUUID: string): void {
    this.watched.set(id, commandUUID);
  }

  /** The watched app list of id while it is still queued (or NotNow). */
  pending(id: string): string | undefined {
    const uuid = this.watched.get(id);
    if (uuid === undefined) return undefined;
    if (this.store.queuedCommand(id, uuid) !== undefined) return uuid;
    this.watched.delete(id);
    return undefined;
  }

  /**
   * A report on a connect (`requestType`: the command it answers): an acknowledged EraseDevice,
   * or an answer to the watched list, is judged. Cheap for every other report.
   */
  onReport(e: Readonly<EnrollmentRecord>, results: CommandResults, requestType?: string): void {
    const uuid = results.CommandUUID;
    if (requestType === 'EraseDevice' && results.Status === 'Acknowledged') {
      if (uuid !== undefined && agentKnownInstalled(e)) this.erased(e, uuid);
      return;
    }
    if (uuid === undefined || this.watched.get(e.id) !== uuid || !FINAL_STATUSES.has(results.Status)) return;
    this.watched.delete(e.id);
    if (results.Status !== 'Acknowledged' || listsAgent(results) || !agentKnownInstalled(e)) return;
    const now = this.clock.now();
    this.store.markAgentGone(e.id, now);
    this.events.record({
      type: 'agent.gone',
      udid: e.id,
      from: 'device',
      to: 'policy',
      summary: `InstalledApplicationList ${uuid} lists no ${AGENT_BUNDLE_ID}: the agent is gone (agent_installed false)`,
      data: { commandUUID: uuid, bundleId: AGENT_BUNDLE_ID, lastAgentCheckinAt: e.agentLastCheckinAt === undefined ? null : new Date(e.agentLastCheckinAt).toISOString() },
    });
  }

  private erased(e: Readonly<EnrollmentRecord>, uuid: string): void {
    this.store.markAgentGone(e.id, this.clock.now());
    this.events.record({
      type: 'agent.gone',
      udid: e.id,
      from: 'device',
      to: 'policy',
      summary: `EraseDevice ${uuid} acknowledged: the Mac is wiped, its agent with it (agent_installed false)`,
      data: { commandUUID: uuid, reason: 'erased', lastAgentCheckinAt: e.agentLastCheckinAt === undefined ? null : new Date(e.agentLastCheckinAt).toISOString() },
    });
  }
}
