/**
 * A Mac's network as the simulator applies it: the network faults (protocol/faults.ts) of the
 * Mac itself over the fleet's network, kind by kind, with placeholders filled in.
 *
 *   allow-list   only these host:port pairs are reachable. Without a proxy, any other connection
 *                is refused (ECONNREFUSED at once, as a firewall that rejects with a reset: nothing
 *                reaches the server); with a proxy, the proxy answers the CONNECT 403. APNs (the
 *                courier) is held to it too: blocked, the Mac's pushes wait at APNs.
 *   proxy        HTTPS goes through the fleet's in-process HTTP CONNECT proxy (./proxy.ts).
 *   tls-inspection  the proxy decrypts: the Mac's TLS ends at the inspector, whose leaf is signed
 *                by its own CA, trusted by the Mac (as an organisation deploys it); exempt hosts are
 *                tunnelled untouched. Implies the proxy path.
 */
import { MAX_NETWORK_ENTRIES, type NetworkFault } from '../../protocol/faults';
import { allowedBy, formatHostPort, hostPatternMatches, parseHostPattern, parseHostPort, type HostPort } from '../../protocol/network-policy';
import { problem } from '../../protocol/problem';
import { fillNames, type NetworkNames } from './names';

/** The typed form of the programmatic API (Fleet.setNetworkPolicy, Lab.setNetworkPolicy). */
export interface NetworkPolicy {
  /** `host:port` pairs reachable (`*.iot.mdmsim.test:443`, `{device}:{port}`); everything else is blocked. */
  allowList?: readonly string[];
  /** HTTPS through an HTTP CONNECT proxy (which applies the allow-list). */
  proxy?: boolean;
  /** TLS inspection; `exempt` hosts are relayed without it. */
  tlsInspection?: boolean | { exempt?: readonly string[] };
}

/**
 * The network faults of a policy, checked as the fault parser checks them (a 400 naming the
 * policy's own field: `network.allowList[1]`, `network.tlsInspection.exempt[0]`). The shapes are
 * checked first: a string where a list belongs would otherwise be read character by character,
 * and `proxy: "yes"` would quietly mean no proxy.
 */
export function policyFaults(policy: NetworkPolicy, field = 'network'): NetworkFault[] {
  if (typeof policy !== 'object' || policy === null || Array.isArray(policy)) bad(field, `${field} must be an object (allowList, proxy, tlsInspection)`, '{"allowList": ["{device}:{port}"], "proxy": true}');
  for (const key of Object.keys(policy)) {
    if (key !== 'allowList' && key !== 'proxy' && key !== 'tlsInspection') bad(`${field}.${key}`, `a network policy has no setting ${key}`, 'allowList, proxy, tlsInspection');
  }
  const out: NetworkFault[] = [];
  const allowField = policyListField('allow-list', field);
  if (policy.allowList !== undefined) {
    const list: unknown = policy.allowList;
    if (!Array.isArray(list) || list.length === 0 || list.length > MAX_NETWORK_ENTRIES) {
      bad(allowField, `${allowField} must be a list of 1 to ${MAX_NETWORK_ENTRIES} host:port strings (the reachable ones; everything else is blocked)`, '["{device}:{port}", "*.iot.mdmsim.test:443"]');
    }
    out.push({ kind: 'allow-list', allow: list.map((x, i) => formatHostPort(parseHostPort(x, `${allowField}[${i}]`))) });
  }
  const proxy: unknown = policy.proxy;
  if (proxy !== undefined && typeof proxy !== 'boolean') bad(`${field}.proxy`, `${field}.proxy must be true or false`, 'true');
  if (proxy === true) out.push({ kind: 'proxy' });
  const ti: unknown = policy.tlsInspection;
  if (ti !== undefined && ti !== false) {
    const exemptField = policyListField('tls-inspection', field);
    if (ti !== true && (typeof ti !== 'object' || ti === null || Array.isArray(ti) || Object.keys(ti).some((k) => k !== 'exempt'))) {
      bad(`${field}.tlsInspection`, `${field}.tlsInspection must be true, false or {exempt: [hosts]}`, '{"exempt": ["{device-web-api}", "{device-devices}"]}');
    }
    const list: unknown = ti === true ? [] : ((ti as { exempt?: unknown }).exempt ?? []);
    if (!Array.isArray(list) || list.length > MAX_NETWORK_ENTRIES) bad(exemptField, `${exemptField} must be a list of at most ${MAX_NETWORK_ENTRIES} hosts (relayed without inspection)`, '["{device-web-api}", "{device-devices}"]');
    out.push({ kind: 'tls-inspection', exempt: list.map((x, i) => parseHostPattern(x, `${exemptField}[${i}]`)) });
  }
  return out;
}

/** Where a policy keeps a fault's list (`network.allowList`), for errors found when filling in names. */
export function policyListField(kind: NetworkFault['kind'], field = 'network'): string {
  return kind === 'allow-list' ? `${field}.allowList` : kind === 'tls-inspection' ? `${field}.tlsInspection.exempt` : `${field}.proxy`;
}

function bad(field: string, message: string, expected: string): never {
  throw problem(400, 'bad-fault', message, { field, expected });
}

/** One source's network (the Mac's own, or the fleet's), placeholders filled in. */
export interface NetworkParts {
  allow?: { entries: HostPort[]; text: string[] };
  proxy?: boolean;
  inspection?: { exempt: string[] };
}

/**
 * Adds a network fault to `parts` (replacing its kind), names filled in; throws a 400 naming the
 * field (a list's entries are `${listField}[i]`: `fault.allow[i]`, or a policy's `network.allowList[i]`).
 */
export function addNetworkFault(parts: NetworkParts, fault: NetworkFault, names: NetworkNames, field = 'fault', listField = fault.kind === 'allow-list' ? `${field}.allow` : `${field}.exempt`): void {
  switch (fault.kind) {
    case 'allow-list': {
      const text = fault.allow.map((x, i) => formatHostPort(parseHostPort(fillNames(x, names, `${listField}[${i}]`), `${listField}[${i}]`)));
      parts.allow = { entries: text.map((x) => parseHostPort(x, field)), text };
      break;
    }
    case 'proxy':
      parts.proxy = true;
      break;
    case 'tls-inspection':
      parts.inspection = { exempt: fault.exempt.map((x, i) => fillNames(x, names, `${listField}[${i}]`).toLowerCase()) };
      break;
  }
}

export function removeNetworkFault(parts: NetworkParts, kind: NetworkFault['kind']): boolean {
  switch (kind) {
    case 'allow-list':
      if (!parts.allow) return false;
      delete parts.allow;
      return true;
    case 'proxy':
      if (!parts.proxy) return false;
      delete parts.proxy;
      return true;
    case 'tls-inspection':
      if (!parts.inspection) return false;
      delete parts.inspection;
      return true;
  }
}

export function isEmpty(parts: NetworkParts | undefined): boolean {
  return !parts || (parts.allow === undefined && parts.proxy === undefined && parts.inspection === undefined);
}

/** The parts as faults, in the fault state's form. */
export function partsJson(parts: NetworkParts | undefined): NetworkFault[] {
  const out: NetworkFault[] = [];
  if (!parts) return out;
  if (parts.allow) out.push({ kind: 'allow-list', allow: [...parts.allow.text] });
  if (parts.proxy) out.push({ kind: 'proxy' });
  if (parts.inspection) out.push({ kind: 'tls-inspection', exempt: [...parts.inspection.exempt] });
  return out;
}

/** What is in force for one Mac. */
export interface EffectivePolicy {
  allow?: HostPort[];
  allowText?: string[];
  /** HTTPS goes through the fleet proxy (an explicit proxy, or the inspector in the path). */
  viaProxy: boolean;
  /** An explicit proxy (its refusals are the proxy's 403s); otherwise the network refuses. */
  proxy: boolean;
  inspection?: { exempt: string[] };
  from: { allow?: 'mac' | 'fleet'; proxy?: 'mac' | 'fleet'; tlsInspection?: 'mac' | 'fleet' };
}

/** The Mac's parts over the fleet's, kind by kind; undefined when the network is open. */
export function mergeParts(fleet: NetworkParts | undefined, mac: NetworkParts | undefined): EffectivePolicy | undefined {
  if (isEmpty(fleet) && isEmpty(mac)) return undefined;
  const allow = mac?.allow ?? fleet?.allow;
  const proxy = mac?.proxy ?? fleet?.proxy ?? false;
  const inspection = mac?.inspection ?? fleet?.inspection;
  const src = (m: unknown, f: unknown): 'mac' | 'fleet' | undefined => (m !== undefined ? 'mac' : f !== undefined ? 'fleet' : undefined);
  const from: EffectivePolicy['from'] = {};
  const a = src(mac?.allow, fleet?.allow);
  if (a) from.allow = a;
  const p = src(mac?.proxy, fleet?.proxy);
  if (p) from.proxy = p;
  const t = src(mac?.inspection, fleet?.inspection);
  if (t) from.tlsInspection = t;
  return {
    ...(allow ? { allow: allow.entries, allowText: allow.text } : {}),
    viaProxy: proxy || inspection !== undefined,
    proxy,
    ...(inspection ? { inspection } : {}),
    from,
  };
}

/** Whether the policy lets the Mac reach host:port at all (no allow-list: yes). */
export function reachable(policy: EffectivePolicy | undefined, host: string, port: number): boolean {
  return !policy?.allow || allowedBy(policy.allow, host, port);
}

/** Whether an inspecting proxy relays `host` untouched. */
export function exemptFromInspection(policy: EffectivePolicy, host: string): boolean {
  const list = policy.inspection?.exempt;
  if (!list) return true;
  for (const p of list) if (hostPatternMatches(p, host)) return true;
  return false;
}
