// @ts-check
/** Times, durations and the agent's state as the page shows them. */

/**
 * @typedef {object} DeviceJson what GET /sim/v1/devices answers per device
 * @property {string} udid
 * @property {string} [serialNumber]
 * @property {string} [platform]
 * @property {string} [osVersion]
 * @property {string} [buildVersion]
 * @property {string} [productName]
 * @property {string} [deviceName]
 * @property {boolean} enabled
 * @property {number} queued
 * @property {string} lastMdmCheckinAt
 * @property {{ installed: boolean | null, version: string | null, lastCheckinAt: string | null,
 *   reinstall: { pendingCommandUUID: string | null, attempts: number, lastFiredAt: string | null, lastOutcome: string | null } }} agent
 */

const UNIT_MS = /** @type {Record<string, number>} */ ({ ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 7 * 86_400_000 });

/** `"7d"`, `"1d12h"`, `"15m"` (as /sim/v1/agent-policy answers) → ms; undefined if unreadable. @param {unknown} text */
export function parseDuration(text) {
  if (typeof text === 'number') return text;
  if (typeof text !== 'string' || text === '') return undefined;
  let ms = 0;
  let rest = text.trim();
  while (rest) {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/.exec(rest);
    if (!m) return undefined;
    ms += Number(m[1]) * (UNIT_MS[m[2] ?? ''] ?? 0);
    rest = rest.slice(m[0].length);
  }
  return ms;
}

/** 3 days 4 hours → `3d 4h`; under a minute → `<1m`. @param {number} ms */
export function formatSpan(ms) {
  if (ms < 60_000) return '<1m';
  const d = Math.floor(ms / UNIT_MS.d);
  const h = Math.floor((ms % UNIT_MS.d) / UNIT_MS.h);
  const m = Math.floor((ms % UNIT_MS.h) / UNIT_MS.m);
  if (d > 0) return h > 0 ? `${d}d ${h}h` : `${d}d`;
  if (h > 0) return m > 0 ? `${h}h ${m}m` : `${h}h`;
  return `${m}m`;
}

/** Virtual time as `2026-01-12 14:03:07` (UTC, as the server's clock). @param {string | number} t */
export function formatTime(t) {
  return new Date(t).toISOString().slice(0, 19).replace('T', ' ');
}

/** Shorter, for table cells: `01-12 14:03`. @param {string | number} t */
export function formatShortTime(t) {
  return new Date(t).toISOString().slice(5, 16).replace('T', ' ');
}

/**
 * What the agent is doing, from the server's record and the clock.
 * @param {DeviceJson} d
 * @param {number} now virtual ms
 * @param {number} agentWindowMs silence after which the reinstall rule acts
 * @returns {{ text: string, kind: 'installing' | 'never' | 'gone' | 'overdue' | 'silent' | 'ok' }}
 */
export function agentState(d, now, agentWindowMs) {
  const a = d.agent;
  if (a.reinstall.pendingCommandUUID) return { text: `installing (attempt ${a.reinstall.attempts})`, kind: 'installing' };
  if (a.installed === null || a.lastCheckinAt === null) return { text: 'never checked in', kind: 'never' };
  if (a.installed === false) return { text: 'not heard since re-enrollment', kind: 'gone' };
  const silent = now - Date.parse(a.lastCheckinAt);
  // An agent checks in every 15 minutes: an hour of silence is worth showing.
  if (silent > agentWindowMs) return { text: `overdue: silent ${formatSpan(silent)}`, kind: 'overdue' };
  if (silent > 3_600_000) return { text: `silent ${formatSpan(silent)}`, kind: 'silent' };
  return { text: a.version ? `ok · v${a.version}` : 'ok', kind: 'ok' };
}
