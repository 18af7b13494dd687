/**
 * Matching nodes to Kandji devices by serial (trimmed, case-insensitive), the attributes a
 * match earns (agent_installed null → false), and node lists as fixtures hold them.
 */
import { macIdentity } from '../../../agent-sim/identity';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { indexBySerial, kandjiAttributes, matchNode, normalizeSerial } from '../../../posture-sim/match';
import { NodeListError, parseNodeList, variedSerial } from '../../../posture-sim/nodes';
import type { PrismDeviceRecord } from '../../../posture-sim/prism-client';

function record(serial: string, over: Partial<PrismDeviceRecord> = {}): PrismDeviceRecord {
  return { device_id: `dev-${serial}`, serial_number: serial, mdm_enabled: true, agent_installed: true, last_checkin_agent: null, last_checkin_mdm: null, ...over };
}

describe('serial matching', () => {
  it('normalises by trimming and upper-casing', () => {
    expect(normalizeSerial(' c02zt1abmd6t\t')).toBe('C02ZT1ABMD6T');
  });

  it('matches a node whatever the case and surrounding spaces of either side', () => {
    const index = indexBySerial([record('C02ZT1ABMD6T'), record(' fvfx2k3lq6l4 ')]);
    expect(matchNode({ serialNumbers: ['c02zt1abmd6t'] }, index)?.device_id).toBe('dev-C02ZT1ABMD6T');
    expect(matchNode({ serialNumbers: [' C02ZT1ABMD6T '] }, index)?.device_id).toBe('dev-C02ZT1ABMD6T');
    expect(matchNode({ serialNumbers: ['FVFX2K3LQ6L4'] }, index)?.device_id).toBe('dev- fvfx2k3lq6l4 ');
  });

  it('never matches on a part of a serial, an unknown serial, or no serial', () => {
    const index = indexBySerial([record('C02ZT1ABMD6T')]);
    expect(matchNode({ serialNumbers: ['C02ZT1ABMD6'] }, index)).toBeUndefined();
    expect(matchNode({ serialNumbers: ['XXXXXXXXXXXX'] }, index)).toBeUndefined();
    expect(matchNode({ serialNumbers: [] }, index)).toBeUndefined();
  });

  it('tries each serial a node reported', () => {
    const index = indexBySerial([record('C02ZT1ABMD6T')]);
    expect(matchNode({ serialNumbers: ['UNKNOWN00000', 'c02zt1abmd6t'] }, index)?.serial_number).toBe('C02ZT1ABMD6T');
  });

  it('two records with one serial: the one that checked in last wins', () => {
    const old = record('C02ZT1ABMD6T', { device_id: 'old', agent_installed: false, last_checkin_mdm: '2026-01-01T00:00:00.000000+00:00' });
    const fresh = record('c02zt1abmd6t', { device_id: 'new', last_checkin_agent: '2026-01-03T00:00:00.000000+00:00' });
    expect(indexBySerial([old, fresh]).get('C02ZT1ABMD6T')?.device_id).toBe('new');
    expect(indexBySerial([fresh, old]).get('C02ZT1ABMD6T')?.device_id).toBe('new');
  });

  it('writes booleans: agent_installed null (a platform without an agent) is false', () => {
    expect(kandjiAttributes(record('A', { mdm_enabled: true, agent_installed: null }))).toEqual({ 'kandji:mdmEnabled': true, 'kandji:agentInstalled': false });
    expect(kandjiAttributes(record('A', { mdm_enabled: false, agent_installed: true }))).toEqual({ 'kandji:mdmEnabled': false, 'kandji:agentInstalled': true });
  });
});

describe('node lists', () => {
  it('the shipped fixture parses, with nodes MDM cannot know and serials as collected', () => {
    const nodes = parseNodeList(JSON.parse(readFileSync(join(__dirname, '../../../fixtures/posture/nodes.json'), 'utf8')), 'nodes.json');
    expect(nodes.length).toBeGreaterThanOrEqual(5);
    expect(nodes.some((n) => n.serialNumbers.length === 0)).toBe(true);
    expect(nodes.some((n) => n.serialNumbers.some((s) => s !== s.trim() || s !== s.toUpperCase()))).toBe(true);
  });

  it("the fixture's first three nodes are the Macs of mdmsim lab's default seed, and the rest no Mac of it", () => {
    const nodes = parseNodeList(JSON.parse(readFileSync(join(__dirname, '../../../fixtures/posture/nodes.json'), 'utf8')), 'nodes.json');
    const labSerials = Array.from({ length: 50 }, (_, index) => macIdentity({ seed: 'mdmsim-lab', index }).serialNumber);
    expect(labSerials.slice(0, 3)).toEqual(['4SN5WX77NA59', 'XL7A98PYS3BC', '1HMEML6PVWHF']);
    expect(nodes.slice(0, 3).map((n) => n.serialNumbers.map(normalizeSerial))).toEqual(labSerials.slice(0, 3).map((s) => [s]));
    for (const n of nodes.slice(3)) for (const s of n.serialNumbers) expect(labSerials).not.toContain(normalizeSerial(s));
  });

  it('accepts a bare array too', () => {
    expect(parseNodeList([{ id: 'n1', name: 'a', serialNumbers: ['X'] }])).toEqual([{ id: 'n1', name: 'a', serialNumbers: ['X'] }]);
  });

  it.each([
    [{}, /expected \{"nodes": \[...\]\}/],
    [{ nodes: [{ name: 'a', serialNumbers: [] }] }, /nodes\[0\]\.id: expected a non-empty string/],
    [{ nodes: [{ id: 'n', name: 'a', serialNumbers: [] }, { id: 'n', name: 'b', serialNumbers: [] }] }, /nodes\[1\]\.id: n appears twice/],
    [{ nodes: [{ id: 'n', name: 'a', serialNumbers: 'C02' }] }, /nodes\[0\]\.serialNumbers: expected an array of strings/],
    [{ nodes: [{ id: 'n', name: 'a', serialNumbers: [], attributes: { 'kandji:agentInstalled': true } }] }, /kandji: namespace is written by the integration only/],
    [{ nodes: [{ id: 'n', name: 'a', serialNumbers: [], attributes: { 'custom:x': [1] } }] }, /custom:x: expected a string, number or boolean/],
  ])('refuses a wrong list with the field at fault (%#)', (value, reason) => {
    expect(() => parseNodeList(value, 'nodes.json')).toThrow(NodeListError);
    expect(() => parseNodeList(value, 'nodes.json')).toThrow(reason);
  });

  it('variedSerial spreads case and spacing but always normalises back', () => {
    const shown = [0, 1, 2, 3].map((i) => variedSerial('C02ZT1ABMD6T', i));
    expect(new Set(shown).size).toBe(4);
    expect(shown.map(normalizeSerial)).toEqual(Array(4).fill('C02ZT1ABMD6T'));
  });
});
