/**
 * Prism's opaque cursor: where the previous page ended, as the sort in force, that device's
 * sort value and its device_id. The next page starts strictly after that position, so devices
 * that enroll (or change) between pages neither repeat nor shift the rest, as an offset would.
 *
 * base64url of a small JSON document; opaque to clients, and checked here: a cursor that does
 * not decode, or was made under another sort_by, is a CursorError (400 with a reason).
 */
import type { RawValue } from './fields';

export interface CursorPosition {
  /** The sort_by the cursor was made under, e.g. `device_id` or `-last_checkin`. */
  sort: string;
  /** The last device's raw sort value. */
  value: RawValue;
  deviceId: string;
}

export class CursorError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CursorError';
  }
}

export function encodeCursor(p: CursorPosition): string {
  return Buffer.from(JSON.stringify({ s: p.sort, v: p.value, d: p.deviceId }), 'utf8').toString('base64url');
}

export function decodeCursor(text: string, sort: string): CursorPosition {
  let doc: { s?: unknown; v?: unknown; d?: unknown };
  try {
    doc = JSON.parse(Buffer.from(text, 'base64url').toString('utf8')) as typeof doc;
  } catch {
    throw new CursorError('Invalid cursor: pass the cursor of the previous page as it came, or an empty cursor= for the first page.');
  }
  const valueOk = doc?.v === null || ['string', 'number', 'boolean'].includes(typeof doc?.v);
  if (!doc || typeof doc.s !== 'string' || typeof doc.d !== 'string' || !valueOk) {
    throw new CursorError('Invalid cursor: pass the cursor of the previous page as it came, or an empty cursor= for the first page.');
  }
  if (doc.s !== sort) {
    throw new CursorError(`Invalid cursor: it continues a listing sorted by ${doc.s}, not ${sort}; keep sort_by the same while paging, or start again with cursor=.`);
  }
  return { sort: doc.s, value: doc.v as RawValue, deviceId: doc.d };
}
