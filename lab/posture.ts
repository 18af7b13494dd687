/**
 * A posture sync in a lab: the network's nodes built from the lab's Macs (their serials as a
 * tailnet really holds them, with case and spaces varying) plus a few machines MDM has never
 * seen, and the integration's happenings as events on the lab's timeline, labelled with the
 * Mac a node is.
 */
import type { SimulatedMac } from '../agent-sim';
import type { EventInput, Participant } from '../server/service/event-log';
import type { PostureEvent } from '../posture-sim/integration';
import { normalizeSerial } from '../posture-sim/match';
import { variedSerial, type PostureNodeInput } from '../posture-sim/nodes';

/**
 * The integration and the network it writes to are parties of the story the server's own
 * participants do not name (the server never talks to them); the timeline shows them as
 * `posture` and `tailnet`.
 */
export const POSTURE: Participant = 'posture';
export const TAILNET: Participant = 'tailnet';

/** Machines on the network that MDM does not know: a personal Mac and a Linux server without a serial. */
export const UNKNOWN_NODES: readonly PostureNodeInput[] = [
  { id: 'nP6wHd4CNTRL', name: 'personal-mbp', os: 'macOS', serialNumbers: ['C02DT4XQMD6R'] },
  { id: 'nL9tRf1CNTRL', name: 'build-linux-01', os: 'linux', serialNumbers: [] },
];

/** A node per Mac (Tailscale-like id and machine name, serial as collected), then `unknown` nodes MDM does not know. */
export function labPostureNodes(macs: readonly SimulatedMac[], unknown = UNKNOWN_NODES.length): PostureNodeInput[] {
  const names = new Map<string, number>();
  const nodes = macs.map((m, i): PostureNodeInput => {
    const base = m.identity.localHostName.toLowerCase();
    const seen = names.get(base) ?? 0;
    names.set(base, seen + 1);
    return {
      id: `n${m.udid.replace(/-/g, '').slice(0, 8)}CNTRL`,
      name: seen === 0 ? base : `${base}-${seen}`,
      os: 'macOS',
      serialNumbers: [variedSerial(m.identity.serialNumber, i)],
    };
  });
  return [...nodes, ...UNKNOWN_NODES.slice(0, unknown)];
}

/** The UDID of the lab Mac a node is (by serial), for the timeline's `Mac n` label. */
export function udidOfNode(node: Pick<PostureNodeInput, 'serialNumbers'> | undefined, macs: readonly SimulatedMac[]): string | undefined {
  if (!node) return undefined;
  const serials = new Set(node.serialNumbers.map(normalizeSerial));
  return macs.find((m) => serials.has(normalizeSerial(m.identity.serialNumber)))?.udid;
}

const show = (v: unknown) => (v === null || v === undefined ? '(unset)' : String(v));

/** A posture event as the lab's event log records it. */
export function postureEventInput(e: PostureEvent, udidOf: (nodeId: string) => string | undefined, when: (t: number) => string): EventInput | undefined {
  switch (e.type) {
    case 'sync': {
      const r = e.report;
      if (r.skipped) return undefined;
      if (!r.ok) {
        return { type: 'posture.sync.failed', from: POSTURE, to: 'mdm', summary: `posture sync (${r.trigger}): Prism read failed: ${r.error!.message}`, data: { trigger: r.trigger, error: r.error } };
      }
      const changes = r.changes.length === 0 ? 'no change' : `${r.changes.length} attribute${r.changes.length === 1 ? '' : 's'} changed`;
      return {
        type: 'posture.sync',
        from: POSTURE,
        to: 'mdm',
        summary: `posture sync (${r.trigger}): Prism device_information, ${r.devices} devices in ${r.pages} page${r.pages === 1 ? '' : 's'}; ${r.matched} of ${r.matched + r.unmatched} nodes matched; ${changes}`,
        data: { trigger: r.trigger, devices: r.devices, pages: r.pages, matched: r.matched, unmatched: r.unmatched, changes: r.changes.length },
      };
    }
    case 'audit': {
      const a = e.event;
      if (a.target === 'Node') {
        return { type: 'posture.attribute', udid: udidOf(a.nodeId), from: POSTURE, to: TAILNET, summary: `Update node attribute ${a.nodeName}: ${a.attribute} ${show(a.old)} → ${show(a.new)}`, data: { ...a } };
      }
      return { type: 'posture.integration', from: 'operator', to: POSTURE, summary: a.summary, data: { ...a } };
    }
    case 'access':
      return {
        type: 'posture.access',
        udid: udidOf(e.nodeId),
        from: TAILNET,
        to: 'device',
        summary: e.allowed ? `node ${e.nodeName}: posture holds, access allowed` : `node ${e.nodeName}: access denied (fails ${e.failing.join(', ')})`,
        data: { nodeId: e.nodeId, allowed: e.allowed, failing: e.failing },
      };
    case 'paused':
      return { type: 'posture.paused', from: POSTURE, to: POSTURE, summary: `posture sync paused until ${when(e.until)} after ${e.error.status ?? e.error.kind}`, data: { until: e.until, error: e.error } };
    case 'resumed':
      return { type: 'posture.resumed', from: POSTURE, to: POSTURE, summary: `posture sync resumed (${e.trigger === 'update' ? 'configuration updated' : 'the pause ended'}), paused since ${when(e.pausedSince)}`, data: { trigger: e.trigger, pausedSince: e.pausedSince } };
  }
}
