/**
 * Property tests: round trips through our own codec, differential checks against the `plist`
 * package (XML both ways, and its binary writer against our binary reader), and fuzzing that
 * every failure is a PlistError.
 */
import fc from 'fast-check';
import type * as PlistPackage from 'plist' with { 'resolution-mode': 'import' };
import { PlistError, buildPlist, buildPlistBuffer, parsePlist, type PlistDict, type PlistValue } from '../../../protocol/plist';

// plist@5 is ESM-only; jest's moduleNameMapper serves it to require() as CommonJS.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const plistPkg: typeof PlistPackage = require('plist');

/** Remove the characters XML 1.0 cannot carry at all (no plist XML writer can emit them). */
const xmlSafe = (s: string) => s.replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, '');

/** Strings weighted towards what breaks XML writers and readers. */
const text = fc
  .oneof(
    fc.string({ unit: 'binary', maxLength: 24 }),
    fc.string({ unit: 'grapheme', maxLength: 12 }),
    fc.string({
      unit: fc.constantFrom('&', '<', '>', '"', "'", '\r', '\n', '\t', ' ', ']]>', '&amp;', '<!--', 'a', 'é', '🎉', '\u2028'),
      maxLength: 12,
    }),
  )
  .map(xmlSafe);

const keys = fc.oneof({ weight: 5, arbitrary: text }, fc.constantFrom('__proto__', 'constructor', 'toString', '', 'UID'));

const MIN_DATE = new Date('0000-01-01T00:00:00.000Z');
const MAX_DATE = new Date('9999-12-31T23:59:59.999Z');

/** Every kind of PlistValue, including the awkward numbers, and dict entries left undefined. */
const anyValue: fc.Arbitrary<PlistValue> = fc.letrec<{ value: PlistValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    text,
    fc.boolean(),
    fc.integer(),
    fc.maxSafeInteger(),
    fc.double(),
    fc.constantFrom(-0, NaN, Infinity, -Infinity, 2 ** 53, 2 ** 60, 2 ** 64, -(2 ** 63), 1e21, 5e-324),
    fc.bigInt({ min: -(2n ** 63n), max: 2n ** 64n - 1n }),
    fc.date({ min: MIN_DATE, max: MAX_DATE, noInvalidDate: true }),
    fc.uint8Array({ maxLength: 80 }).map((u) => Buffer.from(u)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(keys, fc.option(tie('value'), { nil: undefined, freq: 6 }), { maxKeys: 6 }) as fc.Arbitrary<PlistDict>,
  ),
})).value;

/** What a value reads back as: dates in whole seconds, exact bigints as numbers, no undefined. */
function readBack(v: unknown): unknown {
  if (typeof v === 'bigint') {
    const n = Number(v);
    return BigInt(n) === v ? n : v;
  }
  if (v instanceof Date) return new Date(Math.floor(v.getTime() / 1000) * 1000);
  if (ArrayBuffer.isView(v)) return Buffer.from(v.buffer, v.byteOffset, v.byteLength);
  if (Array.isArray(v)) return v.map(readBack);
  if (typeof v === 'object' && v !== null) {
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      if (item === undefined) continue;
      Object.defineProperty(out, k, { value: readBack(item), enumerable: true, writable: true, configurable: true });
    }
    return out;
  }
  return v;
}

describe('round trip through our own codec', () => {
  it('parsePlist(buildPlist(v)) equals v for every kind of value', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        expect(parsePlist(buildPlist(v))).toEqual(readBack(v));
      }),
      { numRuns: 400 },
    );
  });

  it('the Buffer form reads back the same, and building is deterministic', () => {
    fc.assert(
      fc.property(anyValue, (v) => {
        const parsed = parsePlist(buildPlistBuffer(v));
        expect(parsed).toEqual(readBack(v));
        expect(buildPlist(parsed)).toBe(buildPlist(v));
      }),
      { numRuns: 200 },
    );
  });
});

// The plist package has no bigint reading, writes integral doubles past 2^53 as
// "<integer>1e+21</integer>", reads integers with parseInt and refuses "__proto__" keys: keep
// to values it represents faithfully. It also wants Uint8Array, not Buffer. And its XML reader
// (xmldom) turns U+0085, U+2028 and U+2029 into "\n", XML 1.1-style line ends that XML 1.0
// plists do not have (CoreFoundation and our parser keep them), so those stay out of the
// comparison.
const portableText = text.map((s) => s.replace(/[\u0085\u2028\u2029]/g, ''));
// fast-check likes to generate "__proto__" on its own; "UID" would make plist.buildBinary
// write a keyed-archiver UID.
const portableKeys = fc
  .oneof({ weight: 5, arbitrary: portableText }, fc.constantFrom('constructor', 'toString', ''))
  .filter((k) => k !== '__proto__' && k !== 'UID');
const portableNumber = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc
    .double({ noDefaultInfinity: true, noNaN: true })
    .filter((d) => !Number.isInteger(d) || Number.isSafeInteger(d))
    .map((d) => (d === 0 ? 0 : d)), // it writes -0 as <integer>0</integer>; our round trip covers -0
);
const portableValue: fc.Arbitrary<PlistValue> = fc.letrec<{ value: PlistValue }>((tie) => ({
  value: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    portableText,
    fc.boolean(),
    portableNumber,
    fc.date({ min: MIN_DATE, max: MAX_DATE, noInvalidDate: true }).map((d) => new Date(Math.floor(d.getTime() / 1000) * 1000)),
    fc.uint8Array({ maxLength: 80 }) as fc.Arbitrary<unknown> as fc.Arbitrary<Buffer>,
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(portableKeys, tie('value'), { maxKeys: 6, noNullPrototype: true }),
  ),
})).value;

describe('agreement with the plist package', () => {
  it('our parser reads plist.build(v) as plist.parse does', () => {
    fc.assert(
      fc.property(portableValue, (v) => {
        const xml = plistPkg.build(v as PlistPackage.PlistValue);
        const ours = parsePlist(xml);
        expect(ours).toEqual(readBack(plistPkg.parse(xml)));
        expect(ours).toEqual(readBack(v));
      }),
      { numRuns: 300 },
    );
  });

  it('plist.parse reads our output back as the original value', () => {
    fc.assert(
      fc.property(portableValue, (v) => {
        expect(readBack(plistPkg.parse(buildPlist(v)))).toEqual(readBack(v));
      }),
      { numRuns: 300 },
    );
  });

  it('a binary plist from plist.buildBinary parses to the same value as our XML', () => {
    fc.assert(
      fc.property(portableValue, (v) => {
        const bin = Buffer.from(plistPkg.buildBinary(v as PlistPackage.PlistValue));
        expect(parsePlist(bin)).toEqual(parsePlist(buildPlist(v)));
      }),
      { numRuns: 300 },
    );
  });
});

/** Run the parser; anything but success or a PlistError fails the property. */
function parsesOrRefuses(input: string | Buffer): void {
  try {
    parsePlist(input);
  } catch (err) {
    if (!(err instanceof PlistError)) throw new Error(`not a PlistError: ${String(err)}`);
    expect(err.message.length).toBeGreaterThan(0);
  }
}

/** Edits that tend to produce almost-valid XML rather than noise. */
const edit = fc.record({
  at: fc.nat(),
  kind: fc.constantFrom('delete', 'insert', 'replace', 'duplicate', 'truncate'),
  length: fc.integer({ min: 1, max: 12 }),
  text: fc.oneof(
    fc.constantFrom('<', '>', '/', '</dict>', '<dict>', '<key>k</key>', '<array>', '</array>', '<!--', '-->', '<![CDATA[',
      ']]>', '&', '&amp;', '&#x0;', '&lol;', '<!DOCTYPE x [', '<?xml ', '"', '=', '<integer>', '</string>', '<data>',
      '0x', '-', 'e', 'nan', 'T', 'Z', '\u0000', '\uFEFF', '\ud800', '<plist>', '<true/>', '<string/>'),
    fc.string({ maxLength: 6 }),
  ),
});

function mutate(src: string, edits: { at: number; kind: string; length: number; text: string }[]): string {
  let s = src;
  for (const e of edits) {
    const at = s.length === 0 ? 0 : e.at % (s.length + 1);
    switch (e.kind) {
      case 'delete':
        s = s.slice(0, at) + s.slice(at + e.length);
        break;
      case 'insert':
        s = s.slice(0, at) + e.text + s.slice(at);
        break;
      case 'replace':
        s = s.slice(0, at) + e.text + s.slice(at + e.length);
        break;
      case 'duplicate':
        s = s.slice(0, at + e.length) + s.slice(at, at + e.length) + s.slice(at + e.length);
        break;
      default:
        s = s.slice(0, at);
    }
  }
  return s;
}

describe('fuzzing: anything either parses or throws a PlistError', () => {
  it('random strings', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: 'binary' }), fc.string({ unit: 'grapheme-ascii' })), (s) => {
        parsesOrRefuses(s);
        parsesOrRefuses(Buffer.from(s));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid XML plists', () => {
    fc.assert(
      fc.property(anyValue, fc.array(edit, { minLength: 1, maxLength: 4 }), (v, edits) => {
        const mutated = mutate(buildPlist(v), edits);
        parsesOrRefuses(mutated);
        parsesOrRefuses(Buffer.from(mutated));
      }),
      { numRuns: 1000 },
    );
  });

  it('random bytes, with and without the bplist00 magic', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 120 }), fc.boolean(), (bytes, magic) => {
        parsesOrRefuses(magic ? Buffer.concat([Buffer.from('bplist00'), bytes]) : Buffer.from(bytes));
      }),
      { numRuns: 500 },
    );
  });

  it('mutated valid binary plists', () => {
    const byteEdit = fc.record({ at: fc.nat(), value: fc.integer({ min: 0, max: 255 }), truncate: fc.boolean() });
    fc.assert(
      fc.property(portableValue, fc.array(byteEdit, { minLength: 1, maxLength: 4 }), (v, edits) => {
        const bin = Buffer.from(plistPkg.buildBinary(v as PlistPackage.PlistValue));
        let buf = bin;
        for (const e of edits) {
          const at = e.at % buf.length;
          if (e.truncate && e.at % 7 === 0) buf = buf.subarray(0, Math.max(8, at));
          else buf[at] = e.value;
        }
        const started = Date.now();
        parsesOrRefuses(buf);
        expect(Date.now() - started).toBeLessThan(1000);
      }),
      { numRuns: 1000 },
    );
  });
});
