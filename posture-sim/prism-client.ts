/**
 * The integration's one read: Kandji's Prism `GET /api/v1/prism/device_information`, paged to
 * the end with the opaque cursor each page hands back, as a consumer outside the MDM reads it
 * (over HTTPS, a bearer token, nothing imported from the server).
 *
 * Failures are values: a PrismError says what went wrong in a way the integration can act on
 * (401/403 pause it, 429 says when to come back) and its message is what the status shows.
 */
import { createSecureContext } from 'node:tls';
import { Agent, errors as undiciErrors } from 'undici';
import { KANDJI_MAX_LIMIT, PRISM_DEVICE_INFORMATION_PATH } from '../protocol/kandji';

/** The fields of a Prism device-information record the integration reads (the rest are ignored). */
export interface PrismDeviceRecord {
  device_id: string;
  serial_number: string;
  mdm_enabled: boolean;
  /** null: a platform no agent runs on (iPhone, iPad, Apple TV); a Mac is true or false. */
  agent_installed: boolean | null;
  last_checkin_agent: string | null;
  last_checkin_mdm: string | null;
}

export type PrismErrorKind = 'unauthorized' | 'forbidden' | 'rate-limited' | 'http' | 'network' | 'bad-answer';

export class PrismError extends Error {
  constructor(
    readonly kind: PrismErrorKind,
    message: string,
    /** The HTTP status, when there was an answer. */
    readonly status?: number,
    /** For 429: how long the server asked us to wait (from `ratelimit-reset` / `retry-after`). */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'PrismError';
  }
}

export interface PrismReadResult {
  records: PrismDeviceRecord[];
  pages: number;
  /** Prism's `total` on the first page. */
  total: number;
  /** Records without a usable serial number (skipped). */
  skipped: number;
}

export interface PrismClientOptions {
  /** The Kandji API URL: `https://<sub>.api.kandji.io` (a trailing `/api/v1` is accepted). */
  apiUrl: string;
  token: string;
  /** PEM certificates trusted for HTTPS (default: Node's public roots). */
  ca?: string | Buffer;
  /** Page size (default and ceiling 300, Kandji's). */
  limit?: number;
  timeoutMs?: number;
}

/** `https://host[:port]` from the Kandji API URL a user pastes (with or without `/api/v1`). */
export function apiOrigin(apiUrl: string): string {
  let url: URL;
  try {
    url = new URL(apiUrl);
  } catch {
    throw new PrismError('network', `the API URL ${JSON.stringify(apiUrl)} is not a URL (expected e.g. https://your-org.api.kandji.io)`);
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new PrismError('network', `the API URL must be https:// (got ${url.protocol})`);
  return url.origin;
}

/** Detail from a Kandji error body: `{"detail": "..."}`, a bare JSON string, or the raw text. */
function errorDetail(body: string): string {
  try {
    const parsed = JSON.parse(body) as unknown;
    if (typeof parsed === 'string') return parsed;
    if (parsed && typeof parsed === 'object' && typeof (parsed as { detail?: unknown }).detail === 'string') return (parsed as { detail: string }).detail;
  } catch {
    // not JSON: fall through
  }
  return body.length > 200 ? `${body.slice(0, 200)}…` : body;
}

function retryAfterMs(headers: Record<string, string | string[] | undefined>): number | undefined {
  const first = (name: string) => {
    const v = headers[name];
    return Array.isArray(v) ? v[0] : v;
  };
  for (const name of ['retry-after', 'ratelimit-reset']) {
    const v = first(name);
    if (v !== undefined && /^\d+(\.\d+)?$/.test(v.trim())) return Math.ceil(Number(v) * 1000);
  }
  return undefined;
}

function isRecordShape(r: unknown): r is Record<string, unknown> {
  return r !== null && typeof r === 'object' && !Array.isArray(r);
}

export class PrismClient {
  private readonly origin: string;
  private readonly token: string;
  private readonly limit: number;
  private readonly agent: Agent;
  private inFlight = 0;

  constructor(options: PrismClientOptions) {
    this.origin = apiOrigin(options.apiUrl);
    this.token = options.token;
    this.limit = Math.min(options.limit ?? KANDJI_MAX_LIMIT, KANDJI_MAX_LIMIT);
    if (!Number.isInteger(this.limit) || this.limit < 1) throw new RangeError(`limit: expected a whole number from 1 to ${KANDJI_MAX_LIMIT}`);
    const timeout = options.timeoutMs ?? 30_000;
    this.agent = new Agent({
      connect: { ...(options.ca ? { secureContext: createSecureContext({ ca: options.ca }) } : {}), timeout },
      headersTimeout: timeout,
      bodyTimeout: timeout,
      connections: 2,
    });
  }

  get busy(): boolean {
    return this.inFlight > 0;
  }

  /** One page: `cursor` undefined for the first one. */
  async page(cursor?: string): Promise<{ cursor: string | null; data: unknown[]; total: number }> {
    const query = new URLSearchParams({ limit: String(this.limit) });
    if (cursor !== undefined) query.set('cursor', cursor);
    const path = `${PRISM_DEVICE_INFORMATION_PATH}?${query}`;
    let status: number;
    let headers: Record<string, string | string[] | undefined>;
    let text: string;
    this.inFlight++;
    try {
      const res = await this.agent.request({ origin: this.origin, path, method: 'GET', headers: { authorization: `Bearer ${this.token}`, accept: 'application/json' } });
      status = res.statusCode;
      headers = res.headers;
      text = await res.body.text();
    } catch (error) {
      const reason = error instanceof undiciErrors.UndiciError || error instanceof Error ? error.message : String(error);
      throw new PrismError('network', `GET ${this.origin}${PRISM_DEVICE_INFORMATION_PATH}: ${reason}`);
    } finally {
      this.inFlight--;
    }
    if (status === 401) throw new PrismError('unauthorized', `401 from Prism: ${errorDetail(text)} (the API token is missing, unknown or revoked)`, 401);
    if (status === 403) throw new PrismError('forbidden', `403 from Prism: ${errorDetail(text)} (give the token the Prism "Device Information" permission)`, 403);
    if (status === 429) {
      const wait = retryAfterMs(headers);
      throw new PrismError('rate-limited', `429 from Prism: ${errorDetail(text)}${wait !== undefined ? ` (retry in ${Math.ceil(wait / 1000)} s)` : ''}`, 429, wait);
    }
    if (status !== 200) throw new PrismError('http', `${status} from Prism: ${errorDetail(text)}`, status);
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new PrismError('bad-answer', 'Prism answered 200 with a body that is not JSON', status);
    }
    if (!isRecordShape(body) || !Array.isArray(body.data)) throw new PrismError('bad-answer', 'Prism answered without a data array (expected {cursor, data, limit, offset, total})', status);
    if (body.cursor !== null && body.cursor !== undefined && typeof body.cursor !== 'string') throw new PrismError('bad-answer', 'Prism answered a cursor that is neither a string nor null', status);
    return { cursor: (body.cursor as string | null | undefined) ?? null, data: body.data, total: typeof body.total === 'number' ? body.total : body.data.length };
  }

  /** Every record, following cursors until Prism has none (or an empty page). */
  async readAll(): Promise<PrismReadResult> {
    const records: PrismDeviceRecord[] = [];
    const seen = new Set<string>();
    let skipped = 0;
    let pages = 0;
    let total = 0;
    let cursor: string | undefined;
    for (;;) {
      const page = await this.page(cursor);
      if (pages === 0) total = page.total;
      pages++;
      for (const raw of page.data) {
        const r = isRecordShape(raw) ? raw : {};
        if (typeof r.serial_number !== 'string' || r.serial_number.trim() === '' || typeof r.mdm_enabled !== 'boolean') {
          skipped++;
          continue;
        }
        records.push({
          device_id: String(r.device_id ?? ''),
          serial_number: r.serial_number,
          mdm_enabled: r.mdm_enabled,
          agent_installed: typeof r.agent_installed === 'boolean' ? r.agent_installed : null,
          last_checkin_agent: typeof r.last_checkin_agent === 'string' ? r.last_checkin_agent : null,
          last_checkin_mdm: typeof r.last_checkin_mdm === 'string' ? r.last_checkin_mdm : null,
        });
      }
      if (page.cursor === null || page.cursor === '' || page.data.length === 0) break;
      // A server that hands back a cursor it already gave would page forever.
      if (seen.has(page.cursor)) throw new PrismError('bad-answer', `Prism handed back cursor ${page.cursor} twice; stopping after ${pages} pages`);
      seen.add(page.cursor);
      cursor = page.cursor;
    }
    return { records, pages, total, skipped };
  }

  close(): void {
    void this.agent.close().catch(() => undefined);
  }
}
