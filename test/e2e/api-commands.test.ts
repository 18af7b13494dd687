/**
 * GET /api/v1/devices/{id}/commands through a command's whole life, driven by a test Mac over
 * real sockets so each step is ours to take: 1 pending (queued, not yet fetched), 2 running
 * (delivered, no answer yet), 5 NotNow, 3 completed; `attempts` counting deliveries, and
 * `last_pushed` being the last push between the command's request and its completion (null
 * when none was sent for it), not the device's latest push.
 */
import { commands } from '../../protocol/command';
import { kandjiSpaced } from '../../protocol/kandji';
import { deviceIdFor } from '../../server/api/device-view';
import { PushableMac, POLICIES_OFF } from '../helpers/agent';
import { startTestServer, T0, type TestServer } from '../helpers/server';

const MIN = 60_000;

let t: TestServer;
let mac: PushableMac;

beforeAll(async () => {
  t = await startTestServer(POLICIES_OFF);
  mac = await PushableMac.create(t);
  await mac.enroll();
});
afterAll(async () => {
  await mac?.close();
  await t?.stop();
});

const api = (method: string, path: string) => t.http.api(method, `/api/v1/devices/${deviceIdFor(mac.udid)}${path}`, t.token);
const listed = async (): Promise<Map<string, any>> => {
  const r = await api('GET', '/commands');
  expect(r.status).toBe(200);
  return new Map(r.json.commands.results.map((c: any) => [c.uuid, c]));
};

it('reports each status with its attempts, date_completed and the push that went out for it', async () => {
  // T0+1m: restart queued and pushed.
  await t.clock.advance(1 * MIN);
  expect((await api('POST', '/action/restart')).status).toBe(200);
  const restart = t.server.store.listQueue(mac.udid).find((q) => q.requestType === 'RestartDevice')!.commandUUID;
  expect((await listed()).get(restart)).toMatchObject({ request_type: 'RestartDevice', status: 1, attempts: 0, date_completed: null, date_requested: kandjiSpaced(T0 + MIN), last_pushed: kandjiSpaced(T0 + MIN), error_chain: [] });

  // Delivered, not answered yet: running.
  const delivered = await mac.idle();
  expect(delivered?.CommandUUID).toBe(restart);
  expect((await listed()).get(restart)).toMatchObject({ status: 2, attempts: 1, date_completed: null });

  // NotNow: status 5, still not completed.
  expect(await mac.notNow(restart)).toBeUndefined();
  expect((await listed()).get(restart)).toMatchObject({ status: 5, attempts: 1, date_completed: null });

  // T0+2m: pushed again, delivered again, acknowledged.
  await t.clock.advance(1 * MIN);
  expect((await api('POST', '/action/blankpush')).status).toBe(200);
  expect((await mac.idle())?.CommandUUID).toBe(restart);
  expect(await mac.ack(restart, {}, 'RestartDevice')).toBeUndefined();
  expect((await listed()).get(restart)).toMatchObject({ status: 3, attempts: 2, date_completed: kandjiSpaced(T0 + 2 * MIN), last_pushed: kandjiSpaced(T0 + 2 * MIN) });

  // T0+3m: a push for another command does not rewrite the finished one's last_pushed.
  await t.clock.advance(1 * MIN);
  expect((await api('POST', '/action/shutdown')).status).toBe(200);
  // Queued at T0+4m without a push: no push was sent for it.
  await t.clock.advance(1 * MIN);
  const quiet = t.server.service.enqueue([mac.udid], commands.DeviceInformation({ Queries: ['OSVersion'] })).commandUUID;
  const all = await listed();
  expect(all.get(restart)).toMatchObject({ status: 3, last_pushed: kandjiSpaced(T0 + 2 * MIN) });
  const shutdown = [...all.values()].find((c) => c.request_type === 'ShutDownDevice');
  expect(shutdown).toMatchObject({ status: 1, attempts: 0, last_pushed: kandjiSpaced(T0 + 3 * MIN) });
  expect(all.get(quiet)).toMatchObject({ status: 1, attempts: 0, last_pushed: null, date_completed: null });
});
