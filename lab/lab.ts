/**
 * A lab in one process: the mdmsim server, a fleet of simulated Macs and one virtual clock
 * they share. The server and the Macs still meet only over the wire (HTTPS on loopback, the
 * APNs mock's courier); the lab only owns their lifetimes, the clock, and the wiring a test
 * or an instructor needs: enroll Macs, inject faults, advance time, read what happened.
 *
 *   const lab = await startLab({ devices: 3 });
 *   await lab.fault(lab.macs[1].udid, { kind: 'agent-uninstalled' });
 *   await lab.advance('8d');
 *   lab.events({ type: 'agent.reinstall.fired' });
 *   await lab.stop();
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { VirtualClock } from '../protocol/clock';
import type { Command } from '../protocol/command';
import type { Fleet } from '../agent-sim';
import { startServer, type MdmsimServer, type ServerOptions } from '../server/server';
import type { EventQuery, EventRecord, EnrollmentRecord } from '../server/storage/types';
import type { EventInput } from '../server/service/event-log';
import { DEFAULT_LAB_START, FleetLab, labBasics, settleWhileBusy, startLabFleet, type FleetLabOptions } from './fleet-lab';
import { fleetNetworkHandler } from './fleet-network-handler';
import { startPostureSync, type PostureSync, type PostureSyncOptions } from '../posture-sim/integration';
import { labPostureNodes, postureEventInput, udidOfNode } from './posture';
import { virtualTime } from './timeline';

export interface LabOptions extends FleetLabOptions {
  /** Anything else for the server: agentPolicy windows, apiToken, auth... */
  server?: Omit<ServerOptions, 'clock' | 'port' | 'host' | 'dataDir'>;
}

export { DEFAULT_LAB_START };

/** A posture sync against the lab's own server: everything has a default but can be set. */
export interface LabPostureOptions extends Partial<Omit<PostureSyncOptions, 'clock' | 'ca'>> {
  /** Nodes MDM does not know, added after one node per Mac when `nodes` is not given (default 2). */
  unknownNodes?: number;
}

export class Lab extends FleetLab {
  private readonly removeSettle: () => void;
  private readonly unsubscribe?: () => void;
  private stopped = false;
  private readonly postureSyncs: PostureSync[] = [];
  /** Virtual time when the lab started (day 0 of its timelines). */
  private readonly startedAt: number;

  private constructor(
    readonly server: MdmsimServer,
    fleet: Fleet,
    clock: VirtualClock,
    private readonly tempDir: string | undefined,
    onEvent: ((event: EventRecord) => void) | undefined,
  ) {
    super(fleet, clock);
    this.startedAt = clock.now();
    // Before the clock moves on from an instant, every push it caused has reached its Mac and
    // every connect, download and check-in that started has been answered.
    this.removeSettle = clock.addSettleHook(() => settleWhileBusy([fleet, server, ...this.postureSyncs], 3));
    if (onEvent) this.unsubscribe = server.events.subscribe(onEvent);
  }

  record(input: EventInput): void {
    this.server.events.record(input);
  }

  static async start(options: LabOptions = {}): Promise<Lab> {
    const { start, devices } = labBasics(options);
    const clock = new VirtualClock({ start });
    const tempDir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'mdmsim-lab-')) : undefined;
    let server: MdmsimServer | undefined;
    let fleet: Fleet | undefined;
    try {
      server = await startServer({
        apiToken: 'mdmsim-lab',
        ...options.server,
        // The per-second API limit counts wall time, and a lab plays days in seconds: a client
        // syncing every 15 virtual minutes would be refused for the lab's speed, not its own.
        apiRateLimits: { perSecond: 0, ...options.server?.apiRateLimits },
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        dataDir: options.dataDir ?? tempDir!,
        clock,
      });
      const events = server.events;
      fleet = await startLabFleet(server, clock, options, (input) => events.record(input));
      server.setDeviceFaultHandler(fleet.faults);
      const lab = new Lab(server, fleet, clock, tempDir, options.onEvent);
      server.setFleetNetworkHandler(fleetNetworkHandler(lab));
      if (devices > 0) await lab.enroll(devices);
      return lab;
    } catch (error) {
      await fleet?.stop().catch(() => undefined);
      await server?.stop().catch(() => undefined);
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** Queues a command for Macs and pushes them, as the control API does; resolves once it has played out. */
  async command(which: string | number | Array<string | number>, command: Command): Promise<string> {
    const ids = (Array.isArray(which) ? which : [which]).map((w) => this.mac(w).udid);
    const result = this.server.service.enqueue(ids, command);
    if (result.queued.length === 0) throw new Error(`${command.Command.RequestType} was not queued: ${JSON.stringify(result.rejected)}`);
    await this.server.pushes?.push(result.queued, 'operator');
    await this.clock.settle();
    return result.commandUUID;
  }

  /** Pushes Macs (they connect and drain their queues); resolves once that has played out. */
  async push(which: string | number | Array<string | number>): Promise<void> {
    const ids = (Array.isArray(which) ? which : [which]).map((w) => this.mac(w).udid);
    await this.server.pushes?.push(ids, 'operator');
    await this.clock.settle();
  }

  /**
   * Starts a posture-sync integration (posture-sim) against this lab's server on the lab's
   * clock: by default with the ready-line token, one node per Mac (serials varied in case and
   * spacing) and two nodes MDM does not know. Its syncs, attribute changes, access decisions,
   * pauses and audit events join the timeline. Resolves after its first sync; stop() stops it.
   */
  async postureSync(options: LabPostureOptions = {}): Promise<PostureSync> {
    const { unknownNodes, onEvent, ...rest } = options;
    const nodes = rest.nodes ?? labPostureNodes(this.macs, unknownNodes);
    const byId = new Map(nodes.map((n) => [n.id, n]));
    // Times in a summary read like the timeline's own (`day 4 09:15:00`), counted from the lab's start.
    const when = (t: number) => virtualTime(t, this.startedAt).replace(/\s+/g, ' ');
    const sync = await startPostureSync({
      apiUrl: this.server.url,
      token: this.server.apiToken,
      ...rest,
      nodes,
      ca: await readFile(this.server.info.caCert),
      clock: this.clock,
      onEvent: (e) => {
        const input = postureEventInput(e, (id) => udidOfNode(byId.get(id), this.macs), when);
        if (input) this.record(input);
        onEvent?.(e);
      },
    });
    this.postureSyncs.push(sync);
    return sync;
  }

  /** The posture integrations postureSync() started, oldest first. */
  get postureIntegrations(): readonly PostureSync[] {
    return this.postureSyncs;
  }

  /** Events so far (server exchanges and Mac-side happenings), oldest first. */
  events(query: Omit<EventQuery, 'types'> & { type?: string | string[] } = {}): EventRecord[] {
    const { type, ...rest } = query;
    const types = type === undefined ? undefined : Array.isArray(type) ? type : [type];
    return this.server.events.query({ limit: Number.MAX_SAFE_INTEGER, ...rest, ...(types ? { types } : {}) });
  }

  /** What the server knows about a Mac (its enrollment record: MDM and agent check-ins, policy state). */
  device(which: string | number): Readonly<EnrollmentRecord> | undefined {
    return this.server.store.getEnrollment(this.mac(which).udid);
  }

  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.removeSettle();
    this.unsubscribe?.();
    for (const sync of this.postureSyncs) await sync.stop();
    await this.fleet.stop();
    await this.server.stop();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}

export function startLab(options: LabOptions = {}): Promise<Lab> {
  return Lab.start(options);
}
