/**
 * What every lab shares, whichever thread its server runs on: the fleet and the one virtual
 * clock, Macs by index or UDID, enrolling, moving time, faults, and how Mac-side happenings
 * enter the server's event log.
 */
import { isIP } from 'node:net';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { VirtualClock } from '../protocol/clock';
import { parseDuration } from '../protocol/duration';
import { parseDeviceFaults, type DeviceFault, type DeviceFaultKind, type DeviceFaultState } from '../protocol/faults';
import { describeDeviceFaults, describeNetwork, describeNetworkState } from '../protocol/describe-faults';
import { readFile } from 'node:fs/promises';
import { Fleet, type MacEvent, type SimulatedMac } from '../agent-sim';
import { tenantNames } from '../agent-sim/network/names';
import type { NetworkPolicy } from '../agent-sim/network/policy';
import type { ServerInfo } from '../server/server';
import type { EventInput, Participant } from '../server/service/event-log';

import type { EventRecord } from '../server/storage/types';

/** What every lab takes, wherever its server runs. */
export interface FleetLabOptions {
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
  /** Only these Mac models (identifiers or name prefixes, e.g. `MacBook Air`) and macOS versions (`15`, `14.7`). */
  models?: readonly string[];
  os?: readonly string[];
  /**
   * The network every Mac is on from the start, enrollment included (each Mac's network faults
   * override it): an allow-list, a proxy, TLS inspection. `{device}`, `{enrollment}`, `{port}`,
   * `{apns}`… stand for the lab's tenant names and ports (agent-sim/network/names.ts).
   */
  network?: NetworkPolicy;
  /** Every event the lab records (server exchanges and what the Macs did), as it happens. */
  onEvent?: (event: EventRecord) => void;
}

export const DEFAULT_LAB_START = Date.UTC(2026, 0, 5, 9, 0, 0);

/** The clock's start and the fleet size of a lab, checked. */
export function labBasics(options: FleetLabOptions): { start: number; devices: number } {
  const start = options.start === undefined ? DEFAULT_LAB_START : typeof options.start === 'string' ? Date.parse(options.start) : typeof options.start === 'number' ? options.start : options.start.getTime();
  if (Number.isNaN(start)) throw new RangeError(`start: expected an ISO-8601 time, got ${JSON.stringify(options.start)}`);
  const devices = options.devices ?? 3;
  if (!Number.isInteger(devices) || devices < 0) throw new RangeError(`devices: expected a whole number ≥ 0, got ${devices}`);
  return { start, devices };
}

/** Mac-side events that the server already records from its side of the same exchange. */
const SEEN_BY_SERVER = new Set(['mac.connect', 'mac.agent.checkin', 'mac.checkin']);

const PARTICIPANT: Record<string, [Participant, Participant]> = {
  'mac.download': ['device', 'mdm'],
  'mac.enroll.started': ['device', 'mdm'],
  'mac.agent.checkin.failed': ['agent', 'mdm'],
  'agent.pin-failure': ['agent', 'mdm'],
  'mac.push.received': ['apns', 'device'],
};

/** A Mac event as the server's log records it, or undefined when the server saw it already. */
export function macEventInput(e: MacEvent): EventInput | undefined {
  if (SEEN_BY_SERVER.has(e.type)) return undefined;
  const [from, to] = PARTICIPANT[e.type] ?? (e.type.startsWith('mac.agent') ? ['agent', 'agent'] : ['device', 'device']);
  return { type: e.type, udid: e.udid, from, to, summary: e.summary, data: e.data };
}

/**
 * One settle round for a component: waits while it is busy, then lets `quietTurns` event-loop
 * turns pass with nothing in flight (a frame already in a socket lands in them). True if it
 * had to wait, so the clock looks again.
 */
export async function settleWhileBusy(targets: ReadonlyArray<{ readonly busy: boolean; settled(): Promise<void> }>, quietTurns = 2): Promise<boolean> {
  let waited = false;
  for (let quiet = 0; quiet < quietTurns; ) {
    const busy = targets.filter((t) => t.busy);
    if (busy.length > 0) {
      waited = true;
      quiet = 0;
      for (const t of busy) await t.settled();
    } else {
      quiet++;
    }
    await nextTurn();
  }
  return waited;
}

/**
 * Where the lab's Macs find its server: every name under the tenant's zone (and the server's own
 * host, when it is a name) at the address the server listens on, loopback for a wildcard listen.
 */
export function labResolve(serverUrl: string, listenHost: string | undefined, zone: string): Record<string, string> {
  const urlHost = new URL(serverUrl).hostname.replace(/^\[(.*)\]$/, '$1');
  const listen = (listenHost ?? '127.0.0.1').replace(/^\[(.*)\]$/, '$1');
  const address = isIP(urlHost) !== 0 ? urlHost : listen === '0.0.0.0' ? '127.0.0.1' : listen === '::' ? '::1' : isIP(listen) !== 0 ? listen : '127.0.0.1';
  const out: Record<string, string> = { [`*.${zone}`]: address };
  if (isIP(urlHost) === 0) out[urlHost] = address;
  return out;
}

/**
 * The lab's fleet against a started server, its Mac events passed to `record` (if any). The Macs
 * enroll where the tenant's enrollment profile is (its enrollment name), as the guide says.
 */
export async function startLabFleet(
  server: { url: string; info: Pick<ServerInfo, 'caCert' | 'courier' | 'tenant' | 'deviceUrls'> },
  clock: VirtualClock,
  options: FleetLabOptions,
  record: ((input: EventInput) => void) | undefined,
): Promise<Fleet> {
  return Fleet.start({
    resolve: labResolve(server.url, options.host, server.info.tenant.zone),
    networkNames: tenantNames({ ...server.info.tenant, deviceDomainStyle: server.info.tenant.deviceDomain }),
    network: options.network,
    server: new URL(server.info.deviceUrls.enroll).origin,
    ca: await readFile(server.info.caCert),
    courier: server.info.courier ?? undefined,
    clock,
    seed: options.seed ?? 'mdmsim-lab',
    keyType: options.keyType ?? 'ec',
    models: options.models,
    os: options.os,
    count: 0,
    onEvent: record
      ? (e) => {
          const input = macEventInput(e);
          if (input) record(input);
        }
      : undefined,
  });
}

export abstract class FleetLab {
  constructor(
    readonly fleet: Fleet,
    readonly clock: VirtualClock,
  ) {}

  /** Records an event in the server's log. */
  abstract record(input: EventInput): void | Promise<void>;

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
    // A parsed DeviceFault says forMs where the wire form says for: take either.
    const wire = faults.map((f) => (f.kind === 'offline' && 'forMs' in f ? { kind: 'offline', ...(f.forMs === undefined ? {} : { for: f.forMs }) } : f));
    const parsed = parseDeviceFaults({ faults: wire });
    const state = await this.fleet.faults.apply(mac.udid, parsed);
    await this.record({ type: 'sim.fault', udid: mac.udid, from: 'operator', to: 'device', summary: `fault: ${describeDeviceFaults(parsed)}`, data: { faults: parsed } });
    await this.clock.settle();
    return state!;
  }

  /**
   * The network of every Mac (`which` omitted: the fleet's, for Macs without their own) or of one
   * Mac (replacing its network faults): an allow-list, a proxy, TLS inspection; undefined opens it
   * (for one Mac: back to the fleet's). Recorded on the timeline; resolves once it has settled.
   */
  async setNetworkPolicy(policy: NetworkPolicy | undefined, which?: string | number): Promise<void> {
    const mac = which === undefined ? undefined : this.mac(which);
    this.fleet.setNetworkPolicy(policy, mac?.udid);
    const state = mac ? this.fleet.network.stateOf(mac.udid) : undefined;
    const now = mac ? (state ? describeNetworkState(state) : 'open (the fleet\'s network)') : describeNetwork(this.fleet.network.fleetPolicyJson());
    await this.record({
      type: 'sim.network',
      ...(mac ? { udid: mac.udid } : {}),
      from: 'operator',
      to: 'device',
      summary: `${mac ? 'network of this Mac' : "the fleet's network"}: ${now}`,
      data: { scope: mac ? 'mac' : 'fleet', policy: policy ?? null },
    });
    await this.clock.settle();
  }

  async clearFaults(which: string | number, kind?: DeviceFaultKind): Promise<DeviceFaultState> {
    const mac = this.mac(which);
    const state = await this.fleet.faults.clear(mac.udid, kind);
    await this.record({ type: 'sim.fault.cleared', udid: mac.udid, from: 'operator', to: 'device', summary: `faults cleared${kind ? `: ${kind}` : ''}` });
    await this.clock.settle();
    return state!;
  }
}
