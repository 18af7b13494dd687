/**
 * PlistValue → XML text, laid out the way Apple's own writer does it (tab indentation, root
 * value not indented inside <plist>, empty containers as `<dict/>`, base64 wrapped), so
 * output diffs cleanly against real captures.
 */
import { formatDate } from './dates';
import { INT_MAX, INT_MIN } from './scalars';
import { MAX_DEPTH } from './xml-parse';
import { PlistError, type PlistValue } from './types';

const HEADER =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n';
const FOOTER = '</plist>\n';

/**
 * Characters that need work when written as XML text: the three markup characters, CR (an
 * XML reader would turn a raw CR into LF), characters XML 1.0 cannot carry at all, and
 * surrogates (fine in pairs; a lone one cannot be encoded as UTF-8). One regex test per string
 * measured faster than a charCodeAt loop.
 */
const SPECIAL = /[&<>\r\u0000-\u0008\u000b\u000c\u000e-\u001f\ud800-\udfff\ufffe\uffff]/;

const INDENTS: string[] = [];
for (let i = 0; i <= MAX_DEPTH; i++) INDENTS.push('\t'.repeat(i));


/**
 * Serialize a value. Dict entries whose value is `undefined` are skipped, so message builders
 * can spread optional fields without cleaning them first; `undefined` anywhere else (the root,
 * an array element), `null`, functions, symbols, Maps, class instances and cycles have no
 * plist form and throw a PlistError naming where in the value they are.
 */
export function buildXmlPlist(value: PlistValue): string {
  const writer = new Writer();
  writer.value(value, 0);
  return HEADER + writer.out + FOOTER;
}

class Writer {
  out = '';
  /** Keys and indices from the root to the value being written, for error messages. */
  private readonly path: (string | number)[] = [];

  value(v: unknown, depth: number): void {
    const indent = INDENTS[depth]!;
    switch (typeof v) {
      case 'string':
        this.out += `${indent}<string>${this.escape(v)}</string>\n`;
        return;
      case 'number':
        this.out += `${indent}${this.number(v)}\n`;
        return;
      case 'boolean':
        this.out += v ? `${indent}<true/>\n` : `${indent}<false/>\n`;
        return;
      case 'bigint':
        if (v < INT_MIN || v > INT_MAX) this.fail(`bigint ${v} is outside the 64-bit range plist integers can hold`);
        this.out += `${indent}<integer>${v}</integer>\n`;
        return;
      case 'object':
        if (v === null) this.fail('null has no plist form (leave the key out, or use undefined in a dict)');
        if (Array.isArray(v)) return this.array(v, depth, indent);
        if (v instanceof Date) return this.date(v, indent);
        if (ArrayBuffer.isView(v)) return this.data(v, depth, indent);
        return this.dict(v, depth, indent);
      default:
        this.fail(`${v === undefined ? 'undefined' : `a ${typeof v}`} has no plist form`);
    }
  }

  private number(n: number): string {
    if (Number.isInteger(n) && !Object.is(n, -0)) {
      if (Number.isSafeInteger(n)) return `<integer>${n}</integer>`;
      const big = BigInt(n);
      // Beyond 64 bits an integral double can only be written as a real.
      if (big >= INT_MIN && big <= INT_MAX) return `<integer>${big}</integer>`;
    }
    return `<real>${formatReal(n)}</real>`;
  }

  private array(items: unknown[], depth: number, indent: string): void {
    if (items.length === 0) {
      this.out += `${indent}<array/>\n`;
      return;
    }
    this.enter(depth);
    this.out += `${indent}<array>\n`;
    for (let i = 0; i < items.length; i++) {
      this.path.push(i);
      this.value(items[i], depth + 1);
      this.path.pop();
    }
    this.out += `${indent}</array>\n`;
  }

  private dict(obj: object, depth: number, indent: string): void {
    const proto: unknown = Object.getPrototypeOf(obj);
    // A plain object's prototype is Object.prototype (of whichever realm) or null.
    if (proto !== null && Object.getPrototypeOf(proto) !== null) {
      const kind = (proto as { constructor?: { name?: string } }).constructor?.name ?? 'object';
      this.fail(`a ${kind} has no plist form (only plain objects become <dict>)`);
    }
    this.enter(depth);
    const before = this.out;
    this.out += `${indent}<dict>\n`;
    const inner = INDENTS[depth + 1]!;
    let written = 0;
    const record = obj as Record<string, unknown>;
    for (const key of Object.keys(record)) {
      const item = record[key];
      if (item === undefined) continue;
      this.path.push(key);
      this.out += `${inner}<key>${this.escape(key)}</key>\n`;
      this.value(item, depth + 1);
      this.path.pop();
      written++;
    }
    if (written === 0) this.out = `${before}${indent}<dict/>\n`;
    else this.out += `${indent}</dict>\n`;
  }

  private date(d: Date, indent: string): void {
    if (Number.isNaN(d.getTime())) this.fail('an invalid Date has no plist form');
    // Plist dates carry whole seconds: formatDate rounds down, as Apple's writer does.
    const text = formatDate(d);
    if (text === undefined) this.fail(`date ${d.toISOString()} is outside the years 0000–9999 that plist XML can write`);
    this.out += `${indent}<date>${text}</date>\n`;
  }

  private data(view: ArrayBufferView, depth: number, indent: string): void {
    const bytes = Buffer.isBuffer(view) ? view : Buffer.from(view.buffer, view.byteOffset, view.byteLength);
    if (bytes.length === 0) {
      this.out += `${indent}<data>\n${indent}</data>\n`;
      return;
    }
    const b64 = bytes.toString('base64');
    // Apple wraps base64 at 76 columns, counting each indenting tab as 8.
    const width = Math.max(76 - 8 * depth, 16);
    let body = '';
    for (let i = 0; i < b64.length; i += width) body += `${indent}${b64.slice(i, i + width)}\n`;
    this.out += `${indent}<data>\n${body}${indent}</data>\n`;
  }

  private enter(depth: number): void {
    if (depth >= MAX_DEPTH) {
      this.fail(`nested deeper than ${MAX_DEPTH} levels (is the value cyclic?)`);
    }
  }

  private escape(text: string): string {
    if (!SPECIAL.test(text)) return text;
    let out = '';
    let last = 0;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      let rep: string;
      if (c === 0x26) rep = '&amp;';
      else if (c === 0x3c) rep = '&lt;';
      else if (c === 0x3e) rep = '&gt;';
      else if (c === 0x0d) rep = '&#13;';
      else if (c >= 0xd800 && c <= 0xdbff && isLowSurrogate(text.charCodeAt(i + 1))) {
        i++;
        continue;
      } else if ((c < 0x20 && c !== 0x09 && c !== 0x0a) || (c >= 0xd800 && c <= 0xdfff) || c === 0xfffe || c === 0xffff) {
        const what = c >= 0xd800 && c <= 0xdfff ? 'an unpaired surrogate' : 'a control character';
        this.fail(`text contains ${what} (U+${c.toString(16).toUpperCase().padStart(4, '0')}) that XML cannot carry`);
      } else {
        continue;
      }
      out += text.slice(last, i) + rep;
      last = i + 1;
    }
    return out + text.slice(last);
  }

  private fail(reason: string): never {
    throw new PlistError(`cannot write ${formatPath(this.path)}: ${reason}`);
  }
}

/**
 * True when text can be written as it is. Anything else needs work: the three markup
 * characters, CR (an XML reader would turn a raw CR into LF), characters XML 1.0 cannot carry
 * at all, and surrogates (fine in pairs; a lone one cannot be encoded as UTF-8). A plain loop
 * beats a regex here: plist strings are short, and the regex call costs more than the scan.
 */
function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}

/** Apple's spellings for the non-finite reals; shortest round-trip digits otherwise. */
function formatReal(n: number): string {
  if (Number.isNaN(n)) return 'nan';
  if (n === Infinity) return '+infinity';
  if (n === -Infinity) return '-infinity';
  if (Object.is(n, -0)) return '-0';
  return String(n);
}

/** `Command.Queries[2]`-style path, quoting keys that are not plain identifiers. */
export function formatPath(path: readonly (string | number)[]): string {
  if (path.length === 0) return 'the root value';
  let out = '';
  for (const seg of path) {
    if (typeof seg === 'number') out += `[${seg}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(seg)) out += out === '' ? seg : `.${seg}`;
    else out += `[${JSON.stringify(seg)}]`;
  }
  return out;
}
