/**
 * Faults and a Mac's network in a few words, the same everywhere they are shown: the server's and
 * a lab's `sim.fault` line, the Mac's fault events, a lab's `sim.network` line and a scenario
 * step's description. Here in protocol/ because the server says them too (and must not import the
 * simulator).
 */
import { formatDuration } from './duration';
import type { DeviceFault, DeviceFaultState, NetworkFault } from './faults';

/** Any fault, for a `sim.fault` line: `offline for 3d`, `NotNow for 2 connects`, `TLS inspection except a, b`. */
export function describeDeviceFault(f: DeviceFault): string {
  switch (f.kind) {
    case 'offline':
      return f.forMs !== undefined ? `offline for ${formatDuration(f.forMs)}` : 'offline';
    case 'notnow':
      return `NotNow for ${f.connects} connect${f.connects === 1 ? '' : 's'}`;
    case 'package-download':
      return `package download ${f.mode === 'fail' ? 'failing' : 'corrupted'}${f.count !== undefined ? ` (${f.count}×)` : ''}`;
    case 'allow-list':
    case 'proxy':
    case 'tls-inspection':
      return describeNetworkFault(f);
    default:
      return f.kind;
  }
}

/** Several faults (`; ` between them: a network's lists have commas of their own). */
export function describeDeviceFaults(faults: readonly DeviceFault[]): string {
  return faults.map(describeDeviceFault).join('; ');
}

/** One network fault: `only a:443, b:443 reachable`, `HTTPS through the proxy`, `TLS inspection except a, b`. */
export function describeNetworkFault(f: NetworkFault): string {
  switch (f.kind) {
    case 'allow-list':
      return `only ${f.allow.join(', ')} reachable`;
    case 'proxy':
      return 'HTTPS through the proxy';
    case 'tls-inspection':
      return f.exempt.length > 0 ? `TLS inspection except ${f.exempt.join(', ')}` : 'TLS inspection of every connection';
  }
}

/** A network as its faults (`open` when there are none), joined with `; `. */
export function describeNetwork(faults: readonly NetworkFault[]): string {
  return faults.length === 0 ? 'open' : faults.map(describeNetworkFault).join('; ');
}

/** The fault state's `network` (what is in force for a Mac) in the same words. */
export function describeNetworkState(n: DeviceFaultState['network']): string {
  const faults: NetworkFault[] = [];
  if (n?.allow) faults.push({ kind: 'allow-list', allow: n.allow });
  if (n?.proxy) faults.push({ kind: 'proxy' });
  if (n?.tlsInspection) faults.push({ kind: 'tls-inspection', exempt: n.tlsInspection.exempt });
  return describeNetwork(faults);
}
