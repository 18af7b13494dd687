/**
 * The server's own clock, restored from its store: a virtual clock on a durable store starts
 * where it stood when the server last ran (even if that server was killed) and keeps its
 * position there as it moves. A real clock, or a store that keeps nothing, is a plain clock.
 */
import { createClock, VirtualClock, type Clock, type ClockMode } from '../../protocol/clock';
import type { ClockPositionStore } from './sqlite';
import type { Storage } from './types';

export function keepsClockPosition(store: Storage): store is Storage & ClockPositionStore {
  const s = store as Partial<ClockPositionStore>;
  return typeof s.loadClockPosition === 'function' && typeof s.saveClockPosition === 'function';
}

export function createStoreClock(mode: ClockMode, store: Storage): Clock {
  if (mode !== 'virtual' || !keepsClockPosition(store)) return createClock(mode);
  const clock = new VirtualClock({ start: store.loadClockPosition() ?? Date.now() });
  // Saved at once: a server killed before its first advance comes back at the same time.
  store.saveClockPosition(clock.now());
  clock.onTimeChange((now) => store.saveClockPosition(now));
  return clock;
}
