/**
 * The periodic MDM inventory: each enabled enrollment gets a DeviceInformation and an
 * InstalledApplicationList (which tells the server whether the agent is still there, see
 * agent-presence.ts), and a push,
 * once per `inventoryInterval`, the first one interval after it enrolled. One timer serves the
 * whole fleet: it ticks every min(interval, 1 h) and handles the devices that fell due, so
 * devices enrolled at different times stay spread out over the day, deterministically.
 *
 * An inventory still queued (or NotNow) is never queued again: at its next slot the device is
 * only pushed again, a wake-up that gives every command it answered NotNow another chance (a
 * Mac asks again by itself only when it next connects).
 */
import type { Clock, TimerHandle } from '../../protocol/clock';
import type { EventLog } from '../service/event-log';
import type { MdmService } from '../service/mdm-service';
import type { PushService } from '../push';
import type { Storage } from '../storage/types';
import { commands as mdmCommands } from '../../protocol/command';
import type { AgentPresence } from './agent-presence';
import type { PolicyCommands } from './commands';

const MAX_TICK_MS = 3_600_000;

export interface InventoryReport {
  at: string;
  /** Devices that got a new DeviceInformation. */
  queued: string[];
  /** Devices whose inventory was still pending: pushed again, nothing queued. */
  repushed: string[];
}

export interface InventorySchedulerDeps {
  store: Storage;
  clock: Clock;
  events: EventLog;
  service: MdmService;
  push: () => PushService | undefined;
  commands: PolicyCommands;
  /** Watches the inventory's InstalledApplicationList answers for the agent. */
  presence: AgentPresence;
  /** The current interval in ms; 0 = off. */
  interval: () => number;
  onError?: (error: unknown) => void;
}

export class InventoryScheduler {
  private timer?: TimerHandle;
  private stopped = false;

  constructor(private readonly deps: InventorySchedulerDeps) {}

  /** (Re)arms the fleet's timer for the current interval; none when the inventory is off. */
  arm(): void {
    this.timer?.cancel();
    this.timer = undefined;
    const interval = this.deps.interval();
    if (this.stopped || interval <= 0) return;
    this.timer = this.deps.clock.setTimer(Math.min(interval, MAX_TICK_MS), () => this.onTimer(), 'inventory tick');
  }

  stop(): void {
    this.stopped = true;
    this.timer?.cancel();
    this.timer = undefined;
  }

  private onTimer(): Promise<unknown> {
    this.arm();
    return this.runNow().catch((error: unknown) => this.deps.onError?.(error));
  }

  /** Queues a DeviceInformation for every device due now and pushes them; resolves once the pushes are answered. */
  async runNow(): Promise<InventoryReport> {
    const { store, clock, events, service, commands } = this.deps;
    const now = clock.now();
    const report: InventoryReport = { at: new Date(now).toISOString(), queued: [], repushed: [] };
    const interval = this.deps.interval();
    if (interval <= 0) return report;
    for (const e of store.listInventoryDue(now - interval)) {
      const pending = e.inventoryPending;
      if (pending !== undefined && store.queuedCommand(e.id, pending) !== undefined) {
        store.markInventoryQueued(e.id, pending, now);
        report.repushed.push(e.id);
        events.record({
          type: 'mdm.inventory.repushed',
          udid: e.id,
          from: 'policy',
          to: 'mdm',
          summary: `inventory: DeviceInformation ${pending} still pending; pushed again rather than queued twice`,
          data: { commandUUID: pending },
        });
        this.queueAppList(e.id);
        continue;
      }
      const command = commands.inventory(e);
      const result = service.enqueue([e.id], command, 'policy');
      if (result.queued.length === 0) continue;
      this.queueAppList(e.id);
      store.markInventoryQueued(e.id, command.CommandUUID, now);
      report.queued.push(e.id);
      const queries = (command.Command.Queries as string[]).length;
      events.record({
        type: 'mdm.inventory.queued',
        udid: e.id,
        from: 'policy',
        to: 'mdm',
        summary: `inventory: DeviceInformation ${command.CommandUUID} queued (${queries} queries)`,
        data: { commandUUID: command.CommandUUID, queries },
      });
    }
    const push = this.deps.push();
    const wake = report.repushed.length > 0 ? [...report.queued, ...report.repushed] : report.queued;
    if (push && wake.length > 0) await push.push(wake, 'policy');
    return report;
  }

  /**
   * The cycle's InstalledApplicationList, unless the last one is still pending: the device's
   * answer says whether the agent is still installed. Every app, unfiltered, so an absent agent
   * means absent.
   */
  queueAppList(id: string): string | undefined {
    const { presence, service } = this.deps;
    if (presence.pending(id) !== undefined) return undefined;
    const command = mdmCommands.InstalledApplicationList();
    if (service.enqueue([id], command, 'policy').queued.length === 0) return undefined;
    presence.watch(id, command.CommandUUID);
    return command.CommandUUID;
  }
}
