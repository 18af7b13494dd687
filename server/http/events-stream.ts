/**
 * /sim/v1/events/stream: the event log over WebSocket, one JSON event per message. The
 * same filters as GET /sim/v1/events; with `since`, the backlog is sent first, then live
 * events. Browsers cannot set headers on a WebSocket, so `?token=` is accepted too.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { ProblemError } from '../../protocol/problem';
import { matchesEventQuery } from '../storage/events';
import type { EventRecord } from '../storage/types';
import { eventToJson, type EventLog } from '../service/event-log';
import { bearerToken, eventQueryFromParams, tokenMatches } from './control-api';
import { problemBody } from './respond';

export const EVENTS_STREAM_PATH = '/sim/v1/events/stream';

/** A subscriber this far behind is cut off rather than allowed to grow memory without bound. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

export function createEventsStream(events: EventLog, apiToken: string) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });

  function refuse(socket: Duplex, status: number, body: string): void {
    socket.end(
      `HTTP/1.1 ${status} ${status === 401 ? 'Unauthorized' : 'Bad Request'}\r\n` +
        'content-type: application/json\r\nconnection: close\r\n' +
        (status === 401 ? 'www-authenticate: Bearer realm="mdmsim"\r\n' : '') +
        `content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
    );
  }

  function handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const token = bearerToken(req.headers.authorization) ?? url.searchParams.get('token') ?? undefined;
    if (!tokenMatches(token, apiToken)) {
      refuse(socket, 401, problemBody({ status: 401, code: 'unauthorized', message: 'the event stream needs the API bearer token', expected: 'Authorization: Bearer <apiToken> or ?token=<apiToken>' }));
      return;
    }
    let query;
    try {
      query = eventQueryFromParams(Object.fromEntries(url.searchParams));
    } catch (error) {
      if (error instanceof ProblemError) return refuse(socket, 400, problemBody(error.problem));
      throw error;
    }
    const replay = url.searchParams.has('since');
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, query, replay));
  }

  function serve(ws: WebSocket, query: ReturnType<typeof eventQueryFromParams>, replay: boolean): void {
    let lastSent = 0;
    const sendEvent = (e: EventRecord) => {
      if (e.id <= lastSent) return;
      if (ws.bufferedAmount > MAX_BUFFERED_BYTES) {
        ws.close(1013, 'subscriber too slow; reconnect with ?since=<last id>');
        return;
      }
      lastSent = e.id;
      ws.send(JSON.stringify(eventToJson(e)));
    };
    // Subscribe before replaying so nothing falls between the backlog and live events.
    const live = { ...query, afterId: undefined, since: undefined, limit: undefined };
    const unsubscribe = events.subscribe((e) => {
      if (ws.readyState === ws.OPEN && matchesEventQuery(e, live)) sendEvent(e);
    });
    ws.on('close', unsubscribe);
    ws.on('error', unsubscribe);
    if (replay) {
      let cursor = query.afterId;
      for (;;) {
        const page = events.query({ ...query, afterId: cursor, limit: 5000 });
        for (const e of page) sendEvent(e);
        if (page.length < 5000) break;
        cursor = page[page.length - 1]!.id;
      }
    }
  }

  return { handleUpgrade, close: () => wss.close() };
}
