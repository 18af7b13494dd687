import { PlistError, buildPlist, parsePlist } from '../../../protocol/plist';

// ── a tiny bplist00 assembler: each object is written by hand as bytes ─────────────────────

/** Type nibble + length, with the 0xF extended-length form when it does not fit. */
function header(type: number, n: number): number[] {
  if (n < 15) return [(type << 4) | n];
  if (n < 256) return [(type << 4) | 0xf, 0x10, n];
  return [(type << 4) | 0xf, 0x11, n >> 8, n & 0xff];
}
const ascii = (s: string) => [...header(0x5, s.length), ...Buffer.from(s, 'latin1')];
const utf16 = (s: string) => [...header(0x6, s.length), ...Buffer.from(s, 'utf16le').swap16()];
const data = (bytes: number[]) => [...header(0x4, bytes.length), ...bytes];
const array = (refs: number[]) => [...header(0xa, refs.length), ...refs];
/** An array with 2-byte references, for files assembled with `refSize: 2`. */
const array2 = (refs: number[]) => [...header(0xa, refs.length), ...refs.flatMap((r) => [r >> 8, r & 0xff])];
const dict = (keys: number[], values: number[]) => [...header(0xd, keys.length), ...keys, ...values];
const TRUE = [0x09];
const FALSE = [0x08];
function int(n: bigint, bytes: 1 | 2 | 4 | 8 | 16): number[] {
  const out = [0x10 | Math.log2(bytes)];
  const mask = (1n << BigInt(bytes * 8)) - 1n;
  const v = n & mask; // two's complement for negatives
  for (let i = bytes - 1; i >= 0; i--) out.push(Number((v >> BigInt(i * 8)) & 0xffn));
  return out;
}
function real64(x: number): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleBE(x);
  return [0x23, ...b];
}
function real32(x: number): number[] {
  const b = Buffer.alloc(4);
  b.writeFloatBE(x);
  return [0x22, ...b];
}
function date(d: Date): number[] {
  const b = Buffer.alloc(8);
  b.writeDoubleBE((d.getTime() - Date.UTC(2001, 0, 1)) / 1000);
  return [0x33, ...b];
}

/** Objects (object 0 is the root unless told), 1-byte refs, 2-byte offsets, then the trailer. */
function bplist(objects: number[][], opts: { root?: number; count?: number; refSize?: number } = {}): Buffer {
  const parts: number[] = [...Buffer.from('bplist00')];
  const offsets: number[] = [];
  for (const o of objects) {
    offsets.push(parts.length);
    parts.push(...o);
  }
  const tableAt = parts.length;
  for (const off of offsets) parts.push(off >> 8, off & 0xff);
  const trailer = Buffer.alloc(32);
  trailer[6] = 2; // offset size
  trailer[7] = opts.refSize ?? 1;
  trailer.writeBigUInt64BE(BigInt(opts.count ?? objects.length), 8);
  trailer.writeBigUInt64BE(BigInt(opts.root ?? 0), 16);
  trailer.writeBigUInt64BE(BigInt(tableAt), 24);
  return Buffer.concat([Buffer.from(parts), trailer]);
}

function binaryError(buf: Buffer): PlistError {
  try {
    parsePlist(buf);
  } catch (err) {
    expect(err).toBeInstanceOf(PlistError);
    return err as PlistError;
  }
  throw new Error('expected a PlistError, but the input parsed');
}

describe('parsePlist: binary plists', () => {
  it('a hand-encoded bplist00 parses to the same value as its XML form', () => {
    const when = new Date('2024-05-06T07:08:09Z');
    const bin = bplist([
      /* 0 */ dict([1, 2, 3, 4, 5, 6, 7, 8, 9], [10, 11, 12, 13, 14, 15, 16, 17, 18]),
      /* 1 */ ascii('MessageType'),
      /* 2 */ ascii('Token'),
      /* 3 */ ascii('Count'),
      /* 4 */ ascii('DeviceName'),
      /* 5 */ ascii('AwaitingConfiguration'),
      /* 6 */ ascii('Ratio'),
      /* 7 */ ascii('When'),
      /* 8 */ ascii('Things'),
      /* 9 */ ascii('Nested'),
      /* 10 */ ascii('TokenUpdate'),
      /* 11 */ data([0xde, 0xad, 0xbe, 0xef]),
      /* 12 */ int(300n, 2),
      /* 13 */ utf16('Mac de Zoë'),
      /* 14 */ FALSE,
      /* 15 */ real64(0.25),
      /* 16 */ date(when),
      /* 17 */ array([19, 20, 21, 22]),
      /* 18 */ dict([1], [10]), // shares objects with the root, as Apple's writer does
      /* 19 */ int(-5n, 8),
      /* 20 */ TRUE,
      /* 21 */ ascii(''),
      /* 22 */ array([]),
    ]);
    const xml = `<?xml version="1.0" encoding="UTF-8"?>
<!DOCTYPE plist PUBLIC "-//Apple//DTD PLIST 1.0//EN" "http://www.apple.com/DTDs/PropertyList-1.0.dtd">
<plist version="1.0">
<dict>
	<key>MessageType</key>
	<string>TokenUpdate</string>
	<key>Token</key>
	<data>
	3q2+7w==
	</data>
	<key>Count</key>
	<integer>300</integer>
	<key>DeviceName</key>
	<string>Mac de Zoë</string>
	<key>AwaitingConfiguration</key>
	<false/>
	<key>Ratio</key>
	<real>0.25</real>
	<key>When</key>
	<date>2024-05-06T07:08:09Z</date>
	<key>Things</key>
	<array>
		<integer>-5</integer>
		<true/>
		<string></string>
		<array/>
	</array>
	<key>Nested</key>
	<dict>
		<key>MessageType</key>
		<string>TokenUpdate</string>
	</dict>
</dict>
</plist>
`;
    const fromBinary = parsePlist(bin);
    expect(fromBinary).toEqual(parsePlist(xml));
    expect(buildPlist(fromBinary)).toBe(xml);
  });

  it('converts integers and reals to mdmsim types', () => {
    expect(parsePlist(bplist([int(255n, 1)]))).toBe(255);
    expect(parsePlist(bplist([int(4_000_000_000n, 4)]))).toBe(4_000_000_000);
    expect(parsePlist(bplist([int(-(2n ** 63n), 8)]))).toBe(-(2 ** 63));
    expect(parsePlist(bplist([int(2n ** 53n + 1n, 8)]))).toBe(2n ** 53n + 1n);
    expect(parsePlist(bplist([int(2n ** 60n, 8)]))).toBe(2 ** 60); // exact as a double: a number, as in XML
    expect(parsePlist(bplist([int(2n ** 64n - 1n, 16)]))).toBe(2n ** 64n - 1n); // Apple's uint64 form
    expect(parsePlist(bplist([real32(1.5)]))).toBe(1.5);
    expect(parsePlist(bplist([real64(NaN)]))).toBeNaN();
  });

  it('allows 256 levels of nesting, like the XML parser', () => {
    const chain = (levels: number) => bplist([...Array.from({ length: levels }, (_, i) => array2([i + 1])), TRUE], { refSize: 2 });
    let expected: unknown = true;
    for (let i = 0; i < 256; i++) expected = [expected];
    expect(parsePlist(chain(256))).toEqual(expected);
    expect(binaryError(chain(257)).message).toMatch(/nested deeper than 256/);
  });

  it('returns data that does not alias the input buffer', () => {
    const bin = bplist([data([1, 2, 3])]);
    const v = parsePlist(bin) as Buffer;
    bin.fill(0);
    expect(v).toEqual(Buffer.from([1, 2, 3]));
  });

  it('rejects a binary plist handed over as a string, and other versions', () => {
    expect(() => parsePlist(bplist([TRUE]).toString('latin1'))).toThrow(/binary plist passed as a string: pass the raw Buffer/);
    const v15 = Buffer.concat([Buffer.from('bplist15'), Buffer.alloc(40)]);
    expect(binaryError(v15).message).toMatch(/unsupported binary plist version "bplist15"/);
  });

  describe('hostile or broken input is refused before bplist-parser sees it', () => {
    const cases: [string, () => Buffer, RegExp][] = [
      ['reference cycle', () => bplist([array([1]), array([0])]), /reference cycle/],
      ['self reference', () => bplist([dict([1], [0]), ascii('me')]), /reference cycle/],
      [
        // 40 arrays each holding the next one twice: 2^40 objects once expanded.
        'shared-reference bomb',
        () => bplist([...Array.from({ length: 40 }, (_, i) => array([i + 1, i + 1])), TRUE]),
        /expand to more than 1048576 objects/,
      ],
      [
        'nesting too deep',
        () => bplist([...Array.from({ length: 300 }, (_, i) => array2([i + 1])), TRUE], { refSize: 2 }),
        /nested deeper than 256/,
      ],
      ['UID', () => bplist([array([1]), [0x80, 0x01]]), /UID \(an NSKeyedArchiver reference\)/],
      ['null', () => bplist([array([1]), [0x00]]), /holds a null/],
      ['set', () => bplist([[0xc1, 1], TRUE]), /unsupported object type 0xc/],
      ['non-string key', () => bplist([dict([1], [1]), int(1n, 1)]), /a dict key is not a string/],
      ['__proto__ key', () => bplist([dict([1], [2]), ascii('__proto__'), dict([], [])]), /key "__proto__"/],
      ['__proto__ key in UTF-16', () => bplist([dict([1], [2]), utf16('__proto__'), TRUE]), /key "__proto__"/],
      [
        '__proto__ key in the long length form',
        () => bplist([dict([1], [2]), [0x5f, 0x10, 9, ...Buffer.from('__proto__')], int(1n, 1)]),
        /key "__proto__"/,
      ],
      ['UTF-16 key cut off by the end of the file', () => bplist([dict([1], [1]), [0x69, 0, 0x5f]]), /runs past the end/],
      ['ref out of range', () => bplist([array([7])]), /object reference is out of range/],
      ['string past the end', () => bplist([[0x5f, 0x10, 200, 0x41]]), /runs past the end/],
      ['odd length marker', () => bplist([[0x5f, 0x40, 3, 0x41, 0x41, 0x41]]), /object length is not a 1–8 byte integer/],
      ['integer too wide', () => bplist([[0x15, ...Array(32).fill(0)]]), /integer wider than 128 bits/],
      ['128-bit integer beyond 64 bits', () => bplist([int(2n ** 64n, 16)]), /outside the 64-bit range/],
      ['16-bit real', () => bplist([[0x21, 0, 0]]), /real that is neither 32 nor 64 bits/],
      ['date of the wrong width', () => bplist([[0x32, 0, 0, 0, 0]]), /date that is not a 64-bit float/],
      ['root out of range', () => bplist([TRUE], { root: 5 }), /root object reference is out of range/],
      ['huge object count', () => bplist([TRUE], { count: 1e9 }), /object count 1000000000 is outside/],
      ['truncated', () => Buffer.from('bplist00\x09'), /too short to hold a trailer/],
      [
        'offset table outside the file',
        () => {
          const b = bplist([TRUE]);
          b.writeBigUInt64BE(10_000n, b.length - 8);
          return b;
        },
        /offset table lies outside the file/,
      ],
      [
        'object offset outside the file',
        () => {
          const b = bplist([TRUE]);
          b.writeUInt16BE(0xffff, 9); // the single offset-table entry
          return b;
        },
        /object 0 starts outside the file/,
      ],
    ];

    it.each(cases)('%s', (_name, make, message) => {
      const started = Date.now();
      expect(binaryError(make()).message).toMatch(message);
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('does not print to the console on odd input', () => {
      const spy = jest.spyOn(console, 'error').mockImplementation(() => undefined);
      try {
        binaryError(bplist([[0x34, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]]));
        binaryError(bplist([[0x4f, 0x20, 1, 0]]));
        expect(spy).not.toHaveBeenCalled();
      } finally {
        spy.mockRestore();
      }
    });
  });
});
