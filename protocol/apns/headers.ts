/**
 * The provider API's request headers and path, read and judged one at a time. Each reader
 * answers a value or the rejection Apple would send; the order they run in is the server's
 * business (server/apns/checks.ts).
 */
import { rejection, type ApnsRejection } from './reasons';

export const DEVICE_PATH_PREFIX = '/3/device/';
/** Apple's payload limit for everything but VoIP. */
export const MAX_PAYLOAD_BYTES = 4096;
export const MAX_COLLAPSE_ID_BYTES = 64;
/** How long APNs keeps a notification for an offline device when apns-expiration is absent. */
export const DEFAULT_STORAGE_MS = 30 * 24 * 60 * 60 * 1000;

export const PUSH_TYPES = [
  'alert',
  'background',
  'location',
  'voip',
  'complication',
  'fileprovider',
  'mdm',
  'liveactivity',
  'pushtotalk',
  'widgets',
  'controls',
] as const;
export type PushType = (typeof PUSH_TYPES)[number];

/** Headers that may appear once only; a repeat is DuplicateHeaders. */
export const SINGLE_HEADERS = [
  'apns-id',
  'apns-topic',
  'apns-push-type',
  'apns-expiration',
  'apns-priority',
  'apns-collapse-id',
  'authorization',
  'content-length',
] as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
/** Real tokens are 32 bytes; Apple says they may grow, so any even hex of 32–100 bytes is well formed. */
const TOKEN = /^(?:[0-9a-f]{2}){32,100}$/i;
/** A bundle id or an MDM topic: dotted, no spaces or control characters. */
const TOPIC = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** A bundle id or MDM topic, as the provider API, the courier and the control API accept it. */
export function isTopic(v: unknown): v is string {
  return typeof v === 'string' && TOPIC.test(v);
}

/** A well-formed device token in lower-case hex (what the checks normalise a path's token to). */
export function isDeviceTokenHex(v: unknown): v is string {
  return typeof v === 'string' && TOKEN.test(v) && v === v.toLowerCase();
}

type Read<T> = { value: T } | { error: ApnsRejection };

export function readApnsId(v: string | undefined): Read<string | undefined> {
  if (v === undefined) return { value: undefined };
  return UUID.test(v) ? { value: v.toLowerCase() } : { error: rejection('BadMessageId', `apns-id must be a UUID (8-4-4-4-12 hex); got ${JSON.stringify(v)}`) };
}

export function readTopic(v: string | undefined): Read<string | undefined> {
  if (v === undefined) return { value: undefined };
  return isTopic(v) ? { value: v } : { error: rejection('BadTopic', `apns-topic must be a bundle id or an MDM topic (com.apple.mgmt.External.<uuid>); got ${JSON.stringify(v)}`) };
}

export function readCollapseId(v: string | undefined): Read<string | undefined> {
  if (v === undefined) return { value: undefined };
  const bytes = Buffer.byteLength(v);
  return bytes <= MAX_COLLAPSE_ID_BYTES ? { value: v } : { error: rejection('BadCollapseId', `apns-collapse-id is ${bytes} bytes; the limit is ${MAX_COLLAPSE_ID_BYTES}`) };
}

export function readPriority(v: string | undefined): Read<10 | 5 | 1> {
  if (v === undefined) return { value: 10 };
  if (v === '10' || v === '5' || v === '1') return { value: Number(v) as 10 | 5 | 1 };
  return { error: rejection('BadPriority', `apns-priority must be 10, 5 or 1; got ${JSON.stringify(v)}`) };
}

export function readPushType(v: string | undefined): Read<PushType | undefined> {
  if (v === undefined) return { value: undefined };
  return (PUSH_TYPES as readonly string[]).includes(v)
    ? { value: v as PushType }
    : { error: rejection('InvalidPushType', `apns-push-type must be one of ${PUSH_TYPES.join(', ')}; got ${JSON.stringify(v)}`) };
}

/** Epoch seconds; 0 means "now or never". Absent: undefined (APNs keeps it up to 30 days). */
export function readExpiration(v: string | undefined): Read<number | undefined> {
  if (v === undefined) return { value: undefined };
  return /^\d{1,12}$/.test(v) ? { value: Number(v) } : { error: rejection('BadExpirationDate', `apns-expiration must be epoch seconds (0 = do not store); got ${JSON.stringify(v)}`) };
}

/** `undefined` when the path is not a device path at all (BadPath). */
export function tokenOfPath(path: string): string | undefined {
  const q = path.indexOf('?');
  const p = q < 0 ? path : path.slice(0, q);
  return p.startsWith(DEVICE_PATH_PREFIX) ? p.slice(DEVICE_PATH_PREFIX.length) : undefined;
}

export function readDeviceToken(token: string): Read<string> {
  if (token === '') return { error: rejection('MissingDeviceToken', `the path names no device token: POST ${DEVICE_PATH_PREFIX}<64 hex characters>`) };
  return TOKEN.test(token) ? { value: token.toLowerCase() } : { error: rejection('BadDeviceToken', `the device token must be hex (64 characters for a 32-byte token); got ${JSON.stringify(token.slice(0, 80))}`) };
}

/**
 * When a stored notification stops being deliverable: `undefined` = never stored (expiration 0
 * or already past), else the earlier of apns-expiration and 30 days from now.
 */
export function storageDeadline(expirationSeconds: number | undefined, now: number): number | undefined {
  const cap = now + DEFAULT_STORAGE_MS;
  if (expirationSeconds === undefined) return cap;
  if (expirationSeconds === 0) return undefined;
  const at = expirationSeconds * 1000;
  if (at <= now) return undefined;
  return Math.min(at, cap);
}
