import { sanEntriesFor, sanEntryFor } from '../../../server/pki';

function ipHex(host: string): string {
  const entry = sanEntryFor(host);
  if (entry.kind !== 'ip') throw new Error(`${host} was taken for a DNS name`);
  return entry.bytes.toString('hex');
}

describe('sanEntryFor', () => {
  it.each([
    ['127.0.0.1', '7f000001'],
    ['10.1.2.3', '0a010203'],
    ['::1', '00000000000000000000000000000001'],
    ['[::1]', '00000000000000000000000000000001'],
    ['::', '00000000000000000000000000000000'],
    ['2001:db8::', '20010db8000000000000000000000000'],
    ['fe80::1:2%eth0', 'fe800000000000000000000000010002'],
    ['FD00:0:0:0:0:0:0:5', 'fd000000000000000000000000000005'],
    ['::ffff:192.168.1.2', '00000000000000000000ffffc0a80102'],
    ['64:ff9b::10.0.0.1', '0064ff9b00000000000000000a000001'],
  ])('reads %s as IP address bytes %s', (host, hex) => {
    expect(ipHex(host)).toBe(hex);
  });

  it.each([
    ['localhost', 'localhost'],
    ['MDM.Example.TEST', 'mdm.example.test'],
    ['mdm.example.test.', 'mdm.example.test'],
    ['  padded.test ', 'padded.test'],
    ['host_with_underscore.lan', 'host_with_underscore.lan'],
    ['*.example.test', '*.example.test'],
    ['bücher.example', 'xn--bcher-kva.example'],
  ])('reads %s as DNS name %s', (host, name) => {
    expect(sanEntryFor(host)).toEqual({ kind: 'dns', name });
  });

  it.each(['', 'https://mdm.test', 'mdm.test:8443', 'a b', 'mdm.test/path', 'a..b', '-lead.test', 'x.*.test', '999.1.1.1'])(
    'rejects %j with a message saying what is expected',
    (host) => {
      expect(() => sanEntryFor(host)).toThrow(/invalid host .* expected a DNS name .* or an IP address/);
    },
  );
});

describe('sanEntriesFor', () => {
  it('keeps the first spelling of each host, in order', () => {
    expect(sanEntriesFor(['b.test', 'A.test', 'a.test', '::1', '0::1', 'B.TEST']).map((e) => (e.kind === 'dns' ? e.name : e.address))).toEqual([
      'b.test',
      'a.test',
      '::1',
    ]);
  });
});
