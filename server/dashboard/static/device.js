// @ts-check
/**
 * The chosen device: who it is, what its Mac is suffering (faults), what an instructor can do
 * to it (push, reinstall the agent, DeviceInformation, inject or clear a fault), and the live
 * sequence view of its exchanges (the recent past read from GET /events, then the stream).
 */
import { SequenceView, MAX_ROWS } from './sequence.js';

/** @typedef {import('./api.js').Api} Api */
/** @typedef {import('./live.js').SimEvent} SimEvent */
/** @typedef {import('./format.js').DeviceJson} DeviceJson */

/** How much history a newly chosen device starts with (folded into at most MAX_ROWS rows). */
const HISTORY_EVENTS = 4 * MAX_ROWS;
const PAGE = 5000;

/** What each fault kind's extra field means, and how to send it. */
const FAULT_PARAM = /** @type {Record<string, { field: string, placeholder: string, number?: boolean, required?: boolean }>} */ ({
  offline: { field: 'for', placeholder: 'for (2h)' },
  notnow: { field: 'connects', placeholder: 'connects', number: true, required: true },
  'package-download': { field: 'mode', placeholder: 'fail|corrupt', required: true },
});

/** @param {string} id */
const byId = (id) => /** @type {HTMLElement} */ (document.getElementById(id));

export class DevicePanel {
  /**
   * @param {Api} api
   * @param {{ onError: (error: unknown) => void, deviceOf: (udid: string) => DeviceJson | undefined }} hooks
   */
  constructor(api, hooks) {
    this.api = api;
    this.hooks = hooks;
    /** @type {string | undefined} */
    this.udid = undefined;
    this.sequence = new SequenceView(byId('sequence-rows'));
    /** Events of this device that arrived while its history was being read. @type {SimEvent[] | undefined} */
    this.held = undefined;
    this.faultKind = /** @type {HTMLSelectElement} */ (byId('fault-kind'));
    this.faultParam = /** @type {HTMLInputElement} */ (byId('fault-param'));
    this.result = byId('action-result');
    this.faultKind.addEventListener('change', () => this.syncFaultParam());
    this.syncFaultParam();
    this.on('action-push', () => this.act('POST', 'push', undefined, (a) => `pushed: ${a.sent ?? 0} sent`));
    this.on('action-reinstall', () => this.act('POST', 'agent/reinstall', undefined, (a) => `agent InstallEnterpriseApplication ${a.CommandUUID} queued (attempt ${a.attempt}) and pushed`));
    this.on('action-devinfo', () =>
      this.act('PUT', 'commands', { RequestType: 'DeviceInformation', Queries: ['DeviceName', 'OSVersion', 'BuildVersion', 'SerialNumber', 'ModelName'] }, (a) => `DeviceInformation ${a.CommandUUID} queued`),
    );
    this.on('inject-fault', () => {
      const fault = this.faultBody();
      if (fault) return this.act('POST', 'faults', fault, (state) => `fault injected: ${fault.kind}; ${describeFaults(state)}`, (state) => this.showFaults(state));
    });
    this.on('clear-faults', () => this.act('DELETE', 'faults', undefined, (state) => `faults cleared; ${describeFaults(state)}`, (state) => this.showFaults(state)));
  }

  /** @param {string} id @param {() => unknown} handler */
  on(id, handler) {
    byId(id).addEventListener('click', () => void handler());
  }

  syncFaultParam() {
    const p = FAULT_PARAM[this.faultKind.value];
    this.faultParam.hidden = !p;
    this.faultParam.placeholder = p?.placeholder ?? '';
    this.faultParam.value = '';
  }

  /** The fault as the API takes it; what the field holds is sent as typed, and the server judges it. */
  faultBody() {
    const kind = this.faultKind.value;
    const p = FAULT_PARAM[kind];
    /** @type {Record<string, unknown>} */
    const fault = { kind };
    const text = this.faultParam.value.trim();
    if (p && (text !== '' || p.required)) fault[p.field] = p.number && /^\d+$/.test(text) ? Number(text) : text;
    return /** @type {{ kind: string }} */ (fault);
  }

  /**
   * @param {string} method
   * @param {string} path under /devices/{udid}/
   * @param {unknown} body
   * @param {(answer: any) => string} describe
   * @param {(answer: any) => void} [after]
   */
  async act(method, path, body, describe, after) {
    const udid = this.udid;
    if (!udid) return;
    this.result.textContent = '…';
    try {
      const answer = await this.api.request(method, `/devices/${encodeURIComponent(udid)}/${path}`, body);
      if (this.udid !== udid) return;
      this.result.textContent = describe(answer);
      after?.(answer);
    } catch (error) {
      this.result.textContent = '';
      this.hooks.onError(error);
    }
  }

  /** @param {string | undefined} udid */
  async select(udid) {
    if (udid === this.udid) return;
    this.udid = udid;
    byId('device-none').hidden = udid !== undefined;
    byId('device-detail').hidden = udid === undefined;
    this.sequence.reset(udid);
    this.result.textContent = '';
    byId('device-faults').textContent = '';
    if (!udid) return;
    this.renderSummary();
    this.held = [];
    try {
      const history = await this.history(udid);
      if (this.udid !== udid) return;
      this.sequence.add(history);
      this.sequence.add(this.held);
      this.held = undefined;
      this.rowsToBottom();
      await this.loadFaults();
    } catch (error) {
      this.held = undefined;
      this.hooks.onError(error);
    }
  }

  rowsToBottom() {
    const rows = byId('sequence-rows');
    rows.scrollTop = rows.scrollHeight;
  }

  /** The newest events of a device, oldest first (GET /events pages forward, so read to the end). @param {string} udid */
  async history(udid) {
    /** @type {SimEvent[]} */
    let kept = [];
    let since = '';
    for (;;) {
      const page = await this.api.get(`/events?udid=${encodeURIComponent(udid)}&limit=${PAGE}${since ? `&since=${since}` : ''}`);
      kept = kept.concat(page.events).slice(-HISTORY_EVENTS);
      if (page.events.length < PAGE) return kept;
      since = String(page.next);
    }
  }

  async loadFaults() {
    const udid = this.udid;
    if (!udid) return;
    try {
      const state = await this.api.get(`/devices/${encodeURIComponent(udid)}/faults`);
      if (this.udid === udid) this.showFaults(state);
    } catch (error) {
      // A server without simulated Macs (mdmsim serve) has no faults to show: say so quietly.
      const e = /** @type {{ status?: number, message?: string }} */ (error);
      if (e.status === 501 || e.status === 404) byId('device-faults').textContent = e.message ?? '';
      else this.hooks.onError(error);
    }
  }

  /** @param {any} state */
  showFaults(state) {
    byId('device-faults').textContent = describeFaults(state);
  }

  renderSummary() {
    const udid = this.udid;
    if (!udid) return;
    const d = this.hooks.deviceOf(udid);
    const summary = byId('device-summary');
    const code = document.createElement('code');
    code.textContent = udid;
    summary.replaceChildren(
      `${d?.deviceName ?? 'device'} · ${d?.productName ?? ''} · serial ${d?.serialNumber ?? '?'} · ${d?.platform ?? ''} ${d?.osVersion ?? ''} · `,
      code,
      ` · ${d?.enabled === false ? 'enrollment disabled · ' : ''}${d?.queued ?? 0} queued`,
    );
    byId('device-title').textContent = d?.deviceName ? `Device: ${d.deviceName}` : 'Device';
  }

  /**
   * Live events (any device's): this device's join the sequence view.
   * @param {SimEvent[]} events
   */
  onEvents(events) {
    if (!this.udid) return;
    const mine = events.filter((e) => e.udid === this.udid);
    if (mine.length === 0) return;
    if (this.held) {
      this.held.push(...mine);
      return;
    }
    this.sequence.add(mine);
    if (mine.some((e) => e.type.startsWith('sim.fault'))) void this.loadFaults();
  }
}

/** @param {any} state */
function describeFaults(state) {
  if (!state || typeof state !== 'object') return '';
  const active = Array.isArray(state.active) && state.active.length > 0 ? state.active.map((/** @type {any} */ f) => f.kind).join(', ') : 'none';
  return `Mac ${state.online ? 'online' : 'offline'}, agent ${state.agent}; faults: ${active}`;
}
