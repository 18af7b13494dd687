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
import { setImmediate as nextTurn } from 'node:timers/promises';
import { VirtualClock } from '../protocol/clock';
import { parseDuration } from '../protocol/duration';
import { parseDeviceFaults, type DeviceFault, type DeviceFaultKind, type DeviceFaultState } from '../protocol/faults';
import type { Command } from '../protocol/command';
import { Fleet, type MacEvent, type SimulatedMac } from '../agent-sim';
import { startServer, type MdmsimServer, type ServerOptions } from '../server/server';
import type { EventQuery, EventRecord, EnrollmentRecord } from '../server/storage/types';
import type { Participant } from '../server/service/event-log';

export interface LabOptions {
  /** Macs created and enrolled when the lab starts (default 3). */
  devices?: number;
  /** Identities are deterministic from the seed (default 'mdmsim-lab'). */
  seed?: string;
  /** Where the virtual clock starts (default 2026-01-05T09:00:00Z, a Monday). */
  start?: number | Date | string;
  /** HTTPS port of the MDM host (default 0: a free port; the APNs mock's ports follow). */
  port?: number;
  host?: string;
  /** Data dir for the CA and certificates (default: a temp dir removed by stop()). */
  dataDir?: string;
  /** Key type of the Macs' identities (default ec: fast; rsa is what real profiles mostly carry). */
  keyType?: 'ec' | 'rsa';
  /** Anything else for the server: agentPolicy windows, apiToken, auth... */
  server?: Omit<ServerOptions, 'clock' | 'port' | 'host' | 'dataDir'>;
  /** Every event the lab records (server exchanges and what the Macs did), as it happens. */
  onEvent?: (event: EventRecord) => void;
}

export const DEFAULT_LAB_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/** Mac-side events that the server already records from its side of the same exchange. */
const SEEN_BY_SERVER = new Set(['mac.connect', 'mac.agent.checkin', 'mac.checkin']);

export class Lab {
  private readonly removeSettle: () => void;
  private readonly unsubscribe?: () => void;
  private stopped = false;

  private constructor(
    readonly server: MdmsimServer,
    readonly fleet: Fleet,
    readonly clock: VirtualClock,
    private readonly tempDir: string | undefined,
    onEvent: ((event: EventRecord) => void) | undefined,
  ) {
    // Before the clock moves on from an instant, every push it caused has reached its Mac and
    // every connect, download and check-in that started has been answered.
    this.removeSettle = clock.addSettleHook(() => settleBoth(server, fleet));
    if (onEvent) this.unsubscribe = server.events.subscribe(onEvent);
  }

  static async start(options: LabOptions = {}): Promise<Lab> {
    const start = options.start === undefined ? DEFAULT_LAB_START : typeof options.start === 'string' ? Date.parse(options.start) : options.start;
    if (typeof start === 'number' && Number.isNaN(start)) throw new RangeError(`start: expected an ISO-8601 time, got ${JSON.stringify(options.start)}`);
    const devices = options.devices ?? 3;
    if (!Number.isInteger(devices) || devices < 0) throw new RangeError(`devices: expected a whole number ≥ 0, got ${devices}`);
    const clock = new VirtualClock({ start });
    const tempDir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'mdmsim-lab-')) : undefined;
    let server: MdmsimServer | undefined;
    let fleet: Fleet | undefined;
    try {
      server = await startServer({
        apiToken: 'mdmsim-lab',
        ...options.server,
        host: options.host ?? '127.0.0.1',
        port: options.port ?? 0,
        dataDir: options.dataDir ?? tempDir!,
        clock,
      });
      const events = server.events;
      fleet = await Fleet.start({
        server: server.url,
        ca: await readFile(server.info.caCert),
        courier: server.info.courier ?? undefined,
        clock,
        seed: options.seed ?? 'mdmsim-lab',
        keyType: options.keyType ?? 'ec',
        count: 0,
        onEvent: (e) => recordMacEvent(events, e),
      });
      server.setDeviceFaultHandler(fleet.faults);
      const lab = new Lab(server, fleet, clock, tempDir, options.onEvent);
      if (devices > 0) await lab.enroll(devices);
      return lab;
    } catch (error) {
      await fleet?.stop().catch(() => undefined);
      await server?.stop().catch(() => undefined);
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      throw error;
    }
  }

  get macs(): readonly SimulatedMac[] {
    return this.fleet.macs;
  }

  /** A Mac by UDID, or by its position in the fleet (0-based). Throws if there is none. */
  mac(which: string | number): SimulatedMac {
    const mac = this.fleet.mac(which);
    if (!mac) throw new RangeError(`no simulated Mac ${JSON.stringify(which)} in this lab (it has ${this.fleet.macs.length})`);
    return mac;
  }

  /** Adds `count` Macs and enrolls them; resolves once their first exchanges have settled. */
  async enroll(count = 1): Promise<SimulatedMac[]> {
    const macs = this.fleet.addMacs(count);
    await Promise.all(macs.map((m) => m.enroll()));
    await this.clock.settle();
    return macs;
  }

  /** Moves virtual time forward (`"8d"`, `"36h"`, `"P1D"`, or ms), running everything that falls due. */
  async advance(by: string | number): Promise<void> {
    await this.clock.advance(parseDuration(by));
  }

  /** Moves virtual time to an instant (never back). */
  async advanceTo(time: number | Date | string): Promise<void> {
    const t = typeof time === 'string' ? Date.parse(time) : typeof time === 'number' ? time : time.getTime();
    await this.clock.advanceTo(t);
  }

  /** Waits until every exchange in flight has finished (after a direct action such as a push). */
  settle(): Promise<void> {
    return this.clock.settle();
  }

  now(): number {
    return this.clock.now();
  }

  /** Injects faults into a Mac (the same as POST /sim/v1/devices/{udid}/faults). */
  async fault(which: string | number, ...faults: Array<DeviceFault | Record<string, unknown>>): Promise<DeviceFaultState> {
    const mac = this.mac(which);
    const parsed = parseDeviceFaults({ faults });
    const state = await this.fleet.faults.apply(mac.udid, parsed);
    this.server.events.record({
      type: 'sim.fault',
      udid: mac.udid,
      from: 'operator',
      to: 'device',
      summary: `fault: ${parsed.map((f) => f.kind).join(', ')}`,
      data: { faults: parsed },
    });
    await this.clock.settle();
    return state!;
  }

  async clearFaults(which: string | number, kind?: DeviceFaultKind): Promise<DeviceFaultState> {
    const mac = this.mac(which);
    const state = await this.fleet.faults.clear(mac.udid, kind);
    this.server.events.record({ type: 'sim.fault.cleared', udid: mac.udid, from: 'operator', to: 'device', summary: `faults cleared${kind ? `: ${kind}` : ''}` });
    await this.clock.settle();
    return state!;
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
    await this.fleet.stop();
    await this.server.stop();
    if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
  }
}

export function startLab(options: LabOptions = {}): Promise<Lab> {
  return Lab.start(options);
}

/**
 * One settle round for the lab's clock: waits for the fleet and the server, then gives the
 * event loop turns so a frame already in a socket between them lands; true if anything was
 * in flight (the clock then looks again).
 */
async function settleBoth(server: MdmsimServer, fleet: Fleet): Promise<boolean> {
  let waited = false;
  for (let quietTurns = 0; quietTurns < 3; ) {
    if (fleet.busy || server.busy) {
      waited = true;
      quietTurns = 0;
      await fleet.settled();
      await server.settled();
    } else {
      quietTurns++;
    }
    await nextTurn();
  }
  return waited;
}

const PARTICIPANT: Record<string, [Participant, Participant]> = {
  'mac.download': ['device', 'mdm'],
  'mac.enroll.started': ['device', 'mdm'],
  'mac.agent.checkin.failed': ['agent', 'mdm'],
  'mac.push.received': ['apns', 'device'],
};

function recordMacEvent(events: MdmsimServer['events'], e: MacEvent): void {
  if (SEEN_BY_SERVER.has(e.type)) return;
  const [from, to] = PARTICIPANT[e.type] ?? (e.type.startsWith('mac.agent') ? ['agent', 'agent'] : ['device', 'device']);
  events.record({ type: e.type, udid: e.udid, from, to, summary: e.summary, data: e.data });
}
