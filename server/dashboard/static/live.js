// @ts-check
/**
 * The events WebSocket (/sim/v1/events/stream), batched and self-healing.
 *
 * A 1,000-Mac lab records thousands of events per virtual day, and many thousands per wall
 * second while the clock runs: each message is parsed and queued, and the page hears about them
 * in batches (at most ten a second), never one DOM update or fetch per event. When the socket
 * drops the stream reconnects with `since=<last id>`, so the server replays what was missed.
 */

/**
 * @typedef {object} SimEvent
 * @property {number} id
 * @property {string} time ISO, virtual
 * @property {string} type
 * @property {string} [udid]
 * @property {string} from
 * @property {string} to
 * @property {string} summary
 * @property {Record<string, unknown>} [data]
 */

/**
 * @typedef {object} StreamStatus
 * @property {boolean} connected
 * @property {number} [code] close code when not connected
 * @property {string} [reason]
 * @property {number} [retryInMs]
 * @property {boolean} [resumed] reconnected and replaying from the last event seen
 */

const FLUSH_EVERY_MS = 100;
const MAX_RETRY_MS = 10_000;

export class EventStream {
  /**
   * @param {{ token: string, onBatch: (events: SimEvent[]) => void, onStatus: (status: StreamStatus) => void, beforeReconnect?: () => Promise<boolean> }} options
   *   beforeReconnect: resolve false to stop retrying (the token was refused, say)
   */
  constructor(options) {
    this.options = options;
    /** Id of the newest event seen: the cursor a reconnect resumes from. */
    this.lastId = 0;
    /** Messages received (what the server sent us). */
    this.received = 0;
    /** @type {SimEvent[]} */
    this.pending = [];
    /** @type {WebSocket | undefined} */
    this.ws = undefined;
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.flushTimer = undefined;
    this.failures = 0;
    this.stopped = false;
  }

  start() {
    this.connect();
  }

  stop() {
    this.stopped = true;
    this.ws?.close();
  }

  connect() {
    const url = new URL('/sim/v1/events/stream', location.href);
    url.protocol = location.protocol === 'https:' ? 'wss:' : 'ws:';
    url.searchParams.set('token', this.options.token);
    const resumed = this.lastId > 0;
    if (resumed) url.searchParams.set('since', String(this.lastId));
    const ws = new WebSocket(url);
    this.ws = ws;
    ws.addEventListener('open', () => {
      this.failures = 0;
      this.options.onStatus({ connected: true, resumed });
    });
    ws.addEventListener('message', (message) => {
      /** @type {SimEvent} */
      let event;
      try {
        event = JSON.parse(String(message.data));
      } catch {
        return;
      }
      this.received++;
      // A replay after a reconnect may overlap what was already seen.
      if (event.id <= this.lastId) return;
      this.lastId = event.id;
      this.pending.push(event);
      this.flushTimer ??= setTimeout(() => this.flush(), FLUSH_EVERY_MS);
    });
    ws.addEventListener('close', (close) => {
      if (this.ws !== ws) return;
      this.flush();
      if (this.stopped) return;
      const retryInMs = Math.min(500 * 2 ** this.failures, MAX_RETRY_MS);
      this.failures++;
      this.options.onStatus({ connected: false, code: close.code, reason: close.reason, retryInMs });
      setTimeout(async () => {
        if (this.stopped) return;
        const go = this.options.beforeReconnect ? await this.options.beforeReconnect().catch(() => true) : true;
        if (go && !this.stopped) this.connect();
      }, retryInMs);
    });
  }

  flush() {
    if (this.flushTimer !== undefined) clearTimeout(this.flushTimer);
    this.flushTimer = undefined;
    if (this.pending.length === 0) return;
    const batch = this.pending;
    this.pending = [];
    this.options.onBatch(batch);
  }
}
