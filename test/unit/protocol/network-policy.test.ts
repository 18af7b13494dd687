/**
 * Network policies as data: host:port patterns in the guide's form and how they match, the three
 * network fault kinds as the fault parser reads them (field-named errors), placeholders, and how
 * a Mac's network faults combine with the fleet's.
 */
import { parseDeviceFault, parseDeviceFaults, DEVICE_FAULT_KINDS } from '../../../protocol/faults';
import { allowedBy, formatHostPort, hostPatternMatches, hostPortMatches, parseHostPattern, parseHostPort } from '../../../protocol/network-policy';
import { ProblemError, type Problem } from '../../../protocol/problem';
import { fillNames, fleetNames, tenantNames } from '../../../agent-sim/network/names';
import { addNetworkFault, exemptFromInspection, mergeParts, policyFaults, policyListField, reachable, type NetworkParts } from '../../../agent-sim/network/policy';

function problemOf(fn: () => unknown): Problem {
  try {
    fn();
  } catch (error) {
    if (error instanceof ProblemError) return error.problem;
    throw error;
  }
  throw new Error('no problem thrown');
}

describe('host:port patterns', () => {
  test.each([
    ['*.iot.mdmsim.test:443', { host: '*.iot.mdmsim.test', port: 443 }],
    ['Accuhive.Web-API.mdmsim.test.:443', { host: 'accuhive.web-api.mdmsim.test', port: 443 }],
    ['127.0.0.1:5223', { host: '127.0.0.1', port: 5223 }],
    ['[::1]:8443', { host: '::1', port: 8443 }],
    ['{device}:{port}', { host: '{device}', port: '{port}' }],
    ['prd.s3.mdmsim.test:*', { host: 'prd.s3.mdmsim.test', port: '*' }],
  ])('%s', (text, hp) => {
    expect(parseHostPort(text, 'allow[0]')).toEqual(hp);
    expect(parseHostPort(formatHostPort(hp), 'x')).toEqual(hp);
  });

  test.each([
    ['mdmsim.test', /is not host:port/],
    ['https://mdm.test:443', /is not host:port/],
    ['mdm.test:0', /port 0 is not from 1 to 65535/],
    ['mdm.test:70000', /port 70000 is not from 1 to 65535/],
    ['*.*.test:443', /is not a host name/],
    ['mdm test:443', /is not host:port/],
  ])('refuses %s, naming the field', (text, message) => {
    const p = problemOf(() => parseHostPort(text, 'fault.allow[2]'));
    expect(p).toMatchObject({ status: 400, code: 'bad-fault', field: 'fault.allow[2]' });
    expect(p.message).toMatch(message);
  });

  test('matching: names, wildcards over one or more labels (not the bare domain), IPs, ports', () => {
    expect(hostPatternMatches('*.iot.mdmsim.test', 'edge.iot.mdmsim.test')).toBe(true);
    expect(hostPatternMatches('*.iot.mdmsim.test', 'a.b.iot.mdmsim.test')).toBe(true);
    expect(hostPatternMatches('*.iot.mdmsim.test', 'iot.mdmsim.test')).toBe(false);
    expect(hostPatternMatches('*.iot.mdmsim.test', 'evil-iot.mdmsim.test')).toBe(false);
    expect(hostPatternMatches('mdm.test', 'MDM.test.')).toBe(true);
    expect(hostPatternMatches('::1', '[::1]')).toBe(true);
    expect(hostPatternMatches('127.0.0.1', '127.0.0.2')).toBe(false);
    expect(hostPortMatches({ host: 'mdm.test', port: 443 }, 'mdm.test', 8443)).toBe(false);
    expect(hostPortMatches({ host: 'mdm.test', port: '*' }, 'mdm.test', 8443)).toBe(true);
    const list = [parseHostPort('a.test:443', 'x'), parseHostPort('*.b.test:443', 'x')];
    expect(allowedBy(list, 'a.test', 443)).toBe(true);
    expect(allowedBy(list, 'c.b.test', 443)).toBe(true);
    expect(allowedBy(list, 'b.test', 443)).toBe(false);
    expect(allowedBy(list, 'a.test', 80)).toBe(false);
  });

  test('host patterns for exemptions refuse ports and schemes', () => {
    expect(parseHostPattern('{device-web-api}', 'x')).toBe('{device-web-api}');
    expect(problemOf(() => parseHostPattern('mdm.test:443', 'fault.exempt[0]'))).toMatchObject({ field: 'fault.exempt[0]' });
  });
});

describe('the network fault kinds', () => {
  test('are known kinds', () => {
    expect(DEVICE_FAULT_KINDS).toEqual(expect.arrayContaining(['allow-list', 'proxy', 'tls-inspection']));
  });

  test('allow-list: entries normalised; empty, not a list, or a bad entry is a field-named 400', () => {
    expect(parseDeviceFault({ kind: 'allow-list', allow: ['*.IOT.mdmsim.test:443', '[::1]:5223'] })).toEqual({ kind: 'allow-list', allow: ['*.iot.mdmsim.test:443', '[::1]:5223'] });
    expect(problemOf(() => parseDeviceFault({ kind: 'allow-list' }))).toMatchObject({ field: 'fault.allow' });
    expect(problemOf(() => parseDeviceFault({ kind: 'allow-list', allow: [] }))).toMatchObject({ field: 'fault.allow' });
    expect(problemOf(() => parseDeviceFault({ kind: 'allow-list', allow: 'mdm.test:443' }))).toMatchObject({ field: 'fault.allow' });
    expect(problemOf(() => parseDeviceFaults({ faults: [{ kind: 'proxy' }, { kind: 'allow-list', allow: ['ok.test:443', 'nope'] }] }))).toMatchObject({ field: 'faults[1].allow[1]' });
  });

  test('proxy takes no settings; tls-inspection takes exempt hosts only', () => {
    expect(parseDeviceFault({ kind: 'proxy' })).toEqual({ kind: 'proxy' });
    expect(problemOf(() => parseDeviceFault({ kind: 'proxy', port: 3128 }))).toMatchObject({ field: 'fault.port', message: 'a proxy fault has no setting port' });
    expect(parseDeviceFault({ kind: 'tls-inspection' })).toEqual({ kind: 'tls-inspection', exempt: [] });
    expect(parseDeviceFault({ kind: 'tls-inspection', exempt: ['{device-web-api}', 'Prd.S3.mdmsim.test'] })).toEqual({ kind: 'tls-inspection', exempt: ['{device-web-api}', 'prd.s3.mdmsim.test'] });
    expect(problemOf(() => parseDeviceFault({ kind: 'tls-inspection', exempt: 'x.test' }))).toMatchObject({ field: 'fault.exempt' });
    expect(problemOf(() => parseDeviceFault({ kind: 'tls-inspection', exempt: ['ok.test', 'https://x.test/'] }))).toMatchObject({ field: 'fault.exempt[1]' });
    expect(problemOf(() => parseDeviceFault({ kind: 'tls-inspection', allow: [] }))).toMatchObject({ field: 'fault.allow' });
  });

  test('the typed policy turns into the same faults, checked the same way', () => {
    expect(policyFaults({ allowList: ['a.test:443'], proxy: true, tlsInspection: { exempt: ['a.test'] } })).toEqual([
      { kind: 'allow-list', allow: ['a.test:443'] },
      { kind: 'proxy' },
      { kind: 'tls-inspection', exempt: ['a.test'] },
    ]);
    expect(policyFaults({ tlsInspection: true, proxy: false })).toEqual([{ kind: 'tls-inspection', exempt: [] }]);
    expect(policyFaults({})).toEqual([]);
    expect(problemOf(() => policyFaults({ allowList: ['a.test:443', 'bad'] }))).toMatchObject({ field: 'network.allowList[1]' });
    expect(problemOf(() => policyFaults({ tlsInspection: { exempt: ['ok.test', 'https://x.test/'] } }))).toMatchObject({ field: 'network.tlsInspection.exempt[1]' });
  });

  test('a policy of the wrong shape is refused, not read character by character or ignored', () => {
    // From JavaScript or a JSON body the types are not checked for us.
    const loose = (p: unknown) => () => policyFaults(p as never);
    expect(problemOf(loose({ allowList: 'x:1' }))).toMatchObject({ field: 'network.allowList' });
    expect(problemOf(loose({ allowList: [] }))).toMatchObject({ field: 'network.allowList' });
    expect(problemOf(loose({ proxy: 'yes' }))).toMatchObject({ field: 'network.proxy', message: 'network.proxy must be true or false' });
    expect(problemOf(loose({ tlsInspection: 'on' }))).toMatchObject({ field: 'network.tlsInspection' });
    expect(problemOf(loose({ tlsInspection: { exempt: 'a.test' } }))).toMatchObject({ field: 'network.tlsInspection.exempt' });
    expect(problemOf(loose({ tlsInspection: { exmept: [] } }))).toMatchObject({ field: 'network.tlsInspection' });
    expect(problemOf(loose({ allowlist: ['a.test:443'] }))).toMatchObject({ field: 'network.allowlist' });
    expect(problemOf(loose(['a.test:443']))).toMatchObject({ field: 'network' });
  });

  test("a policy's unknown placeholder is named by the policy's field", () => {
    const parts: NetworkParts = {};
    const [allow, ti] = policyFaults({ allowList: ['{device}:{port}', '{nope}:443'], tlsInspection: { exempt: ['{nope}'] } });
    expect(problemOf(() => addNetworkFault(parts, allow!, { device: 'd.test', port: '8443' }, 'network', policyListField('allow-list')))).toMatchObject({ field: 'network.allowList[1]' });
    expect(problemOf(() => addNetworkFault(parts, ti!, {}, 'network', policyListField('tls-inspection')))).toMatchObject({ field: 'network.tlsInspection.exempt[0]' });
  });
});

describe('placeholders', () => {
  const tenant = { id: '3f2c1d9e-8b7a-4c6d-9e5f-1a2b3c4d5e6f', subdomain: 'accuhive', region: 'eu' as const, zone: 'mdmsim.test', deviceDomainStyle: 'devices' as const };
  const names = { ...fleetNames('https://accuhive.web-api.eu.mdmsim.test:8443', 'ws://127.0.0.1:5223'), ...tenantNames(tenant) };

  test("a fleet's and a tenant's names, in the guide's shapes", () => {
    expect(names).toMatchObject({
      server: 'accuhive.web-api.eu.mdmsim.test',
      port: '8443',
      apns: '127.0.0.1',
      'apns-port': '5223',
      device: `${tenant.id}.devices.eu.mdmsim.test`,
      'device-web-api': `${tenant.id}.web-api.eu.mdmsim.test`,
      'device-devices': `${tenant.id}.devices.eu.mdmsim.test`,
      enrollment: 'accuhive.web-api.eu.mdmsim.test',
      'agent-downloads': 'prd-eu.s3.mdmsim.test',
      telemetry: '*.iot.eu.mdmsim.test',
      zone: 'mdmsim.test',
    });
    expect(fillNames('{telemetry}:{port}', names, 'x')).toBe('*.iot.eu.mdmsim.test:8443');
  });

  test('an unknown name is a 400 naming the field and the names known', () => {
    const p = problemOf(() => fillNames('{devise}:{port}', names, 'fault.allow[0]'));
    expect(p).toMatchObject({ status: 400, code: 'unknown-network-name', field: 'fault.allow[0]', message: 'fault.allow[0]: {devise} is not a name this fleet knows' });
    expect(p.expected).toContain('{device}');
  });
});

describe("a Mac's network over the fleet's", () => {
  const names = { device: 'd.test', port: '443' };
  const parts = (...faults: Parameters<typeof addNetworkFault>[1][]): NetworkParts => {
    const p: NetworkParts = {};
    for (const f of faults) addNetworkFault(p, f, names);
    return p;
  };

  test('an open network is no policy at all', () => {
    expect(mergeParts(undefined, undefined)).toBeUndefined();
    expect(mergeParts({}, {})).toBeUndefined();
    expect(reachable(undefined, 'anything.test', 1)).toBe(true);
  });

  test('kind by kind, the Mac wins; the rest comes from the fleet; each says whose it is', () => {
    const fleet = parts({ kind: 'allow-list', allow: ['{device}:{port}'] }, { kind: 'proxy' });
    const mac = parts({ kind: 'tls-inspection', exempt: ['{device}'] });
    const p = mergeParts(fleet, mac)!;
    expect(p).toMatchObject({ allowText: ['d.test:443'], proxy: true, viaProxy: true, inspection: { exempt: ['d.test'] }, from: { allow: 'fleet', proxy: 'fleet', tlsInspection: 'mac' } });
    expect(reachable(p, 'd.test', 443)).toBe(true);
    expect(reachable(p, 'd.test', 8443)).toBe(false);
    expect(exemptFromInspection(p, 'd.test')).toBe(true);
    expect(exemptFromInspection(p, 'other.test')).toBe(false);
    const override = mergeParts(fleet, parts({ kind: 'allow-list', allow: ['other.test:443'] }))!;
    expect(override.allowText).toEqual(['other.test:443']);
    expect(override.from.allow).toBe('mac');
  });

  test('inspection alone puts the inspector in the path without making it an explicit proxy', () => {
    const p = mergeParts(undefined, parts({ kind: 'tls-inspection', exempt: [] }))!;
    expect(p).toMatchObject({ viaProxy: true, proxy: false });
  });
});
