import { eventsToMermaid, mermaidText } from '../../server/service/mermaid';
import type { EventRecord } from '../../server/storage/types';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const DAY = 86_400_000;
let nextId = 1;
function ev(at: number, type: string, from: string, to: string, summary: string, udid?: string, data?: Record<string, unknown>): EventRecord {
  return { id: nextId++, at, type, from, to, summary, udid, data };
}

/** Every line a Mermaid sequence diagram we emit may have; none may carry a raw `;`. */
const LINE = /^(sequenceDiagram|    participant [A-Za-z]+\d* as (?:#\d+;|[^;#\n])+|    participant [A-Za-z]+|    [A-Za-z]+\d*->>[A-Za-z]+\d*: (?:#\d+;|[^;#\n])+|    Note over [A-Za-z]+\d*: (?:#\d+;|[^;#\n])+)$/;

function lines(text: string): string[] {
  expect(text.endsWith('\n')).toBe(true);
  const out = text.slice(0, -1).split('\n');
  for (const l of out) expect(l).toMatch(LINE);
  return out;
}

describe('mermaidText', () => {
  it('writes the characters Mermaid gives meaning to as entity codes, in one pass', () => {
    expect(mermaidText('a;b#c<d>e\nf')).toBe('a#59;b#35;c#60;d#62;e f');
    expect(mermaidText('time 09:15: ok')).toBe('time 09:15: ok');
  });
});

describe('eventsToMermaid', () => {
  it('draws one device as Mac, MDM server, APNs and agent, with virtual times on every arrow', () => {
    const u = 'AAAA1111-0000-0000-0000-000000000001';
    const text = eventsToMermaid(
      [
        ev(T0, 'mdm.checkin.authenticate', 'device', 'mdm', 'Authenticate (Mac14,2)', u),
        ev(T0 + 1000, 'mdm.push', 'mdm', 'apns', 'POST /3/device/abc → 200', u),
        ev(T0 + 2000, 'apns.deliver', 'apns', 'device', 'push delivered', u),
        ev(T0 + 3000, 'agent.install.queued', 'policy', 'mdm', 'InstallEnterpriseApplication queued; attempt 1', u),
        ev(T0 + 4000, 'sim.fault', 'operator', 'device', 'agent-uninstalled', u),
        ev(T0 + 5000, 'agent.checkin', 'agent', 'mdm', 'agent install check-in', u, { kind: 'install' }),
      ],
      { labelOf: () => '1' },
    );
    expect(lines(text)).toEqual([
      'sequenceDiagram',
      '    participant Mac as Mac 1',
      '    participant MDM as MDM server',
      '    participant APNs',
      '    participant Agent as agent',
      '    Mac->>MDM: day 0 09:00 Authenticate (Mac14,2)',
      '    MDM->>APNs: day 0 09:00 POST /3/device/abc → 200',
      '    APNs->>Mac: day 0 09:00 push delivered',
      '    Note over MDM: policy: day 0 09:00 InstallEnterpriseApplication queued#59; attempt 1',
      '    Note over Mac: operator: day 0 09:00 agent-uninstalled',
      '    Agent->>MDM: day 0 09:00 agent install check-in',
    ]);
  });

  it('gives each device its own Mac and agent, and folds routine check-ins per device per day', () => {
    const a = 'A';
    const b = 'B';
    const events = [ev(T0, 'mdm.checkin.authenticate', 'device', 'mdm', 'Authenticate', a), ev(T0, 'mdm.checkin.authenticate', 'device', 'mdm', 'Authenticate', b)];
    for (let i = 1; i <= 4; i++) events.push(ev(T0 + i * 900_000, 'agent.checkin', 'agent', 'mdm', 'recurring', a, { kind: 'recurring' }));
    events.push(ev(T0 + DAY, 'agent.checkin', 'agent', 'mdm', 'recurring', b, { kind: 'recurring' }));
    const out = lines(eventsToMermaid(events, { start: T0, labelOf: (u) => (u === a ? '1' : '2') }));
    expect(out.slice(1, 6)).toEqual(['    participant Mac1 as Mac 1', '    participant Mac2 as Mac 2', '    participant MDM as MDM server', '    participant APNs', '    participant Agent1 as agent 1']);
    expect(out).toContain('    Agent1->>MDM: day 0 09:15 4 routine agent check-ins, the last at day 0 10:00');
    expect(out).toContain('    Agent2->>MDM: day 1 09:00 1 routine agent check-in');
    expect(out.filter((l) => l.includes('routine'))).toHaveLength(2);
  });

  it('stops at maxLines and says how many exchanges it left out', () => {
    const events = Array.from({ length: 10 }, (_, i) => ev(T0 + i, 'mdm.connect.idle', 'device', 'mdm', `Idle ${i}`, 'A'));
    const out = lines(eventsToMermaid(events, { maxLines: 3 }));
    expect(out.filter((l) => l.includes('->>'))).toHaveLength(3);
    expect(out[out.length - 1]).toBe('    Note over MDM: 7 more exchanges not drawn (narrow the device or time window)');
  });

  it('draws an empty run as a diagram with its participants only', () => {
    expect(lines(eventsToMermaid([]))).toEqual(['sequenceDiagram', '    participant Mac', '    participant MDM as MDM server', '    participant APNs', '    participant Agent as agent']);
  });
});
