/**
 * AgentPolicy without sockets: MemoryStorage, a VirtualClock and the real MdmService. What the
 * e2e tests cannot measure well: the cost of a sweep over a big fleet, and the log staying
 * quiet over many sweeps.
 */
import { randomBytes } from 'node:crypto';
import { VirtualClock } from '../../../protocol/clock';
import type { PlistDict } from '../../../protocol/plist/types';
import { AgentPolicy } from '../../../server/policy/agent-policy';
import { EventLog } from '../../../server/service/event-log';
import { MdmService } from '../../../server/service/mdm-service';
import { MemoryStorage } from '../../../server/storage/memory';

const DAY = 86_400_000;
const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 5, 9);
const TOPIC = 'com.apple.mgmt.External.e0bd1eac-1f17-4c8e-8a63-dd17d3dd35d9';
const URLS = { manifestUrl: 'https://mdm.test/agent/manifest.plist', checkinUrl: 'https://mdm.test/agent/v1/checkin' };

function setup(settings: Record<string, unknown> = {}, urls: () => typeof URLS = () => URLS) {
  const store = new MemoryStorage({ eventCapacity: 1_000_000 });
  const clock = new VirtualClock({ start: T0 });
  const events = new EventLog(store, clock);
  const service = new MdmService({ store, clock, events });
  const errors: unknown[] = [];
  const policy = new AgentPolicy({ store, clock, events, service, push: () => undefined, urls, settings, onError: (e) => errors.push(e) });
  service.observe(policy.observer);
  return { store, clock, events, service, policy, errors };
}

/** Enrolls straight into storage (no hooks): a fleet restored from disk, say. */
function seed(store: MemoryStorage, id: string, at: number, platform: 'macOS' | 'iOS' = 'macOS'): void {
  store.storeAuthenticate({ id, udid: id, topic: TOPIC, platform, osVersion: platform === 'macOS' ? '14.4.1' : '17.4', serialNumber: `S${id}` }, at);
  store.storeTokenUpdate(id, { topic: TOPIC, token: randomBytes(32).toString('hex'), pushMagic: 'M' }, at);
}

describe('sweeps', () => {
  it('say a skip reason once per device, however many sweeps see it, and again after the agent was heard', async () => {
    const { store, clock, policy, events } = setup();
    seed(store, 'SILENT', T0);
    for (let i = 0; i < 20; i++) {
      await clock.advance(HOUR);
      await policy.sweepNow();
    }
    // Still within 7 days: nothing at all.
    expect(events.query({ types: ['agent'] })).toEqual([]);
    await clock.advanceTo(T0 + 7 * DAY + HOUR);
    for (let i = 0; i < 48; i++) {
      const r = await policy.sweepNow();
      expect(r).toMatchObject({ evaluated: 1, fired: [], skipped: { 'mdm-silent': 1 } });
      await clock.advance(HOUR);
    }
    expect(events.query({ types: ['agent.reinstall.skipped'] }).map((e) => e.data?.reason)).toEqual(['mdm-silent']);
    // The agent (not MDM) is heard from: the episode ends; 8 days later it is said again.
    store.storeAgentCheckin('SILENT', { version: '1.4.2', kind: 'recurring', installedAt: T0 }, clock.now());
    expect(store.getEnrollment('SILENT')!.agentPolicyLastSkip).toBeUndefined();
    await clock.advance(8 * DAY);
    await policy.sweepNow();
    await policy.sweepNow();
    expect(events.query({ types: ['agent.reinstall.skipped'] })).toHaveLength(2);
  });

  it('skip a device with no agent (not macOS) once, and never fire for it', async () => {
    const { store, clock, policy, events } = setup();
    seed(store, 'IPAD', T0, 'iOS');
    await clock.advance(8 * DAY);
    store.touch('IPAD', clock.now());
    await policy.sweepNow();
    await policy.sweepNow();
    expect(events.query({ types: ['agent.reinstall'] }).map((e) => [e.type, e.data?.reason])).toEqual([['agent.reinstall.skipped', 'not-macos']]);
  });

  it('over 100,000 enrollments stay cheap once there is nothing new to say', async () => {
    const { store, clock, policy } = setup();
    const n = 100_000;
    for (let i = 0; i < n; i++) seed(store, `D${i}`, T0);
    // Most agents are healthy; 1,000 are silent with MDM silent too; 100 are due a reinstall.
    await clock.advance(8 * DAY);
    const now = clock.now();
    for (let i = 0; i < n; i++) {
      if (i % 100 === 0) continue;
      store.storeAgentCheckin(`D${i}`, { version: '1.4.2', kind: 'recurring', installedAt: T0 }, now);
      store.touch(`D${i}`, now);
    }
    for (let i = 0; i < n; i += 1000) store.touch(`D${i}`, now);
    const first = await policy.sweepNow();
    expect(first.evaluated).toBe(1000);
    expect(first.fired).toHaveLength(100);
    expect(first.skipped).toEqual({ 'mdm-silent': 900 });
    let best = Number.POSITIVE_INFINITY;
    for (let round = 0; round < 5; round++) {
      const started = process.hrtime.bigint();
      const r = await policy.sweepNow();
      best = Math.min(best, Number(process.hrtime.bigint() - started) / 1e6);
      expect(r.fired).toEqual([]);
    }
    // A memory sweep over 100k records is a few ms; the bound leaves room for a loaded CI box.
    if (process.env.MDMSIM_SHOW_TIMINGS) process.stdout.write(`sweep over ${n}: ${best.toFixed(2)} ms\n`);
    expect(best).toBeLessThan(200);
  });
});

describe('timers', () => {
  it('arm at the first enrollment, not before, and re-arm after each sweep', async () => {
    const { store, clock, service, policy } = setup({ inventoryInterval: false });
    expect(clock.pendingTimers()).toBe(0);
    service.checkin(authenticate('A'));
    expect(clock.pendingTimers()).toBe(0);
    service.checkin(tokenUpdate('A'));
    expect(clock.pendingTimers()).toBe(1);
    const sweeps = jest.spyOn(policy, 'sweepNow');
    await clock.advance(5 * HOUR);
    expect(sweeps).toHaveBeenCalledTimes(5);
    expect(clock.pendingTimers()).toBe(1);
    policy.stop();
    expect(clock.pendingTimers()).toBe(0);
    expect(store.queueLength('A')).toBe(1);
  });

  it('arm at start when storage already holds enrollments (a restart)', () => {
    const { store, clock, policy } = setup();
    seed(store, 'OLD', T0);
    policy.start();
    expect(clock.pendingTimers()).toBe(2);
  });
});

describe('hooks', () => {
  it('a policy failure is reported and never breaks the device\'s answer', () => {
    const { service, errors, store } = setup({}, () => {
      throw new Error('no URLs yet');
    });
    service.checkin(authenticate('B'));
    expect(service.checkin(tokenUpdate('B'))).toEqual({ status: 200 });
    expect(store.getEnrollment('B')!.enabled).toBe(true);
    expect(errors.map((e) => (e as Error).message)).toEqual(['no URLs yet']);
  });
});

function authenticate(udid: string): PlistDict {
  return { MessageType: 'Authenticate', Topic: TOPIC, UDID: udid, DeviceName: 'Mac', Model: 'MacBookPro18,3', ModelName: 'MacBook Pro', ProductName: 'MacBookPro18,3', SerialNumber: 'C02XK1ABJGH5', OSVersion: '14.4.1', BuildVersion: '23E224' };
}

function tokenUpdate(udid: string): PlistDict {
  return { MessageType: 'TokenUpdate', Topic: TOPIC, UDID: udid, Token: randomBytes(32), PushMagic: 'PM' };
}
