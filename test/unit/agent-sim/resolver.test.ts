/**
 * The simulated Macs' resolver: entries (exact beat wildcards, longer wildcards beat shorter), a
 * function, zones learned from enrollment profiles, localhost, IP literals; unknown names are
 * ENOTFOUND as getaddrinfo says it; --resolve flags in curl's form.
 */
import { Resolver, ResolveError, parseResolveFlag, zoneOf } from '../../../agent-sim/network/resolver';

const ID = '3f2c1d9e-8b7a-4c6d-9e5f-1a2b3c4d5e6f';

describe('Resolver', () => {
  test('exact names beat wildcards, a longer wildcard beats a shorter one, case and a trailing dot do not matter', async () => {
    const r = new Resolver({ '*.mdmsim.test': '127.0.0.1', '*.eu.mdmsim.test': '127.0.0.2', 'special.eu.mdmsim.test': '::1' });
    expect(await r.resolve(`${ID}.web-api.mdmsim.test`)).toBe('127.0.0.1');
    expect(await r.resolve(`${ID}.web-api.eu.mdmsim.test`)).toBe('127.0.0.2');
    expect(await r.resolve('SPECIAL.eu.mdmsim.test.')).toBe('::1');
  });

  test('a wildcard does not cover the bare domain, and an unknown name is ENOTFOUND as getaddrinfo reports it', async () => {
    const r = new Resolver({ '*.mdmsim.test': '127.0.0.1' });
    const error = await r.resolve('mdmsim.test').catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'ENOTFOUND', syscall: 'getaddrinfo', hostname: 'mdmsim.test' });
    expect((error as Error).message).toMatch(/^getaddrinfo ENOTFOUND mdmsim\.test /);
    await expect(r.resolve('example.com')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });

  test('IP literals are themselves, localhost is loopback, as on any Mac', async () => {
    const r = new Resolver();
    expect(await r.resolve('10.1.2.3')).toBe('10.1.2.3');
    expect(await r.resolve('[::1]')).toBe('::1');
    expect(await r.resolve('localhost')).toBe('127.0.0.1');
  });

  test('a function answers what the entries leave out (sync or async); undefined is NXDOMAIN, a non-address an error', async () => {
    const r = new Resolver(async (h) => (h === 'mdm.corp.test' ? '192.0.2.10' : h === 'bad.test' ? 'nope' : undefined));
    expect(await r.resolve('mdm.corp.test')).toBe('192.0.2.10');
    await expect(r.resolve('other.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
    await expect(r.resolve('bad.test')).rejects.toThrow(/not an IP address/);
  });

  test('entries are checked: a pattern that is not a name, an address that is not an IP', () => {
    expect(() => new Resolver({ 'https://x.test': '127.0.0.1' })).toThrow(ResolveError);
    expect(() => new Resolver({ 'x.test': 'localhost' })).toThrow(/"localhost" for x\.test is not an IP address/);
    expect(() => new Resolver({ '*.*.test': '127.0.0.1' })).toThrow(/not a host name or \*\.domain/);
  });

  test('lookup answers as net expects, one address or all of them', async () => {
    const r = new Resolver({ 'a.test': '::1' });
    const one = await new Promise<[unknown, unknown, unknown]>((res) => r.lookup('a.test', {}, (err, address, family) => res([err, address, family])));
    expect(one).toEqual([null, '::1', 6]);
    const all = await new Promise<[unknown, unknown]>((res) => r.lookup('a.test', { all: true }, (err, addresses) => res([err, addresses])));
    expect(all).toEqual([null, [{ address: '::1', family: 6 }]]);
    const missing = await new Promise<unknown>((res) => r.lookup('b.test', {}, (err) => res(err)));
    expect(missing).toMatchObject({ code: 'ENOTFOUND' });
    expect(r.lookups).toBe(3);
  });

  test('learns the zone of an enrollment profile at the address it came from, without overriding what it was given', async () => {
    const r = new Resolver({ 'mdm.lab.test': '127.0.0.1', 'pinned.other.test': '127.0.0.9' });
    expect(await r.learnProfileZone('https://mdm.lab.test:8443/mdm/enroll', [`https://${ID}.web-api.mdmsim.test:8443/mdm/connect`])).toBe('*.mdmsim.test');
    expect(await r.resolve(`prd.s3.mdmsim.test`)).toBe('127.0.0.1');
    // A name of another shape is learned alone; a known one is left where it is.
    expect(await r.learnProfileZone('https://mdm.lab.test:8443/mdm/enroll', ['https://mdm.elsewhere.test/mdm', 'https://pinned.other.test/x'])).toBe('mdm.elsewhere.test');
    expect(await r.resolve('pinned.other.test')).toBe('127.0.0.9');
    await expect(r.resolve('other.elsewhere.test')).rejects.toMatchObject({ code: 'ENOTFOUND' });
  });
});

describe('zoneOf', () => {
  test.each([
    [`${ID}.web-api.mdmsim.test`, 'mdmsim.test'],
    [`${ID}.web-api.eu.mdmsim.test`, 'mdmsim.test'],
    [`${ID}.devices.us-1.lab.example.test`, 'lab.example.test'],
    [`${ID}.devices.eu.mdmsim.test`, 'mdmsim.test'],
    ['accuhive.web-api.mdmsim.test', 'mdmsim.test'],
    ['accuhive.web-api.eu.mdmsim.test', 'mdmsim.test'],
    ['mdm.example.test', undefined],
    // As protocol/tenant.ts reads names: a zone has two labels, so this is a US name under eu.test.
    [`${ID}.web-api.eu.test`, 'eu.test'],
    [`${ID}.devices.us-2.mdmsim.test`, undefined],
  ])('%s → %s', (host, zone) => expect(zoneOf(host)).toBe(zone));
});

describe('--resolve HOST:ADDRESS', () => {
  test.each([
    ['*.mdmsim.test:127.0.0.1', { pattern: '*.mdmsim.test', address: '127.0.0.1' }],
    ['mdm.example.test:[::1]', { pattern: 'mdm.example.test', address: '::1' }],
    ["mdm.example.test:443:10.0.0.5", { pattern: 'mdm.example.test', address: '10.0.0.5' }],
  ])('%s', (flag, entry) => expect(parseResolveFlag(flag)).toEqual(entry));

  test.each(['mdmsim.test', 'mdm.test:', 'mdm.test:not-an-ip', ':127.0.0.1'])('refuses %s with what it expects', (flag) => {
    expect(() => parseResolveFlag(flag)).toThrow(/--resolve/);
  });
});
