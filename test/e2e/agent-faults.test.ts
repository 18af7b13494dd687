/**
 * /sim/v1/devices/{udid}/faults: the server runs no Macs, so it checks the request and
 * forwards it to the registered handler (a Fleet in a lab); 404 when the handler does not
 * run that Mac, 501 with a hint when nothing is registered.
 */
import type { DeviceFault, DeviceFaultKind, DeviceFaultState } from '../../protocol/faults';
import type { DeviceFaultHandler } from '../../server/server';
import { apiOf, eventsOf, startAgentServer } from '../helpers/agent';
import type { TestServer } from '../helpers/server';

const UDID = '5A0C3F1E-8B7D-4C2A-9E61-0D3B2F4A7C15';

/** A stand-in for a Fleet: runs one Mac and remembers what it was asked. */
class FakeFleet implements DeviceFaultHandler {
  readonly calls: unknown[][] = [];
  private active: Array<Record<string, unknown>> = [];

  private state(): DeviceFaultState {
    return { udid: UDID, active: this.active, agent: this.active.some((f) => f.kind === 'agent-uninstalled') ? 'not-installed' : 'running', online: !this.active.some((f) => f.kind === 'offline') };
  }

  async apply(udid: string, faults: DeviceFault[]) {
    this.calls.push(['apply', udid, faults]);
    if (udid !== UDID) return undefined;
    this.active.push(...faults.map((f) => ({ ...f })));
    return this.state();
  }

  async get(udid: string) {
    this.calls.push(['get', udid]);
    return udid === UDID ? this.state() : undefined;
  }

  async clear(udid: string, kind?: DeviceFaultKind) {
    this.calls.push(['clear', udid, kind]);
    if (udid !== UDID) return undefined;
    this.active = kind ? this.active.filter((f) => f.kind !== kind) : [];
    return this.state();
  }
}

let t: TestServer;
let api: ReturnType<typeof apiOf>;

beforeAll(async () => {
  t = await startAgentServer();
  api = apiOf(t);
});
afterAll(() => t?.stop());
afterEach(() => t.server.setDeviceFaultHandler(undefined));

it('501 no-simulator, with a hint, when nobody runs the Macs', async () => {
  for (const [method, body] of [['POST', { kind: 'agent-crashed' }], ['GET', undefined], ['DELETE', undefined]] as const) {
    const r = await api(method, `/devices/${UDID}/faults`, body);
    expect(r.status).toBe(501);
    expect(r.body.error.code).toBe('no-simulator');
    expect(r.body.error.hint).toMatch(/mdmsim lab/);
  }
});

it('forwards parsed faults to the handler and answers its state; records sim.fault', async () => {
  const fleet = new FakeFleet();
  t.server.setDeviceFaultHandler(fleet);
  const r = await api('POST', `/devices/${UDID}/faults`, { faults: [{ kind: 'agent-uninstalled' }, { kind: 'offline', for: '3d' }, { kind: 'notnow', connects: 2 }] });
  expect(r.status).toBe(200);
  expect(r.body).toMatchObject({ udid: UDID, agent: 'not-installed', online: false });
  expect(fleet.calls[0]).toEqual(['apply', UDID, [{ kind: 'agent-uninstalled' }, { kind: 'offline', forMs: 3 * 86_400_000 }, { kind: 'notnow', connects: 2 }]]);
  const [event] = await eventsOf(t, 'sim.fault', UDID);
  expect(event).toMatchObject({ summary: 'fault: agent-uninstalled; offline for 3d; NotNow for 2 connects', data: { faults: fleet.calls[0]![2] } });
  expect((await api('GET', `/devices/${UDID}/faults`)).body.active).toHaveLength(3);

  const one = await api('DELETE', `/devices/${UDID}/faults?kind=offline`);
  expect(one.status).toBe(200);
  expect(one.body.online).toBe(true);
  expect(fleet.calls.at(-1)).toEqual(['clear', UDID, 'offline']);
  const all = await api('DELETE', `/devices/${UDID}/faults`);
  expect(all.body.active).toEqual([]);
  expect((await eventsOf(t, 'sim.fault.cleared', UDID)).map((e) => e.summary)).toEqual(['faults cleared: offline', 'faults cleared']);
});

it('also takes the handler as a server option', async () => {
  const fleet = new FakeFleet();
  const s = await startAgentServer({ deviceFaults: fleet });
  try {
    const r = await apiOf(s)('POST', `/devices/${UDID}/faults`, { kind: 'agent-network-blocked' });
    expect(r.status).toBe(200);
    expect(fleet.calls).toEqual([['apply', UDID, [{ kind: 'agent-network-blocked' }]]]);
  } finally {
    await s.stop();
  }
});

it('404 naming the udid when the handler does not run that Mac', async () => {
  t.server.setDeviceFaultHandler(new FakeFleet());
  for (const [method, body] of [['POST', { kind: 'agent-crashed' }], ['GET', undefined], ['DELETE', undefined]] as const) {
    const r = await api(method, '/devices/NOT-A-MAC/faults', body);
    expect(r.status).toBe(404);
    expect(r.body.error).toMatchObject({ code: 'unknown-device', field: 'udid' });
    expect(r.body.error.message).toContain('NOT-A-MAC');
  }
  expect(await eventsOf(t, 'sim.fault', 'NOT-A-MAC')).toEqual([]);
});

it('400 naming the field for a bad fault, before the handler sees it', async () => {
  const fleet = new FakeFleet();
  t.server.setDeviceFaultHandler(fleet);
  const cases: Array<[unknown, string]> = [
    [{ kind: 'meteor' }, 'fault.kind'],
    [{ faults: [{ kind: 'offline', for: 'a while' }] }, 'faults[0].for'],
    [{ faults: [{ kind: 'notnow' }] }, 'faults[0].connects'],
    [{ kind: 'package-download', mode: 'slow' }, 'fault.mode'],
    [{ kind: 'agent-crashed', extra: 1 }, 'fault.extra'],
    [{ faults: [] }, 'faults'],
  ];
  for (const [body, field] of cases) {
    const r = await api('POST', `/devices/${UDID}/faults`, body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
  }
  const kind = await api('DELETE', `/devices/${UDID}/faults?kind=meteor`);
  expect(kind.status).toBe(400);
  expect(kind.body.error.field).toBe('kind');
  expect(fleet.calls).toEqual([]);
});

it('records network faults on the timeline in words: switching inspection on and exempting domains read differently', async () => {
  t.server.setDeviceFaultHandler(new FakeFleet());
  await api('POST', `/devices/${UDID}/faults`, { faults: [{ kind: 'allow-list', allow: ['{device}:{port}', 'prd.s3.mdmsim.test:443'] }, { kind: 'proxy' }] });
  await api('POST', `/devices/${UDID}/faults`, { kind: 'tls-inspection' });
  await api('POST', `/devices/${UDID}/faults`, { kind: 'tls-inspection', exempt: ['{device-web-api}', '{device-devices}'] });
  expect((await eventsOf(t, 'sim.fault', UDID)).slice(-3).map((e) => e.summary)).toEqual([
    'fault: only {device}:{port}, prd.s3.mdmsim.test:443 reachable; HTTPS through the proxy',
    'fault: TLS inspection of every connection',
    'fault: TLS inspection except {device-web-api}, {device-devices}',
  ]);
});
