// @ts-check
/**
 * The live sequence view of one device: lanes for the Mac, the MDM server, APNs and the
 * agent; one row per exchange, an arrow from lane to lane, newest at the bottom. What has no
 * lane (the operator, the policy, the clock) is a note over the lane it concerns. Routine
 * agent check-ins in a row fold into one row with a count; the view keeps the newest rows only.
 */
import { formatTime } from './format.js';

/** @typedef {import('./live.js').SimEvent} SimEvent */

export const MAX_ROWS = 200;

/** Lane of each participant, as a fraction of the lanes' width. */
const LANE = /** @type {Record<string, number>} */ ({ device: 0.125, mdm: 0.375, apns: 0.625, agent: 0.875 });
const NAME = /** @type {Record<string, string>} */ ({ device: 'Mac', mdm: 'MDM', apns: 'APNs', agent: 'agent', operator: 'operator', policy: 'policy', clock: 'clock' });

/** Worth standing out: the reinstall story, faults, refusals. */
const HIGHLIGHT = /^(agent\.reinstall\.fired|agent\.install\.|sim\.fault)/;
const BAD = /(rejected|failed|error)/;

/** An agent's check-in every 15 minutes: folded. @param {SimEvent} e */
export function isRoutine(e) {
  if (e.type === 'agent.checkin') return /** @type {{ kind?: string }} */ (e.data ?? {}).kind !== 'install';
  return false;
}

export class SequenceView {
  /** @param {HTMLElement} rows the scrolling container */
  constructor(rows) {
    this.rowsEl = rows;
    /** @type {string | undefined} */
    this.udid = undefined;
    this.lastId = 0;
    /** @type {{ type: string, row: HTMLElement, count: number } | undefined} */
    this.lastFold = undefined;
    this.dropped = 0;
  }

  /** Starts over for a device (rows come from add()). @param {string | undefined} udid */
  reset(udid) {
    this.udid = udid;
    this.lastId = 0;
    this.lastFold = undefined;
    this.dropped = 0;
    this.rowsEl.replaceChildren();
  }

  /**
   * Adds events of this device (others, and ids already shown, are ignored).
   * @param {SimEvent[]} events oldest first
   */
  add(events) {
    const el = this.rowsEl;
    const atBottom = el.scrollHeight - el.scrollTop - el.clientHeight < 8;
    for (const e of events) {
      if (e.udid !== this.udid || e.id <= this.lastId) continue;
      this.lastId = e.id;
      if (isRoutine(e) && this.lastFold?.type === e.type && this.lastFold.row === el.lastElementChild) {
        this.lastFold.count++;
        const label = this.lastFold.row.querySelector('.count');
        if (label) label.textContent = ` ×${this.lastFold.count}, last ${formatTime(e.time).slice(5)}`;
        continue;
      }
      const row = this.row(e);
      el.append(row);
      this.lastFold = isRoutine(e) ? { type: e.type, row, count: 1 } : undefined;
    }
    let excess = el.querySelectorAll('.seq-row').length - MAX_ROWS;
    while (excess-- > 0) {
      el.querySelector('.seq-row')?.remove();
      this.dropped++;
    }
    let note = el.querySelector('.truncated');
    if (this.dropped > 0) {
      if (!note) {
        note = document.createElement('div');
        note.className = 'truncated';
      }
      el.prepend(note);
      note.textContent = `${this.dropped} older exchange${this.dropped === 1 ? '' : 's'} not shown (GET /sim/v1/timeline.mmd has them all)`;
    }
    if (atBottom) el.scrollTop = el.scrollHeight;
  }

  /** @param {SimEvent} e */
  row(e) {
    const row = document.createElement('div');
    row.className = 'seq-row';
    row.dataset.type = e.type;
    row.dataset.id = String(e.id);
    if (HIGHLIGHT.test(e.type)) row.classList.add('highlight');
    if (BAD.test(e.type)) row.classList.add('bad');
    const time = document.createElement('div');
    time.className = 'time';
    time.textContent = formatTime(e.time).slice(5);
    time.title = e.time;
    const lanes = document.createElement('div');
    lanes.className = 'lanes';
    const from = LANE[e.from];
    const to = LANE[e.to];
    const text = e.summary;
    if (from !== undefined && to !== undefined && from !== to) {
      const arrow = document.createElement('div');
      arrow.className = `arrow ${to > from ? 'right' : 'left'} from-${e.from}`;
      arrow.style.left = `${Math.min(from, to) * 100}%`;
      arrow.style.width = `${Math.abs(to - from) * 100}%`;
      const label = document.createElement('span');
      label.className = 'label';
      label.textContent = text;
      label.title = `${NAME[e.from]} → ${NAME[e.to]}: ${text} (${e.type})`;
      if (isRoutine(e)) label.append(Object.assign(document.createElement('span'), { className: 'count' }));
      arrow.append(label);
      lanes.append(arrow);
    } else {
      // A note over the lane it concerns: the target's, else the source's, else the MDM server's.
      const over = to ?? from ?? LANE.mdm ?? 0.375;
      const note = document.createElement('div');
      note.className = `note ${e.from}`;
      // Centred on a middle lane; on an edge lane it opens inwards, so nothing is cut off.
      if (over < 0.25) Object.assign(note.style, { left: '0.5%', transform: 'none', maxWidth: '62%' });
      else if (over > 0.75) Object.assign(note.style, { right: '0.5%', transform: 'none', maxWidth: '62%' });
      else note.style.left = `${over * 100}%`;
      const who = from === undefined || from === to ? `${NAME[e.from] ?? e.from}: ` : '';
      note.textContent = `${who}${text}`;
      note.title = `${NAME[e.from] ?? e.from} → ${NAME[e.to] ?? e.to}: ${text} (${e.type})`;
      lanes.append(note);
    }
    row.append(time, lanes);
    return row;
  }
}
