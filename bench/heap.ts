/**
 * Heap per enrollment with 100,000 enrollments in the in-memory store, queues empty. Run
 * with --expose-gc (npm run bench:connect does).
 *
 * Enrollments are made the way they really arrive: Authenticate and TokenUpdate plists
 * built per device, parsed, and handed to the service. The event log is a ring whose size
 * is set independently of the fleet (200,000 events by default), so its cost is reported
 * per event, not folded into the per-enrollment figure.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { VirtualClock } from '../protocol/clock';
import { buildPlistBuffer, parsePlist } from '../protocol/plist';
import { EventLog } from '../server/service/event-log';
import { MdmService } from '../server/service/mdm-service';
import { MemoryStorage } from '../server/storage/memory';

const N = Number(process.env.BENCH_ENROLLMENTS ?? 100_000);
const TARGET = 2048;
const gc = (globalThis as { gc?: () => void }).gc;
const TOPIC = 'com.apple.mgmt.External.5b2a1a3c-0f4e-4f7e-9a57-2f5d7c9e1b11';

function heapUsed(): number {
  for (let i = 0; i < 4; i++) gc!();
  const m = process.memoryUsage();
  // Buffers live outside the JS heap: count them too.
  return m.heapUsed + m.arrayBuffers;
}

/** Enrolls N Macs through the service and returns the heap growth per enrollment. */
function enrollThroughService(eventCapacity: number): { perEnrollment: number; events: number } {
  const store = new MemoryStorage({ eventCapacity });
  const clock = new VirtualClock();
  const service = new MdmService({ store, clock, events: new EventLog(store, clock) });
  const before = heapUsed();
  for (let i = 0; i < N; i++) {
    const udid = randomUUID().toUpperCase();
    const auth = { MessageType: 'Authenticate', Topic: TOPIC, UDID: udid, DeviceName: `Employee ${i}'s MacBook Pro`, Model: 'MacBookPro18,3', ModelName: 'MacBook Pro', ProductName: 'MacBookPro18,3', SerialNumber: `C02${String(i).padStart(9, '0')}`, OSVersion: '14.4.1', BuildVersion: '23E224' };
    service.checkin(parsePlist(buildPlistBuffer(auth)));
    service.checkin(parsePlist(buildPlistBuffer({ MessageType: 'TokenUpdate', Topic: TOPIC, UDID: udid, Token: randomBytes(32), PushMagic: randomUUID().toUpperCase() })));
  }
  const after = heapUsed();
  if (store.countEnrollments({ enabled: true }) !== N) throw new Error('not every device enrolled');
  if (store.queueLength(store.listEnrollments({ limit: 1 })[0]!.id) !== 0) throw new Error('queues should be empty');
  return { perEnrollment: (after - before) / N, events: store.queryEvents().length };
}

function main(): void {
  if (!gc) throw new Error('run with --expose-gc');
  const bare = enrollThroughService(1);
  const ok = bare.perEnrollment <= TARGET;
  console.log(`heap per enrollment: ${Math.round(bare.perEnrollment).toLocaleString('en-US')} B (target ≤ ${TARGET.toLocaleString('en-US')} B) ${ok ? 'PASS' : 'FAIL'}`);
  console.log(`  ${N.toLocaleString('en-US')} Macs enrolled from parsed Authenticate + TokenUpdate plists, in-memory store, queues empty`);
  const withEvents = enrollThroughService(2 * N);
  const perEvent = ((withEvents.perEnrollment - bare.perEnrollment) * N) / withEvents.events;
  console.log(`  event log, measured in the same run: ${Math.round(perEvent)} B per event; the default ring of 200,000 events holds ≈${Math.round((perEvent * 200_000) / 2 ** 20)} MiB`);
  if (!ok) process.exitCode = 1;
}

main();
