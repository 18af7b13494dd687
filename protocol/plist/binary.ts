/**
 * Binary property lists (`bplist00`), read with bplist-parser.
 *
 * bplist-parser trusts its input: it follows object references recursively with no cycle
 * check, re-parses shared objects once per reference (so a few hundred bytes can expand into
 * millions of objects), logs to the console on odd markers, and lets a `__proto__` key replace
 * a dict's prototype. So the object graph is checked here first, without recursion, and only
 * a file that passes is handed to it. Its output is then converted to mdmsim's PlistValue.
 */
import { parseBuffer } from 'bplist-parser';
import { PlistError, type PlistDict, type PlistValue } from './types';
import { INT_MAX, INT_MIN, bigintToValue } from './scalars';
import { MAX_DEPTH } from './xml-parse';

const MAGIC = 'bplist00';
const TRAILER = 32;
/** bplist-parser's own object-count limit; checking it here gives a clearer message. */
const MAX_OBJECTS = 32768;
/** Objects after expanding shared references, as bplist-parser will materialize them. */
const MAX_EXPANDED = 1 << 20;

export function isBinaryPlist(buf: Buffer): boolean {
  return buf.length >= 8 && buf.toString('latin1', 0, 8) === MAGIC;
}

export function parseBinaryPlist(buf: Buffer): PlistValue {
  checkObjectGraph(buf);
  let raw: unknown;
  try {
    raw = parseBuffer(buf)[0];
  } catch (err) {
    throw new PlistError(`malformed binary plist: ${(err as Error).message}`);
  }
  return convert(raw, 0);
}

function fail(message: string, offset?: number): never {
  throw new PlistError(`malformed binary plist: ${message}`, offset);
}

/** Big-endian unsigned integer of 1–8 bytes (values past 2^53 only matter as "too big"). */
function readUInt(buf: Buffer, at: number, size: number): number {
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + buf[at + i]!;
  return v;
}

/**
 * Validate every object reachable from the root: markers bplist-parser understands, lengths
 * and references inside the file, string keys, no cycles, bounded depth and expanded size.
 */
function checkObjectGraph(buf: Buffer): void {
  if (buf.length < MAGIC.length + TRAILER) fail('too short to hold a trailer');
  const trailer = buf.length - TRAILER;
  const offsetSize = buf[trailer + 6]!;
  const refSize = buf[trailer + 7]!;
  const count = readUInt(buf, trailer + 8, 8);
  const root = readUInt(buf, trailer + 16, 8);
  const tableAt = readUInt(buf, trailer + 24, 8);
  if (offsetSize < 1 || offsetSize > 8 || refSize < 1 || refSize > 8) fail('trailer has impossible offset or reference sizes', trailer);
  if (count < 1 || count > MAX_OBJECTS) fail(`object count ${count} is outside 1–${MAX_OBJECTS}`, trailer);
  if (root >= count) fail('root object reference is out of range', trailer);
  if (tableAt < MAGIC.length || tableAt + count * offsetSize > trailer) fail('offset table lies outside the file', trailer);

  const offsets = new Array<number>(count);
  for (let i = 0; i < count; i++) {
    const off = readUInt(buf, tableAt + i * offsetSize, offsetSize);
    if (off < MAGIC.length || off >= trailer) fail(`object ${i} starts outside the file`, tableAt + i * offsetSize);
    offsets[i] = off;
  }

  const need = (end: number, off: number): void => {
    if (end > trailer) fail('an object runs past the end of the file', off);
  };

  /** [element count, where the payload starts] for data, strings, arrays and dicts. */
  const sizeOf = (off: number, info: number): [number, number] => {
    if (info < 15) return [info, off + 1];
    const marker = buf[off + 1]!;
    const exp = marker & 15;
    if (marker >> 4 !== 1 || exp > 3) fail('object length is not a 1–8 byte integer', off);
    const bytes = 1 << exp;
    need(off + 2 + bytes, off);
    return [readUInt(buf, off + 2, bytes), off + 2 + bytes];
  };

  const refsAt = (start: number, n: number, off: number): number[] => {
    const refs = new Array<number>(n);
    for (let i = 0; i < n; i++) {
      const ref = readUInt(buf, start + i * refSize, refSize);
      if (ref >= count) fail('object reference is out of range', off);
      refs[i] = ref;
    }
    return refs;
  };

  /** Checks object `i`; its children for arrays and dicts, null for leaves. */
  const childrenOf = (i: number): number[] | null => {
    const off = offsets[i]!;
    const marker = buf[off]!;
    const info = marker & 15;
    switch (marker >> 4) {
      case 0x0:
        if (marker === 0x08 || marker === 0x09) return null;
        return fail(marker === 0x00 ? 'holds a null, which plists in mdmsim cannot represent' : `unknown marker 0x${marker.toString(16)}`, off);
      case 0x1:
        if (info > 4) fail('integer wider than 128 bits', off);
        need(off + 1 + (1 << info), off);
        return null;
      case 0x2:
        if (info !== 2 && info !== 3) fail('real that is neither 32 nor 64 bits', off);
        need(off + 1 + (1 << info), off);
        return null;
      case 0x3:
        if (marker !== 0x33) fail('date that is not a 64-bit float', off);
        need(off + 9, off);
        return null;
      case 0x4:
      case 0x5:
      case 0x6: {
        const [n, start] = sizeOf(off, info);
        need(start + n * (marker >> 4 === 0x6 ? 2 : 1), off);
        return null;
      }
      case 0x8:
        return fail('holds a UID (an NSKeyedArchiver reference), which has no plist XML form', off);
      case 0xa: {
        const [n, start] = sizeOf(off, info);
        need(start + n * refSize, off);
        return refsAt(start, n, off);
      }
      case 0xd: {
        const [n, start] = sizeOf(off, info);
        need(start + 2 * n * refSize, off);
        const refs = refsAt(start, 2 * n, off);
        for (let k = 0; k < n; k++) checkKey(offsets[refs[k]!]!);
        return refs;
      }
      default:
        return fail(`unsupported object type 0x${(marker >> 4).toString(16)} (sets and other types have no plist XML form)`, off);
    }
  };

  const checkKey = (off: number): void => {
    const marker = buf[off]!;
    const type = marker >> 4;
    if (type !== 0x5 && type !== 0x6) fail('a dict key is not a string', off);
    // bplist-parser assigns keys with `dict[key] = value`, so `__proto__` would swap the
    // dict's prototype instead of adding an entry: refuse it, in either length encoding.
    const [n, start] = sizeOf(off, marker & 15);
    const proto = '__proto__';
    if (n !== proto.length) return;
    const width = type === 0x6 ? 2 : 1;
    need(start + n * width, off);
    for (let j = 0; j < n; j++) {
      const c = width === 2 ? buf.readUInt16BE(start + 2 * j) : buf[start + j];
      if (c !== proto.charCodeAt(j)) return;
    }
    fail('a dict uses the key "__proto__", which mdmsim refuses in binary plists', off);
  };

  // Depth-first walk with an explicit stack. 1 = on the current path (seeing it again is a
  // cycle), 2 = finished, with its expanded size in `expanded`.
  const state = new Uint8Array(count);
  const expanded = new Float64Array(count);
  const path: number[] = [root];
  const kids: (number[] | null)[] = [childrenOf(root)];
  const next: number[] = [0];
  state[root] = 1;
  while (path.length > 0) {
    const d = path.length - 1;
    const children = kids[d];
    if (children !== null && children !== undefined && next[d]! < children.length) {
      const child = children[next[d]!++]!;
      if (state[child] === 1) fail('an object contains itself (reference cycle)', offsets[child]);
      if (state[child] === 2) continue;
      const grandchildren = childrenOf(child);
      if (grandchildren === null) {
        state[child] = 2;
        expanded[child] = 1;
        continue;
      }
      if (path.length >= MAX_DEPTH) fail(`arrays and dicts nested deeper than ${MAX_DEPTH} levels`, offsets[child]);
      state[child] = 1;
      path.push(child);
      kids.push(grandchildren);
      next.push(0);
      continue;
    }
    const obj = path[d]!;
    let size = 1;
    if (children) for (const c of children) size += expanded[c]!;
    if (size > MAX_EXPANDED) fail(`shared references expand to more than ${MAX_EXPANDED} objects`);
    expanded[obj] = size;
    state[obj] = 2;
    path.pop();
    kids.pop();
    next.pop();
  }
}

/** bplist-parser's output → PlistValue (depth is already bounded by the graph check). */
function convert(raw: unknown, depth: number): PlistValue {
  switch (typeof raw) {
    case 'string':
    case 'number':
    case 'boolean':
      return raw;
    case 'bigint':
      if (raw < INT_MIN || raw > INT_MAX) fail(`integer ${raw} is outside the 64-bit range`);
      return bigintToValue(raw);
    case 'object':
      if (raw === null) break;
      if (Array.isArray(raw)) return raw.map((item) => convert(item, depth + 1));
      if (Object.prototype.toString.call(raw) === '[object Date]') {
        const ms = (raw as Date).getTime();
        if (Number.isNaN(ms)) fail('holds a date that is not a number');
        return new Date(ms);
      }
      // Copy: bplist-parser's Buffers are views into the caller's input.
      if (Buffer.isBuffer(raw)) return Buffer.from(raw);
      const proto: unknown = Object.getPrototypeOf(raw);
      if (proto !== null && Object.getPrototypeOf(proto) === null) {
        const dict: PlistDict = {};
        for (const [key, value] of Object.entries(raw)) dict[key] = convert(value, depth + 1);
        return dict;
      }
      break;
  }
  return fail(`holds a value with no plist form (${Object.prototype.toString.call(raw)})`);
}
