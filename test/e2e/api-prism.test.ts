/**
 * GET /api/v1/prism/device_information over HTTPS: the envelope and record contract (every
 * field name, type and format of the fact sheet), offset and cursor paging to the end, cursors
 * that stay correct while devices enroll, the filter language, sort_by, and the 400s.
 */
import { seedDevices, type SeededDevice } from '../../bench/lib/seed-devices';
import { deviceIdFor } from '../../server/api/device-view';
import { POLICIES_OFF } from '../helpers/agent';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const PATH = '/api/v1/prism/device_information';
const COUNT = 40;

let t: TestServer;
let seeded: SeededDevice[];
beforeAll(async () => {
  t = await startTestServer({ ...POLICIES_OFF, apiRateLimits: { perSecond: 0, perHour: 0 } });
  seeded = seedDevices(t.server.store, COUNT, T0);
});
afterAll(() => t.stop());

const prism = (query = '') => t.http.api('GET', `${PATH}${query}`, t.token);

const ISO_OFFSET = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('the contract', () => {
  it('answers the envelope {cursor, data, limit, offset, total} and nothing else', async () => {
    const r = await prism();
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toMatch(/^application\/json/);
    expect(Object.keys(r.json).sort()).toEqual(['cursor', 'data', 'limit', 'offset', 'total']);
    expect(r.json).toMatchObject({ limit: 300, offset: 0, total: COUNT, cursor: null });
    expect(r.json.data).toHaveLength(COUNT);
  });

  it('pins every record field: names, order, types and formats', async () => {
    const r = await prism();
    for (const rec of r.json.data as Record<string, unknown>[]) {
      expect(Object.keys(rec)).toEqual([
        'device_id',
        'device__name',
        'device__family',
        'serial_number',
        'model',
        'os_version',
        'mdm_enabled',
        'agent_installed',
        'agent_version',
        'last_checkin',
        'last_checkin_mdm',
        'last_checkin_agent',
        'first_enrollment_date',
        'last_enrollment_date',
      ]);
      expect(rec.device_id).toMatch(UUID);
      for (const k of ['device__name', 'serial_number', 'model', 'os_version']) expect(typeof rec[k]).toBe('string');
      expect(['Mac', 'iPhone', 'iPad', 'AppleTV']).toContain(rec.device__family);
      expect(typeof rec.mdm_enabled).toBe('boolean');
      expect([true, false, null]).toContain(rec.agent_installed);
      expect(rec.agent_version === null || typeof rec.agent_version === 'string').toBe(true);
      for (const k of ['last_checkin', 'last_checkin_mdm', 'first_enrollment_date', 'last_enrollment_date']) expect(rec[k]).toMatch(ISO_OFFSET);
      expect(rec.last_checkin_agent === null || ISO_OFFSET.test(rec.last_checkin_agent as string)).toBe(true);
    }
  });

  it('shows each device as it is: Macs with and without an agent, an iPhone with none possible', async () => {
    const byId = new Map((await prism()).json.data.map((r: { device_id: string }) => [r.device_id, r]));
    const withAgent = seeded.find((d) => d.platform === 'macOS' && d.hasAgent)!;
    const e = t.server.store.getEnrollment(withAgent.udid)!;
    expect(byId.get(deviceIdFor(withAgent.udid))).toEqual({
      device_id: deviceIdFor(withAgent.udid),
      device__name: e.deviceName,
      device__family: 'Mac',
      serial_number: withAgent.serialNumber,
      model: expect.stringMatching(/\(.*\d{4}\)$/), // the marketing name, "MacBook Air (M1, 2020)"
      os_version: e.osVersion,
      mdm_enabled: true,
      agent_installed: true,
      agent_version: '4.5.9 (5160)',
      last_checkin: isoOffset(Math.max(e.lastSeenAt, e.agentLastCheckinAt!)),
      last_checkin_mdm: isoOffset(e.lastSeenAt),
      last_checkin_agent: isoOffset(e.agentLastCheckinAt!),
      first_enrollment_date: isoOffset(e.enrolledAt!),
      last_enrollment_date: isoOffset(e.enrolledAt!),
    });
    const noAgent = seeded.find((d) => d.platform === 'macOS' && !d.hasAgent)!;
    expect(byId.get(deviceIdFor(noAgent.udid))).toMatchObject({ device__family: 'Mac', agent_installed: false, agent_version: null, last_checkin_agent: null });
    const iphone = seeded.find((d) => d.platform === 'iOS')!;
    expect(byId.get(deviceIdFor(iphone.udid))).toMatchObject({ device__family: 'iPhone', agent_installed: null, agent_version: null, last_checkin_agent: null });
  });
});

describe('paging', () => {
  it('follows cursors with limit=1 from an empty cursor= to a null cursor, each device once', async () => {
    const ids: string[] = [];
    let cursor = '';
    for (let pages = 0; ; pages++) {
      expect(pages).toBeLessThan(COUNT + 1);
      const r = await prism(`?limit=1&cursor=${encodeURIComponent(cursor)}`);
      expect(r.status).toBe(200);
      expect(r.json).toMatchObject({ limit: 1, offset: null, total: COUNT });
      ids.push(...r.json.data.map((d: { device_id: string }) => d.device_id));
      if (r.json.cursor === null) break;
      expect(typeof r.json.cursor).toBe('string');
      cursor = r.json.cursor;
    }
    expect(ids).toHaveLength(COUNT);
    expect(new Set(ids).size).toBe(COUNT);
    expect(ids).toEqual([...ids].sort());
  });

  it('hands a cursor to a first page asked without one, so a client may start with ?limit=N', async () => {
    const first = await prism('?limit=10');
    expect(first.json).toMatchObject({ offset: 0, limit: 10 });
    const second = await prism(`?limit=10&cursor=${first.json.cursor}`);
    expect(second.json.data[0].device_id > first.json.data[9].device_id).toBe(true);
  });

  it('pages by offset to the end, then answers an empty page', async () => {
    const ids: string[] = [];
    for (let offset = 0; ; offset += 7) {
      const r = await prism(`?limit=7&offset=${offset}`);
      expect(r.json).toMatchObject({ limit: 7, offset, total: COUNT });
      if (r.json.data.length === 0) break;
      ids.push(...r.json.data.map((d: { device_id: string }) => d.device_id));
    }
    expect(new Set(ids).size).toBe(COUNT);
  });

  it('caps limit at 300 and falls back to it for a bad one, as DRF does', async () => {
    expect((await prism('?limit=1000')).json.limit).toBe(300);
    expect((await prism('?limit=0')).json.limit).toBe(300);
    expect((await prism('?limit=abc')).json.limit).toBe(300);
  });

  it('accepts the trailing slash', async () => {
    const r = await t.http.api('GET', `${PATH}/?limit=2`, t.token);
    expect(r.status).toBe(200);
    expect(r.json.data).toHaveLength(2);
  });
});

describe('filter and sort_by', () => {
  const all = async () => (await prism()).json.data as Record<string, any>[];
  const filtered = async (filter: unknown, extra = '') => prism(`?filter=${encodeURIComponent(JSON.stringify(filter))}${extra}`);

  it('in / not_in on serial numbers, and total counts the selection', async () => {
    const serials = seeded.slice(0, 3).map((d) => d.serialNumber);
    const r = await filtered({ serial_number: { in: serials } });
    expect(r.json.total).toBe(3);
    expect(r.json.data.map((d: { serial_number: string }) => d.serial_number).sort()).toEqual([...serials].sort());
    const rest = await filtered({ serial_number: { not_in: serials } });
    expect(rest.json.total).toBe(COUNT - 3);
  });

  it('eq on booleans and on the tri-state agent_installed (null included)', async () => {
    const records = await all();
    for (const value of [true, false, null]) {
      const r = await filtered({ agent_installed: { eq: value } });
      expect(r.json.total).toBe(records.filter((d) => d.agent_installed === value).length);
      expect(r.json.total).toBeGreaterThan(0);
    }
    expect((await filtered({ mdm_enabled: { eq: true } })).json.total).toBe(records.filter((d) => d.mdm_enabled).length);
  });

  it('like / not_like: contains, ignoring case, any of a list', async () => {
    const records = await all();
    const r = await filtered({ os_version: { like: ['14.'] }, device__family: { in: ['Mac'] } });
    expect(r.json.total).toBe(records.filter((d) => d.os_version.includes('14.') && d.device__family === 'Mac').length);
    const iphones = await filtered({ device__name: { like: 'IPHONE' } });
    expect(iphones.json.total).toBe(records.filter((d) => d.device__name.toLowerCase().includes('iphone')).length);
    const notIphones = await filtered({ device__name: { not_like: ['iphone'] } });
    expect(notIphones.json.total).toBe(COUNT - iphones.json.total);
  });

  it('lt / gt / lte / gte on dates, as times', async () => {
    const records = await all();
    const pivot = records.map((d) => d.last_checkin_mdm).sort()[Math.floor(COUNT / 2)]!;
    const lt = await filtered({ last_checkin_mdm: { lt: pivot } });
    const gte = await filtered({ last_checkin_mdm: { gte: pivot } });
    expect(lt.json.total + gte.json.total).toBe(COUNT);
    expect(lt.json.total).toBe(records.filter((d) => d.last_checkin_mdm < pivot).length);
    // The same instant written as ISO with Z.
    const asZ = new Date(Date.parse(pivot.replace(/(\.\d{3})\d{3}\+00:00$/, '$1Z'))).toISOString();
    expect((await filtered({ last_checkin_mdm: { gte: asZ } })).json.total).toBe(gte.json.total);
    const lte = await filtered({ first_enrollment_date: { lte: '2000-01-01' } });
    expect(lte.json.total).toBe(0);
    expect((await filtered({ last_checkin_agent: { gt: '2000-01-01' } })).json.total).toBe(records.filter((d) => d.last_checkin_agent !== null).length);
  });

  it('device_families selects families', async () => {
    const records = await all();
    expect((await prism('?device_families=iPhone')).json.total).toBe(records.filter((d) => d.device__family === 'iPhone').length);
  });

  it('sort_by a field, ascending and descending (-), with cursors that follow it', async () => {
    const asc = (await prism('?sort_by=serial_number')).json.data.map((d: { serial_number: string }) => d.serial_number);
    expect(asc).toEqual([...asc].sort());
    const desc = (await prism('?sort_by=-last_checkin')).json.data.map((d: { last_checkin: string }) => d.last_checkin);
    expect(desc).toEqual([...desc].sort().reverse());
    const paged: string[] = [];
    let cursor = '';
    for (;;) {
      const r = await prism(`?sort_by=-last_checkin&limit=6&cursor=${cursor}`);
      paged.push(...r.json.data.map((d: { last_checkin: string }) => d.last_checkin));
      if (r.json.cursor === null) break;
      cursor = r.json.cursor;
    }
    expect(paged).toEqual(desc);
    const byIdDesc = (await prism('?sort_by=-device_id&limit=3')).json;
    const next = (await prism(`?sort_by=-device_id&limit=3&cursor=${byIdDesc.cursor}`)).json;
    const ids = [...byIdDesc.data, ...next.data].map((d: { device_id: string }) => d.device_id);
    expect(ids).toEqual([...ids].sort().reverse());
  });

  it.each([
    ['filter that is not JSON', `?filter=${encodeURIComponent('{serial_number:')}`, /not valid JSON/],
    ['unknown field', `?filter=${encodeURIComponent('{"colour":{"eq":"red"}}')}`, /unknown field "colour"; fields: device_id/],
    ['unknown operator', `?filter=${encodeURIComponent('{"serial_number":{"regex":"C02"}}')}`, /unknown operator "regex".*operators: eq, in, not_in, like/],
    ['in without a list', `?filter=${encodeURIComponent('{"serial_number":{"in":"C02"}}')}`, /takes a list/],
    ['a date that is not one', `?filter=${encodeURIComponent('{"last_checkin":{"lt":"yesterday"}}')}`, /ISO 8601/],
    ['a boolean that is not one', `?filter=${encodeURIComponent('{"mdm_enabled":{"eq":"yes"}}')}`, /true, false/],
    ['unknown sort_by', '?sort_by=colour', /sort_by: unknown field "colour"/],
    ['a cursor that is not one', '?cursor=nonsense', /Invalid cursor/],
  ])('400 {"detail"} for a %s', async (_what, query, detail) => {
    const r = await prism(query);
    expect(r.status).toBe(400);
    expect(Object.keys(r.json)).toEqual(['detail']);
    expect(r.json.detail).toMatch(detail);
  });

  it('400 for a cursor made under another sort_by', async () => {
    const { cursor } = (await prism('?limit=2&sort_by=serial_number')).json;
    const r = await prism(`?limit=2&cursor=${cursor}`);
    expect(r.status).toBe(400);
    expect(r.json.detail).toMatch(/sorted by serial_number, not device_id/);
  });
});

// Last: it enrolls more devices.
describe('cursors while devices enroll', () => {
  it('shows a Mac once it has enrolled, not at its Authenticate alone (default order and sorted alike)', async () => {
    const store = t.server.store;
    const before = (await prism()).json.total;
    const udid = 'A1B2C3D4-0000-4000-8000-00000000AUTH';
    store.storeAuthenticate({ id: udid, topic: 'com.apple.mgmt.External.x', serialNumber: 'C02MIDENROLL', platform: 'macOS', osVersion: '14.4.1' }, T0);
    for (const query of ['', '?sort_by=serial_number', '?offset=1']) {
      const r = await prism(query);
      expect(r.json.total).toBe(before);
      expect(r.json.data.map((d: { serial_number: string }) => d.serial_number)).not.toContain('C02MIDENROLL');
    }
    store.storeTokenUpdate(udid, { topic: 'com.apple.mgmt.External.x', token: 'ab'.repeat(32), pushMagic: 'magic' }, T0 + 1000);
    for (const query of ['', '?sort_by=serial_number']) {
      const r = await prism(query);
      expect(r.json.total).toBe(before + 1);
      expect(r.json.data.find((d: { serial_number: string }) => d.serial_number === 'C02MIDENROLL')).toMatchObject({ device_id: deviceIdFor(udid), mdm_enabled: true });
    }
  });

  it('keeps a cursor correct while devices enroll between pages: none repeated, none of the first listing lost', async () => {
    const store = t.server.store;
    const before = new Set((await prism()).json.data.map((d: { device_id: string }) => d.device_id));
    const seen: string[] = [];
    let cursor = '';
    let extra = 0;
    for (;;) {
      const r = await prism(`?limit=5&cursor=${cursor}`);
      seen.push(...r.json.data.map((d: { device_id: string }) => d.device_id));
      // Two devices enroll after every page; some sort before the cursor, some after.
      seedDevices(store, 2, T0, { first: 1000 + extra });
      extra += 2;
      if (r.json.cursor === null) break;
      cursor = r.json.cursor;
    }
    expect(new Set(seen).size).toBe(seen.length);
    for (const id of before) expect(seen).toContain(id);
  });
});

function isoOffset(ms: number): string {
  return new Date(ms).toISOString().replace('Z', '000+00:00');
}
