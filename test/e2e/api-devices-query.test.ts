/**
 * GET /api/v1/devices over a seeded fleet (Macs and iPhones, dates spread over months): every
 * `ordering` key the README lists, the model / os_version / blueprint_id filters, limit and
 * offset read as Django REST reads them (the same for Prism), and DRF's 405 for a wrong method
 * on a known path.
 */
import { seedDevices } from '../../bench/lib/seed-devices';
import { MDMSIM_BLUEPRINT } from '../../server/api/devices/list';
import { deviceIdFor } from '../../server/api/device-view';
import { POLICIES_OFF } from '../helpers/agent';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const COUNT = 40;

let t: TestServer;
let all: any[];
beforeAll(async () => {
  t = await startTestServer({ ...POLICIES_OFF, apiRateLimits: { perSecond: 0, perHour: 0 } });
  seedDevices(t.server.store, COUNT, T0);
  all = (await devices()).json;
  expect(all).toHaveLength(COUNT);
});
afterAll(() => t.stop());

const devices = (query = '') => t.http.api('GET', `/api/v1/devices${query}`, t.token);
const ids = (list: any[]): string[] => list.map((d) => d.device_id);

describe('ordering', () => {
  const osKey = (v: string): string => v.split('.').map((n) => n.padStart(4, '0')).join('.');
  const keys: Record<string, (d: any) => string> = {
    last_check_in: (d) => d.last_check_in,
    first_enrollment: (d) => d.first_enrollment,
    last_enrollment: (d) => d.last_enrollment,
    model: (d) => d.model,
    os_version: (d) => osKey(d.os_version),
  };

  it.each(Object.keys(keys))('orders by %s, ascending and descending (-)', async (field) => {
    const key = keys[field]!;
    expect(new Set(all.map(key)).size).toBeGreaterThan(3);
    const up = (await devices(`?ordering=${field}`)).json;
    const down = (await devices(`?ordering=-${field}`)).json;
    expect(up).toHaveLength(COUNT);
    for (let i = 1; i < up.length; i++) expect([field, key(up[i - 1]) <= key(up[i])]).toEqual([field, true]);
    for (let i = 1; i < down.length; i++) expect([field, key(down[i - 1]) >= key(down[i])]).toEqual([field, true]);
    expect(new Set(ids(up))).toEqual(new Set(ids(all)));
  });

  it('os_version orders numerically by part (10.15.7 before 14.4.1 before 15.0)', async () => {
    const versions = (await devices('?ordering=os_version')).json.map((d: any) => d.os_version);
    const numeric = [...versions].sort((a: string, b: string) => {
      const x = a.split('.').map(Number);
      const y = b.split('.').map(Number);
      for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) - (y[i] ?? 0);
      return 0;
    });
    expect(versions).toEqual(numeric);
  });
});

describe('filters', () => {
  it('model matches the whole value, case-insensitively', async () => {
    const model = all.find((d) => d.platform === 'Mac').model as string;
    const r = (await devices(`?model=${encodeURIComponent(model.toUpperCase())}`)).json;
    expect(r.length).toBeGreaterThan(0);
    expect(new Set(ids(r))).toEqual(new Set(ids(all.filter((d) => d.model === model))));
    expect((await devices(`?model=${encodeURIComponent(model.slice(0, 6))}`)).json).toEqual([]);
  });

  it('os_version matches the whole version', async () => {
    const os = all[0].os_version as string;
    const r = (await devices(`?os_version=${os}`)).json;
    expect(new Set(ids(r))).toEqual(new Set(ids(all.filter((d) => d.os_version === os))));
    expect((await devices(`?os_version=${os.split('.')[0]}`)).json.filter((d: any) => d.os_version === os)).toEqual([]);
  });

  it('blueprint_id: every device is on the mdmsim blueprint; another id selects none', async () => {
    const on = await devices(`?blueprint_id=${MDMSIM_BLUEPRINT.id}`);
    expect(on.json).toHaveLength(COUNT);
    expect(on.headers['x-total-count']).toBe(String(COUNT));
    const other = await devices(`?blueprint_id=${deviceIdFor('another blueprint')}`);
    expect(other.json).toEqual([]);
    expect(other.headers['x-total-count']).toBe('0');
  });
});

describe('limit and offset as Django REST reads them (int(), else the default)', () => {
  it.each([
    ['10abc', 'default'],
    ['1e3', 'default'],
    ['0x10', 'default'],
    ['-5', 'default'],
    ['0', 'default'],
    ['', 'default'],
    ['%207%20', 7],
    ['%2B7', 7],
    ['1_0', 10],
    ['7', 7],
  ] as Array<[string, number | 'default']>)('limit=%s → %s, on /devices and on Prism', async (limit, expected) => {
    const n = expected === 'default' ? COUNT : expected;
    const list = await devices(`?limit=${limit}`);
    expect(list.status).toBe(200);
    expect(list.json).toHaveLength(n);
    const prism = await t.http.api('GET', `/api/v1/prism/device_information?limit=${limit}`, t.token);
    expect(prism.status).toBe(200);
    expect(prism.json.limit).toBe(expected === 'default' ? 300 : expected);
    expect(prism.json.data).toHaveLength(n);
  });

  it.each([
    ['10abc', 0],
    ['1e3', 0],
    ['-3', 0],
    ['%2B3', 3],
    ['%203', 3],
    ['3', 3],
  ] as Array<[string, number]>)('offset=%s → %s, on /devices and on Prism', async (offset, expected) => {
    const list = (await devices(`?offset=${offset}`)).json;
    expect(ids(list)).toEqual(ids(all).slice(expected));
    const prism = (await t.http.api('GET', `/api/v1/prism/device_information?offset=${offset}`, t.token)).json;
    expect(prism.offset).toBe(expected);
    expect(prism.data).toHaveLength(COUNT - expected);
  });
});

describe('a wrong method on a known path', () => {
  const device = () => all[0].device_id as string;
  it.each([
    ['POST', () => '/api/v1/devices', 'GET, HEAD'],
    ['DELETE', () => '/api/v1/devices/', 'GET, HEAD'],
    ['PUT', () => `/api/v1/devices/${device()}`, 'GET, DELETE, HEAD'],
    ['POST', () => `/api/v1/devices/${device()}/details`, 'GET, HEAD'],
    ['DELETE', () => `/api/v1/devices/${device()}/commands/`, 'GET, HEAD'],
    ['GET', () => `/api/v1/devices/${device()}/action/blankpush`, 'POST'],
    ['PATCH', () => `/api/v1/devices/${deviceIdFor('no such device')}/action/restart`, 'POST'],
    ['POST', () => '/api/v1/prism/device_information', 'GET, HEAD'],
  ] as Array<[string, () => string, string]>)('%s → 405 {"detail": "Method \\"…\\" not allowed."} with Allow', async (method, path, allow) => {
    const r = await t.http.api(method, path(), t.token);
    expect(r.status).toBe(405);
    expect(r.json).toEqual({ detail: `Method "${method}" not allowed.` });
    expect(r.headers.allow).toBe(allow);
  });

  it('still 401 without a token, and 404 for a path that does not exist', async () => {
    expect((await t.http.api('POST', '/api/v1/devices', 'wrong-token')).status).toBe(401);
    const unknown = await t.http.api('POST', '/api/v1/devices/x/action/dance', t.token);
    expect(unknown.status).toBe(404);
    expect(unknown.json).toEqual({ detail: 'Not found.' });
  });
});
