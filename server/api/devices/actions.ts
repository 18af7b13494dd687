/**
 * POST /api/v1/devices/{device_id}/action/{name} and DELETE /api/v1/devices/{device_id}: each
 * action is the real MDM command (or commands) queued for the device plus a push. Errors are
 * Kandji's bare JSON strings.
 *
 * | action | MDM |
 * | --- | --- |
 * | blankpush | a push, no command |
 * | reinstallagent | the agent's InstallEnterpriseApplication, as the reinstall rule queues it (macOS) |
 * | updateinventory | AvailableOSUpdates, DeviceInformation, SecurityInfo, UserList, InstalledApplicationList, ProfileList, CertificateList (those not already pending) |
 * | lock | DeviceLock with a 6-digit PIN, answered `{"PIN": "…"}` |
 * | erase | EraseDevice (a 6-digit PIN on a Mac, as Find My needs one to unlock an erased Intel Mac) |
 * | restart / shutdown | RestartDevice / ShutDownDevice |
 * | setname | Settings with a DeviceName item, from the body's `DeviceName` |
 * | renewmdmprofile | InstallProfile of a freshly issued enrollment profile with the same PayloadIdentifier: the documented way to replace the MDM profile in place (new identity certificate, same ServerURL and Topic) |
 *
 * "Command already running" when a command of the same RequestType is already queued for the
 * device (updateinventory: when all seven are); "Command is not allowed for current device"
 * when the device was deleted, its MDM is not enabled, or the action is not for its platform.
 */
import { randomInt } from 'node:crypto';
import { AGENT_CHECKIN_INTERVAL_MS } from '../../../protocol/agent';
import { buildCommand, commands, type Command } from '../../../protocol/command';
import type { KandjiAction } from '../../../protocol/kandji';
import { parsePlist } from '../../../protocol/plist';
import { PROFILE_IDENTIFIER } from '../../enroll/profile';
import type { EnrollmentRecord } from '../../storage/types';
import type { KandjiApiDeps } from '../context';

export const COMMAND_ALREADY_RUNNING = 'Command already running';
export const COMMAND_NOT_ALLOWED = 'Command is not allowed for current device';

/** What the route answers: a status and a JSON body (undefined: an empty 200). */
export interface ActionAnswer {
  status: number;
  body?: unknown;
}

/** The MDM command updateinventory queues, in Kandji's order. */
export const UPDATE_INVENTORY_REQUEST_TYPES = ['AvailableOSUpdates', 'DeviceInformation', 'SecurityInfo', 'UserList', 'InstalledApplicationList', 'ProfileList', 'CertificateList'] as const;

function pin(): string {
  return String(randomInt(0, 1_000_000)).padStart(6, '0');
}

export class DeviceActions {
  constructor(private readonly deps: KandjiApiDeps) {}

  async run(action: KandjiAction, e: Readonly<EnrollmentRecord>, body: unknown): Promise<ActionAnswer> {
    if (e.removedAt !== undefined || !e.enabled) return { status: 400, body: COMMAND_NOT_ALLOWED };
    const mac = e.platform === 'macOS' || e.platform === undefined;
    switch (action) {
      case 'blankpush':
        await this.push(e.id);
        return { status: 200 };
      case 'reinstallagent': {
        const r = this.deps.agentPolicy.installOnRequest(e, 'API reinstallagent');
        if (r === 'pending') return { status: 400, body: COMMAND_ALREADY_RUNNING };
        if ('unsupported' in r) return { status: 400, body: COMMAND_NOT_ALLOWED };
        await this.push(e.id);
        return { status: 200 };
      }
      case 'updateinventory':
        return this.updateInventory(e);
      case 'lock': {
        const code = pin();
        const answer = await this.queue(e, mac ? commands.DeviceLock({ PIN: code }) : commands.DeviceLock());
        return answer ?? { status: 200, body: mac ? { PIN: code } : {} };
      }
      case 'erase':
        return (await this.queue(e, mac ? commands.EraseDevice({ PIN: pin() }) : commands.EraseDevice())) ?? { status: 200 };
      case 'restart':
        return (await this.queue(e, commands.RestartDevice())) ?? { status: 200 };
      case 'shutdown':
        return (await this.queue(e, commands.ShutDownDevice())) ?? { status: 200 };
      case 'setname': {
        const name = (body as { DeviceName?: unknown } | undefined)?.DeviceName;
        // Django REST's field errors.
        if (name === undefined) return { status: 400, body: { DeviceName: ['This field is required.'] } };
        if (typeof name !== 'string' || name.trim() === '') return { status: 400, body: { DeviceName: ['This field may not be blank.'] } };
        return (await this.queue(e, buildCommand('Settings', { Settings: [{ Item: 'DeviceName', DeviceName: name }] }))) ?? { status: 200 };
      }
      case 'renewmdmprofile': {
        if (this.pending(e, 'InstallProfile')) return { status: 400, body: COMMAND_ALREADY_RUNNING };
        const profile = await this.deps.issueEnrollmentProfile?.();
        if (!profile) return { status: 400, body: COMMAND_NOT_ALLOWED };
        return (await this.queue(e, commands.InstallProfile({ Payload: profile }))) ?? { status: 200 };
      }
    }
  }

  /**
   * DELETE: the device is marked removed (agent_installed false, is_removed true); its agent
   * is told to uninstall at its next check-in; MDM is removed with RemoveProfile of the
   * enrollment profile (the Mac then checks out). While the agent is running (checked in within
   * two of its intervals) the push waits for the agent's uninstall answer, so the agent still
   * has the Mac's identity to sign that check-in with; otherwise the push goes now. Either way
   * the daily inventory's push reaches it eventually.
   *
   * A device already deleted is left as it is (DELETE is idempotent): same removal time, no
   * second RemoveProfile, no second activity.
   */
  async remove(e: Readonly<EnrollmentRecord>): Promise<void> {
    if (e.removedAt !== undefined) return;
    const { store, clock, events, service } = this.deps;
    const now = clock.now();
    const agentRunning = e.agentLastCheckinAt !== undefined && e.agentGoneAt === undefined && now - e.agentLastCheckinAt <= 2 * AGENT_CHECKIN_INTERVAL_MS;
    store.markRemoved(e.id, now);
    let removal: string | undefined;
    if (e.enabled) {
      // One already queued (by an operator) does the job: never a second.
      removal = this.pendingEnrollmentRemoval(e);
      const command = commands.RemoveProfile({ Identifier: PROFILE_IDENTIFIER });
      if (removal === undefined && service.enqueue([e.id], command, 'operator').queued.length > 0) removal = command.CommandUUID;
    }
    events.record({
      type: 'api.device.deleted',
      udid: e.id,
      from: 'operator',
      to: 'mdm',
      summary:
        'device deleted through the API: agent told to uninstall at its next check-in' +
        (removal ? `; RemoveProfile ${removal} queued${agentRunning ? ', pushed once the agent has been told' : ' and pushed'}` : '; MDM already gone'),
      data: { action_type: 'device_deleted', removeProfile: removal ?? null, pushDeferred: removal !== undefined && agentRunning },
    });
    if (removal && !agentRunning) await this.push(e.id);
  }

  /** The agent of a deleted device was told to uninstall: now MDM may go too. */
  onUninstallRequested(id: string): void {
    const e = this.deps.store.getEnrollment(id);
    if (!e || e.removedAt === undefined || !e.enabled) return;
    const push = this.deps.push();
    if (push) push.push([id], 'operator').catch(() => undefined);
  }

  private async updateInventory(e: Readonly<EnrollmentRecord>): Promise<ActionAnswer> {
    const todo = UPDATE_INVENTORY_REQUEST_TYPES.filter((t) => !this.pending(e, t));
    if (todo.length === 0) return { status: 400, body: COMMAND_ALREADY_RUNNING };
    for (const type of todo) {
      if (type === 'InstalledApplicationList') {
        // Watched like the daily one: its answer says whether the agent is still there.
        this.deps.agentPolicy.inventory.queueAppList(e.id);
        continue;
      }
      const command = type === 'DeviceInformation' ? this.deps.agentPolicy.commands.inventory(e) : buildCommand(type);
      this.deps.service.enqueue([e.id], command, 'operator');
    }
    await this.push(e.id);
    return { status: 200 };
  }

  /** The CommandUUID of a queued RemoveProfile of the enrollment profile, if there is one. */
  private pendingEnrollmentRemoval(e: Readonly<EnrollmentRecord>): string | undefined {
    for (const q of this.deps.store.listQueue(e.id)) {
      if (q.requestType !== 'RemoveProfile') continue;
      const body = this.deps.store.getCommand(q.commandUUID)?.body;
      const command = body && (parsePlist(body) as { Command?: { Identifier?: unknown } }).Command;
      if (command?.Identifier === PROFILE_IDENTIFIER) return q.commandUUID;
    }
    return undefined;
  }

  private pending(e: Readonly<EnrollmentRecord>, requestType: string): boolean {
    return this.deps.store.listQueue(e.id).some((q) => q.requestType === requestType);
  }

  /** Queues one command and pushes; an answer only when it was refused. */
  private async queue(e: Readonly<EnrollmentRecord>, command: Command): Promise<ActionAnswer | undefined> {
    if (this.pending(e, command.Command.RequestType)) return { status: 400, body: COMMAND_ALREADY_RUNNING };
    if (this.deps.service.enqueue([e.id], command, 'operator').queued.length === 0) return { status: 400, body: COMMAND_NOT_ALLOWED };
    await this.push(e.id);
    return undefined;
  }

  private async push(id: string): Promise<void> {
    await this.deps.push()?.push([id], 'operator');
  }
}
