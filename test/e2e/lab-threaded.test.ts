/**
 * The lab with its server in a worker thread (lab/threaded): the agent-reinstall story of
 * lab-reinstall.test.ts, with the server on a mirror of the lab's virtual clock. The worker
 * runs compiled JavaScript, so this suite needs dist/ (npm test builds it first).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startThreadedLab, serverWorkerFile, type ThreadedLab } from '../../lab/threaded';

jest.setTimeout(30_000);

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const root = join(__dirname, '../..');

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lab/threaded/server-worker.js'))) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
  expect(serverWorkerFile()).toBe(join(root, 'dist/lab/threaded/server-worker.js'));
});

describe('a lab with its server in a worker thread', () => {
  let lab: ThreadedLab | undefined;
  afterEach(async () => {
    await lab?.stop();
    lab = undefined;
  });

  it('enrolls Macs whose agents check in, and reinstalls the agent of the one that lost it after seven days', async () => {
    const wall = Date.now();
    const errors: unknown[] = [];
    lab = await startThreadedLab({ devices: 3, onError: (e) => void errors.push(e) });
    const start = lab.now();
    expect(lab.info.caCert).toMatch(/ca\.pem$/);
    expect(readFileSync(lab.info.caCert, 'utf8')).toMatch(/BEGIN CERTIFICATE/);
    expect(lab.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    for (let n = 0; n < 3; n++) {
      expect(lab.mac(n).state.agent.installed).toBe(true);
      expect((await lab.device(n))?.agentLastCheckinAt).toBe(start);
    }
    const enrolled = await lab.eventCounts();
    expect(enrolled['agent.checkin']).toBe(3);
    expect(enrolled['mdm.checkin']).toBe(6); // Authenticate and TokenUpdate each

    // Agents check in every 15 minutes, on the server's (mirrored) clock.
    await lab.advance('1d');
    const day1 = await lab.eventCounts();
    // The install check-in at enrollment, then one per 15 minutes on the Mac's grid (the
    // same instants an in-process lab gives these Macs).
    expect(day1['agent.checkin']! - enrolled['agent.checkin']!).toBe(3 * 95);
    for (let n = 0; n < 3; n++) {
      const at = (await lab.events({ type: 'agent.checkin', udid: lab.mac(n).udid })).map((e) => e.at);
      expect(at).toHaveLength(96);
      expect(at[0]).toBe(start);
      expect(at.slice(2).map((t, i) => t - at[i + 1]!)).toEqual(Array(94).fill(15 * 60_000));
      expect(at[95]!).toBeLessThanOrEqual(start + DAY);
    }

    await lab.fault(1, { kind: 'agent-uninstalled' });
    const lastHeard = (await lab.device(1))!.agentLastCheckinAt!;
    expect(lab.mac(1).state.apps.has('io.mdmsim.agent')).toBe(false);
    expect(await lab.events({ type: 'sim.fault', udid: lab.mac(1).udid })).toHaveLength(1);

    await lab.advance('6d');
    expect(await lab.events({ type: 'agent.reinstall.fired' })).toEqual([]);
    await lab.advance('2d');
    const fired = await lab.events({ type: 'agent.reinstall.fired' });
    expect(fired.map((e) => e.udid)).toEqual([lab.mac(1).udid]);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(lastHeard + 7 * DAY);
    expect(fired[0]!.at).toBeLessThanOrEqual(lastHeard + 7 * DAY + HOUR);
    // Push, install, and the agent is back; the other Macs never saw a reinstall.
    const pushes = await lab.events({ type: 'mdm.push.sent', udid: lab.mac(1).udid });
    expect(pushes.some((e) => e.at === fired[0]!.at)).toBe(true);
    expect(lab.mac(1).state.agent.installed).toBe(true);
    expect((await lab.device(1))!.agentLastCheckinAt!).toBeGreaterThanOrEqual(fired[0]!.at);
    // The Macs' own events reach the server's log (recorded through the thread).
    expect((await lab.events({ type: 'mac.push.received', udid: lab.mac(1).udid })).length).toBeGreaterThan(0);
    expect(lab.now()).toBe(start + 9 * DAY);
    expect(errors).toEqual([]);
    expect(Date.now() - wall).toBeLessThan(20_000);
  });

  it('stops cleanly: the thread ends and no handle is left behind', async () => {
    const before = new Set(process.getActiveResourcesInfo());
    const seen: string[] = [];
    const l = await startThreadedLab({ devices: 1, onEvent: (e) => void seen.push(e.type) });
    lab = l; // stopped by afterEach if an expectation fails first
    const worker = l.worker;
    let exited = false;
    worker.once('exit', () => (exited = true));
    await l.advance('1h');
    // onEvent hears the server's events and the Macs' own, as they happen.
    const checkins = seen.filter((t) => t === 'agent.checkin').length;
    expect(checkins).toBeGreaterThanOrEqual(1 + 3); // the install check-in, then every 15 minutes
    expect(checkins).toBeLessThanOrEqual(1 + 4);
    expect(seen).toContain('mac.push.received');
    await l.stop();
    await l.stop(); // idempotent
    expect(exited).toBe(true);
    await new Promise((r) => setImmediate(r));
    const left = process.getActiveResourcesInfo().filter((r) => !before.has(r) && r !== 'Immediate' && r !== 'Timeout');
    expect(left).toEqual([]);
    await expect(l.eventCounts()).rejects.toThrow(/server thread/);
  });

  it('rejects with the server thread’s own error when the server cannot start', async () => {
    await expect(startThreadedLab({ devices: 0, server: { agentPolicy: { mdmWindow: 'forever' } as never } })).rejects.toThrow(/mdmWindow|duration|forever/i);
  });

  it('never hangs the clock on a server thread that died, and says so', async () => {
    lab = await startThreadedLab({ devices: 1, onError: () => undefined });
    await lab.worker.terminate();
    await lab.advance('1d'); // the Mac's check-ins fail; time still moves
    expect(lab.now()).toBeGreaterThan(Date.UTC(2026, 0, 6));
    await expect(lab.eventCounts()).rejects.toThrow(/server thread exited/);
  });
});
