/**
 * The policy settings: ServerOptions.agentPolicy at start, GET/PATCH /sim/v1/agent-policy at
 * runtime; durations as ms or strings in, strings out; bad input named by field.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startServer } from '../../server/server';
import { apiOf, DAY, eventsOf, HOUR, startAgentServer } from '../helpers/agent';
import { TestMac, macIdentity } from '../helpers/mdm-client';
import type { TestServer } from '../helpers/server';

let t: TestServer;
let api: ReturnType<typeof apiOf>;

beforeAll(async () => {
  t = await startAgentServer({ agentPolicy: { mdmWindow: 5 * DAY, agentWindow: 'P3D', retryInterval: '12h' } });
  api = apiOf(t);
});
afterAll(() => t?.stop());

describe('settings', () => {
  it('takes durations as ms or strings in options and answers them as strings', async () => {
    const r = await api('GET', '/agent-policy');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({
      installOnEnrollment: true,
      reinstall: true,
      mdmWindow: '5d',
      agentWindow: '3d',
      retryInterval: '12h',
      sweepInterval: '1h',
      inventoryInterval: false,
      missingAfter: '30d',
    });
    expect(t.server.agentPolicy.settings).toMatchObject({ mdmWindow: 5 * DAY, agentWindow: 3 * DAY, retryInterval: 12 * HOUR, sweepInterval: HOUR, inventoryInterval: 0 });
  });

  it('defaults to 7d/7d/24h/1h and a daily inventory', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-defaults-'));
    const s = await startServer({ port: 0, dataDir, clock: 'virtual', apiToken: 'x' });
    try {
      expect(s.agentPolicy.settings).toEqual({ installOnEnrollment: true, reinstall: true, mdmWindow: 7 * DAY, agentWindow: 7 * DAY, retryInterval: DAY, sweepInterval: HOUR, inventoryInterval: DAY, missingAfter: 30 * DAY });
    } finally {
      await s.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('refuses bad options at start, naming the field', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-bad-'));
    try {
      await expect(startServer({ port: 0, dataDir, apiToken: 'x', agentPolicy: { agentWindow: 'a week' } })).rejects.toThrow(/agentPolicy\.agentWindow/);
      await expect(startServer({ port: 0, dataDir, apiToken: 'x', agentPolicy: { sweepInterval: 10 } })).rejects.toThrow(/agentPolicy\.sweepInterval must be at least 1s/);
      await expect(startServer({ port: 0, dataDir, apiToken: 'x', agentPolicy: { retryIntervall: '1d' } as never })).rejects.toThrow(/no setting agentPolicy\.retryIntervall/);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('PATCH changes what it names, answers the new settings, and records an event', async () => {
    const r = await api('PATCH', '/agent-policy', { agentWindow: '36h', retryInterval: 7_200_000, inventoryInterval: '1d' });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ agentWindow: '1d12h', retryInterval: '2h', inventoryInterval: '1d', mdmWindow: '5d' });
    expect((await api('GET', '/agent-policy')).body).toEqual(r.body);
    const [changed] = await eventsOf(t, 'agent.policy.changed');
    expect(changed!.data.changed).toEqual(['agentWindow', 'retryInterval', 'inventoryInterval']);
    expect((await api('PATCH', '/agent-policy', { inventoryInterval: false })).body.inventoryInterval).toBe(false);
  });

  it.each([
    [{ agentWindow: 'soon' }, 'agentWindow'],
    [{ mdmWindow: -5 }, 'mdmWindow'],
    [{ retryInterval: 0 }, 'retryInterval'],
    [{ sweepInterval: '10ms' }, 'sweepInterval'],
    [{ inventoryInterval: true }, 'inventoryInterval'],
    [{ reinstall: 'yes' }, 'reinstall'],
    [{ agentWindw: '1d' }, 'agentWindw'],
    [{ agentWindow: '2d', mdmWindow: 'P1M' }, 'mdmWindow'],
  ])('PATCH %j → 400 naming %s, and nothing changes', async (body, field) => {
    const before = (await api('GET', '/agent-policy')).body;
    const r = await api('PATCH', '/agent-policy', body);
    expect(r.status).toBe(400);
    expect(r.body.error.field).toBe(field);
    expect((await api('GET', '/agent-policy')).body).toEqual(before);
  });

  it('PATCH with something other than a JSON object → 400/415', async () => {
    expect((await api('PATCH', '/agent-policy', [1])).status).toBe(400);
    expect((await api('PATCH', '/agent-policy', '{"agentWindow": ', 'application/json')).status).toBe(400);
    expect((await api('PATCH', '/agent-policy', 'agentWindow=1d', 'text/plain')).status).toBe(415);
  });

  it('a new sweepInterval takes effect at once', async () => {
    const s = await startAgentServer({ agentPolicy: { sweepInterval: '1h' } });
    try {
      const sweeps = jest.spyOn(s.server.agentPolicy, 'sweepNow');
      const mac = new TestMac(s.http, macIdentity(1));
      await mac.enroll();
      await s.clock.advance(3 * HOUR);
      expect(sweeps).toHaveBeenCalledTimes(3);
      await apiOf(s)('PATCH', '/agent-policy', { sweepInterval: '6h' });
      await s.clock.advance(11 * HOUR);
      expect(sweeps).toHaveBeenCalledTimes(4);
      await s.clock.advance(HOUR);
      expect(sweeps).toHaveBeenCalledTimes(5);
    } finally {
      await s.stop();
    }
  });

  it('an empty server schedules nothing until its first enrollment', async () => {
    const s = await startAgentServer({ agentPolicy: { inventoryInterval: '1d' } });
    try {
      expect(s.clock.pendingTimers()).toBe(0);
      const mac = new TestMac(s.http, macIdentity(2));
      await mac.enroll();
      // One sweep timer and one inventory timer for the whole fleet, however many Macs.
      const withOne = s.clock.pendingTimers();
      expect(withOne).toBe(2);
      for (let i = 3; i < 8; i++) await new TestMac(s.http, macIdentity(i)).enroll();
      expect(s.clock.pendingTimers()).toBe(withOne);
    } finally {
      await s.stop();
    }
  });
});
