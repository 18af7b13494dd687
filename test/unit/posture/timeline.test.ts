/**
 * Posture syncs on a lab's timeline: a sync that changed nothing is routine and folds into one
 * line per day; one that changed attributes, a failure and a pause stay lines of their own.
 */
import { formatTimeline } from '../../../lab/timeline';
import type { EventRecord } from '../../../server/storage/types';

const T0 = Date.UTC(2026, 0, 5, 9, 0, 0);
const MIN = 60_000;
let id = 0;
const sync = (at: number, changes: number, trigger = 'schedule'): EventRecord => ({ id: ++id, at, type: 'posture.sync', from: 'posture' as EventRecord['from'], to: 'mdm', summary: `posture sync (${trigger}): …; ${changes ? `${changes} attributes changed` : 'no change'}`, data: { changes, trigger } });

it('folds scheduled posture syncs that changed nothing per day, keeping the ones that changed something or that an update caused', () => {
  const events: EventRecord[] = [
    sync(T0, 4),
    sync(T0 + 15 * MIN, 0),
    sync(T0 + 30 * MIN, 0),
    { id: ++id, at: T0 + 40 * MIN, type: 'posture.paused', from: 'posture' as EventRecord['from'], to: 'posture' as EventRecord['to'], summary: 'posture sync paused until 2026-01-06 09:40 after 401' },
    sync(T0 + 45 * MIN, 1),
    sync(T0 + 50 * MIN, 0, 'update'),
    sync(T0 + 86_400_000, 0),
  ];
  expect(formatTimeline(events, { start: T0 })).toEqual([
    'day  0 09:00:00          posture → MDM      posture sync (schedule): …; 4 attributes changed',
    'day  0 09:15:00          posture → MDM      2 posture syncs with no change, the last at day 0 09:30:00',
    'day  0 09:40:00          posture → posture  posture sync paused until 2026-01-06 09:40 after 401',
    'day  0 09:45:00          posture → MDM      posture sync (schedule): …; 1 attributes changed',
    'day  0 09:50:00          posture → MDM      posture sync (update): …; no change',
    'day  1 09:00:00          posture → MDM      1 posture sync with no change',
  ]);
});
