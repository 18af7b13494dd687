/**
 * server.settled() and server.busy: what a lab waits on before its virtual clock moves on —
 * no push on its way to APNs, and none handed to a connected device and unacknowledged.
 */
import { freshId, PushableMac, startAgentServer } from '../helpers/agent';
import type { TestServer } from '../helpers/server';

let t: TestServer;

beforeAll(async () => {
  t = await startAgentServer();
});
afterAll(() => t?.stop());

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

it('waits until the device acknowledges the push the enrollment install sent', async () => {
  const mac = await PushableMac.create(t, freshId(1));
  try {
    expect(t.server.busy).toBe(false);
    await t.server.settled();
    await mac.enroll();
    let done = false;
    const settled = t.server.settled().then(() => (done = true));
    const push = await mac.courier.next('push');
    await sleep(30);
    expect(done).toBe(false);
    expect(t.server.busy).toBe(true);
    expect(t.server.apns!.hub.unacknowledged).toBe(1);
    mac.courier.ack(push.id);
    await settled;
    expect(t.server.busy).toBe(false);
    expect(t.server.apns!.hub.unacknowledged).toBe(0);
  } finally {
    await mac.close();
  }
});

it('does not wait for a device that disconnected (its push waits at the courier instead), and times out on one that never acks', async () => {
  const mac = await PushableMac.create(t, freshId(2));
  await mac.enroll();
  await mac.courier.next('push');
  await expect(t.server.settled({ timeoutMs: 50 })).rejects.toThrow(/1 push\(es\) sent to connected devices are not acknowledged/);
  await mac.close();
  for (let i = 0; i < 100 && t.server.busy; i++) await sleep(5);
  expect(t.server.apns!.hub.unacknowledged).toBe(0);
  await t.server.settled();
});
