// @ts-check
/**
 * The mdmsim dashboard: wires the token, the event stream and the panels together.
 * Every failure from the server lands in a banner (its message, code and hint); the page
 * never waits on one, and the stream reconnects by itself.
 */
import { Api, ApiError, forgetToken, keepToken, takeToken } from './api.js';
import { clearBanner, initBanners, showBanner } from './banner.js';
import { ClockControls } from './clock.js';
import { DeviceFeed, DeviceTable } from './devices.js';
import { DevicePanel } from './device.js';
import { parseDuration } from './format.js';
import { EventStream } from './live.js';
import { ScenarioPanel } from './scenario.js';

/** @typedef {import('./live.js').SimEvent} SimEvent */

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

/** Set when the server refused the token, so the reloaded page says why it asks again. */
const REFUSED_KEY = 'mdmsim.tokenRefused';

/** What the page has taken in, for the benchmark and the curious (window.mdmsimDashboard). */
const stats = { received: 0, rendered: 0, firstId: 0, lastId: 0, batches: 0, deviceFetchRounds: 0, connects: 0 };
Object.assign(window, { mdmsimDashboard: stats });

initBanners(byId('banners'));

/** @param {unknown} error */
function problemOf(error) {
  if (error instanceof ApiError) return { message: error.message, code: error.status ? `${error.status} ${error.code}` : error.code, hint: error.hint };
  return { message: `the dashboard hit a bug: ${/** @type {Error} */ (error)?.message ?? String(error)}`, code: 'page-error' };
}

// A bug in the page shows like a server error rather than leaving it silently half-working.
window.addEventListener('error', (e) => showBanner('page', problemOf(e.error ?? new Error(e.message))));
window.addEventListener('unhandledrejection', (e) => showBanner('page', problemOf(e.reason)));

/** @param {string} [why] */
function askForToken(why) {
  byId('main').hidden = true;
  const form = /** @type {HTMLFormElement} */ (byId('token-form'));
  const input = /** @type {HTMLInputElement} */ (byId('token-input'));
  const error = byId('token-error');
  form.hidden = false;
  error.hidden = !why;
  error.textContent = why ?? '';
  input.focus();
  form.onsubmit = async (event) => {
    event.preventDefault();
    const token = input.value.trim();
    if (!token) return;
    try {
      await new Api(token).get('/clock');
    } catch (e) {
      error.hidden = false;
      error.textContent = e instanceof ApiError && e.status === 401 ? 'The server refused this token.' : problemOf(e).message;
      return;
    }
    keepToken(token);
    form.hidden = true;
    start(token);
  };
}

/** @param {string} token */
function start(token) {
  byId('main').hidden = false;
  /** @type {EventStream | undefined} */
  let stream;
  const api = new Api(token, {
    // Start over from a clean page (no half-wired panels), asking for the token with the reason.
    onUnauthorized: () => {
      stream?.stop();
      forgetToken();
      sessionStorage.setItem(REFUSED_KEY, '1');
      location.reload();
    },
  });
  /** @param {string} key */
  const reportTo = (key) => (/** @type {unknown} */ error) => {
    if (error instanceof ApiError && error.status === 401) return;
    showBanner(key, problemOf(error));
  };
  const report = reportTo('request');

  const table = new DeviceTable({
    tbody: /** @type {HTMLTableSectionElement} */ (byId('devices').querySelector('tbody')),
    count: byId('devices-count'),
    filter: /** @type {HTMLInputElement} */ (byId('device-filter')),
    onSelect: (udid) => {
      table.select(udid);
      void panel.select(udid);
    },
    onRendered: (udids) => {
      if (panel.udid && udids.includes(panel.udid)) panel.renderSummary();
    },
  });
  const feed = new DeviceFeed(api, table, (error) => {
    reportTo('devices')(error);
  });
  const panel = new DevicePanel(api, { onError: report, deviceOf: (udid) => table.get(udid) });
  const scenario = new ScenarioPanel(api, byId('scenario-body'), reportTo('scenario'));
  const clock = new ClockControls(api, {
    onNow: (now) => table.setNow(now),
    onError: report,
    // The last events of an advance may still be on their way: re-read once it is over.
    onAdvanced: () => void feed.refreshAll(),
  });

  const liveDot = byId('live-dot');
  const liveStatus = byId('live-status');
  const liveCount = byId('live-count');

  /** @param {SimEvent[]} events */
  const onBatch = (events) => {
    stats.batches++;
    stats.rendered += events.length;
    if (stats.firstId === 0) stats.firstId = events[0]?.id ?? 0;
    stats.lastId = events[events.length - 1]?.id ?? stats.lastId;
    stats.received = stream?.received ?? stats.received;
    /** @type {Set<string>} */
    const dirty = new Set();
    // ISO times of one clock compare as strings: parse only the latest.
    let latestTime = '';
    let scenarioMoved = false;
    for (const e of events) {
      if (e.udid !== undefined) dirty.add(e.udid);
      if (e.type.startsWith('scenario.')) scenarioMoved = true;
      if (e.time > latestTime) latestTime = e.time;
    }
    const latest = latestTime ? Date.parse(latestTime) : 0;
    if (dirty.size > 0) feed.markDirty(dirty);
    panel.onEvents(events);
    if (scenarioMoved) void scenario.refresh();
    if (latest > 0) clock.show(latest);
    stats.deviceFetchRounds = feed.rounds;
    liveCount.textContent = `${stats.rendered.toLocaleString('en-US')} events`;
    liveCount.dataset.rendered = String(stats.rendered);
    liveCount.dataset.lastId = String(stats.lastId);
  };

  let loaded = false;
  const load = async () => {
    if (loaded) return;
    loaded = true;
    await Promise.all([
      clock.load().catch(report),
      api.get('/agent-policy').then(
        (policy) => table.setNow(clock.now, parseDuration(policy.agentWindow)),
        (/** @type {unknown} */ error) => {
          if (!(error instanceof ApiError && error.status === 404)) report(error);
        },
      ),
      feed.refreshAll(),
      scenario.refresh(),
    ]);
  };

  stream = new EventStream({
    token,
    onBatch,
    onStatus: (status) => {
      liveDot.classList.toggle('off', !status.connected);
      if (status.connected) {
        stats.connects++;
        liveStatus.textContent = 'live';
        clearBanner('stream');
        if (!loaded) void load();
        else if (status.resumed) {
          // Replayed from the last event seen; the server may have restarted too: re-read all.
          void feed.refreshAll();
          void scenario.refresh();
          void clock.load().catch(report);
        }
        return;
      }
      const seconds = Math.max(1, Math.round((status.retryInMs ?? 0) / 1000));
      liveStatus.textContent = `disconnected; retrying in ${seconds} s`;
      showBanner('stream', {
        level: 'warn',
        message: `Live updates interrupted${status.reason ? `: ${status.reason}` : ''}; reconnecting in ${seconds} s`,
        code: status.code !== undefined ? `WebSocket close ${status.code}` : undefined,
      });
    },
    // Before each retry: a refused token stops the retries; an unreachable server is said plainly.
    beforeReconnect: async () => {
      try {
        await api.get('/clock');
        return true;
      } catch (error) {
        if (error instanceof ApiError && error.status === 401) return false;
        showBanner('stream', { ...problemOf(error), level: 'error' });
        return true;
      }
    },
  });
  stream.start();
  // If the WebSocket cannot open at all (a proxy that drops upgrades), show the fleet anyway.
  setTimeout(() => void load(), 2000);
}

const token = takeToken();
const refused = sessionStorage.getItem(REFUSED_KEY) !== null;
sessionStorage.removeItem(REFUSED_KEY);
if (token) start(token);
else askForToken(refused ? 'The server refused the token this page had (a restarted server has a new one unless its data dir is the same). Paste the current apiToken.' : undefined);
