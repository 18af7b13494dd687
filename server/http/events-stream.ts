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
import type { EventQuery, EventRecord } from '../storage/types';
import { eventToJson, type EventLog } from '../service/event-log';
import { bearerToken, eventQueryFromParams, tokenMatches } from './control-api';
import { problemBody } from './respond';

export const EVENTS_STREAM_PATH = '/sim/v1/events/stream';

/** A subscriber this far behind is cut off rather than allowed to grow memory without bound. */
const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;

interface Subscriber {
  ws: WebSocket;
  /** The client's filters, cursor and time bounds aside (those only shape the backlog). */
  filter: EventQuery;
  lastSent: number;
}

export function createEventsStream(events: EventLog, apiToken: string) {
  const wss = new WebSocketServer({ noServer: true, maxPayload: 64 * 1024 });
  const subscribers = new Set<Subscriber>();
  let unsubscribe: (() => void) | undefined;

  // One subscription for all clients: each event is turned into JSON once, however many
  // dashboards watch, and only while someone does.
  function fanOut(e: EventRecord): void {
    let json: string | undefined;
    for (const s of subscribers) {
      if (!matchesEventQuery(e, s.filter)) continue;
      json ??= JSON.stringify(eventToJson(e));
      send(s, e.id, json);
    }
  }

  function send(s: Subscriber, id: number, json: string): void {
    if (id <= s.lastSent || s.ws.readyState !== s.ws.OPEN) return;
    if (s.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      s.ws.close(1013, 'subscriber too slow; reconnect with ?since=<last id>');
      return;
    }
    s.lastSent = id;
    s.ws.send(json);
  }

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
    let query: EventQuery;
    try {
      query = eventQueryFromParams(Object.fromEntries(url.searchParams));
    } catch (error) {
      if (error instanceof ProblemError) return refuse(socket, 400, problemBody(error.problem));
      throw error;
    }
    const replay = url.searchParams.has('since');
    wss.handleUpgrade(req, socket, head, (ws) => serve(ws, query, replay));
  }

  function serve(ws: WebSocket, query: EventQuery, replay: boolean): void {
    const s: Subscriber = { ws, filter: { types: query.types, udid: query.udid }, lastSent: 0 };
    // The backlog is read synchronously, so no live event can slip in between.
    if (replay) {
      let cursor = query.afterId;
      for (;;) {
        const page = events.query({ ...query, afterId: cursor, limit: 5000 });
        for (const e of page) send(s, e.id, JSON.stringify(eventToJson(e)));
        if (page.length < 5000) break;
        cursor = page[page.length - 1]!.id;
      }
    }
    subscribers.add(s);
    unsubscribe ??= events.subscribe(fanOut);
    const leave = () => {
      subscribers.delete(s);
      if (subscribers.size === 0 && unsubscribe) {
        unsubscribe();
        unsubscribe = undefined;
      }
    };
    ws.on('close', leave);
    ws.on('error', leave);
  }

  /** Ends every open stream: a server cannot stop while upgraded sockets stay open. */
  function close(): void {
    for (const ws of wss.clients) ws.terminate();
    wss.close();
  }

  return { handleUpgrade, close };
}
