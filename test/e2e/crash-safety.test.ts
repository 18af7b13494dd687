/**
 * Crash safety of the SQLite store: `mdmsim serve --store sqlite:FILE --clock virtual` as a
 * child process, signed Macs enrolling and working through their queues, an operator queueing
 * commands and moving the clock, all at once; the server is killed with SIGKILL while requests
 * are in flight and started again on the same file. Whatever the server acknowledged to a
 * client before it died must be there after: each command queued (201) is still queued or has
 * its result, each result answered with a 200 is stored and out of the queue, each enrollment
 * keeps its push token, PushMagic and identity binding, and the clock is where its last
 * acknowledged advance left it (or further, by an advance that was in flight).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import type { Command } from '../../protocol/command';
import type { PlistDict } from '../../protocol/plist';
import { reports } from '../../protocol/result';
import { SqliteStorage } from '../../server/storage/sqlite';
import { CourierClient, newDevice, type TestDevice } from '../helpers/apns';
import { HttpsClient, macIdentity, TestMac } from '../helpers/mdm-client';
import { randomUUID } from 'node:crypto';

const root = join(__dirname, '../..');
const bin = join(root, 'bin/mdmsim.js');
const TOKEN = 'crash-token';
const MACS = 8;
const HOUR = 3_600_000;

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lab/cli.js'))) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
});

interface Running {
  child: ChildProcess;
  ready: { mdm: string; courier: string; caCert: string };
  http: HttpsClient;
  exited: Promise<NodeJS.Signals | number | null>;
  stderr: () => string;
}

function serve(dataDir: string, file: string): Promise<Running> {
  const args = ['serve', '--port', '0', '--data-dir', dataDir, '--store', `sqlite:${file}`, '--clock', 'virtual', '--api-token', TOKEN, '--log-level', 'warn'];
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  const exited = new Promise<NodeJS.Signals | number | null>((resolve) => child.once('exit', (code, signal) => resolve(signal ?? code)));
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => {
      const ready = JSON.parse(line) as Running['ready'];
      resolve({ child, ready, http: new HttpsClient(ready.mdm.replace(/\/mdm$/, ''), ready.caCert), exited, stderr: () => err });
    });
    void exited.then((code) => reject(new Error(`mdmsim serve exited (${String(code)}) before it was ready:\n${err}`)));
  });
}

/** A Mac as the test drives it: its identity, push token and PushMagic outlive the server. */
interface Mac {
  mac: TestMac;
  device: TestDevice;
}

/** The same Mac (identity, token, PushMagic) talking to another server process. */
function onServer(m: Mac, http: HttpsClient): TestMac {
  const mac = new TestMac(http, m.mac.id);
  mac.profile = m.mac.profile;
  mac.signer = m.mac.signer;
  mac.token = m.mac.token;
  mac.pushMagic = m.mac.pushMagic;
  return mac;
}

const key = (udid: string, uuid: string) => `${udid} ${uuid}`;

/** Acknowledged, with what the command asks for (the queries, the app list); returns the next command. */
function acknowledge(mac: TestMac, command: Command): Promise<Command | undefined> {
  const type = command.Command.RequestType;
  const response: PlistDict =
    type === 'DeviceInformation' ? { QueryResponses: { OSVersion: mac.id.osVersion } } : type === 'InstalledApplicationList' ? { InstalledApplicationList: [] } : {};
  return mac.report(reports.Acknowledged({ UDID: mac.udid }, command.CommandUUID, response), type);
}

describe('crash safety (SIGKILL mid-traffic, restart on the same SQLite file)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'mdmsim-crash-'));
  const dataDir = join(dir, 'data');
  const file = join(dir, 'mdmsim.db');
  const children: ChildProcess[] = [];
  afterAll(() => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    rmSync(dir, { recursive: true, force: true });
  });

  it('loses nothing the server acknowledged', async () => {
    // ---- first life: traffic, then SIGKILL ------------------------------------------------
    const first = await serve(dataDir, file);
    children.push(first.child);
    const acked = {
      enrolled: new Map<string, Mac>(),
      queued: new Set<string>(),
      results: new Set<string>(),
      clock: Date.parse(((await first.http.api('GET', '/sim/v1/clock', TOKEN)).json as { now: string }).now),
      advances: 0,
    };
    let inFlight = 0;
    let inFlightAtKill = -1;
    let killed = false;
    const track = async <T>(work: Promise<T>): Promise<T> => {
      inFlight++;
      try {
        return await work;
      } finally {
        inFlight--;
      }
    };

    const macLoop = async (n: number) => {
      const id = macIdentity(n, { udid: randomUUID().toUpperCase() });
      const mac = new TestMac(first.http, id);
      await track(mac.installProfile('ec'));
      const device = newDevice(mac.topic);
      mac.token = Buffer.from(device.token, 'hex');
      await track(mac.enroll());
      acked.enrolled.set(mac.udid, { mac, device });
      // Work through the queue as a Mac does after a push: Idle, then answer each command.
      let next = await track(mac.idle());
      while (!killed) {
        if (next === undefined) {
          await new Promise((r) => setTimeout(r, 2));
          next = await track(mac.idle());
          continue;
        }
        const uuid = next.CommandUUID;
        next = await track(acknowledge(mac, next));
        acked.results.add(key(mac.udid, uuid));
      }
    };
    const operatorLoop = async () => {
      for (let i = 0; !killed; i++) {
        const udids = [...acked.enrolled.keys()];
        if (udids.length === 0) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        const udid = udids[i % udids.length]!;
        const r = await track(first.http.api('POST', `/sim/v1/devices/${udid}/commands`, TOKEN, { RequestType: 'DeviceInformation', Queries: ['OSVersion'] }));
        if (r.status === 201 && (r.json.queued as string[]).includes(udid)) acked.queued.add(key(udid, r.json.CommandUUID as string));
      }
    };
    const clockLoop = async () => {
      while (!killed) {
        const r = await track(first.http.api('POST', '/sim/v1/clock/advance', TOKEN, { by: '1h' }));
        if (r.status === 200) {
          acked.clock = Date.parse((r.json as { now: string }).now);
          acked.advances++;
        }
        await new Promise((r) => setTimeout(r, 20));
      }
    };
    // Requests cut off by the kill fail; that is the point. A failure before it stops the traffic and fails the test.
    const failures: unknown[] = [];
    const quietAfterKill = (p: Promise<void>) =>
      p.catch((error: unknown) => {
        if (!killed) failures.push(error);
        killed = true;
      });
    const loops = [...Array.from({ length: MACS }, (_, n) => quietAfterKill(macLoop(n + 1))), quietAfterKill(operatorLoop()), quietAfterKill(clockLoop())];

    // Kill once every kind of traffic has been acknowledged a good number of times.
    const started = Date.now();
    while (acked.enrolled.size < MACS || acked.queued.size < 60 || acked.results.size < 60 || acked.advances < 3) {
      if (failures.length > 0) {
        await Promise.all(loops);
        throw failures[0];
      }
      if (Date.now() - started > 60_000) throw new Error(`traffic too slow: ${acked.enrolled.size} enrolled, ${acked.queued.size} queued, ${acked.results.size} results\n${first.stderr()}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    inFlightAtKill = inFlight;
    killed = true;
    first.child.kill('SIGKILL');
    await Promise.all(loops);
    expect(await first.exited).toBe('SIGKILL');
    first.http.close();
    // It died mid-traffic: requests were on the wire.
    expect(inFlightAtKill).toBeGreaterThan(0);

    // ---- second life on the same file -----------------------------------------------------
    const second = await serve(dataDir, file);
    children.push(second.child);
    const api = (method: string, path: string, body?: unknown) => second.http.api(method, `/sim/v1${path}`, TOKEN, body);
    try {
      // The clock: where the last acknowledged advance left it, or up to the one in flight
      // (an advance passes through the instants of its timers, each kept as it goes).
      const clock = (await api('GET', '/clock')).json as { now: string; mode: string };
      expect(clock.mode).toBe('virtual');
      const now = Date.parse(clock.now);
      expect({ now, atLeast: now >= acked.clock, atMost: now <= acked.clock + HOUR }).toEqual({ now, atLeast: true, atMost: true });

      const queuedAfter = new Set<string>();
      const resultsAfter = new Set<string>();
      for (const [udid, m] of acked.enrolled) {
        // The enrollment, as it was: enabled, first TokenUpdate, bound to the Mac's identity.
        const d = (await api('GET', `/devices/${udid}`)).json;
        expect(d).toMatchObject({ udid, enabled: true, tokenUpdateTally: 1, serialNumber: m.mac.id.serial, topic: m.mac.topic });
        expect(d.identityCertSha256).toBe(createHash('sha256').update(m.mac.profile!.identity.certDer).digest('hex'));
        const c = (await api('GET', `/devices/${udid}/commands`)).json as { queue: { CommandUUID: string }[]; results: { CommandUUID: string; Status: string }[] };
        for (const q of c.queue) queuedAfter.add(key(udid, q.CommandUUID));
        for (const r of c.results) if (r.Status === 'Acknowledged') resultsAfter.add(key(udid, r.CommandUUID));
      }
      for (const k of acked.queued) expect({ command: k, kept: queuedAfter.has(k) || resultsAfter.has(k) }).toEqual({ command: k, kept: true });
      for (const k of acked.results) expect({ result: k, stored: resultsAfter.has(k), stillQueued: queuedAfter.has(k) }).toEqual({ result: k, stored: true, stillQueued: false });

      // Push info intact: the restarted server's pushes reach each Mac's token with its PushMagic.
      const couriers: CourierClient[] = [];
      try {
        for (const [udid, m] of acked.enrolled) {
          const courier = await CourierClient.connect(second.ready.courier, udid);
          couriers.push(courier);
          await courier.subscribe([m.device]);
          const pushed = await api('POST', `/devices/${udid}/push`);
          expect(pushed.json).toMatchObject({ requested: true, sent: 1 });
          const frame = await courier.next('push');
          expect(frame.payload).toEqual({ mdm: m.mac.pushMagic });
          courier.ack(frame.id);
        }
      } finally {
        await Promise.all(couriers.map((c) => c.close()));
      }

      // And work goes on: each Mac, signing with the identity it enrolled with, drains its queue.
      for (const m of acked.enrolled.values()) {
        const mac = onServer(m, second.http);
        for (let next = await mac.idle(); next !== undefined; ) next = await acknowledge(mac, next);
        expect((await api('GET', `/devices/${mac.udid}`)).json.queued).toBe(0);
      }
    } finally {
      second.http.close();
      second.child.kill('SIGTERM');
      expect(await second.exited).toBe(0);
    }

    // A clean stop leaves a file that opens again with every enrollment's push info as sent.
    const store = new SqliteStorage(file);
    try {
      for (const [udid, m] of acked.enrolled) {
        expect(store.getEnrollment(udid)).toMatchObject({ token: m.device.token, pushMagic: m.mac.pushMagic, enabled: true });
      }
    } finally {
      store.close();
    }
  }, 120_000);
});
