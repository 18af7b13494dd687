import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MAX_DEPTH, PlistError, buildPlist, buildPlistBuffer, parsePlist, type PlistValue } from '../../../protocol/plist';

const CAPTURES = join(__dirname, '../../../fixtures/captures/nanomdm');

const HEAD =
  '<?xml version="1.0" encoding="UTF-8"?>\n' +
  '<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">\n' +
  '<plist version="1.0">\n';

/** The XML between <plist> and </plist> for a value. */
function body(value: PlistValue): string {
  const xml = buildPlist(value);
  expect(xml.startsWith(HEAD)).toBe(true);
  expect(xml.endsWith('</plist>\n')).toBe(true);
  return xml.slice(HEAD.length, -'</plist>\n'.length);
}

function buildError(value: unknown): PlistError {
  try {
    buildPlist(value as PlistValue);
  } catch (err) {
    expect(err).toBeInstanceOf(PlistError);
    return err as PlistError;
  }
  throw new Error('expected buildPlist to throw');
}

describe('buildPlist: Apple layout', () => {
  it('reproduces the real captures byte for byte', () => {
    const files = readdirSync(CAPTURES).filter((f) => f.endsWith('.plist') || f.endsWith('.mobileconfig'));
    for (const f of files) {
      const src = readFileSync(join(CAPTURES, f), 'utf8');
      // One capture ends with an extra blank line; everything else is Apple's writer verbatim.
      expect(buildPlist(parsePlist(src))).toBe(src.replace(/\n+$/, '\n'));
    }
  });

  it('writes the header, tab indentation and closing tags', () => {
    expect(buildPlist({ A: { B: ['x'] } })).toBe(
      `${HEAD}<dict>\n\t<key>A</key>\n\t<dict>\n\t\t<key>B</key>\n\t\t<array>\n\t\t\t<string>x</string>\n\t\t</array>\n\t</dict>\n</dict>\n</plist>\n`,
    );
  });

  it('writes scalars the way Apple does', () => {
    expect(body(true)).toBe('<true/>\n');
    expect(body(false)).toBe('<false/>\n');
    expect(body('')).toBe('<string></string>\n');
    expect(body({})).toBe('<dict/>\n');
    expect(body([])).toBe('<array/>\n');
    expect(body(Buffer.alloc(0))).toBe('<data>\n</data>\n');
    expect(body(Buffer.from('apple'))).toBe('<data>\nYXBwbGU=\n</data>\n');
    expect(body(new Date('2024-03-05T06:07:08.999Z'))).toBe('<date>2024-03-05T06:07:08Z</date>\n');
  });

  it('numbers: integers, reals, bigints and the special reals', () => {
    expect(body(42)).toBe('<integer>42</integer>\n');
    expect(body(-7)).toBe('<integer>-7</integer>\n');
    expect(body(0)).toBe('<integer>0</integer>\n');
    expect(body(2 ** 60)).toBe('<integer>1152921504606846976</integer>\n');
    expect(body(1.5)).toBe('<real>1.5</real>\n');
    expect(body(1e-7)).toBe('<real>1e-7</real>\n');
    expect(body(1e21)).toBe('<real>1e+21</real>\n'); // integral, but beyond 64 bits
    expect(body(-0)).toBe('<real>-0</real>\n');
    expect(body(NaN)).toBe('<real>nan</real>\n');
    expect(body(Infinity)).toBe('<real>+infinity</real>\n');
    expect(body(-Infinity)).toBe('<real>-infinity</real>\n');
    expect(body(12345678901234567890n)).toBe('<integer>12345678901234567890</integer>\n');
    expect(body(-(2n ** 63n))).toBe('<integer>-9223372036854775808</integer>\n');
  });

  it('wraps base64 at 76 columns less 8 per indent level, like Apple', () => {
    const bytes = Buffer.alloc(200, 7);
    const lines = body({ Data: bytes }).split('\n');
    const b64Lines = lines.filter((l) => /^\t[A-Za-z0-9+/=]+$/.test(l));
    expect(b64Lines.slice(0, -1).every((l) => l.length === 1 + 68)).toBe(true);
    expect(b64Lines.map((l) => l.slice(1)).join('')).toBe(bytes.toString('base64'));
    expect(parsePlist(buildPlist({ Data: bytes }))).toEqual({ Data: bytes });
  });

  it('escapes markup characters in strings and keys, and CR so XML readers keep it', () => {
    expect(body('a<b>&c "d" \'e\'')).toBe('<string>a&lt;b&gt;&amp;c "d" \'e\'</string>\n');
    expect(body({ 'x&y<z>': 1 })).toBe('<dict>\n\t<key>x&amp;y&lt;z&gt;</key>\n\t<integer>1</integer>\n</dict>\n');
    expect(body('line1\r\nline2')).toBe('<string>line1&#13;\nline2</string>\n');
    expect(body('tab\there ]]> 🎉 é')).toBe('<string>tab\there ]]&gt; 🎉 é</string>\n');
  });

  it('keeps dict keys in insertion order and skips undefined values', () => {
    const optional: string | undefined = undefined;
    const xml = buildPlist({ Z: 1, A: 2, Skipped: optional, M: 3 } as unknown as PlistValue);
    expect(xml).not.toContain('Skipped');
    expect(Object.keys(parsePlist(xml) as object)).toEqual(['Z', 'A', 'M']);
    expect(body({ Only: optional } as unknown as PlistValue)).toBe('<dict/>\n');
  });

  it('writes a "__proto__" own key like any other', () => {
    const v = JSON.parse('{"__proto__": {"x": 1}, "y": 2}') as PlistValue;
    expect(parsePlist(buildPlist(v))).toEqual(v);
  });

  it('accepts null-prototype objects and any Uint8Array', () => {
    const dict = Object.assign(Object.create(null) as Record<string, PlistValue>, { a: 1 });
    expect(parsePlist(buildPlist(dict))).toEqual({ a: 1 });
    expect(parsePlist(buildPlist(new Uint8Array([1, 2, 3]) as Buffer))).toEqual(Buffer.from([1, 2, 3]));
  });

  it('buildPlistBuffer is the same text as UTF-8 bytes', () => {
    const v = { Name: 'Mac de Zoë 🍎' };
    const buf = buildPlistBuffer(v);
    expect(Buffer.isBuffer(buf)).toBe(true);
    expect(buf.toString('utf8')).toBe(buildPlist(v));
    expect(parsePlist(buf)).toEqual(v);
  });
});

describe('buildPlist: values without a plist form name their path', () => {
  const cases: [string, unknown, RegExp][] = [
    ['undefined at the root', undefined, /cannot write the root value: undefined has no plist form/],
    ['null in a dict', { Command: { Queries: null } }, /cannot write Command\.Queries: null has no plist form/],
    ['undefined in an array', { Command: { Queries: ['a', 'b', undefined] } }, /cannot write Command\.Queries\[2\]: undefined/],
    ['a function', { Command: { Run: () => 1 } }, /cannot write Command\.Run: a function has no plist form/],
    ['a symbol', [Symbol('s')], /cannot write \[0\]: a symbol has no plist form/],
    ['a Map', { m: new Map() }, /cannot write m: a Map has no plist form \(only plain objects/],
    ['a class instance', { c: new (class Thing {})() }, /a Thing has no plist form/],
    ['an invalid Date', { When: new Date(NaN) }, /cannot write When: an invalid Date/],
    ['a date past 9999', { When: new Date('+010000-01-01T00:00:00Z') }, /outside the years 0000–9999/],
    ['a bigint beyond 64 bits', { n: 2n ** 64n }, /cannot write n: bigint 18446744073709551616 is outside the 64-bit range/],
    ['a control character', { s: 'bell\u0007' }, /cannot write s: text contains a control character \(U\+0007\)/],
    ['a lone surrogate', { s: 'half \ud83c' }, /text contains an unpaired surrogate \(U\+D83C\)/],
    ['a bad key', { 'nul\u0000key': 1 }, /cannot write \["nul\\u0000key"\]: text contains a control character/],
    ['an odd key in the path', { 'Payload Content': [{ x: null }] }, /cannot write \["Payload Content"\]\[0\]\.x: null/],
  ];

  it.each(cases)('%s', (_name, value, message) => {
    expect(buildError(value).message).toMatch(message);
  });

  it('stops at cycles and excessive depth instead of overflowing the stack', () => {
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic.self = cyclic;
    expect(buildError(cyclic).message).toMatch(/nested deeper than 256 levels \(is the value cyclic\?\)/);

    let deep: PlistValue = ['leaf'];
    for (let i = 1; i < MAX_DEPTH; i++) deep = [deep];
    expect(() => parsePlist(buildPlist(deep))).not.toThrow();
    expect(buildError([deep]).message).toMatch(/nested deeper/);
  });
});
