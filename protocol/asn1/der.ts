/**
 * A DER writer: enough ASN.1 to assemble CMS SignedData and PKCS#12 on Buffers, fast.
 * Every function returns the complete encoding (identifier, length, content) of one value.
 * Callers pass already-encoded children, so a structure is built inside out.
 */
import { Asn1Error } from './errors';

export const TAG = {
  BOOLEAN: 0x01,
  INTEGER: 0x02,
  BIT_STRING: 0x03,
  OCTET_STRING: 0x04,
  NULL: 0x05,
  OID: 0x06,
  UTF8_STRING: 0x0c,
  PRINTABLE_STRING: 0x13,
  IA5_STRING: 0x16,
  UTC_TIME: 0x17,
  GENERALIZED_TIME: 0x18,
  BMP_STRING: 0x1e,
  SEQUENCE: 0x30,
  SET: 0x31,
} as const;

/** The DER length octets for a content of `length` bytes. */
export function encodeLength(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  if (length < 0x100) return Buffer.from([0x81, length]);
  if (length < 0x10000) return Buffer.from([0x82, length >> 8, length & 0xff]);
  if (length < 0x1000000) return Buffer.from([0x83, length >> 16, (length >> 8) & 0xff, length & 0xff]);
  return Buffer.from([0x84, length >>> 24, (length >> 16) & 0xff, (length >> 8) & 0xff, length & 0xff]);
}

/** Identifier byte + length + content. `tag` is the whole identifier octet (class, P/C, number < 31). */
export function tlv(tag: number, ...content: Buffer[]): Buffer {
  const length = content.reduce((n, part) => n + part.length, 0);
  const header = encodeLength(length);
  const out = Buffer.allocUnsafe(1 + header.length + length);
  out[0] = tag;
  header.copy(out, 1);
  let at = 1 + header.length;
  for (const part of content) at += part.copy(out, at);
  return out;
}

export const sequence = (...items: Buffer[]): Buffer => tlv(TAG.SEQUENCE, ...items);

/**
 * A SET OF in DER order (elements sorted by their encodings), as signed attributes and
 * anything else that gets signed must be.
 */
export function setOf(...items: Buffer[]): Buffer {
  return tlv(TAG.SET, ...[...items].sort(Buffer.compare));
}

/** [n] EXPLICIT: a constructed context-specific wrapper around one encoded value. */
export const explicit = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);

/** [n] IMPLICIT over a constructed type (SET, SEQUENCE): the content with a context tag. */
export const implicitConstructed = (n: number, ...content: Buffer[]): Buffer => tlv(0xa0 | n, ...content);

/** [n] IMPLICIT over a primitive type (OCTET STRING, INTEGER…). */
export const implicitPrimitive = (n: number, content: Buffer): Buffer => tlv(0x80 | n, content);

export const octetString = (content: Buffer): Buffer => tlv(TAG.OCTET_STRING, content);
export const NULL = Buffer.from([TAG.NULL, 0]);
export const boolean = (value: boolean): Buffer => Buffer.from([TAG.BOOLEAN, 1, value ? 0xff : 0]);
export const utf8String = (s: string): Buffer => tlv(TAG.UTF8_STRING, Buffer.from(s, 'utf8'));
export const printableString = (s: string): Buffer => tlv(TAG.PRINTABLE_STRING, Buffer.from(s, 'latin1'));

/** BMPString: UTF-16 big-endian, as PKCS#12 friendly names use. */
export function bmpString(s: string): Buffer {
  const le = Buffer.from(s, 'utf16le');
  return tlv(TAG.BMP_STRING, le.swap16());
}

/** A BIT STRING with no unused bits (keys, signatures). */
export const bitString = (content: Buffer): Buffer => tlv(TAG.BIT_STRING, Buffer.from([0]), content);

/**
 * An INTEGER. A number must be a non-negative safe integer; a Buffer is taken as the
 * unsigned big-endian magnitude and made minimal (leading zeros dropped, one added back when
 * the top bit would otherwise read as a sign).
 */
export function integer(value: number | bigint | Buffer): Buffer {
  return tlv(TAG.INTEGER, integerContent(value));
}

function integerContent(value: number | bigint | Buffer): Buffer {
  let bytes: Buffer;
  if (Buffer.isBuffer(value)) {
    bytes = value;
  } else {
    let n = BigInt(value);
    if (n < 0n) throw new Asn1Error(`integer(): negative values are not supported (${n})`);
    const hex = n.toString(16);
    bytes = Buffer.from(hex.length % 2 ? `0${hex}` : hex, 'hex');
  }
  let start = 0;
  while (start < bytes.length - 1 && bytes[start] === 0) start++;
  const minimal = bytes.subarray(start);
  if (minimal.length === 0) return Buffer.from([0]);
  return minimal[0] & 0x80 ? Buffer.concat([Buffer.from([0]), minimal]) : minimal;
}

const oidCache = new Map<string, Buffer>();

/** An OBJECT IDENTIFIER from its dotted form; encodings are cached, so constants cost nothing. */
export function oid(dotted: string): Buffer {
  let encoded = oidCache.get(dotted);
  if (encoded === undefined) {
    encoded = tlv(TAG.OID, oidContent(dotted));
    oidCache.set(dotted, encoded);
  }
  return encoded;
}

/** The content octets of an OBJECT IDENTIFIER (no identifier or length). */
export function oidContent(dotted: string): Buffer {
  const arcs = dotted.split('.').map((arc) => {
    if (!/^\d+$/.test(arc)) throw new Asn1Error(`invalid OID ${JSON.stringify(dotted)}: arcs must be decimal numbers`);
    return BigInt(arc);
  });
  if (arcs.length < 2 || arcs[0] > 2n || (arcs[0] < 2n && arcs[1] > 39n)) {
    throw new Asn1Error(`invalid OID ${JSON.stringify(dotted)}: expected at least two arcs, the first 0, 1 or 2`);
  }
  const bytes: number[] = [];
  for (const arc of [arcs[0] * 40n + arcs[1], ...arcs.slice(2)]) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let rest = arc >> 7n; rest > 0n; rest >>= 7n) groups.unshift(Number(rest & 0x7fn) | 0x80);
    bytes.push(...groups);
  }
  return Buffer.from(bytes);
}

/**
 * UTCTime for years 1950–2049 and GeneralizedTime otherwise, as RFC 5280 and RFC 5652
 * require, in whole seconds, always UTC ("Z").
 */
export function time(date: Date): Buffer {
  const iso = date.toISOString(); // 2026-11-23T10:20:30.000Z
  const year = date.getUTCFullYear();
  const digits = iso.slice(5, 7) + iso.slice(8, 10) + iso.slice(11, 13) + iso.slice(14, 16) + iso.slice(17, 19);
  if (year >= 1950 && year < 2050) return tlv(TAG.UTC_TIME, Buffer.from(`${String(year % 100).padStart(2, '0')}${digits}Z`, 'latin1'));
  return tlv(TAG.GENERALIZED_TIME, Buffer.from(`${String(year).padStart(4, '0')}${digits}Z`, 'latin1'));
}

/** AlgorithmIdentifier { algorithm, parameters } (parameters omitted when undefined). */
export function algorithm(dotted: string, parameters?: Buffer): Buffer {
  return parameters === undefined ? sequence(oid(dotted)) : sequence(oid(dotted), parameters);
}
