/**
 * The network's nodes: machines of a tailnet, each with the serial numbers Tailscale's device
 * identity collection gathered from it. The integration matches them to Kandji devices by
 * serial. A node list is JSON (fixtures/posture/nodes.json is one):
 *
 *   { "nodes": [
 *       { "id": "nQ3zN5CNTRL", "name": "ada-mbp", "os": "macOS",
 *         "serialNumbers": [" c02zt1abmd6t "],            // as collected: case and spaces vary
 *         "attributes": { "custom:tier": "prod" } },    // optional, attributes set by others
 *       { "id": "nL7vC2CNTRL", "name": "build-linux", "os": "linux", "serialNumbers": [] } ] }
 *
 * `serialNumbers` may be empty (identity collection off, or a VM without one): such a node is
 * never matched. `kandji:*` attributes belong to the integration and may not be preset.
 */
import type { AttributeValue } from './rules';

export interface PostureNodeInput {
  /** Tailscale's stable node ID. */
  id: string;
  /** The machine name. */
  name: string;
  /** `macOS`, `iOS`, `linux`, `windows`… (informational). */
  os?: string;
  /** Serial numbers as the node reported them: not normalised, may be empty. */
  serialNumbers: string[];
  /** Attributes set by others (`custom:`, `node:`…), evaluated by rules alongside the integration's. */
  attributes?: Record<string, AttributeValue>;
}

export class NodeListError extends Error {
  constructor(
    readonly source: string,
    reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = 'NodeListError';
  }
}

/** The namespace the Kandji integration writes. */
export const KANDJI_NAMESPACE = 'kandji:';

function isAttributeValue(v: unknown): v is AttributeValue {
  return typeof v === 'boolean' || typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
}

/** Checks a node list (parsed JSON: `{nodes: [...]}` or the bare array), naming the first wrong field. */
export function parseNodeList(value: unknown, source = 'node list'): PostureNodeInput[] {
  const list = Array.isArray(value) ? value : (value as { nodes?: unknown } | null)?.nodes;
  if (!Array.isArray(list)) throw new NodeListError(source, 'expected {"nodes": [...]} (or a bare array of nodes)');
  const ids = new Set<string>();
  return list.map((raw, i) => {
    const at = `nodes[${i}]`;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new NodeListError(source, `${at}: expected an object with id, name and serialNumbers`);
    const n = raw as Record<string, unknown>;
    if (typeof n.id !== 'string' || n.id.trim() === '') throw new NodeListError(source, `${at}.id: expected a non-empty string`);
    if (ids.has(n.id)) throw new NodeListError(source, `${at}.id: ${n.id} appears twice`);
    ids.add(n.id);
    if (typeof n.name !== 'string' || n.name === '') throw new NodeListError(source, `${at}.name: expected a non-empty string`);
    if (n.os !== undefined && typeof n.os !== 'string') throw new NodeListError(source, `${at}.os: expected a string`);
    if (!Array.isArray(n.serialNumbers) || !n.serialNumbers.every((s) => typeof s === 'string')) {
      throw new NodeListError(source, `${at}.serialNumbers: expected an array of strings (empty when the node reports none)`);
    }
    let attributes: Record<string, AttributeValue> | undefined;
    if (n.attributes !== undefined) {
      if (n.attributes === null || typeof n.attributes !== 'object' || Array.isArray(n.attributes)) throw new NodeListError(source, `${at}.attributes: expected an object`);
      attributes = {};
      for (const [key, v] of Object.entries(n.attributes)) {
        if (key.startsWith(KANDJI_NAMESPACE)) throw new NodeListError(source, `${at}.attributes.${key}: the kandji: namespace is written by the integration only`);
        if (!isAttributeValue(v)) throw new NodeListError(source, `${at}.attributes.${key}: expected a string, number or boolean`);
        attributes[key] = v;
      }
    }
    return { id: n.id, name: n.name, ...(n.os !== undefined ? { os: n.os as string } : {}), serialNumbers: [...(n.serialNumbers as string[])], ...(attributes ? { attributes } : {}) };
  });
}

/**
 * Serials as a node list really holds them: the same serial a Mac reports to MDM, but
 * sometimes lower case, sometimes with spaces around it (collected by a script, pasted by
 * hand). Deterministic by position so tests and scenarios can rely on it.
 */
export function variedSerial(serial: string, i: number): string {
  switch (i % 4) {
    case 1:
      return serial.toLowerCase();
    case 2:
      return ` ${serial} `;
    case 3:
      return `${serial.toLowerCase()}\t`;
    default:
      return serial;
  }
}
