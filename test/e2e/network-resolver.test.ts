/**
 * The simulated Macs find the server by name through their own resolver (never the system's
 * DNS, where the test zone does not exist): enrollment, MDM, the agent's downloads and check-ins
 * all go to names, TLS checks the certificate against the name, and a name the resolver does not
 * know fails as NXDOMAIN does, as a network error, not a crash.
 */
import { readFileSync } from 'node:fs';
import { AGENT_BUNDLE_ID } from '../../protocol/agent';
import { Fleet, type MacEvent } from '../../agent-sim';
import { NetworkError } from '../../agent-sim/state';
import { startTestServer, type TestServer } from '../helpers/server';

const NAME = 'mdm.resolver.mdmsim.test';

let t: TestServer;
const errors: unknown[] = [];

beforeAll(async () => {
  t = await startTestServer({ certificateHosts: [NAME] });
});

afterAll(async () => {
  await t?.stop();
  expect(errors).toEqual([]);
});

async function settle(fleet: Fleet): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await fleet.settled();
    await t.server.settled();
    await new Promise((r) => setTimeout(r, 2));
  }
}

describe("the Macs' resolver", () => {
  test('a fleet pointed at a name enrolls, installs the agent and checks in, every lookup answered by its resolver', async () => {
    const port = new URL(t.server.url).port;
    const events: MacEvent[] = [];
    const fleet = await Fleet.start({
      server: `https://${NAME}:${port}`,
      resolve: { '*.mdmsim.test': '127.0.0.1' },
      ca: readFileSync(t.server.info.caCert),
      courier: t.server.info.courier!,
      clock: t.clock,
      seed: 'e2e-resolver',
      keyType: 'ec',
      count: 1,
      onEvent: (e) => events.push(e),
      onError: (e) => errors.push(e),
    });
    try {
      expect(await fleet.enrollAll()).toEqual({ enrolled: 1, failed: [] });
      await settle(fleet);
      const mac = fleet.macs[0]!;
      expect(mac.state.apps.has(AGENT_BUNDLE_ID)).toBe(true);
      expect(t.server.store.getEnrollment(mac.udid)?.agentLastCheckinAt).toBeDefined();
      expect(fleet.resolver.lookups).toBeGreaterThan(0);
      // The MDM URLs the profile handed the Mac are names under the zone.
      const enrolled = events.find((e) => e.type === 'mac.enroll.enrolled')!;
      expect(new URL(String(enrolled.data?.serverUrl)).hostname).toMatch(/\.mdmsim\.test$/);
    } finally {
      await fleet.stop();
    }
  });

  test('a name the resolver does not know fails as NXDOMAIN (ENOTFOUND), as a network error', async () => {
    const fleet = await Fleet.start({
      server: t.server.url,
      ca: readFileSync(t.server.info.caCert),
      courier: t.server.info.courier!,
      clock: t.clock,
      seed: 'e2e-resolver-2',
      keyType: 'ec',
      count: 1,
      onError: (e) => errors.push(e),
    });
    try {
      const mac = fleet.macs[0]!;
      const error = await mac.get(`https://nowhere.example.test:${new URL(t.server.url).port}/agent/manifest.plist`, 'manifest').catch((e: unknown) => e);
      expect(error).toBeInstanceOf(NetworkError);
      expect(error).toMatchObject({ code: 'ENOTFOUND', status: undefined });
      expect((error as Error).message).toMatch(/getaddrinfo ENOTFOUND nowhere\.example\.test/);
    } finally {
      await fleet.stop();
    }
  });

  test('a fleet whose server name its resolver cannot find is refused at the start, saying what to give', async () => {
    await expect(
      Fleet.start({ server: `https://${NAME}:1`, ca: readFileSync(t.server.info.caCert), courier: t.server.info.courier!, clock: t.clock }),
    ).rejects.toThrow(/cannot resolve mdm\.resolver\.mdmsim\.test .*resolve: \{ 'mdm\.resolver\.mdmsim\.test': '<its address>' \}/);
  });
});
