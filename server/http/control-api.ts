/**
 * The simulator control API under /sim/v1 (bearer token): the clock, enqueueing raw
 * commands, and the event log. What a test suite or an instructor drives the lab with.
 */
import { timingSafeEqual } from 'node:crypto';
import express, { type NextFunction, type Request, type Response } from 'express';
import { VirtualClock, type Clock } from '../../protocol/clock';
import { decodeCommand } from '../../protocol/command';
import { DurationError, parseDuration } from '../../protocol/duration';
import { jsonToPlist, plistToJson } from '../../protocol/json';
import { parsePlist, PlistError } from '../../protocol/plist';
import { ProblemError, problem, type Problem } from '../../protocol/problem';
import type { PlistValue } from '../../protocol/plist/types';
import { eventToJson, type EventLog } from '../service/event-log';
import { eventsToMermaid } from '../service/mermaid';
import type { MdmService } from '../service/mdm-service';
import type { EnrollmentRecord, EventQuery, Storage } from '../storage/types';
import { sendProblem } from './respond';
import { createApnsApi } from './apns-api';
import type { ApnsMock } from '../apns';
import type { PushService, PushWhy } from '../push';
import { isDeviceFaultKind, parseDeviceFaults, DEVICE_FAULT_KINDS, type DeviceFault, type DeviceFaultKind, type DeviceFaultState } from '../../protocol/faults';
import type { AgentPolicy } from '../policy/agent-policy';
import { describeDeviceFaults } from '../../protocol/describe-faults';

/**
 * Whoever runs the simulated Macs (a Fleet) applies faults to them: the server only forwards
 * /sim/v1/devices/{udid}/faults. Each method answers the Mac's fault state, or undefined when
 * this handler does not run that Mac (the API then answers 404).
 */
export interface DeviceFaultHandler {
  apply(udid: string, faults: DeviceFault[]): Promise<DeviceFaultState | undefined>;
  get(udid: string): Promise<DeviceFaultState | undefined>;
  clear(udid: string, kind?: DeviceFaultKind): Promise<DeviceFaultState | undefined>;
}

/**
 * The fleet's network (GET/PUT /sim/v1/network), in the programmatic API's form (NetworkPolicy,
 * agent-sim/network/policy.ts): `{allowList?, proxy?, tlsInspection?}`, `{}` for an open network.
 * As with faults, whoever runs the Macs checks and applies it: the server only forwards.
 */
export interface FleetNetworkHandler {
  /** The fleet's network in force, placeholders filled in. */
  get(): Promise<FleetNetworkJson>;
  /** Replaces the fleet's network (`{}` opens it); throws a 400 ProblemError naming the field, changing nothing. */
  set(policy: Record<string, unknown>): Promise<FleetNetworkJson>;
}

export interface FleetNetworkJson {
  allowList?: string[];
  proxy?: boolean;
  tlsInspection?: { exempt: string[] };
}

export interface ControlApiOptions {
  apiToken: string;
  clock: Clock;
  store: Storage;
  service: MdmService;
  events: EventLog;
  apns?: ApnsMock;
  /** The server's push path; without it nothing is pushed and answers say so. */
  push?: PushService;
  /** Push when a command is queued unless the request says ?push=false (default true). */
  pushOnEnqueue?: boolean;
  /** The agent install / reinstall policy: device JSON shows its state, /agent-policy its settings. */
  agentPolicy?: AgentPolicy;
  /** The current fault handler (registered after start by a lab); undefined → 501. */
  deviceFaults?: () => DeviceFaultHandler | undefined;
  /** The current fleet network handler (registered by a lab); undefined → 501. */
  fleetNetwork?: () => FleetNetworkHandler | undefined;
}

const PLIST_TYPES = ['application/x-apple-plist', 'application/x-plist', 'application/xml', 'text/xml', 'application/octet-stream'];
export const MAX_EVENTS_PER_PAGE = 10_000;
/** Events read for one diagram (routine check-ins fold, so a month of a small lab fits). */
const MAX_TIMELINE_EVENTS = 200_000;
/** A command plist (an InstallProfile with a large profile) or a long list of UDIDs fits. */
export const MAX_API_BODY_BYTES = 8 * 1024 * 1024;

/** Constant-time comparison of a presented bearer token. */
export function tokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m?.[1];
}

function send(res: Response, p: Problem): void {
  sendProblem(res, p, p.status === 401 ? { 'www-authenticate': 'Bearer realm="mdmsim"' } : {});
}

/** Express 5 forwards rejected promises to the error handler; this keeps handlers terse. */
type Handler = (req: Request, res: Response) => unknown;

/** The /sim/v1 routes' bearer check: 401 problem naming the header, or on to the route. */
export function requireApiToken(apiToken: string): (req: Request, res: Response, next: NextFunction) => void {
  return (req, _res, next) => {
    if (tokenMatches(bearerToken(req.headers.authorization), apiToken)) return next();
    next(
      problem(401, 'unauthorized', req.headers.authorization ? 'the bearer token is not valid' : 'this API needs a bearer token', {
        field: 'Authorization',
        expected: 'Authorization: Bearer <apiToken> (printed in the ready line of mdmsim serve)',
      }),
    );
  };
}

export function createControlApi(options: ControlApiOptions): express.Router {
  const { apiToken, clock, store, service, events, apns, push: pusher, agentPolicy } = options;
  const pushOnEnqueue = options.pushOnEnqueue ?? true;
  const router = express.Router();

  router.use(requireApiToken(apiToken));

  const json = express.json({ limit: MAX_API_BODY_BYTES, strict: false });
  const raw = express.raw({ type: PLIST_TYPES, limit: MAX_API_BODY_BYTES });

  // ---- clock ---------------------------------------------------------------------------
  const clockJson = () => ({ now: new Date(clock.now()).toISOString(), mode: clock.mode });
  router.get('/clock', (_req, res) => res.json(clockJson()));
  router.post('/clock/advance', json, (async (req, res) => {
    const by = (req.body as { by?: unknown } | undefined)?.by ?? req.query.by;
    if (!(clock instanceof VirtualClock)) {
      throw problem(409, 'real-clock', 'the clock is real time and cannot be advanced', {
        hint: 'start the server with --clock virtual',
      });
    }
    if (by === undefined) throw problem(400, 'missing-duration', 'say how far to advance', { field: 'by', expected: '{"by": "8d"} (also "36h", "15m", "P8D")' });
    let ms: number;
    try {
      ms = parseDuration(by as string);
    } catch (error) {
      if (error instanceof DurationError) throw problem(400, 'bad-duration', error.message, { field: 'by' });
      throw error;
    }
    const report = await clock.advance(ms);
    events.record({
      type: 'clock.advance',
      from: 'operator',
      to: 'clock',
      summary: `clock advanced by ${String(by)} to ${new Date(report.to).toISOString()} (${report.timersRun} timers ran)`,
      data: { from: new Date(report.from).toISOString(), by: String(by), ms, timersRun: report.timersRun },
    });
    res.json({ ...clockJson(), from: new Date(report.from).toISOString(), advancedMs: ms, timersRun: report.timersRun });
  }) as Handler);

  // ---- devices and commands ------------------------------------------------------------
  const deviceJson = (e: Readonly<EnrollmentRecord>) => ({
    udid: e.id,
    serialNumber: e.serialNumber,
    platform: e.platform,
    osVersion: e.osVersion,
    buildVersion: e.buildVersion,
    productName: e.productName ?? e.model,
    deviceName: e.deviceName,
    topic: e.topic,
    enabled: e.enabled,
    tokenUpdateTally: e.tokenUpdateTally,
    authenticatedAt: new Date(e.authenticatedAt).toISOString(),
    enrolledAt: e.enrolledAt !== undefined ? new Date(e.enrolledAt).toISOString() : undefined,
    lastSeenAt: new Date(e.lastSeenAt).toISOString(),
    hasBootstrapToken: e.bootstrapToken !== undefined,
    // The identity certificate its Authenticate bound (absent under --auth none).
    identityCertSha256: e.identityCertSha256,
    // Set when APNs answered 410 for its token: no pushes until its next TokenUpdate.
    pushTokenInvalidAt: e.pushTokenInvalidAt !== undefined ? new Date(e.pushTokenInvalidAt).toISOString() : undefined,
    queued: store.queueLength(e.id),
    // The last MDM check-in or connect (the same as lastSeenAt), named as posture consumers do.
    lastMdmCheckinAt: new Date(e.lastSeenAt).toISOString(),
    agent: agentJson(e),
  });

  /**
   * `installed`: true once the agent checked in since the last Authenticate (this enrollment),
   * false if it was heard only before it, null if never heard from at all.
   */
  const agentJson = (e: Readonly<EnrollmentRecord>) => ({
    installed: e.agentLastCheckinAt === undefined ? null : e.agentLastCheckinAt >= e.authenticatedAt,
    version: e.agentVersion ?? null,
    installedAt: iso(e.agentInstalledAt),
    lastCheckinAt: iso(e.agentLastCheckinAt),
    lastCheckinKind: e.agentLastCheckinKind ?? null,
    inventoryAt: iso(e.agentInventoryAt),
    reinstall: agentPolicy
      ? agentPolicy.stateJson(e)
      : { pendingCommandUUID: e.agentInstallPending ?? null, lastFiredAt: iso(e.agentInstallLastFiredAt), attempts: e.agentInstallAttempts, lastOutcome: e.agentInstallLastOutcome ?? null, lastOutcomeAt: iso(e.agentInstallLastOutcomeAt) },
  });

  router.get('/devices', (req, res) => {
    const offset = intParam(req.query.offset, 'offset', 0, 0, Number.MAX_SAFE_INTEGER);
    const limit = intParam(req.query.limit, 'limit', 1000, 1, 10_000);
    res.setHeader('x-total-count', String(store.countEnrollments()));
    res.json(store.listEnrollments({ offset, limit }).map(deviceJson));
  });

  router.get('/devices/:udid', (req, res) => {
    const e = store.getEnrollment(req.params.udid as string);
    if (!e) throw problem(404, 'unknown-enrollment', `no enrollment ${req.params.udid}`, { hint: 'GET /sim/v1/devices lists them' });
    res.json({ ...deviceJson(e), queue: queueJson(e.id) });
  });

  const queueJson = (id: string) =>
    store.listQueue(id).map((q) => ({ CommandUUID: q.commandUUID, RequestType: q.requestType, status: q.status, queuedAt: new Date(q.queuedAt).toISOString() }));

  const resultJson = (r: ReturnType<Storage['listResults']>[number]) => {
    let report: unknown;
    try {
      report = plistToJson(parsePlist(r.raw));
    } catch {
      report = undefined;
    }
    return { udid: r.id, CommandUUID: r.commandUUID, RequestType: r.requestType, Status: r.status, at: new Date(r.at).toISOString(), report, raw: r.raw.toString('utf8') };
  };

  router.get('/devices/:udid/commands', (req, res) => {
    const id = req.params.udid as string;
    if (!store.getEnrollment(id)) throw problem(404, 'unknown-enrollment', `no enrollment ${id}`);
    res.json({ queue: queueJson(id), results: store.listResults({ id }).map(resultJson) });
  });

  const enqueueHandler: Handler = (req, res) => respondEnqueue(res, idList(req.params.udids), readCommandBody(req), req.query.push);
  router.put('/devices/:udids/commands', raw, json, enqueueHandler);
  router.post('/devices/:udids/commands', raw, json, enqueueHandler);

  router.post('/commands', json, async (req, res) => {
    const body = req.body as { udids?: unknown; command?: unknown } | undefined;
    if (!body || !Array.isArray(body.udids) || body.udids.some((u) => typeof u !== 'string')) {
      throw problem(400, 'missing-udids', 'name the devices to queue the command for', { field: 'udids', expected: '{"udids": ["<udid>", ...], "command": {...}}' });
    }
    await respondEnqueue(res, body.udids as string[], decodeCommand(jsonToPlist(body.command, 'command')), req.query.push);
  });

  async function respondEnqueue(res: Response, ids: string[], command: ReturnType<typeof decodeCommand>, pushParam: unknown): Promise<void> {
    if (ids.length === 0) throw problem(400, 'missing-udids', 'no device named', { field: 'udids' });
    if (pushParam !== undefined && pushParam !== 'true' && pushParam !== 'false') {
      throw problem(400, 'bad-parameter', `push is true or false; got ${JSON.stringify(pushParam)}`, { field: 'push' });
    }
    const result = service.enqueue(ids, command);
    const wanted = pushParam === 'true' || (pushParam !== 'false' && pushOnEnqueue);
    const push = wanted && result.queued.length > 0 ? await pushTo(result.queued, 'enqueue') : { requested: false };
    const status = result.queued.length > 0 ? 201 : Object.values(result.rejected).every((p) => p.status === 404) ? 404 : 409;
    res.status(status).json({
      CommandUUID: result.commandUUID,
      RequestType: result.requestType,
      queued: result.queued,
      rejected: result.rejected,
      warnings: result.warnings,
      push,
    });
  }

  /** First answers of APNs for each device; retries go on in the background. */
  async function pushTo(ids: string[], why: PushWhy) {
    if (!pusher) return { requested: true, sent: 0, reason: 'no APNs: this server runs without the APNs mock and without an APNs URL' };
    const results = await pusher.push(ids, why);
    return { requested: true, sent: Object.values(results).filter((r) => r.status === 'sent').length, results };
  }

  router.post('/devices/:udids/push', async (req, res) => {
    const ids = idList(req.params.udids);
    const unknown = ids.filter((id) => !store.getEnrollment(id));
    if (ids.length === 0 || unknown.length === ids.length) {
      throw problem(404, 'unknown-enrollment', `no enrollment ${unknown[0] ?? ''}`, { hint: 'GET /sim/v1/devices lists them' });
    }
    res.json(await pushTo(ids, 'operator'));
  });

  router.get('/devices/:udid/agent/inventory', (req, res) => {
    const id = req.params.udid as string;
    if (!store.getEnrollment(id)) throw problem(404, 'unknown-enrollment', `no enrollment ${id}`, { hint: 'GET /sim/v1/devices lists them' });
    const inv = store.agentInventory(id);
    if (!inv) throw problem(404, 'no-inventory', `the agent of ${id} has sent no app inventory yet`, { hint: 'the agent sends it with its daily inventory check-in' });
    res.json({ udid: id, at: new Date(inv.at).toISOString(), apps: inv.apps });
  });

  // ---- device faults (forwarded to whoever runs the Macs) --------------------------------
  const faultHandler = (): DeviceFaultHandler => {
    const handler = options.deviceFaults?.();
    if (!handler) {
      throw problem(501, 'no-simulator', 'this server runs no simulated Macs, so there is nobody to apply faults to', {
        hint: 'faults are applied by simulated Macs: run `mdmsim lab`, or start a Fleet in-process and register it with server.setDeviceFaultHandler(fleet.faults)',
      });
    }
    return handler;
  };
  const faultAnswer = (udid: string, state: DeviceFaultState | undefined): DeviceFaultState => {
    if (state === undefined) {
      throw problem(404, 'unknown-device', `no simulated Mac ${udid} here`, {
        field: 'udid',
        hint: 'faults go to Macs this server\'s simulator runs; GET /sim/v1/devices lists enrollments',
      });
    }
    return state;
  };

  router.post('/devices/:udid/faults', json, async (req, res) => {
    const udid = req.params.udid as string;
    const handler = faultHandler();
    if (req.body === undefined || !req.is('application/json')) {
      throw problem(415, 'bad-content-type', 'send the faults as JSON', { field: 'Content-Type', expected: 'application/json' });
    }
    const faults = parseDeviceFaults(req.body);
    const state = faultAnswer(udid, await handler.apply(udid, faults));
    events.record({
      type: 'sim.fault',
      udid,
      from: 'operator',
      to: 'device',
      summary: `fault: ${describeDeviceFaults(faults)}`,
      data: { faults },
    });
    res.json(state);
  });

  router.get('/devices/:udid/faults', async (req, res) => {
    const udid = req.params.udid as string;
    res.json(faultAnswer(udid, await faultHandler().get(udid)));
  });

  router.delete('/devices/:udid/faults', async (req, res) => {
    const udid = req.params.udid as string;
    const kind = req.query.kind;
    if (kind !== undefined && !isDeviceFaultKind(kind)) {
      throw problem(400, 'bad-fault', `unknown fault kind ${JSON.stringify(kind)}`, { field: 'kind', expected: DEVICE_FAULT_KINDS.join(', ') });
    }
    const state = faultAnswer(udid, await faultHandler().clear(udid, kind));
    events.record({ type: 'sim.fault.cleared', udid, from: 'operator', to: 'device', summary: `faults cleared${kind ? `: ${kind}` : ''}`, data: { kind: kind ?? null } });
    res.json(state);
  });

  // ---- the fleet's network (forwarded, as faults are) -------------------------------------
  const networkHandler = (): FleetNetworkHandler => {
    const handler = options.fleetNetwork?.();
    if (!handler) {
      throw problem(501, 'no-simulator', "this server runs no simulated Macs, so there is no fleet network to set", {
        hint: 'run `mdmsim lab`, or start a Fleet in-process and register it with server.setFleetNetworkHandler(handler)',
      });
    }
    return handler;
  };

  router.get('/network', async (_req, res) => {
    res.json(await networkHandler().get());
  });

  router.put('/network', json, async (req, res) => {
    const handler = networkHandler();
    if (req.body === undefined || !req.is('application/json')) {
      throw problem(415, 'bad-content-type', 'send the network as JSON', { field: 'Content-Type', expected: 'application/json' });
    }
    if (typeof req.body !== 'object' || req.body === null || Array.isArray(req.body)) {
      throw problem(400, 'bad-fault', 'the network must be a JSON object', { field: 'network', expected: '{"allowList": ["{device}:{port}"], "proxy": true, "tlsInspection": {"exempt": []}}, or {} for an open network' });
    }
    res.json(await handler.set(req.body as Record<string, unknown>));
  });

  // ---- the agent policy ------------------------------------------------------------------
  router.get('/agent-policy', (_req, res) => {
    if (!agentPolicy) throw problem(404, 'not-found', 'this server has no agent policy');
    res.json(agentPolicy.settingsJson());
  });

  router.patch('/agent-policy', json, (req, res) => {
    if (!agentPolicy) throw problem(404, 'not-found', 'this server has no agent policy');
    if (req.body === undefined || !req.is('application/json')) {
      throw problem(415, 'bad-content-type', 'send the settings to change as JSON', { field: 'Content-Type', expected: 'application/json, e.g. {"agentWindow": "3d"}' });
    }
    agentPolicy.update(req.body);
    res.json(agentPolicy.settingsJson());
  });

  router.post('/agent-policy/sweep', async (_req, res) => {
    if (!agentPolicy) throw problem(404, 'not-found', 'this server has no agent policy');
    res.json(await agentPolicy.sweepNow());
  });

  router.get('/commands/:uuid', (req, res) => {
    const cmd = store.getCommand(req.params.uuid as string);
    if (!cmd) throw problem(404, 'unknown-command', `no command ${req.params.uuid}`);
    res.json({
      CommandUUID: cmd.commandUUID,
      RequestType: cmd.requestType,
      createdAt: new Date(cmd.createdAt).toISOString(),
      command: plistToJson(parsePlist(cmd.body)),
      results: store.listResults({ commandUUID: cmd.commandUUID }).map(resultJson),
    });
  });

  // ---- events --------------------------------------------------------------------------
  router.get('/events', (req, res) => {
    const query = eventQueryFromParams(req.query as Record<string, unknown>);
    const list = events.query(query);
    res.json({ events: list.map(eventToJson), next: list.length > 0 ? list[list.length - 1]!.id : (query.afterId ?? null) });
  });

  // The run as a Mermaid sequence diagram (same filters as /events; Macs named by serial).
  router.get('/timeline.mmd', (req, res) => {
    const params = req.query as Record<string, unknown>;
    const query = eventQueryFromParams({ ...params, limit: params.limit ?? String(MAX_TIMELINE_EVENTS) }, MAX_TIMELINE_EVENTS);
    const labelOf = (udid: string) => store.getEnrollment(udid)?.serialNumber ?? udid.slice(0, 8);
    const maxLines = intParam(params.lines, 'lines', 2_000, 1, 100_000);
    res.type('text/vnd.mermaid; charset=utf-8').send(eventsToMermaid(events.query(query), { labelOf, maxLines }));
  });

  router.use('/apns', createApnsApi(apns, events, json));

  router.use((_req: Request, _res: Response, next: NextFunction) => next(problem(404, 'not-found', 'no such control API route', { hint: 'see the README for /sim/v1 routes' })));

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof ProblemError) return send(res, error.problem);
    const e = error as { type?: string; status?: number; message?: string };
    if (e?.type === 'entity.too.large') return send(res, { status: 413, code: 'body-too-large', message: `the request body is larger than ${MAX_API_BODY_BYTES} bytes` });
    if (e?.type === 'entity.parse.failed') return send(res, { status: 400, code: 'malformed-json', message: `the body is not valid JSON: ${e.message}` });
    if (typeof e?.status === 'number' && e.status >= 400 && e.status < 500) return send(res, { status: e.status, code: 'bad-request', message: e.message ?? 'bad request' });
    // A bug: the server's last handler reports it (onError) and answers 500.
    next(error);
  });

  return router;
}

function iso(t: number | undefined): string | null {
  return t === undefined ? null : new Date(t).toISOString();
}

function idList(param: unknown): string[] {
  return String(param)
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

function readCommandBody(req: Request): ReturnType<typeof decodeCommand> {
  let value: PlistValue;
  if (Buffer.isBuffer(req.body)) {
    try {
      value = parsePlist(req.body);
    } catch (error) {
      if (error instanceof PlistError) throw problem(400, 'malformed-plist', `the command is not a readable property list: ${error.message}`);
      throw error;
    }
  } else if (req.body !== undefined && req.is('application/json')) {
    value = jsonToPlist(req.body);
  } else {
    throw problem(415, 'bad-content-type', `send the command as a plist or as JSON; got Content-Type ${req.headers['content-type'] ?? 'none'}`, {
      field: 'Content-Type',
      expected: `application/json or ${PLIST_TYPES.slice(0, 3).join(', ')}`,
    });
  }
  return decodeCommand(value);
}

function intParam(v: unknown, name: string, fallback: number, min: number, max: number): number {
  if (v === undefined || v === '') return fallback;
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) {
    throw problem(400, 'bad-parameter', `${name} must be an integer from ${min} to ${max}; got ${JSON.stringify(v)}`, { field: name });
  }
  return n;
}

/** `since` is an event id (events after it) or an ISO time (events at or after it). */
export function eventQueryFromParams(q: Record<string, unknown>, maxLimit = MAX_EVENTS_PER_PAGE): EventQuery {
  const query: EventQuery = { limit: intParam(q.limit, 'limit', 1000, 1, maxLimit) };
  const since = q.since;
  if (typeof since === 'string' && since !== '') {
    if (/^\d+$/.test(since)) query.afterId = Number(since);
    else query.since = timeParam(since, 'since');
  }
  if (typeof q.until === 'string' && q.until !== '') query.until = timeParam(q.until, 'until');
  if (typeof q.type === 'string' && q.type !== '') query.types = q.type.split(',').map((t) => t.trim()).filter(Boolean);
  if (typeof q.udid === 'string' && q.udid !== '') query.udid = q.udid;
  return query;
}

function timeParam(v: string, name: string): number {
  const t = Date.parse(v);
  if (Number.isNaN(t)) {
    throw problem(400, 'bad-parameter', `${name} must be an event id or an ISO-8601 time; got ${JSON.stringify(v)}`, { field: name, expected: '42 or 2026-01-31T12:00:00Z' });
  }
  return t;
}
