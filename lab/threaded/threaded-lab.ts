/**
 * A lab whose server runs in a worker thread: the same story as `startLab` (server, fleet,
 * one virtual clock), with the server's TLS, HTTP and CMS work on the second core.
 *
 *   const lab = await startThreadedLab({ devices: 3 });
 *   await lab.fault(1, { kind: 'agent-uninstalled' });
 *   await lab.advance('8d');
 *   await lab.events({ type: 'agent.reinstall.fired' });
 *   await lab.stop();
 *
 * The main thread owns the VirtualClock and the Fleet; the server thread runs `startServer`
 * on a MirroredClock (see mirror.ts): its now() reads main's time from shared memory, its
 * timers live on main's clock, and each settle round of main's clock is a round trip to the
 * server thread. Server and Macs still meet only over HTTPS and the courier on loopback.
 *
 * What needs the server's memory (events, device records, pushes) is a message round trip, so
 * those methods are async here. Server options cross a thread: they must be cloneable (no
 * store, no callbacks); the server's unexpected errors come back to `onError`.
 */
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { VirtualClock } from '../../protocol/clock';
import type { DeviceFault, DeviceFaultKind } from '../../protocol/faults';
import type { Fleet } from '../../agent-sim';
import type { ServerInfo } from '../../server/server';
import type { EventInput } from '../../server/service/event-log';
import type { EnrollmentRecord, EventQuery, EventRecord } from '../../server/storage/types';
import { FleetLab, labBasics, settleWhileBusy, startLabFleet, type FleetLabOptions } from '../fleet-lab';
import { ClockHost, deserializeError, SharedTime, type SerializedError } from './mirror';
import { Rpc } from './rpc';
import type { ServerThreadData, ServerThreadReady, ServerThreadStart } from './server-worker';

export interface ThreadedLabOptions extends FleetLabOptions {
  /** Anything else for the server (cloneable: agentPolicy windows, apiToken, auth...). */
  server?: ServerThreadStart['options'];
  /**
   * Record the Macs' own events (downloads, pushes received, failed agent check-ins) in the
   * server's event log, as startLab does (default true). Each one is a message to the server thread.
   */
  macEvents?: boolean;
  /** Errors from the server thread and from timers (default: a process warning). */
  onError?: (error: unknown) => void;
  /** The compiled worker entry (default: server-worker.js beside this file, or in dist/ when run from TypeScript). */
  workerFile?: string;
}

/** The compiled worker entry: beside this file in dist/, or dist/lab/threaded/ when this file runs as TypeScript (jest). */
export function serverWorkerFile(): string {
  if (__filename.endsWith('.js')) return join(__dirname, 'server-worker.js');
  return join(__dirname, '../../dist/lab/threaded/server-worker.js');
}

const defaultOnError = (error: unknown) => {
  process.emitWarning(`mdmsim lab (server thread): ${(error as Error)?.stack ?? String(error)}`);
};

/** The server thread as main sees it: its clock mirror, calls, and life. */
class ServerThread {
  readonly host: ClockHost;
  readonly rpc: Rpc;
  private readonly exited: Promise<void>;
  private dead: Error | undefined;
  private eventListener: ((e: EventRecord) => void) | undefined;

  constructor(
    readonly worker: Worker,
    clock: VirtualClock,
    time: SharedTime,
    private readonly onError: (error: unknown) => void,
    faults: () => Fleet | undefined,
  ) {
    this.host = new ClockHost(clock, worker, time);
    this.rpc = new Rpc(
      worker,
      {
        error: (e: SerializedError) => onError(deserializeError(e, 'server thread')),
        event: (e: EventRecord) => this.eventListener?.(e),
        'faults.apply': (udid: string, f: DeviceFault[]) => faults()?.faults.apply(udid, f),
        'faults.get': (udid: string) => faults()?.faults.get(udid),
        'faults.clear': (udid: string, kind?: DeviceFaultKind) => faults()?.faults.clear(udid, kind),
      },
      onError,
      'server thread',
    );
    worker.on('message', (m: unknown) => {
      if (!this.host.handle(m)) this.rpc.handle(m);
    });
    worker.on('error', (error) => {
      // An uncaught exception or unhandled rejection ended the thread.
      this.gone(error instanceof Error ? error : new Error(String(error)));
      onError(error);
    });
    worker.on('messageerror', (error) => onError(error));
    this.exited = new Promise<void>((resolve) =>
      worker.once('exit', (code) => {
        this.gone(new Error(`the server thread exited (code ${code})`));
        resolve();
      }),
    );
  }

  onServerEvent(listener: ((e: EventRecord) => void) | undefined): void {
    this.eventListener = listener;
  }

  get alive(): boolean {
    return this.dead === undefined;
  }

  private gone(reason: Error): void {
    if (this.dead) return;
    this.dead = reason;
    this.host.close(reason);
    this.rpc.close(reason);
  }

  async terminate(): Promise<void> {
    await this.worker.terminate();
    await this.exited;
  }
}

export class ThreadedLab extends FleetLab {
  private readonly removeSettle: () => void;
  private stopped = false;

  private constructor(
    private readonly thread: ServerThread,
    fleet: Fleet,
    clock: VirtualClock,
    /** The server's URLs, CA file and API token (the ready line of `mdmsim serve`). */
    readonly info: ServerInfo,
    private readonly tempDir: string | undefined,
  ) {
    super(fleet, clock);
    // Each round: the Macs' work, then a round trip to the server thread (which waits for its
    // own). Work in flight is always someone's (a request is the fleet's until answered, a
    // push the server's until the Mac acknowledges it), and the clock repeats rounds until
    // one finds both sides quiet.
    this.removeSettle = clock.addSettleHook(async () => {
      const fleetWaited = await settleWhileBusy([fleet]);
      const serverWaited = await thread.host.settleRemote();
      return fleetWaited || serverWaited;
    });
  }

  static async start(options: ThreadedLabOptions = {}): Promise<ThreadedLab> {
    const { start, devices } = labBasics(options);
    const workerFile = options.workerFile ?? serverWorkerFile();
    if (!existsSync(workerFile)) throw new Error(`${workerFile} is missing: the server thread runs compiled JavaScript (npm run build)`);
    const onError = options.onError ?? defaultOnError;
    const clock = new VirtualClock({ start, onError: (error, label) => onError(label ? new Error(`timer ${label}: ${(error as Error)?.message ?? String(error)}`, { cause: error }) : error) });
    const tempDir = options.dataDir === undefined ? mkdtempSync(join(tmpdir(), 'mdmsim-lab-')) : undefined;
    let fleet: Fleet | undefined;
    let thread: ServerThread | undefined;
    try {
      const time = SharedTime.create(clock.now());
      const worker = new Worker(workerFile, { workerData: { time: time.buffer } satisfies ServerThreadData });
      thread = new ServerThread(worker, clock, time, onError, () => fleet);
      const ready = await thread.rpc.call<ServerThreadReady>('start', {
        options: {
          apiToken: 'mdmsim-lab',
          ...options.server,
          host: options.host ?? '127.0.0.1',
          port: options.port ?? 0,
          dataDir: options.dataDir ?? tempDir!,
        },
        forwardEvents: options.onEvent !== undefined,
      } satisfies ServerThreadStart);
      thread.onServerEvent(options.onEvent);
      const rpc = thread.rpc;
      fleet = await startLabFleet({ url: ready.url, info: ready.info }, clock, options, options.macEvents === false ? undefined : (input) => rpc.notify('record', input));
      const lab = new ThreadedLab(thread, fleet, clock, ready.info, tempDir);
      if (devices > 0) await lab.enroll(devices);
      return lab;
    } catch (error) {
      await fleet?.stop().catch(() => undefined);
      await thread?.rpc.call('stop').catch(() => undefined);
      await thread?.terminate().catch(() => undefined);
      if (tempDir) rmSync(tempDir, { recursive: true, force: true });
      throw error;
    }
  }

  /** https://host:port of the MDM host. */
  get url(): string {
    return new URL(this.info.mdm).origin;
  }

  /** The server thread (for its resource use); the lab owns its life. */
  get worker(): Worker {
    return this.thread.worker;
  }

  /** Pushes Macs (they connect and drain their queues); resolves once that has played out. */
  async push(which: string | number | Array<string | number>): Promise<void> {
    const ids = (Array.isArray(which) ? which : [which]).map((w) => this.mac(w).udid);
    await this.thread.rpc.call('push', ids, 'operator');
    await this.clock.settle();
  }

  /** Events so far (server exchanges and Mac-side happenings), oldest first. */
  events(query: Omit<EventQuery, 'types'> & { type?: string | string[] } = {}): Promise<EventRecord[]> {
    const { type, ...rest } = query;
    const types = type === undefined ? undefined : Array.isArray(type) ? type : [type];
    return this.thread.rpc.call<EventRecord[]>('events', { ...rest, ...(types ? { types } : {}) });
  }

  /**
   * How many events of each type the server has recorded since it started (counted as they
   * happen, so unlike events() it is not bounded by the event log's ring).
   */
  eventCounts(): Promise<Record<string, number>> {
    return this.thread.rpc.call<Record<string, number>>('counts');
  }

  /** What the server knows about a Mac (its enrollment record). */
  device(which: string | number): Promise<EnrollmentRecord | undefined> {
    return this.thread.rpc.call<EnrollmentRecord | undefined>('device', this.mac(which).udid);
  }

  /** Records an event in the server's log (an operator's note, say). */
  record(input: EventInput): Promise<void> {
    return this.thread.rpc.call('record', input);
  }

  /** Stops the fleet, then the server, then ends its thread; removes the temp data dir. */
  async stop(): Promise<void> {
    if (this.stopped) return;
    this.stopped = true;
    this.removeSettle();
    try {
      await this.fleet.stop();
      if (this.thread.alive) await this.thread.rpc.call('stop');
    } finally {
      this.thread.host.close();
      await this.thread.terminate();
      if (this.tempDir) rmSync(this.tempDir, { recursive: true, force: true });
    }
  }
}

export function startThreadedLab(options: ThreadedLabOptions = {}): Promise<ThreadedLab> {
  return ThreadedLab.start(options);
}

