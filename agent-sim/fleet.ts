/**
 * A fleet of simulated Macs against one MDM server, over the wire only: one keep-alive HTTPS
 * agent, a few multiplexed courier connections, one scheduler for every agent's check-ins, one
 * clock. Identities are deterministic from (seed, shard, index), so shards of one fleet run on
 * many machines never collide.
 *
 *   const fleet = await Fleet.start({ server, ca, clock, count: 100 });
 *   await fleet.enrollAll();
 *   await fleet.faults.apply(fleet.macs[0].udid, [{ kind: 'agent-uninstalled' }]);
 *   await fleet.stop();
 */
import type { Clock } from '../protocol/clock';
import type { DeviceFault, DeviceFaultKind, DeviceFaultState } from '../protocol/faults';
import type { ValidationContext } from '../protocol/schema';
import { AgentRunner } from './agent';
import { CourierClient } from './courier';
import { FleetHttp } from './http';
import { checkShard, fleetNumber, macChoices, macIdentity, type MacChoices, type Shard } from './identity';
import { SimulatedMac, type MacEvent, type MacHost } from './mac';
import { Resolver, toResolver, type ResolveOption } from './network/resolver';
import { FleetNetwork } from './network/network';
import { fleetNames, type NetworkNames } from './network/names';
import { policyFaults, type NetworkPolicy } from './network/policy';
import { ownBuffer, subjectCommonName } from './signer';
import type { InstalledCertificate } from './state';

export interface FleetOptions {
  /** MDM host origin, e.g. https://127.0.0.1:8443 (GET /mdm/enroll is asked there). */
  server: string;
  /** PEM (one or more certificates) trusted for the profile download. */
  ca: string | Buffer;
  /** Macs to create (default 0; add more with addMacs). */
  count?: number;
  /** Default 'mdmsim'. */
  seed?: string;
  shard?: Shard;
  clock: Clock;
  /** Courier URL; default ws://<server host>:5223. */
  courier?: string;
  /** Identity key asked at /mdm/enroll (?key=); default: the server's choice. */
  keyType?: 'ec' | 'rsa';
  /** Enrollments at once in enrollAll (default 32). */
  enrollConcurrency?: number;
  onEvent?: (e: MacEvent) => void;
  /** Simulator bugs and courier trouble (default: a process warning). */
  onError?: (error: unknown) => void;
  /** HTTP sockets per origin (default 64). */
  maxSockets?: number;
  /** Tokens per courier connection (default 1,000). */
  tokensPerConnection?: number;
  /** Only these models / macOS versions (identifiers or name prefixes; version prefixes). */
  models?: readonly string[];
  os?: readonly string[];
  /**
   * How the Macs find addresses for names (agent-sim/network/resolver.ts): `{ '*.mdmsim.test':
   * '127.0.0.1' }`, a function, or a Resolver. Never the system's DNS. Whatever it leaves out, the
   * zone of the enrollment profile's MDM URLs resolves to the address the profile came from.
   */
  resolve?: ResolveOption | Resolver;
  /**
   * The fleet's network, for every Mac (each Mac's network faults override it kind by kind):
   * an allow-list, a proxy, TLS inspection (agent-sim/network/policy.ts). Default: open.
   */
  network?: NetworkPolicy;
  /** Values of `{name}` placeholders in network policies, besides {server}, {port}, {apns}, {apns-port}. */
  networkNames?: NetworkNames;
}

export interface EnrollAllResult {
  enrolled: number;
  failed: Array<{ udid: string; error: string }>;
}

/** The shape the server's /sim/v1/devices/{udid}/faults forwards to (DeviceFaultHandler). */
export interface FleetFaults {
  apply(udid: string, faults: DeviceFault[]): Promise<DeviceFaultState | undefined>;
  get(udid: string): Promise<DeviceFaultState | undefined>;
  clear(udid: string, kind?: DeviceFaultKind): Promise<DeviceFaultState | undefined>;
}

export const DEFAULT_COURIER_PORT = 5223;

export class Fleet implements MacHost {
  readonly macs: SimulatedMac[] = [];
  readonly clock: Clock;
  readonly http: FleetHttp;
  readonly courier: CourierClient;
  readonly agents: AgentRunner;
  readonly server: string;
  readonly seed: string;
  readonly shard: Shard;
  readonly keyType: 'ec' | 'rsa' | undefined;
  readonly faults: FleetFaults;
  /** The Macs' resolver (every connection they make looks names up here). */
  readonly resolver: Resolver;
  /** The Macs' network: the fleet's policy, each Mac's, the proxy and inspector. */
  readonly network: FleetNetwork;
  private readonly byUdid = new Map<string, SimulatedMac>();
  private readonly onEvent: ((e: MacEvent) => void) | undefined;
  private readonly onError: (error: unknown) => void;
  private readonly enrollConcurrency: number;
  private readonly contexts = new Map<string, ValidationContext>();
  private readonly anchors = new Map<string, InstalledCertificate>();
  private work = 0;
  private idleWaiters: Array<() => void> = [];
  private stopped = false;

  private constructor(options: FleetOptions, http: FleetHttp, courier: CourierClient, resolver: Resolver, onError: (error: unknown) => void, private readonly choices: MacChoices) {
    this.clock = options.clock;
    this.resolver = resolver;
    const courierUrl = new URL(courier.url);
    this.network = new FleetNetwork({
      resolver,
      caDers: http.caDers,
      apns: { host: courierUrl.hostname.replace(/^\[(.*)\]$/, '$1'), port: Number(courierUrl.port) || (courierUrl.protocol === 'wss:' ? 443 : 80) },
      emit: (udid, type, summary, data) => {
        const mac = this.byUdid.get(udid);
        if (mac) this.emit(mac, type, summary, data);
      },
      changed: (udids) => {
        for (const mac of udids === undefined ? this.macs : udids.map((u) => this.byUdid.get(u))) mac?.networkChanged();
      },
      onError,
      maxSockets: 8,
    });
    this.network.setNames({ ...fleetNames(options.server, courier.url), ...options.networkNames });
    if (options.network) this.network.setFleetPolicy(options.network);
    this.server = options.server.replace(/\/+$/, '');
    this.seed = options.seed ?? 'mdmsim';
    this.shard = checkShard(options.shard);
    this.keyType = options.keyType;
    this.onEvent = options.onEvent;
    this.onError = onError;
    this.enrollConcurrency = Math.max(1, options.enrollConcurrency ?? 32);
    this.http = http;
    this.courier = courier;
    this.agents = new AgentRunner({ clock: options.clock, onError });
    this.faults = {
      apply: async (udid, faults) => this.byUdid.get(udid)?.applyFaults(faults),
      get: async (udid) => this.byUdid.get(udid)?.faultState(),
      clear: async (udid, kind) => this.byUdid.get(udid)?.clearFaults(kind),
    };
  }

  /** Connects the courier and creates the Macs (it does not enroll them). */
  static async start(options: FleetOptions): Promise<Fleet> {
    if (!options.clock) throw new TypeError('Fleet.start needs a clock');
    let server: URL;
    try {
      server = new URL(options.server);
    } catch {
      throw new TypeError(`Fleet.start: server must be a URL such as https://127.0.0.1:8443; got ${JSON.stringify(options.server)}`);
    }
    checkShard(options.shard);
    const choices = macChoices({ models: options.models, os: options.os });
    const onError =
      options.onError ??
      ((error: unknown) => {
        process.emitWarning(`mdmsim fleet: ${(error as Error)?.stack ?? String(error)}`);
      });
    const resolver = toResolver(options.resolve);
    // A name the Macs cannot resolve would fail every enrollment: say so once, now.
    if ((await resolver.find(server.hostname)) === undefined) {
      throw new TypeError(`Fleet.start: the Macs cannot resolve ${server.hostname} (the server's host): they never ask the system's DNS; give resolve: { '${server.hostname}': '<its address>' }`);
    }
    const http = new FleetHttp({ ca: options.ca, maxSockets: options.maxSockets, resolver });
    const courierUrl = options.courier ?? `ws://${server.hostname.includes(':') ? `[${server.hostname}]` : server.hostname}:${DEFAULT_COURIER_PORT}`;
    let courier: CourierClient;
    try {
      courier = await CourierClient.connect({ url: courierUrl, client: `mdmsim fleet ${options.seed ?? 'mdmsim'}`, tokensPerConnection: options.tokensPerConnection, onError, lookup: resolver.lookup });
    } catch (error) {
      http.close();
      throw error;
    }
    let fleet: Fleet;
    try {
      fleet = new Fleet(options, http, courier, resolver, onError, choices);
    } catch (error) {
      // A network policy naming an unknown placeholder, say: nothing may stay open.
      http.close();
      await courier.close();
      throw error;
    }
    if (options.count) fleet.addMacs(options.count);
    return fleet;
  }

  // ---- MacHost ------------------------------------------------------------------------

  get listening(): boolean {
    return this.onEvent !== undefined;
  }

  emit(mac: SimulatedMac, type: string, summary: string, data?: Record<string, unknown>): void {
    const on = this.onEvent;
    if (!on) return;
    const e: MacEvent = { at: this.clock.now(), udid: mac.udid, type, summary };
    if (data !== undefined) e.data = data;
    try {
      on(e);
    } catch (error) {
      this.onError(error);
    }
  }

  track<T>(work: Promise<T>): Promise<T> {
    this.work++;
    return work.finally(() => {
      if (--this.work === 0) this.wakeIdle();
    });
  }

  reportError(error: unknown, mac?: SimulatedMac): void {
    if (mac) this.emit(mac, 'mac.error', `simulator error: ${(error as Error)?.message ?? String(error)}`, { error: (error as Error)?.message ?? String(error) });
    this.onError(error);
  }

  validationContext(osVersion: string): ValidationContext {
    let c = this.contexts.get(osVersion);
    if (!c) {
      c = { platform: 'macOS', osVersion, strict: true };
      this.contexts.set(osVersion, c);
    }
    return c;
  }

  anchorCertificate(der: Buffer): InstalledCertificate {
    const key = der.toString('base64');
    let cert = this.anchors.get(key);
    if (!cert) {
      const own = ownBuffer(der);
      cert = { commonName: subjectCommonName(own) ?? '', der: own, isIdentity: false, managed: true };
      this.anchors.set(key, cert);
    }
    return cert;
  }

  // ---- the fleet ----------------------------------------------------------------------

  /** A Mac by UDID, or by its position in `macs`. */
  mac(udidOrIndex: string | number): SimulatedMac | undefined {
    return typeof udidOrIndex === 'number' ? this.macs[udidOrIndex] : this.byUdid.get(udidOrIndex);
  }

  /** Creates `n` more Macs (the next indexes of this shard). */
  addMacs(n: number): SimulatedMac[] {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`addMacs needs a whole number of Macs; got ${n}`);
    const made: SimulatedMac[] = [];
    for (let i = 0; i < n; i++) {
      const index = this.macs.length;
      const identity = macIdentity({ seed: this.seed, index, shard: this.shard, choices: this.choices });
      const mac = new SimulatedMac(this, identity, fleetNumber(index, this.shard));
      this.macs.push(mac);
      this.byUdid.set(mac.udid, mac);
      made.push(mac);
    }
    return made;
  }

  /** Enrolls every Mac not yet enrolled, `enrollConcurrency` at a time. */
  async enrollAll(options: { onProgress?: (done: number, total: number, failed: number) => void } = {}): Promise<EnrollAllResult> {
    const todo = this.macs.filter((m) => !m.enrolled);
    const failed: EnrollAllResult['failed'] = [];
    let next = 0;
    let done = 0;
    const worker = async () => {
      while (next < todo.length && !this.stopped) {
        const mac = todo[next++]!;
        try {
          await mac.enroll();
        } catch (error) {
          failed.push({ udid: mac.udid, error: (error as Error)?.message ?? String(error) });
        }
        done++;
        options.onProgress?.(done, todo.length, failed.length);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.enrollConcurrency, todo.length) }, worker));
    return { enrolled: done - failed.length, failed };
  }

  // ---- the network ------------------------------------------------------------------------

  /**
   * The network of every Mac (`udid` omitted), or of one Mac: its policy replaces the Mac's own
   * network faults (allow-list, proxy, tls-inspection); undefined clears them (the fleet's network
   * applies again) or, for the fleet, opens the network. Placeholders are filled in now; a bad
   * entry throws a ProblemError naming the field, and nothing changes.
   */
  setNetworkPolicy(policy: NetworkPolicy | undefined, udid?: string): void {
    if (udid === undefined) {
      this.network.setFleetPolicy(policy);
      return;
    }
    const mac = this.byUdid.get(udid);
    if (!mac) throw new RangeError(`no simulated Mac ${udid} in this fleet`);
    mac.setNetworkFaults(policy ? policyFaults(policy) : []);
  }

  /** Whether any Mac has work in flight (an enrollment, a connect loop, a download, a check-in). */
  get busy(): boolean {
    return this.work > 0 || this.http.inFlight > 0 || this.courier.busy;
  }

  /**
   * Resolves when no Mac has work in flight and every courier push received has been
   * dispatched (pushes are handed to their Mac as they arrive, which starts tracked work).
   */
  async settled(): Promise<void> {
    for (;;) {
      if (!this.busy) {
        // A frame or an answer already read may start work in the next turn: look once more.
        await new Promise<void>((r) => setImmediate(r));
        if (!this.busy) return;
      }
      if (this.work > 0) await new Promise<void>((r) => this.idleWaiters.push(r));
      else await new Promise<void>((r) => setTimeout(r, 1));
    }
  }

  private wakeIdle(): void {
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const w of waiters) w();
  }

  /** Stops every timer, closes the courier and the HTTP agents. Macs do nothing afterwards. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.agents.scheduler.stop();
    for (const mac of this.macs) mac.halt();
    await this.courier.close();
    this.http.close();
    await this.network.close();
    this.wakeIdle();
  }
}

export type { MacEvent };
