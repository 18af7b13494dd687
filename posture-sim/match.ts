/**
 * Matching nodes to Kandji devices by serial number, and what the integration then writes on
 * a matched node. Serials compare trimmed and case-insensitively: identity collection and
 * hand-kept lists disagree with MDM on both, and Apple serials carry no meaning in either.
 */
import type { PostureNodeInput } from './nodes';
import type { PrismDeviceRecord } from './prism-client';

export const ATTR_MDM_ENABLED = 'kandji:mdmEnabled';
export const ATTR_AGENT_INSTALLED = 'kandji:agentInstalled';
/** What the integration writes, and so what it removes from a node it no longer matches. */
export const KANDJI_ATTRIBUTES = [ATTR_MDM_ENABLED, ATTR_AGENT_INSTALLED] as const;

export function normalizeSerial(serial: string): string {
  return serial.trim().toUpperCase();
}

/**
 * Prism records by normalised serial. Two records with one serial (a Mac deleted from Kandji
 * and enrolled again before the old record was purged) resolve to the one that checked in
 * last, by its latest MDM or agent check-in; ties keep the first.
 */
export function indexBySerial(records: readonly PrismDeviceRecord[]): Map<string, PrismDeviceRecord> {
  const latest = (r: PrismDeviceRecord) => Math.max(Date.parse(r.last_checkin_mdm ?? '') || 0, Date.parse(r.last_checkin_agent ?? '') || 0);
  const index = new Map<string, PrismDeviceRecord>();
  for (const r of records) {
    const key = normalizeSerial(r.serial_number);
    if (key === '') continue;
    const held = index.get(key);
    if (!held || latest(r) > latest(held)) index.set(key, r);
  }
  return index;
}

/** The device a node is, by the first of its serials Kandji knows. */
export function matchNode(node: Pick<PostureNodeInput, 'serialNumbers'>, index: ReadonlyMap<string, PrismDeviceRecord>): PrismDeviceRecord | undefined {
  for (const s of node.serialNumbers) {
    const r = index.get(normalizeSerial(s));
    if (r) return r;
  }
  return undefined;
}

/**
 * The attributes a matched device earns. Prism's `agent_installed` is tri-state; null (a
 * platform no agent runs on: iPhone, iPad, Apple TV) means no agent is present, so it is
 * written false: the integration's attributes are booleans only.
 */
export function kandjiAttributes(record: PrismDeviceRecord): Record<(typeof KANDJI_ATTRIBUTES)[number], boolean> {
  return {
    [ATTR_MDM_ENABLED]: record.mdm_enabled,
    [ATTR_AGENT_INSTALLED]: record.agent_installed === true,
  };
}
