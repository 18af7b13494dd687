/**
 * The network of a fleet's Macs: the fleet's own policy (a default for every Mac) and each Mac's
 * network faults over it (./policy.ts), the proxy and inspector they may go through
 * (./proxy.ts, started on the first policy that needs it), and the connection pools of the Macs
 * under a policy.
 *
 * The common case costs nothing: with no policy anywhere, `active` is false and a Mac's requests
 * take the fleet's shared pools as before. A Mac under a policy gets pools of its own (per set of
 * trust anchors and agent pin), made when first used and closed when its policy changes: requests
 * under way finish, new ones take new pools, so a connection opened under one policy never
 * carries a request made under another.
 */
import { createSecureContext } from 'node:tls';
import { Agent, type Dispatcher } from 'undici';
import type { DeviceFaultState, NetworkFault } from '../../protocol/faults';
import { FleetProxy, type ConnectFor } from './proxy';
import { InspectionCa } from './inspection-ca';
import type { NetworkNames } from './names';
import { addNetworkFault, isEmpty, mergeParts, partsJson, policyFaults, policyListField, reachable, removeNetworkFault, type EffectivePolicy, type NetworkParts, type NetworkPolicy } from './policy';
import { routeConnector } from './connector';
import type { Resolver } from './resolver';
import { derToPem } from '../http';

export interface FleetNetworkOptions {
  resolver: Resolver;
  /** The fleet's CA (DER): what the inspector trusts upstream. */
  caDers: readonly Buffer[];
  /** A Mac's event (the proxy's CONNECTs, refused connections). */
  emit(udid: string, type: string, summary: string, data: Record<string, unknown>): void;
  /** Where the Macs' APNs connection goes (the courier): the allow-list applies to it too. */
  apns: { host: string; port: number };
  /** The Macs whose policy changed (all of them: undefined). */
  changed(udids: readonly string[] | undefined): void;
  onError?: (error: unknown) => void;
  timeoutMs?: number;
  maxSockets?: number;
  /** Largest body read (default 64 MiB), as the fleet's shared pools. */
  maxBodyBytes?: number;
}

interface MacRoute {
  policy: EffectivePolicy;
  pools: Map<string, Agent>;
}

export class FleetNetwork {
  /** What `{name}` placeholders stand for (./names.ts). */
  private names: Record<string, string> = {};
  private fleetParts: NetworkParts | undefined;
  private readonly macParts = new Map<string, NetworkParts>();
  private readonly routes = new Map<string, MacRoute | null>();
  private proxyStart: Promise<FleetProxy> | undefined;
  private caStart: Promise<InspectionCa> | undefined;
  private closed = false;
  /** True when some policy is in force somewhere (else every Mac takes the shared pools). */
  active = false;

  constructor(private readonly o: FleetNetworkOptions) {}

  // ---- names -------------------------------------------------------------------------------

  /** Adds (or replaces) placeholder values. */
  setNames(names: NetworkNames): void {
    this.names = { ...this.names, ...names };
  }

  // ---- policies ----------------------------------------------------------------------------

  /** The fleet's network, for every Mac that does not say otherwise (undefined: an open network). */
  setFleetPolicy(policy: NetworkPolicy | undefined): void {
    const parts: NetworkParts = {};
    for (const f of policy ? policyFaults(policy) : []) addNetworkFault(parts, f, this.names, 'network', policyListField(f.kind));
    this.fleetParts = isEmpty(parts) ? undefined : parts;
    this.invalidate(undefined);
  }

  /** The fleet's network as faults (placeholders filled in). */
  fleetPolicyJson(): NetworkFault[] {
    return partsJson(this.fleetParts);
  }

  /** One network fault for one Mac (replacing its kind); names filled in now. Throws a 400 ProblemError naming the field. */
  applyMacFault(udid: string, fault: NetworkFault, field = 'fault'): void {
    const parts: NetworkParts = { ...(this.macParts.get(udid) ?? {}) };
    addNetworkFault(parts, fault, this.names, field);
    this.macParts.set(udid, parts);
    this.invalidate([udid]);
  }

  /** Replaces every network fault of a Mac at once (one change); checked first. */
  replaceMacFaults(udid: string, faults: readonly NetworkFault[], field = 'network'): void {
    const parts: NetworkParts = {};
    faults.forEach((f, i) => addNetworkFault(parts, f, this.names, `${field}[${i}]`));
    if (isEmpty(parts)) this.macParts.delete(udid);
    else this.macParts.set(udid, parts);
    this.invalidate([udid]);
  }

  /** Removes one network fault of a Mac; true if it had it. */
  clearMacFault(udid: string, kind: NetworkFault['kind']): boolean {
    const parts = this.macParts.get(udid);
    if (!parts || !removeNetworkFault(parts, kind)) return false;
    if (isEmpty(parts)) this.macParts.delete(udid);
    this.invalidate([udid]);
    return true;
  }

  /** The Mac's own network faults, in the fault state's form. */
  macFaultsJson(udid: string): NetworkFault[] {
    return partsJson(this.macParts.get(udid));
  }

  /** What is in force for a Mac (its own faults over the fleet's), or undefined for an open network. */
  policyOf(udid: string): EffectivePolicy | undefined {
    if (!this.active) return undefined;
    return this.route(udid)?.policy;
  }

  /** Whether the Mac can reach host:port. */
  reachable(udid: string, host: string, port: number): boolean {
    return reachable(this.policyOf(udid), host, port);
  }

  /** Whether the Mac's network lets it reach APNs (the courier). */
  apnsReachable(udid: string): boolean {
    return this.reachable(udid, this.o.apns.host, this.o.apns.port);
  }

  /** `host:port` of APNs (the courier), for events. */
  get apnsTarget(): string {
    const { host, port } = this.o.apns;
    return `${host.includes(':') ? `[${host}]` : host}:${port}`;
  }

  /** Checks a network fault (placeholders known, entries valid) without applying it; throws a 400 naming the field. */
  check(fault: NetworkFault, field = 'fault', listField?: string): void {
    addNetworkFault({}, fault, this.names, field, listField);
  }

  /** The fault state's `network`: what is in force for the Mac, and whose it is; undefined when open. */
  stateOf(udid: string): DeviceFaultState['network'] {
    const p = this.policyOf(udid);
    if (!p) return undefined;
    return {
      ...(p.allowText ? { allow: [...p.allowText] } : {}),
      ...(p.proxy ? { proxy: true } : {}),
      ...(p.inspection ? { tlsInspection: { exempt: [...p.inspection.exempt] } } : {}),
      from: { ...p.from },
    };
  }

  private route(udid: string): MacRoute | undefined {
    let r = this.routes.get(udid);
    if (r === undefined) {
      const policy = mergeParts(this.fleetParts, this.macParts.get(udid));
      r = policy ? { policy, pools: new Map() } : null;
      this.routes.set(udid, r);
    }
    return r ?? undefined;
  }

  private invalidate(udids: readonly string[] | undefined): void {
    // close(), not destroy(): requests already under way finish on the connections they have
    // (a policy change reaches new requests); destroy() is for FleetNetwork.close().
    const drop = (r: MacRoute | null | undefined) => {
      if (r) for (const pool of r.pools.values()) void pool.close().catch(() => undefined);
    };
    if (udids === undefined) {
      for (const r of this.routes.values()) drop(r);
      this.routes.clear();
    } else {
      for (const u of udids) {
        drop(this.routes.get(u));
        this.routes.delete(u);
      }
    }
    this.active = this.fleetParts !== undefined || this.macParts.size > 0;
    this.o.changed(udids);
  }

  // ---- connections -------------------------------------------------------------------------

  /**
   * The pool a Mac's request takes under its policy, or undefined when its network is open (the
   * fleet's shared pools then). `anchors` are the Mac's trust anchors (DER), named by `anchorKey`;
   * `purpose` is what the requests are for (the proxy's events say it).
   */
  dispatcherFor(udid: string, anchorKey: string, anchors: readonly Buffer[], pin: string | undefined, purpose?: ConnectFor): Dispatcher | undefined {
    if (!this.active || this.closed) return undefined;
    const route = this.route(udid);
    if (!route) return undefined;
    // A pool per purpose, so each connection's CONNECT says truly what it carries.
    const key = `${anchorKey}|${pin ?? ''}|${purpose ?? ''}`;
    let pool = route.pools.get(key);
    if (!pool) {
      const policy = route.policy;
      const timeoutMs = this.o.timeoutMs ?? 30_000;
      const ca = anchors.map(derToPem);
      const inspected = policy.inspection !== undefined;
      // The inspection CA is made on first need; a pool for an inspected Mac waits for it.
      const contextFor = inspected ? this.inspectionCa().then((c) => createSecureContext({ ca: [...ca, c.certPem] })) : Promise.resolve(createSecureContext({ ca }));
      const connect = (async () => routeConnector({ policy, resolver: this.o.resolver, proxy: () => this.proxy(), client: udid, secureContext: await contextFor, pin, ...(purpose ? { purpose } : {}), timeoutMs, onBlocked: (host, port) => this.blocked(udid, host, port) }))();
      pool = new Agent({
        connections: this.o.maxSockets ?? 8,
        pipelining: 1,
        connect: (opts, cb) => {
          connect.then(
            (c) => c(opts, cb),
            (error: Error) => cb(error, null),
          );
        },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        keepAliveTimeout: 60_000,
        maxResponseSize: this.o.maxBodyBytes ?? 64 * 1024 * 1024,
      });
      route.pools.set(key, pool);
    }
    return pool;
  }

  private blocked(udid: string, host: string, port: number): void {
    this.o.emit(udid, 'network.blocked', `connection to ${host}:${port} refused: not on the network's allow-list`, { host, port });
  }

  /** The inspection CA (made once, on first need): what an organisation deploys to its Macs. */
  inspectionCa(): Promise<InspectionCa> {
    return (this.caStart ??= InspectionCa.create());
  }

  /** The proxy and inspector, started on first need. */
  proxy(): Promise<FleetProxy> {
    if (this.closed) return Promise.reject(new Error('the fleet has stopped'));
    return (this.proxyStart ??= FleetProxy.start({
      resolver: this.o.resolver,
      upstreamCa: this.o.caDers.map(derToPem),
      inspectionCa: () => this.inspectionCa(),
      policyOf: (client) => this.policyOf(client),
      emit: (client, type, summary, data) => this.o.emit(client, type, summary, data),
      onError: this.o.onError,
      connectTimeoutMs: this.o.timeoutMs,
    }));
  }

  /** The running proxy, if one was started (tests read its port and counts). */
  async runningProxy(): Promise<FleetProxy | undefined> {
    return this.proxyStart;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const r of this.routes.values()) if (r) for (const pool of r.pools.values()) void pool.destroy().catch(() => undefined);
    this.routes.clear();
    const proxy = this.proxyStart;
    this.proxyStart = undefined;
    if (proxy) await (await proxy.catch(() => undefined))?.close();
  }
}
