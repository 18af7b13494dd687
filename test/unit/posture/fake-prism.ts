/**
 * A small stand-in for Prism's device_information over plain HTTP (port 0): the fact sheet's
 * envelope `{cursor, data, limit, offset, total}`, an opaque cursor, bearer tokens, and a
 * status to force. It records every request so tests can see what the client asked for.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface FakeRecord {
  device_id: string;
  serial_number: string;
  mdm_enabled: boolean;
  agent_installed: boolean | null;
  last_checkin_agent?: string | null;
  last_checkin_mdm?: string | null;
}

export interface FakePrism {
  url: string;
  records: FakeRecord[];
  tokens: Set<string>;
  /** Answer this status (and body, headers) to every request instead of the data. */
  force: { status: number; body: unknown; headers?: Record<string, string> } | undefined;
  /** Hand back this cursor on every page (a broken server). */
  stuckCursor: string | undefined;
  /** While set, every request waits for it before it is answered (a slow server). */
  hold: Promise<void> | undefined;
  requests: Array<{ path: string; query: URLSearchParams; authorization: string | undefined }>;
  close(): Promise<void>;
}

export async function startFakePrism(records: FakeRecord[] = [], tokens = ['good-token']): Promise<FakePrism> {
  const fake: FakePrism = {
    url: '',
    records,
    tokens: new Set(tokens),
    force: undefined,
    stuckCursor: undefined,
    hold: undefined,
    requests: [],
    close: () => new Promise((resolve) => server.close(() => resolve())),
  };
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? '/', 'http://x');
    fake.requests.push({ path: url.pathname, query: url.searchParams, authorization: req.headers.authorization });
    if (fake.hold) await fake.hold;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (fake.force) return send(fake.force.status, fake.force.body, fake.force.headers);
    const token = req.headers.authorization?.replace(/^Bearer /, '');
    if (!token || !fake.tokens.has(token)) return send(401, { detail: 'Invalid token.' });
    if (url.pathname !== '/api/v1/prism/device_information') return send(404, { detail: 'Not found.' });
    const limit = Math.min(Number(url.searchParams.get('limit') ?? 300), 300);
    const cursor = url.searchParams.get('cursor');
    const offset = !cursor || cursor === fake.stuckCursor ? 0 : Number(Buffer.from(cursor, 'base64url').toString().replace('o:', ''));
    const data = fake.records.slice(offset, offset + limit).map((r) => ({ last_checkin_agent: null, last_checkin_mdm: null, ...r }));
    const next = offset + limit < fake.records.length ? Buffer.from(`o:${offset + limit}`).toString('base64url') : null;
    send(200, { cursor: fake.stuckCursor ?? next, data, limit, offset: null, total: fake.records.length });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  fake.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return fake;
}
