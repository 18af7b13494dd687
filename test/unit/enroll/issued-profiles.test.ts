/**
 * IssuedProfiles beyond its in-memory map: an older issue is found in the event log by reading
 * back from the Authenticate that bound it, not by reading every enroll.profile event, and each
 * answer (found or not) is remembered, so repeated profiles requests for one Mac read nothing.
 */
import type { Clock } from '../../../protocol/clock';
import { IssuedProfiles } from '../../../server/enroll/issued-profiles';
import { EventLog } from '../../../server/service/event-log';
import { MemoryStorage } from '../../../server/storage/memory';
import type { EventQuery } from '../../../server/storage/types';

const T0 = Date.parse('2026-01-05T09:00:00Z');
const HOUR = 3600_000;
const sha = (i: number): string => i.toString(16).padStart(64, '0');

/** An event log with `count` issues an hour apart (plus other traffic), counting the events each query returns. */
function logWithIssues(count: number): { events: EventLog; read: () => number } {
  let now = T0;
  // The log only reads the time; no timers run here.
  const clock: Clock = { mode: 'virtual', now: () => now, setTimer: () => { throw new Error('no timers here'); } };
  const events = new EventLog(new MemoryStorage(), clock);
  for (let i = 0; i < count; i++) {
    now = T0 + i * HOUR;
    events.record({
      type: 'enroll.profile',
      from: 'mdm',
      to: 'device',
      summary: `issue ${i}`,
      data: {
        identityCertSha256: sha(i),
        serverURL: 'https://d.test/mdm/connect',
        checkInURL: 'https://d.test/mdm/checkin',
        topic: 'com.apple.mgmt.test',
        payloadUUIDs: { profile: `p${i}`, ca: `c${i}`, identity: `i${i}`, mdm: `m${i}` },
      },
    });
    events.record({ type: 'mdm.checkin', udid: `MAC-${i}`, from: 'device', to: 'mdm', summary: 'Authenticate' });
  }
  let returned = 0;
  const query = events.query.bind(events);
  events.query = (q: EventQuery) => {
    const out = query(q);
    returned += out.length;
    return out;
  };
  return { events, read: () => returned };
}

describe('IssuedProfiles.find beyond the recent issues', () => {
  it('reads back from the Authenticate, a few events, not every issue', () => {
    const { events, read } = logWithIssues(500);
    const issued = new IssuedProfiles(events, 0);
    // Issue 100 was installed (Authenticate) 30 seconds after its download.
    const record = issued.find(sha(100), T0 + 100 * HOUR + 30_000);
    expect(record).toMatchObject({ identityCertSha256: sha(100), issuedAt: T0 + 100 * HOUR, uuids: { profile: 'p100' } });
    // The oldest event (to know where to stop) and the one window holding the issue.
    expect(read()).toBeLessThan(5);
  });

  it('finds an issue made long before its Authenticate, widening the look back', () => {
    const { events, read } = logWithIssues(500);
    const issued = new IssuedProfiles(events, 0);
    expect(issued.find(sha(3), T0 + 400 * HOUR)?.uuids.profile).toBe('p3');
    expect(read()).toBeGreaterThan(0);
  });

  it('remembers what it found and what it did not, so asking again reads nothing', () => {
    const { events, read } = logWithIssues(50);
    const issued = new IssuedProfiles(events, 10);
    expect(issued.find(sha(7), T0 + 7 * HOUR + 1000)).toBeDefined();
    expect(issued.find('f'.repeat(64), T0 + 49 * HOUR)).toBeUndefined();
    const before = read();
    expect(issued.find(sha(7), T0 + 7 * HOUR + 1000)?.uuids.profile).toBe('p7');
    expect(issued.find('f'.repeat(64), T0 + 49 * HOUR)).toBeUndefined();
    expect(read()).toBe(before);
  });

  it('still finds an issue without a time, reading the whole log', () => {
    const { events } = logWithIssues(20);
    expect(new IssuedProfiles(events, 0).find(sha(19))?.uuids.mdm).toBe('m19');
  });
});
