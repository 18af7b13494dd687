/**
 * The property-list codec: XML plists in and out, binary plists in.
 *
 * - `parsePlist` reads a Buffer (binary `bplist00` or UTF-8 XML) or a string (XML). Every
 *   failure, whatever the input, is a PlistError; for XML it carries offset, line and column.
 * - `buildPlist` writes Apple-style XML. Dict entries whose value is `undefined` are left out,
 *   so optional fields need no cleaning; other values without a plist form throw a PlistError
 *   that names their path, e.g. `Command.Queries[2]`.
 *
 * Representation notes (see types.ts): integers that a double holds exactly come back as
 * numbers, larger ones as bigint; a number with no fractional part is written as <integer>,
 * so a real such as 2.0 reads back as 2 and is written back as <integer>. Dates are written
 * in whole seconds (rounded down). In a dict with a repeated key, the last value wins. Dict
 * keys keep document/insertion order, except that JavaScript itself puts integer-like keys
 * ("0", "42") first in any object.
 */
import { isAscii, isUtf8 } from 'node:buffer';
import { isBinaryPlist, parseBinaryPlist } from './binary';
import { buildXmlPlist } from './xml-build';
import { parseXmlPlist } from './xml-parse';
import { PlistError, type PlistValue } from './types';

export * from './types';
export { MAX_DEPTH } from './xml-parse';

export function parsePlist(input: Buffer | string): PlistValue {
  if (typeof input === 'string') {
    if (input.startsWith('bplist')) {
      throw new PlistError('binary plist passed as a string: pass the raw Buffer (decoding it as text corrupts it)');
    }
    return parseXmlPlist(input, false);
  }
  const bytes: unknown = input;
  if (!ArrayBuffer.isView(bytes)) {
    throw new PlistError(`cannot parse a plist from ${bytes === null ? 'null' : typeof bytes}: pass a Buffer or a string`);
  }
  // Any byte view works (a Uint8Array from fetch, say); wrapping it copies nothing.
  const buf = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (isBinaryPlist(buf)) return parseBinaryPlist(buf);
  if (buf.length >= 6 && buf.toString('latin1', 0, 6) === 'bplist') {
    throw new PlistError(`unsupported binary plist version ${JSON.stringify(buf.toString('latin1', 0, 8))}: only bplist00 is read`);
  }
  if (buf.length >= 2 && ((buf[0] === 0xff && buf[1] === 0xfe) || (buf[0] === 0xfe && buf[1] === 0xff))) {
    throw new PlistError('UTF-16 plists are not supported: send the XML as UTF-8');
  }
  if (isAscii(buf)) return parseXmlPlist(buf.toString('latin1'), true, buf);
  if (!isUtf8(buf)) throw new PlistError('plist XML is not valid UTF-8');
  return parseXmlPlist(buf.toString('utf8'), true);
}

export function buildPlist(value: PlistValue): string {
  return buildXmlPlist(value);
}

/** `buildPlist` encoded as UTF-8, ready to send as a body. */
export function buildPlistBuffer(value: PlistValue): Buffer {
  return Buffer.from(buildXmlPlist(value), 'utf8');
}
