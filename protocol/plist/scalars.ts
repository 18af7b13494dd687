/**
 * Text → value for the plist scalar elements <integer>, <real> and <data> (<date> is in
 * dates.ts).
 *
 * These return an `Invalid` instead of throwing so the XML parser, which knows where the text
 * started, can turn the reason into a PlistError with a line and column.
 */

export class Invalid {
  constructor(readonly reason: string) {}
}

/** CoreFoundation stores integers as signed or unsigned 64-bit: this is the union of both. */
export const INT_MIN = -(2n ** 63n);
export const INT_MAX = 2n ** 64n - 1n;

const DECIMAL = /^[+-]?[0-9]+$/;
const HEX = /^([+-]?)0[xX]([0-9a-fA-F]+)$/;

/**
 * `<integer>` text. A value that a double holds exactly becomes a number; anything else a
 * bigint (see types.ts). Out of the 64-bit range is an error, as it is for CoreFoundation.
 */
export function parseInteger(raw: string): number | bigint | Invalid {
  const text = trimXml(raw);
  if (DECIMAL.test(text)) {
    // Up to 15 digits (plus sign) always fit a double exactly: the common case skips BigInt.
    if (text.length <= 15) return Number(text) + 0; // `+ 0` turns "-0" into 0: integers have no sign of zero
    return fromBig(BigInt(text), text);
  }
  const hex = HEX.exec(text);
  if (hex !== null) {
    const magnitude = BigInt(`0x${hex[2]}`);
    return fromBig(hex[1] === '-' ? -magnitude : magnitude, text);
  }
  return new Invalid(
    text === '' ? 'empty <integer>' : `<integer> must be a decimal or 0x-hex integer, got ${quote(text)}`,
  );
}

function fromBig(value: bigint, text: string): number | bigint | Invalid {
  if (value < INT_MIN || value > INT_MAX) {
    return new Invalid(`<integer> ${quote(text)} is outside the 64-bit range plists can hold`);
  }
  return bigintToValue(value);
}

/** The in-memory form of an integer: a number when it is exact as a double, else the bigint. */
export function bigintToValue(value: bigint): number | bigint {
  const n = Number(value);
  return BigInt(n) === value ? n : value;
}

const REAL = /^[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?$/;
const INFINITE = /^([+-]?)inf(?:inity)?$/i;

/** `<real>` text, including the `nan` / `inf` / `+infinity` spellings Apple's writer uses. */
export function parseReal(raw: string): number | Invalid {
  const text = trimXml(raw);
  if (REAL.test(text)) return Number(text);
  const inf = INFINITE.exec(text);
  if (inf !== null) return inf[1] === '-' ? -Infinity : Infinity;
  if (/^nan$/i.test(text)) return NaN;
  return new Invalid(text === '' ? 'empty <real>' : `<real> is not a number: ${quote(text)}`);
}

// 0 = not allowed, 1 = base64 alphabet, 2 = whitespace, 3 = padding.
const B64_CLASS = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/') B64_CLASS[c.charCodeAt(0)] = 1;
for (const c of ' \t\n\r') B64_CLASS[c.charCodeAt(0)] = 2;
B64_CLASS['='.charCodeAt(0)] = 3;

/**
 * `<data>` text. Whitespace anywhere is fine (Apple wraps lines); any other character outside
 * the standard base64 alphabet is refused rather than silently skipped, because Node's
 * decoder would otherwise drop it and hand back different bytes without a word.
 */
export function parseData(text: string): Buffer | Invalid {
  let symbols = 0;
  let padding = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    const cls = c < 128 ? B64_CLASS[c]! : 0;
    if (cls === 1) {
      if (padding > 0) return new Invalid('<data> has base64 characters after "=" padding');
      symbols++;
    } else if (cls === 3) {
      padding++;
    } else if (cls === 0) {
      return new Invalid(`<data> holds ${quote(text[i]!)}, which is not a base64 character`);
    }
  }
  // Missing padding is tolerated (CoreFoundation does too); padding that cannot belong is not.
  const rem = symbols % 4;
  if (rem === 1 || padding > (rem === 0 ? 0 : 4 - rem)) {
    return new Invalid('<data> is not valid base64 (wrong length or padding)');
  }
  // Node's decoder skips the whitespace itself, so the text goes in as it is.
  return Buffer.from(text, 'base64');
}

/** XML whitespace only (String.prototype.trim would also eat NBSP and friends). */
export function trimXml(text: string): string {
  let start = 0;
  let end = text.length;
  while (start < end && isXmlSpace(text.charCodeAt(start))) start++;
  while (end > start && isXmlSpace(text.charCodeAt(end - 1))) end--;
  return start === 0 && end === text.length ? text : text.slice(start, end);
}

export function isXmlSpace(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x09 || c === 0x0d;
}

function quote(text: string): string {
  return JSON.stringify(text.length > 40 ? `${text.slice(0, 40)}…` : text);
}
