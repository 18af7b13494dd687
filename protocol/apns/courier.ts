/**
 * The courier: the device side of the APNs mock, JSON text frames over a WebSocket. One
 * connection carries one device's token, or thousands (a fleet), as a real Mac's single
 * courier connection carries all its topics.
 *
 *   client → courier                                   courier → client
 *   {type:"hello", client?}                 ───────▶   {type:"welcome", version, maxDevicesPerFrame}
 *   {type:"subscribe", id?, devices:[{topic, secret, token?}]}
 *                                           ───────▶   {type:"subscribed", id, tokens:[hex|null], errors:[…]}
 *                                           ◀───────   {type:"push", id, token, topic, payload, apnsId, priority}
 *   {type:"ack", ids:[…]}                   ───────▶
 *   {type:"unsubscribe", id?, tokens:[hex]} ───────▶   {type:"unsubscribed", id, tokens}
 *   {type:"unregister", id?, devices:[…]}   ───────▶   {type:"unregistered", id, tokens}   (410 from then on)
 *                                           ◀───────   {type:"error", code, message, id?}
 *
 * `secret` is base64url (16–64 bytes); the token is derived from it (see token.ts), so knowing
 * the secret is what proves a client owns a token. `hello` comes first.
 */
import { isTopic } from './headers';
import { MAX_SECRET_BYTES, MIN_SECRET_BYTES } from './token';

export const COURIER_PROTOCOL_VERSION = 1;
export const MAX_DEVICES_PER_FRAME = 10_000;
export const MAX_ACKS_PER_FRAME = 100_000;
/** Large enough for a full subscribe frame; anything bigger closes the connection (1009). */
export const MAX_COURIER_FRAME_BYTES = 4 * 1024 * 1024;

export interface DeviceCredential {
  topic: string;
  /** base64url, 16–64 bytes. */
  secret: string;
  /** When given, it must be the token the secret derives (else `not-owner`). */
  token?: string;
}

export type ClientFrame =
  | { type: 'hello'; client?: string; version?: number }
  | { type: 'subscribe'; id?: number | string; devices: DeviceCredential[] }
  | { type: 'unsubscribe'; id?: number | string; tokens: string[] }
  | { type: 'unregister'; id?: number | string; devices: DeviceCredential[] }
  | { type: 'ack'; ids: number[] };

export interface PushFrame {
  type: 'push';
  /** Acknowledge it with {type:"ack", ids:[id]}; an unacknowledged push is delivered again on reconnect. */
  id: number;
  token: string;
  topic: string;
  payload: unknown;
  apnsId: string;
  priority: number;
}

export interface FrameError {
  index: number;
  code: CourierErrorCode;
  message: string;
}

export type CourierErrorCode =
  | 'malformed-frame'
  | 'unknown-frame-type'
  | 'hello-first'
  | 'unsupported-version'
  | 'bad-secret'
  | 'bad-topic'
  | 'bad-token'
  | 'not-owner'
  | 'not-subscribed'
  | 'too-many'
  | 'unknown-push';

export type ServerFrame =
  | { type: 'welcome'; version: number; maxDevicesPerFrame: number }
  | { type: 'subscribed'; id?: number | string; tokens: (string | null)[]; errors: FrameError[] }
  | { type: 'unsubscribed'; id?: number | string; tokens: string[]; reason?: string; errors?: FrameError[] }
  | { type: 'unregistered'; id?: number | string; tokens: (string | null)[]; errors: FrameError[] }
  | PushFrame
  | { type: 'error'; code: CourierErrorCode; message: string; id?: number | string };

export class CourierFrameError extends Error {
  constructor(
    readonly code: CourierErrorCode,
    message: string,
    readonly id?: number | string,
  ) {
    super(message);
    this.name = 'CourierFrameError';
  }
}

const TOKEN = /^[0-9a-f]{64}$/;
const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Parses and checks one client frame; throws CourierFrameError with a code a client can act on. */
export function parseClientFrame(text: string): ClientFrame {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new CourierFrameError('malformed-frame', `a frame is one JSON object; this one is not JSON: ${JSON.stringify(text.slice(0, 60))}`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new CourierFrameError('malformed-frame', 'a frame is one JSON object with a "type"');
  const f = value as Record<string, unknown>;
  const id = typeof f.id === 'number' || typeof f.id === 'string' ? f.id : undefined;
  switch (f.type) {
    case 'hello':
      if (f.client !== undefined && typeof f.client !== 'string') throw new CourierFrameError('malformed-frame', 'hello: client must be a string');
      if (f.version !== undefined && f.version !== COURIER_PROTOCOL_VERSION) {
        throw new CourierFrameError('unsupported-version', `hello: this courier speaks version ${COURIER_PROTOCOL_VERSION}; got ${JSON.stringify(f.version)}`);
      }
      return { type: 'hello', client: f.client as string | undefined, version: COURIER_PROTOCOL_VERSION };
    case 'subscribe':
    case 'unregister':
      return { type: f.type, id, devices: list(f.devices, 'devices', f.type, id, MAX_DEVICES_PER_FRAME) as DeviceCredential[] };
    case 'unsubscribe':
      return { type: 'unsubscribe', id, tokens: list(f.tokens, 'tokens', 'unsubscribe', id, MAX_DEVICES_PER_FRAME) as string[] };
    case 'ack': {
      const ids = list(f.ids, 'ids', 'ack', id, MAX_ACKS_PER_FRAME);
      if (!ids.every((n) => Number.isSafeInteger(n))) throw new CourierFrameError('malformed-frame', 'ack: ids are the integer ids of push frames');
      return { type: 'ack', ids: ids as number[] };
    }
    default:
      throw new CourierFrameError('unknown-frame-type', `unknown frame type ${JSON.stringify(f.type)}; expected hello, subscribe, unsubscribe, unregister or ack`, id);
  }
}

function list(v: unknown, field: string, type: string, id: number | string | undefined, max: number): unknown[] {
  if (!Array.isArray(v)) throw new CourierFrameError('malformed-frame', `${type}: ${field} must be an array`, id);
  if (v.length > max) throw new CourierFrameError('too-many', `${type}: at most ${max} ${field} per frame; got ${v.length}`, id);
  return v;
}

/** Checks one device credential of a subscribe or unregister; the secret's bytes, or a FrameError. */
export function readCredential(c: unknown, index: number): { topic: string; secret: Buffer; token?: string } | FrameError {
  if (c === null || typeof c !== 'object') return { index, code: 'malformed-frame', message: 'a device is {topic, secret, token?}' };
  const { topic, secret, token } = c as Record<string, unknown>;
  if (!isTopic(topic)) return { index, code: 'bad-topic', message: `topic must be the push topic (com.apple.mgmt.External.<uuid> for MDM); got ${JSON.stringify(topic)}` };
  if (typeof secret !== 'string' || !BASE64URL.test(secret)) return { index, code: 'bad-secret', message: 'secret must be base64url' };
  const bytes = Buffer.from(secret, 'base64url');
  if (bytes.length < MIN_SECRET_BYTES || bytes.length > MAX_SECRET_BYTES) {
    return { index, code: 'bad-secret', message: `secret must be ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes; got ${bytes.length}` };
  }
  if (token !== undefined && (typeof token !== 'string' || !TOKEN.test(token))) return { index, code: 'bad-token', message: 'token must be 64 lower-case hex characters' };
  return { topic, secret: bytes, token: token as string | undefined };
}

export function isTokenHex(v: unknown): v is string {
  return typeof v === 'string' && TOKEN.test(v);
}
