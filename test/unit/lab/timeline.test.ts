import { formatEvent, formatTimeline, virtualTime } from '../../../lab/timeline';
import type { EventRecord } from '../../../server/storage/types';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const MIN = 60_000;
let id = 0;
const ev = (at: number, type: string, summary: string, extra: Partial<EventRecord> = {}): EventRecord => ({ id: ++id, at, type, from: 'device', to: 'mdm', summary, udid: 'AAAA-1', ...extra });

describe('timeline', () => {
  it('shows virtual time as day N and the clock time', () => {
    expect(virtualTime(T0, T0)).toBe('day  0 09:00:00');
    expect(virtualTime(T0 + 2 * 86_400_000 + 61 * MIN, T0)).toBe('day  2 10:01:00');
  });

  it('prints one line per exchange: time, device, from → to, summary; coloured only when asked', () => {
    const e = ev(T0, 'mdm.checkin', 'Authenticate (Mac14,2)');
    const labelOf = () => 'Mac 1';
    expect(formatEvent(e, { start: T0, labelOf })).toBe('day  0 09:00:00  Mac 1   Mac → MDM          Authenticate (Mac14,2)');
    const fired = ev(T0, 'agent.reinstall.fired', 'agent silent for 7d');
    expect(formatEvent(fired, { start: T0, labelOf, color: true })).toMatch(/^\x1b\[33m.*\x1b\[0m$/);
    expect(formatEvent(fired, { start: T0, labelOf })).not.toMatch(/\x1b/);
  });

  it('folds routine agent check-ins into one line per device per day, where the first one was, keeping everything else', () => {
    const checkin = (at: number, kind: string) => ev(at, 'agent.checkin', `agent ${kind} check-in`, { from: 'agent', data: { kind } });
    const events = [
      checkin(T0, 'install'),
      checkin(T0 + 15 * MIN, 'recurring'),
      ev(T0 + 20 * MIN, 'sim.fault', 'fault: agent-crashed', { from: 'operator', to: 'device' }),
      checkin(T0 + 30 * MIN, 'recurring'),
      checkin(T0 + 86_400_000 + 15 * MIN, 'inventory'),
    ];
    const lines = formatTimeline(events, { start: T0, labelOf: () => 'Mac 1' });
    expect(lines).toEqual([
      'day  0 09:00:00  Mac 1   agent → MDM        agent install check-in',
      'day  0 09:15:00  Mac 1   agent → MDM        2 routine agent check-ins, the last at day 0 09:30:00',
      'day  0 09:20:00  Mac 1   operator → Mac     fault: agent-crashed',
      'day  1 09:15:00  Mac 1   agent → MDM        1 routine agent check-in',
    ]);
    expect(formatTimeline(events, { start: T0, fold: false })).toHaveLength(5);
  });

  it("folds a proxy's CONNECTs by what the proxy did: tunnelled, exempt and inspected ones are separate lines; refusals stay", () => {
    const connect = (at: number, outcome: string, more: Record<string, unknown> = {}) =>
      ev(at, 'network.proxy.connect', `CONNECT d.test:443 → ${outcome}`, { to: 'device', data: { host: 'd.test', port: 443, outcome, ...more } });
    const events = [
      connect(T0, 'inspected', { for: 'mdm' }),
      connect(T0 + MIN, 'tunnel'),
      connect(T0 + 2 * MIN, 'inspected', { for: 'agent' }),
      connect(T0 + 3 * MIN, 'blocked'),
      connect(T0 + 4 * MIN, 'tunnel', { exempt: true }),
      connect(T0 + 5 * MIN, 'tunnel'),
    ];
    const lines = formatTimeline(events, { start: T0, labelOf: () => 'Mac 1' }).map((l) => l.slice(17).replace(/ +/g, ' '));
    expect(lines).toEqual([
      'Mac 1 Mac → proxy 2 CONNECTs TLS-inspected by the proxy (the first: CONNECT d.test:443 → inspected), the last at day 0 09:02:00',
      'Mac 1 Mac → proxy 2 CONNECTs tunnelled through the proxy (the first: CONNECT d.test:443 → tunnel), the last at day 0 09:05:00',
      'Mac 1 Mac → Mac CONNECT d.test:443 → blocked',
      'Mac 1 Mac → proxy 1 CONNECT tunnelled untouched (exempt from inspection) (the first: CONNECT d.test:443 → tunnel)',
    ]);
  });
});
