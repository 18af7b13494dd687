import { describeDeviceFaults, describeNetwork, describeNetworkFault, describeNetworkState } from '../../../protocol/describe-faults';

describe('a network in words', () => {
  test('each kind, and a network of several', () => {
    expect(describeNetworkFault({ kind: 'allow-list', allow: ['{device}:{port}', '*.iot.mdmsim.test:443'] })).toBe('only {device}:{port}, *.iot.mdmsim.test:443 reachable');
    expect(describeNetworkFault({ kind: 'proxy' })).toBe('HTTPS through the proxy');
    expect(describeNetworkFault({ kind: 'tls-inspection', exempt: [] })).toBe('TLS inspection of every connection');
    expect(describeNetworkFault({ kind: 'tls-inspection', exempt: ['a.test', 'b.test'] })).toBe('TLS inspection except a.test, b.test');
    expect(describeNetwork([])).toBe('open');
    expect(describeNetwork([{ kind: 'allow-list', allow: ['a.test:443'] }, { kind: 'proxy' }])).toBe('only a.test:443 reachable; HTTPS through the proxy');
  });

  test("the fault state's network reads as the faults it comes from", () => {
    expect(describeNetworkState(undefined)).toBe('open');
    expect(describeNetworkState({ allow: ['a.test:443'], tlsInspection: { exempt: ['a.test'] }, from: { allow: 'fleet', tlsInspection: 'mac' } })).toBe('only a.test:443 reachable; TLS inspection except a.test');
  });
});

test('any fault, as the server and a lab write sim.fault (network lists keep their commas)', () => {
  expect(describeDeviceFaults([{ kind: 'offline', forMs: 3 * 86_400_000 }, { kind: 'notnow', connects: 1 }, { kind: 'package-download', mode: 'corrupt', count: 2 }, { kind: 'agent-crashed' }])).toBe('offline for 3d; NotNow for 1 connect; package download corrupted (2×); agent-crashed');
  expect(describeDeviceFaults([{ kind: 'tls-inspection', exempt: ['a.test', 'b.test'] }, { kind: 'proxy' }])).toBe('TLS inspection except a.test, b.test; HTTPS through the proxy');
});
