/**
 * The server thread of a ThreadedLab (see threaded-lab.ts): `startServer` on a MirroredClock
 * whose time and timers belong to the lab's VirtualClock in the main thread. Started idle;
 * main calls `start` with the server options, then talks to it through the calls below.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { startServer, type MdmsimServer, type ServerInfo, type ServerOptions } from '../../server/server';
import type { DeviceFaultHandler } from '../../server/http/control-api';
import type { EventInput } from '../../server/service/event-log';
import type { EventQuery, EventRecord, EnrollmentRecord } from '../../server/storage/types';
import type { PushWhy } from '../../server/push';
import { MirroredClock, serializeError } from './mirror';
import { Rpc } from './rpc';
import { settleWhileBusy } from '../fleet-lab';

export interface ServerThreadData {
  time: SharedArrayBuffer;
}

export interface ServerThreadStart {
  /** Structured-cloneable server options (no functions, no store): the thread supplies clock, onError and deviceFaults. */
  options: Omit<ServerOptions, 'clock' | 'store' | 'onError' | 'deviceFaults'>;
  /** Post every event the server records to main (for a lab's onEvent). */
  forwardEvents?: boolean;
}

export interface ServerThreadReady {
  url: string;
  info: ServerInfo;
}

if (!parentPort) throw new Error('server-worker.js runs as a worker thread (see lab/threaded)');
const port = parentPort;
const { time } = workerData as ServerThreadData;
const clock = new MirroredClock(time, port);
let server: MdmsimServer | undefined;
/** Every event type the server has recorded since it started, counted as it happens. */
const counts = new Map<string, number>();

const reportError = (error: unknown) => rpc.notify('error', serializeError(error));

const faultsInMain: DeviceFaultHandler = {
  apply: (udid, faults) => rpc.call('faults.apply', udid, faults),
  get: (udid) => rpc.call('faults.get', udid),
  clear: (udid, kind) => rpc.call('faults.clear', udid, kind),
};

function started(): MdmsimServer {
  if (!server) throw new Error('the server thread has no server (not started, or stopped)');
  return server;
}


const rpc = new Rpc(
  port,
  {
    async start(start: ServerThreadStart): Promise<ServerThreadReady> {
      if (server) throw new Error('the server thread is already started');
      const s = await startServer({ ...start.options, clock, onError: reportError, deviceFaults: faultsInMain });
      server = s;
      s.events.subscribe((e) => counts.set(e.type, (counts.get(e.type) ?? 0) + 1));
      if (start.forwardEvents) s.events.subscribe((e) => rpc.notify('event', e));
      clock.settleWith(() => settleWhileBusy([s]));
      return { url: s.url, info: s.info };
    },
    counts: (): Record<string, number> => Object.fromEntries(counts),
    events: (query: EventQuery): EventRecord[] => started().events.query({ limit: Number.MAX_SAFE_INTEGER, ...query }),
    device: (udid: string): EnrollmentRecord | undefined => started().store.getEnrollment(udid) as EnrollmentRecord | undefined,
    record: (input: EventInput): void => void started().events.record(input),
    push: async (udids: string[], why: PushWhy): Promise<void> => {
      await started().pushes?.push(udids, why);
    },
    pendingTimers: (): number => clock.pendingTimers,
    async stop(): Promise<void> {
      const s = server;
      server = undefined;
      await s?.stop();
    },
  },
  reportError,
  'main thread',
);

port.on('message', (message: unknown) => {
  if (!clock.handle(message)) rpc.handle(message);
});
