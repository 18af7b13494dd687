/**
 * A BER reader over a Buffer, without copying: each element is a view (offsets) into the
 * input. It accepts what real devices send — indefinite lengths (a Mac's Mdm-Signature is
 * BER with indefinite-length SEQUENCEs) and constructed OCTET STRINGs — and refuses, with an
 * offset, anything truncated, overlong or nested beyond reason.
 */
import { Asn1Error } from './errors';
import { oidContent, TAG } from './der';

/** One element: where its identifier, content and end lie in `buf`. */
export interface Tlv {
  buf: Buffer;
  /** The identifier octet (class bits, constructed bit, tag number < 31). */
  tag: number;
  constructed: boolean;
  /** Offset of the identifier octet. */
  start: number;
  contentStart: number;
  /** Offset just past the content (for an indefinite length, the end-of-contents octets). */
  contentEnd: number;
  /** Offset just past the whole element (end-of-contents octets included). */
  end: number;
  indefinite: boolean;
}

/** Deeper than any structure mdmsim reads; a guard against stack exhaustion by crafted input. */
export const MAX_DEPTH = 32;

/** Reads the element at `offset`, which must end at or before `limit`. */
export function readTlv(buf: Buffer, offset = 0, limit = buf.length, depth = 0): Tlv {
  if (depth > MAX_DEPTH) throw new Asn1Error(`nested more than ${MAX_DEPTH} levels deep`, offset);
  if (offset >= limit) throw new Asn1Error('truncated: expected an element', offset);
  const tag = buf[offset];
  if ((tag & 0x1f) === 0x1f) throw new Asn1Error(`high tag numbers are not supported (identifier 0x${tag.toString(16)})`, offset);
  const constructed = (tag & 0x20) !== 0;
  let at = offset + 1;
  if (at >= limit) throw new Asn1Error('truncated: expected a length', at);
  const first = buf[at++];
  if (first === 0x80) {
    if (!constructed) throw new Asn1Error('indefinite length on a primitive element', offset);
    // The content runs until the end-of-contents octets that follow its last child.
    const contentStart = at;
    while (true) {
      if (at + 2 > limit) throw new Asn1Error('truncated: indefinite-length element has no end-of-contents', at);
      if (buf[at] === 0 && buf[at + 1] === 0) {
        return { buf, tag, constructed, start: offset, contentStart, contentEnd: at, end: at + 2, indefinite: true };
      }
      at = readTlv(buf, at, limit, depth + 1).end;
    }
  }
  let length: number;
  if (first < 0x80) {
    length = first;
  } else {
    const count = first & 0x7f;
    if (count > 4) throw new Asn1Error(`length of ${count} octets is too long`, at - 1);
    if (at + count > limit) throw new Asn1Error('truncated: length octets', at);
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + buf[at++];
  }
  const contentEnd = at + length;
  if (contentEnd > limit) throw new Asn1Error(`truncated: the element claims ${length} bytes, ${limit - at} remain`, offset);
  return { buf, tag, constructed, start: offset, contentStart: at, contentEnd, end: contentEnd, indefinite: false };
}

/** Reads `buf` as exactly one element, with nothing after it. */
export function readRoot(buf: Buffer): Tlv {
  const root = readTlv(buf, 0, buf.length);
  if (root.end !== buf.length) throw new Asn1Error(`${buf.length - root.end} bytes after the end of the structure`, root.end);
  return root;
}

/** The children of a constructed element, in order. */
export function childrenOf(parent: Tlv, depth = 0): Tlv[] {
  if (!parent.constructed) throw new Asn1Error(`expected a constructed element, got identifier 0x${parent.tag.toString(16)}`, parent.start);
  const out: Tlv[] = [];
  for (let at = parent.contentStart; at < parent.contentEnd; ) {
    const child = readTlv(parent.buf, at, parent.contentEnd, depth + 1);
    out.push(child);
    at = child.end;
  }
  return out;
}

/** A cursor over the children of a constructed element, for reading a SEQUENCE field by field. */
export class Reader {
  private at: number;
  constructor(readonly parent: Tlv) {
    if (!parent.constructed) throw new Asn1Error(`expected a constructed element, got identifier 0x${parent.tag.toString(16)}`, parent.start);
    this.at = parent.contentStart;
  }

  get done(): boolean {
    return this.at >= this.parent.contentEnd;
  }

  /** The identifier of the next child, or undefined at the end. */
  peekTag(): number | undefined {
    return this.done ? undefined : this.parent.buf[this.at];
  }

  /** The next child, which must have identifier `tag` when one is given. */
  next(tag?: number, what = 'element'): Tlv {
    if (this.done) throw new Asn1Error(`truncated: expected ${what}`, this.at);
    const child = readTlv(this.parent.buf, this.at, this.parent.contentEnd);
    if (tag !== undefined && child.tag !== tag) {
      throw new Asn1Error(`expected ${what} (identifier 0x${tag.toString(16)}), got identifier 0x${child.tag.toString(16)}`, child.start);
    }
    this.at = child.end;
    return child;
  }

  /** The next child if it has identifier `tag`, otherwise nothing is consumed. */
  optional(tag: number): Tlv | undefined {
    return this.peekTag() === tag ? this.next(tag) : undefined;
  }
}

/** The content octets of a primitive element (a view, not a copy). */
export function contentOf(el: Tlv): Buffer {
  return el.buf.subarray(el.contentStart, el.contentEnd);
}

/** The whole encoding of an element (a view). */
export function encodingOf(el: Tlv): Buffer {
  return el.buf.subarray(el.start, el.end);
}

/**
 * The value of an OCTET STRING, primitive or (BER) constructed from chunks. `tag` lets an
 * IMPLICIT [n] OCTET STRING be read too. Primitive values are views; chunked ones are joined.
 */
export function octetStringValue(el: Tlv, tag: number = TAG.OCTET_STRING): Buffer {
  if ((el.tag & ~0x20) !== (tag & ~0x20)) {
    throw new Asn1Error(`expected an OCTET STRING (identifier 0x${tag.toString(16)}), got identifier 0x${el.tag.toString(16)}`, el.start);
  }
  if (!el.constructed) return contentOf(el);
  return Buffer.concat(childrenOf(el).map((chunk) => octetStringValue(chunk, TAG.OCTET_STRING)));
}

/** Whether `el` is the OBJECT IDENTIFIER whose content octets are `expected` (see oidContent). */
export function isOid(el: Tlv, expected: Buffer): boolean {
  return el.tag === TAG.OID && el.contentEnd - el.contentStart === expected.length && el.buf.compare(expected, 0, expected.length, el.contentStart, el.contentEnd) === 0;
}

/** The dotted form of an OBJECT IDENTIFIER element. */
export function oidString(el: Tlv): string {
  if (el.tag !== TAG.OID) throw new Asn1Error(`expected an OBJECT IDENTIFIER, got identifier 0x${el.tag.toString(16)}`, el.start);
  const arcs: bigint[] = [];
  let value = 0n;
  for (let i = el.contentStart; i < el.contentEnd; i++) {
    value = (value << 7n) | BigInt(el.buf[i] & 0x7f);
    if ((el.buf[i] & 0x80) === 0) {
      arcs.push(value);
      value = 0n;
    }
  }
  if (arcs.length === 0 || (el.buf[el.contentEnd - 1] & 0x80) !== 0) throw new Asn1Error('malformed OBJECT IDENTIFIER', el.start);
  const first = arcs[0] < 80n ? arcs[0] / 40n : 2n;
  return [first, arcs[0] - first * 40n, ...arcs.slice(1)].join('.');
}

/** Content octets of a dotted OID, for comparing with isOid without re-encoding each time. */
export function oidBytes(dotted: string): Buffer {
  return oidContent(dotted);
}

/** The unsigned magnitude of an INTEGER element, as hex without leading zero octets. */
export function integerHex(el: Tlv): string {
  if (el.tag !== TAG.INTEGER) throw new Asn1Error(`expected an INTEGER, got identifier 0x${el.tag.toString(16)}`, el.start);
  let start = el.contentStart;
  while (start < el.contentEnd - 1 && el.buf[start] === 0) start++;
  return el.buf.toString('hex', start, el.contentEnd);
}

/** A small non-negative INTEGER (versions, iteration counts). */
export function smallInteger(el: Tlv, what = 'INTEGER'): number {
  if (el.tag !== TAG.INTEGER) throw new Asn1Error(`expected ${what} as an INTEGER, got identifier 0x${el.tag.toString(16)}`, el.start);
  const length = el.contentEnd - el.contentStart;
  if (length === 0 || length > 6 || el.buf[el.contentStart] & 0x80) throw new Asn1Error(`${what} is not a small non-negative integer`, el.start);
  return el.buf.readUIntBE(el.contentStart, length);
}

/**
 * The DER encoding of an element read as BER: definite lengths throughout, constructed
 * strings left as they are. Needed where a signature covers the DER form (signed attributes)
 * but the sender used indefinite lengths. `tag` replaces the outer identifier.
 */
export function toDefinite(el: Tlv, tag = el.tag): Buffer {
  if (!el.indefinite && !hasIndefinite(el)) {
    const out = Buffer.from(el.buf.subarray(el.start, el.end));
    out[0] = tag;
    return out;
  }
  const parts = childrenOf(el).map((child) => toDefinite(child));
  const length = parts.reduce((n, p) => n + p.length, 0);
  const header = lengthOctets(length);
  return Buffer.concat([Buffer.from([tag]), header, ...parts]);
}

function hasIndefinite(el: Tlv): boolean {
  if (!el.constructed) return false;
  return childrenOf(el).some((child) => child.indefinite || hasIndefinite(child));
}

function lengthOctets(length: number): Buffer {
  if (length < 0x80) return Buffer.from([length]);
  const bytes: number[] = [];
  for (let n = length; n > 0; n = Math.floor(n / 256)) bytes.unshift(n & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
