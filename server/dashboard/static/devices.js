// @ts-check
/**
 * The device table and the feed that keeps it current.
 *
 * Events only say which devices changed; the feed re-reads those devices in batches: a few
 * by GET /devices/{udid}, many (a fleet-wide inventory, a clock jump) by re-reading the list,
 * at most once a second. One fetch round is in flight at a time; what changes meanwhile is
 * collected for the next round, so a 1,000-Mac lab costs a handful of requests a second.
 */
import { agentState, formatShortTime } from './format.js';

/** @typedef {import('./format.js').DeviceJson} DeviceJson */
/** @typedef {import('./api.js').Api} Api */

/** More dirty devices than this in one round: re-read the whole list instead. */
const MAX_SINGLE_FETCHES = 12;
const FULL_REFRESH_MIN_INTERVAL_MS = 1000;
const PAGE = 1000;

const COLUMNS = ['name', 'serial', 'os', 'mdm-checkin', 'agent-checkin', 'agent-state', 'queued'];

/** @param {number} ms */
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

export class DeviceTable {
  /**
   * @param {{ tbody: HTMLTableSectionElement, count: HTMLElement, filter: HTMLInputElement, onSelect: (udid: string) => void, onRendered?: (udids: string[]) => void }} elements
   */
  constructor(elements) {
    this.el = elements;
    /** @type {Map<string, DeviceJson>} */
    this.devices = new Map();
    /** @type {Map<string, HTMLTableRowElement>} */
    this.rows = new Map();
    /** @type {string | undefined} */
    this.selected = undefined;
    /** Virtual ms; 0 until the clock is known (the first time is rendered at once). */
    this.now = 0;
    this.agentWindowMs = 7 * 86_400_000;
    this.filterText = '';
    /** @type {ReturnType<typeof setTimeout> | undefined} */
    this.nowTimer = undefined;
    elements.filter.addEventListener('input', () => {
      this.filterText = elements.filter.value.trim().toLowerCase();
      this.render();
    });
    elements.tbody.addEventListener('click', (event) => {
      const row = /** @type {HTMLElement} */ (event.target).closest('tr');
      const udid = row?.dataset.udid;
      if (udid) elements.onSelect(udid);
    });
  }

  /** @param {string} udid */
  get(udid) {
    return this.devices.get(udid);
  }

  /** @param {DeviceJson[]} list the whole fleet */
  replaceAll(list) {
    const seen = new Set();
    for (const d of list) {
      seen.add(d.udid);
      this.devices.set(d.udid, d);
    }
    for (const udid of [...this.devices.keys()]) if (!seen.has(udid)) this.remove(udid);
    this.render();
  }

  /** @param {DeviceJson[]} list some devices */
  upsert(list) {
    for (const d of list) this.devices.set(d.udid, d);
    this.render(list.map((d) => d.udid));
  }

  /** @param {string} udid */
  remove(udid) {
    this.devices.delete(udid);
    this.rows.get(udid)?.remove();
    this.rows.delete(udid);
  }

  /**
   * The clock moved: agent states depend on it ("silent 3h"). Every row is re-judged at most
   * twice a second, however many batches of events move the clock meanwhile.
   * @param {number} now @param {number} [agentWindowMs]
   */
  setNow(now, agentWindowMs) {
    if (agentWindowMs !== undefined) this.agentWindowMs = agentWindowMs;
    if (now === this.now && agentWindowMs === undefined) return;
    const first = this.now === 0;
    this.now = now;
    if (first) return this.render();
    if (this.nowTimer !== undefined) return;
    this.nowTimer = setTimeout(() => {
      this.nowTimer = undefined;
      this.render();
    }, 500);
  }

  /** @param {string | undefined} udid */
  select(udid) {
    if (this.selected) this.rows.get(this.selected)?.classList.remove('selected');
    this.selected = udid;
    if (udid) this.rows.get(udid)?.classList.add('selected');
  }

  /** @param {string[]} [only] re-render just these (default: every row) */
  render(only) {
    const ids = only ?? [...this.devices.keys()];
    const flash = ids.length <= 50 && only !== undefined;
    for (const udid of ids) {
      const d = this.devices.get(udid);
      if (!d) continue;
      let row = this.rows.get(udid);
      if (!row) {
        row = document.createElement('tr');
        row.dataset.udid = udid;
        for (const c of COLUMNS) {
          const td = document.createElement('td');
          td.className = c;
          row.append(td);
        }
        if (udid === this.selected) row.classList.add('selected');
        this.rows.set(udid, row);
        this.el.tbody.append(row);
      }
      const changed = this.fill(row, d);
      if (changed && flash) {
        row.classList.remove('flash');
        void row.offsetWidth; // restart the animation
        row.classList.add('flash');
      }
      row.hidden = this.filterText !== '' && !this.matches(d);
    }
    const shown = this.filterText === '' ? this.devices.size : [...this.devices.values()].filter((d) => this.matches(d)).length;
    this.el.count.textContent = shown === this.devices.size ? `(${this.devices.size})` : `(${shown} of ${this.devices.size})`;
    this.el.onRendered?.(ids);
  }

  /** @param {DeviceJson} d */
  matches(d) {
    const f = this.filterText;
    return [d.deviceName, d.serialNumber, d.udid, d.productName].some((v) => v?.toLowerCase().includes(f));
  }

  /**
   * Writes the cells that differ; true if any did.
   * @param {HTMLTableRowElement} row @param {DeviceJson} d
   */
  fill(row, d) {
    const state = agentState(d, this.now, this.agentWindowMs);
    const values = [
      d.deviceName ?? d.productName ?? '—',
      d.serialNumber ?? '—',
      `${d.platform ?? ''} ${d.osVersion ?? ''}`.trim() || '—',
      d.lastMdmCheckinAt ? formatShortTime(d.lastMdmCheckinAt) : '—',
      d.agent.lastCheckinAt ? formatShortTime(d.agent.lastCheckinAt) : '—',
      state.text,
      String(d.queued),
    ];
    let changed = false;
    values.forEach((value, i) => {
      const td = /** @type {HTMLTableCellElement} */ (row.cells[i]);
      if (td.textContent !== value) {
        td.textContent = value;
        changed = true;
      }
    });
    const times = [d.lastMdmCheckinAt, d.agent.lastCheckinAt ?? ''];
    times.forEach((t, i) => {
      const td = /** @type {HTMLTableCellElement} */ (row.cells[3 + i]);
      if (td.dataset.at !== t) td.dataset.at = t;
      td.title = t;
    });
    const stateCell = /** @type {HTMLTableCellElement} */ (row.cells[5]);
    stateCell.className = `agent-state state-${state.kind}`;
    stateCell.dataset.kind = state.kind;
    return changed;
  }
}

export class DeviceFeed {
  /**
   * @param {Api} api
   * @param {DeviceTable} table
   * @param {(error: unknown) => void} onError
   */
  constructor(api, table, onError) {
    this.api = api;
    this.table = table;
    this.onError = onError;
    /** @type {Set<string>} */
    this.dirty = new Set();
    this.fullWanted = false;
    this.running = false;
    this.lastFull = -Infinity;
    /** Rounds of fetching done (for the benchmark and curious instructors). */
    this.rounds = 0;
  }

  /** @param {Iterable<string>} udids */
  markDirty(udids) {
    for (const u of udids) this.dirty.add(u);
    void this.pump();
  }

  refreshAll() {
    this.fullWanted = true;
    return this.pump();
  }

  async pump() {
    if (this.running) return;
    this.running = true;
    try {
      while (this.fullWanted || this.dirty.size > 0) {
        this.rounds++;
        if (this.fullWanted || this.dirty.size > MAX_SINGLE_FETCHES) {
          const wait = this.lastFull + FULL_REFRESH_MIN_INTERVAL_MS - performance.now();
          if (wait > 0) await sleep(wait);
          // Cleared before the fetch: whatever changes while it is on its way is fetched next round.
          this.fullWanted = false;
          this.dirty.clear();
          this.lastFull = performance.now();
          this.table.replaceAll(await this.fetchAll());
        } else {
          const ids = [...this.dirty];
          this.dirty.clear();
          const answers = await Promise.allSettled(ids.map((id) => this.api.get(`/devices/${encodeURIComponent(id)}`)));
          /** @type {DeviceJson[]} */
          const found = [];
          answers.forEach((a, i) => {
            if (a.status === 'fulfilled') found.push(a.value);
            else if (a.reason?.status === 404) this.table.remove(/** @type {string} */ (ids[i]));
            else throw a.reason;
          });
          this.table.upsert(found);
        }
      }
    } catch (error) {
      this.onError(error);
      // Try again a little later rather than spin against a server in trouble.
      this.fullWanted = true;
      setTimeout(() => void this.pump(), 2000);
    } finally {
      this.running = false;
    }
  }

  async fetchAll() {
    /** @type {DeviceJson[]} */
    const all = [];
    for (let offset = 0; ; offset += PAGE) {
      /** @type {DeviceJson[]} */
      const page = await this.api.get(`/devices?offset=${offset}&limit=${PAGE}`);
      all.push(...page);
      if (page.length < PAGE) return all;
    }
  }
}
