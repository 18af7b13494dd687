/** Prism's filter parser and cursor codec on hand-made device views (no server). */
import type { ApiDevice } from '../../../server/api/device-view';
import { decodeCursor, encodeCursor } from '../../../server/api/prism/cursor';
import { parseFilter, parseKandjiDate } from '../../../server/api/prism/filter';

const base: ApiDevice = {
  deviceId: '00000000-0000-5000-8000-000000000001',
  enrollmentId: 'UDID-1',
  name: "Ada's MacBook Pro",
  model: 'MacBook Pro (14-inch, 2021)',
  serialNumber: 'C02ZT1ABMD6T',
  platform: 'Mac',
  osVersion: '14.4.1',
  mdmEnabled: true,
  lastMdmCheckinAt: Date.UTC(2024, 0, 26, 16, 15, 36, 87),
  agentInstalled: true,
  agentVersion: '4.5.9 (5160)',
  lastCheckinAt: Date.UTC(2024, 0, 26, 16, 15, 36, 87),
  isMissing: false,
  isRemoved: false,
};
const device = (over: Partial<ApiDevice>): ApiDevice => ({ ...base, ...over });
const f = (filter: unknown) => parseFilter(JSON.stringify(filter))!;

describe('parseFilter', () => {
  it('ands every field and operator', () => {
    const p = f({ serial_number: { like: 'zt1' }, mdm_enabled: { eq: true }, os_version: { not_in: ['13.6'] } });
    expect(p(base)).toBe(true);
    expect(p(device({ mdmEnabled: false }))).toBe(false);
  });

  it('treats null as its own value: eq/in null match it, comparisons never do', () => {
    const none = device({ agentInstalled: null, agentVersion: undefined });
    expect(f({ agent_installed: { eq: null } })(none)).toBe(true);
    expect(f({ agent_installed: { in: [false, null] } })(none)).toBe(true);
    expect(f({ agent_version: { gt: '' } })(none)).toBe(false);
    expect(f({ agent_version: { not_like: '4.5' } })(none)).toBe(true);
  });

  it('accepts "true"/"false" strings for booleans, and every ISO form for dates', () => {
    expect(f({ mdm_enabled: { eq: 'True' } })(base)).toBe(true);
    for (const when of ['2024-01-26T16:15:36.087Z', '2024-01-26 16:15:36.087016+00:00', '2024-01-26T17:15:36.087+01:00', '2024-01-26T16:15:36.087+0000']) {
      expect(f({ last_checkin_mdm: { eq: when } })(base)).toBe(true);
    }
    expect(f({ last_checkin_mdm: { gte: '2024-01-26' } })(base)).toBe(true);
    expect(f({ last_checkin_mdm: { lt: '2024-01-26' } })(base)).toBe(false);
  });

  it('filters nothing for an empty filter', () => {
    expect(parseFilter('')).toBeUndefined();
    expect(parseFilter('{}')).toBeUndefined();
  });

  it.each([
    ['[1]', /JSON object/],
    ['{"x":{"eq":1}}', /unknown field "x"/],
    ['{"serial_number":"C02"}', /object of operator/],
    ['{"serial_number":{"like":[]}}', /string or a list of strings/],
    ['{"last_checkin":{"gt":null}}', /cannot compare with null/],
  ])('explains %s', (text, message) => {
    expect(() => parseFilter(text)).toThrow(message);
  });

  it('parses Kandji dates and refuses others', () => {
    expect(parseKandjiDate('2024-01-26 16:15:36.087016+00:00')).toBe(Date.UTC(2024, 0, 26, 16, 15, 36, 87));
    expect(parseKandjiDate('2024-01-26T16:15')).toBe(Date.UTC(2024, 0, 26, 16, 15));
    expect(parseKandjiDate('26/01/2024')).toBeNaN();
  });
});

describe('cursor', () => {
  it('round-trips a position and refuses one made under another sort', () => {
    const c = encodeCursor({ sort: '-last_checkin', value: 1706285736087, deviceId: base.deviceId });
    expect(c).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(c, '-last_checkin')).toEqual({ sort: '-last_checkin', value: 1706285736087, deviceId: base.deviceId });
    expect(() => decodeCursor(c, 'device_id')).toThrow(/sorted by -last_checkin, not device_id/);
    expect(() => decodeCursor('!!!', 'device_id')).toThrow(/Invalid cursor/);
    expect(() => decodeCursor(Buffer.from('{"s":"device_id"}').toString('base64url'), 'device_id')).toThrow(/Invalid cursor/);
  });
});
