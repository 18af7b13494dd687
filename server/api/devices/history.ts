/**
 * The per-device lists: /commands, /activity, /apps, /library-items, /status, /parameters.
 * Facts: ../shared/reference/kandji-api.md ("Per-device lists").
 */
import { AGENT_BUNDLE_ID, AGENT_TITLE } from '../../../protocol/agent';
import { KANDJI_COMMAND_STATUS, kandjiIsoZ, kandjiSpaced, type KandjiCommandStatus } from '../../../protocol/kandji';
import type { CommandStatus } from '../../../protocol/result';
import type { EnrollmentRecord, Storage } from '../../storage/types';
import type { ApiDevice } from '../device-view';
import { MDMSIM_BLUEPRINT } from './list';
import { latestReports, listOf, num, parse, str } from './reports';

export interface Page<T> {
  count: number;
  next: string | null;
  previous: string | null;
  results: T[];
}

/** DRF's LimitOffsetPagination envelope over `all`, with next/previous as absolute URLs. */
export function page<T>(all: T[], limit: number, offset: number, url: string): Page<T> {
  const at = (o: number): string => {
    const u = new URL(url);
    u.searchParams.set('limit', String(limit));
    if (o > 0) u.searchParams.set('offset', String(o));
    else u.searchParams.delete('offset');
    return u.toString();
  };
  return {
    count: all.length,
    next: offset + limit < all.length ? at(offset + limit) : null,
    previous: offset > 0 ? at(Math.max(0, offset - limit)) : null,
    results: all.slice(offset, offset + limit),
  };
}

export interface KandjiCommandJson {
  uuid: string;
  command_type: string;
  request_type: string;
  status: KandjiCommandStatus;
  attempts: number;
  date_requested: string;
  last_pushed: string | null;
  date_completed: string | null;
  error_chain: Array<{ code: number; domain: string; localized_description: string; us_english_description: string }>;
}

const FINAL_STATUS: Partial<Record<CommandStatus, KandjiCommandStatus>> = {
  Acknowledged: KANDJI_COMMAND_STATUS.completed,
  Error: KANDJI_COMMAND_STATUS.failed,
  CommandFormatError: KANDJI_COMMAND_STATUS.failed,
};

/**
 * Every command of the device, newest first: answered ones from their final report (3
 * completed, 4 failed, with the device's ErrorChain), queued ones as 1 pending, or 2 running
 * once delivered and not yet answered, or 5 after a NotNow. `attempts` counts deliveries
 * (reports, NotNow included, plus one for a delivery not yet answered). `last_pushed` is the
 * last push between the command's request and its completion (null if none went out then).
 */
export function commandsOf(store: Storage, id: string): KandjiCommandJson[] {
  const out: KandjiCommandJson[] = [];
  const reports = new Map<string, number>();
  for (const r of store.listResults({ id })) reports.set(r.commandUUID, (reports.get(r.commandUUID) ?? 0) + 1);
  const delivered = new Set<string>();
  for (const ev of store.queryEvents({ udid: id, types: ['mdm.command.delivered'] })) {
    const uuid = ev.data?.commandUUID;
    if (typeof uuid === 'string') delivered.add(uuid);
  }
  const pushes = store.queryEvents({ udid: id, types: ['mdm.push.sent'] }).map((ev) => ev.at);
  const lastPushed = (requestedAt: number, completedAt: number | undefined): string | null => {
    const at = lastPushBetween(pushes, requestedAt, completedAt ?? Number.POSITIVE_INFINITY);
    return at === undefined ? null : kandjiSpaced(at);
  };
  for (const r of store.listResults({ id })) {
    const status = FINAL_STATUS[r.status];
    if (status === undefined) continue;
    const command = store.getCommand(r.commandUUID);
    const chain = status === KANDJI_COMMAND_STATUS.failed ? listOf(parse(r)?.ErrorChain) : [];
    const requestedAt = command?.createdAt ?? r.at;
    out.push({
      uuid: r.commandUUID,
      command_type: r.requestType,
      request_type: r.requestType,
      status,
      attempts: reports.get(r.commandUUID) ?? 1,
      date_requested: kandjiSpaced(requestedAt),
      last_pushed: lastPushed(requestedAt, r.at),
      date_completed: kandjiSpaced(r.at),
      error_chain: chain.map((c) => ({
        code: num(c.ErrorCode) ?? 0,
        domain: str(c.ErrorDomain) ?? '',
        localized_description: str(c.LocalizedDescription) ?? '',
        us_english_description: str(c.USEnglishDescription) ?? str(c.LocalizedDescription) ?? '',
      })),
    });
  }
  for (const q of store.listQueue(id)) {
    const notNow = q.status === 'NotNow' || (reports.get(q.commandUUID) ?? 0) > 0;
    const status = notNow ? KANDJI_COMMAND_STATUS.notNow : delivered.has(q.commandUUID) ? KANDJI_COMMAND_STATUS.running : KANDJI_COMMAND_STATUS.pending;
    out.push({
      uuid: q.commandUUID,
      command_type: q.requestType,
      request_type: q.requestType,
      status,
      attempts: (reports.get(q.commandUUID) ?? 0) + (status === KANDJI_COMMAND_STATUS.running ? 1 : 0),
      date_requested: kandjiSpaced(q.queuedAt),
      last_pushed: lastPushed(q.queuedAt, undefined),
      date_completed: null,
      error_chain: [],
    });
  }
  return out.reverse();
}

/**
 * The last push in [from, to] of the device's push times (ascending, as the event log keeps
 * them): the push that went out for a command is one sent while it waited, not the device's
 * latest, which may be for a later command.
 */
export function lastPushBetween(pushes: readonly number[], from: number, to: number): number | undefined {
  let lo = 0;
  let hi = pushes.length;
  // First index whose push is after `to`.
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (pushes[mid]! <= to) lo = mid + 1;
    else hi = mid;
  }
  const at = pushes[lo - 1];
  return at !== undefined && at >= from ? at : undefined;
}

export interface KandjiActivityJson {
  id: number;
  action_type: string;
  created_at: string;
  details: Record<string, unknown>;
}

/** The device's history as Kandji's activity: enrollments and finished MDM commands, newest first. */
export function activityOf(store: Storage, id: string): KandjiActivityJson[] {
  const out: KandjiActivityJson[] = [];
  for (const ev of store.queryEvents({ udid: id, types: ['mdm.checkin', 'mdm.command.result', 'api.device'] })) {
    const data = ev.data ?? {};
    let action: string | undefined;
    if (ev.type === 'mdm.checkin' && data.messageType === 'TokenUpdate' && data.tally === 1) action = 'enrollment';
    else if (ev.type === 'mdm.checkin' && data.messageType === 'CheckOut') action = 'unenrollment';
    else if (ev.type === 'mdm.command.result' && data.status === 'Acknowledged') action = 'mdm_command_completed';
    else if (ev.type === 'mdm.command.result' && (data.status === 'Error' || data.status === 'CommandFormatError')) action = 'mdm_command_failed';
    else if (ev.type.startsWith('api.device')) action = String(data.action_type ?? 'device_action');
    if (action === undefined) continue;
    out.push({
      id: ev.id,
      action_type: action,
      created_at: kandjiSpaced(ev.at),
      details: { summary: ev.summary, ...(typeof data.commandUUID === 'string' ? { command_uuid: data.commandUUID, request_type: data.requestType ?? null } : {}) },
    });
  }
  return out.reverse();
}

/** Apps from the agent's latest inventory, else the device's latest InstalledApplicationList. */
export function appsOf(store: Storage, e: Readonly<EnrollmentRecord>): Array<Record<string, unknown>> {
  const inventory = store.agentInventory(e.id);
  const mdm = latestReports(store, e.id, ['InstalledApplicationList']).InstalledApplicationList;
  const mdmAt = store.listResults({ id: e.id }).filter((r) => r.requestType === 'InstalledApplicationList' && r.status === 'Acknowledged').at(-1)?.at ?? -1;
  if (inventory && inventory.at >= mdmAt) {
    return inventory.apps.map((a) => ({ app_name: a.name, bundle_id: a.bundle_id, version: a.version, path: a.path ?? '', bundle_size: null, source: 'Agent', creation_date: null, modification_date: null, last_opened_date: null }));
  }
  return listOf(mdm?.InstalledApplicationList).map((a) => ({
    app_name: str(a.Name) ?? '',
    bundle_id: str(a.Identifier) ?? '',
    version: str(a.ShortVersion) ?? str(a.Version) ?? '',
    path: '',
    bundle_size: num(a.BundleSize) ?? null,
    source: 'MDM',
    creation_date: null,
    modification_date: null,
    last_opened_date: null,
  }));
}

/**
 * The library items on the device: the agent is the one item (Kandji lists its agent as a
 * library item). Status: PASS installed, PENDING install queued, ERROR the last install failed
 * or the agent is gone, INCOMPATIBLE where no agent runs, AVAILABLE never installed.
 */
export function libraryItemsOf(e: Readonly<EnrollmentRecord>, d: ApiDevice): Array<Record<string, unknown>> {
  let status: string;
  if (d.agentInstalled === null) status = 'INCOMPATIBLE';
  else if (d.agentInstalled) status = 'PASS';
  else if (e.agentInstallPending !== undefined) status = 'PENDING';
  else if (e.agentGoneAt !== undefined || e.agentInstallLastOutcome === 'Error' || e.agentInstallLastOutcome === 'CommandFormatError') status = 'ERROR';
  else status = 'AVAILABLE';
  const reportedAt = e.agentLastCheckinAt ?? e.agentInstallLastOutcomeAt;
  return [
    {
      id: MDMSIM_AGENT_ITEM_ID,
      name: AGENT_TITLE,
      type: 'custom-app',
      bundle_id: AGENT_BUNDLE_ID,
      status,
      log: e.agentGoneAt !== undefined ? 'the agent is gone (InstalledApplicationList)' : '',
      reported_at: reportedAt === undefined ? null : kandjiIsoZ(reportedAt),
      blueprint_id: MDMSIM_BLUEPRINT.id,
      blueprint_name: MDMSIM_BLUEPRINT.name,
    },
  ];
}

export const MDMSIM_AGENT_ITEM_ID = '6b3bd3c5-3f1e-5a0b-9d2e-0c7a4f1e2b6d';
