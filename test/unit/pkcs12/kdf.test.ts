import * as crypto from 'node:crypto';
import fc from 'fast-check';
import { bmpPassword, KDF_HASHES, KDF_IV, KDF_KEY, KDF_MAC, pkcs12Kdf, type KdfHash, type KdfPurpose } from '../../../protocol/pkcs12/kdf';
import { repeatSha1 } from '../../../protocol/pkcs12/sha1';

function nodeRepeatSha1(value: Buffer, times: number): Buffer {
  let a = Buffer.from(value);
  for (let n = 0; n < times; n++) a = crypto.createHash('sha1').update(a).digest();
  return a;
}

describe('repeatSha1', () => {
  it('is SHA-1 of SHA-1 of … for random values and counts', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 20, maxLength: 20 }), fc.integer({ min: 0, max: 300 }), (value, times) => {
        expect(repeatSha1(value, times).toString('hex')).toBe(nodeRepeatSha1(Buffer.from(value), times).toString('hex'));
      }),
      { numRuns: 300 },
    );
  });

  it('matches node:crypto at the edges of the int32 range and after many rounds', () => {
    for (const value of [Buffer.alloc(20, 0), Buffer.alloc(20, 0xff), Buffer.alloc(20, 0x80), Buffer.alloc(20, 0x7f)]) {
      for (const times of [1, 2, 2047, 5000]) expect(repeatSha1(value, times).equals(nodeRepeatSha1(value, times))).toBe(true);
    }
  });

  it('reads a value that is a view into a larger buffer, and leaves it alone', () => {
    const big = crypto.randomBytes(64);
    const view = big.subarray(13, 33);
    const before = Buffer.from(big);
    expect(repeatSha1(view, 3).equals(nodeRepeatSha1(view, 3))).toBe(true);
    expect(big.equals(before)).toBe(true);
  });

  it('returns a copy for zero rounds and refuses values that are not 20 bytes', () => {
    const value = crypto.randomBytes(20);
    const copy = repeatSha1(value, 0);
    expect(copy.equals(value)).toBe(true);
    expect(copy).not.toBe(value);
    expect(() => repeatSha1(Buffer.alloc(32), 1)).toThrow(/20-byte/);
  });
});

describe('bmpPassword', () => {
  it.each([
    ['', '0000'],
    ['a', '00610000'],
    ['pw', '007000770000'],
    ['é€', '00e920ac0000'],
    ['😀', 'd83dde000000'],
  ])('encodes %j as UTF-16BE with a zero terminator', (password, hex) => {
    expect(bmpPassword(password).toString('hex')).toBe(hex);
  });
});

/**
 * RFC 7292 appendix B.2 written out step by step, one node:crypto call per hash and BigInt
 * arithmetic for step 6c: deliberately nothing like the implementation under test.
 */
function referenceKdf(hash: KdfHash, password: Buffer, salt: Buffer, id: number, iterations: number, n: number): Buffer {
  const { u, v } = KDF_HASHES[hash];
  const D = Buffer.alloc(v, id);
  const repeatTo = (x: Buffer, len: number) => Buffer.from(Array.from({ length: len }, (_, i) => x[i % x.length]));
  const S = salt.length === 0 ? Buffer.alloc(0) : repeatTo(salt, v * Math.ceil(salt.length / v));
  const P = password.length === 0 ? Buffer.alloc(0) : repeatTo(password, v * Math.ceil(password.length / v));
  let I = Buffer.concat([S, P]);
  const c = Math.ceil(n / u);
  const A: Buffer[] = [];
  for (let i = 0; i < c; i++) {
    let Ai = Buffer.concat([D, I]);
    for (let r = 0; r < iterations; r++) Ai = crypto.createHash(hash).update(Ai).digest();
    A.push(Ai);
    const B = BigInt(`0x${repeatTo(Ai, v).toString('hex')}`);
    const modulus = 1n << BigInt(8 * v);
    const blocks: Buffer[] = [];
    for (let j = 0; j < I.length; j += v) {
      const Ij = BigInt(`0x${I.subarray(j, j + v).toString('hex')}`);
      blocks.push(Buffer.from(((Ij + B + 1n) % modulus).toString(16).padStart(2 * v, '0'), 'hex'));
    }
    I = Buffer.concat(blocks);
  }
  return Buffer.concat(A).subarray(0, n);
}

describe('pkcs12Kdf', () => {
  const passwords = ['', 'secret', 'pässwörd ✓ 😀', 'x'.repeat(40), 'y'.repeat(31)];
  const salts = [Buffer.alloc(0), crypto.randomBytes(8), crypto.randomBytes(20), crypto.randomBytes(64), crypto.randomBytes(65)];
  const purposes: KdfPurpose[] = [KDF_KEY, KDF_IV, KDF_MAC];

  it.each(purposes)('matches the reference for ID %i, SHA-1, over passwords, salts, lengths and counts', (id) => {
    for (const password of passwords) {
      for (const salt of salts) {
        for (const [length, iterations] of [[24, 1], [8, 2], [20, 3], [1, 5], [41, 7], [64, 2048]]) {
          const got = pkcs12Kdf('sha1', bmpPassword(password), salt, id, iterations, length);
          expect(got.toString('hex')).toBe(referenceKdf('sha1', bmpPassword(password), salt, id, iterations, length).toString('hex'));
        }
      }
    }
  });

  it.each(['sha256', 'sha512'] as const)('matches the reference for %s (the MAC hashes openssl 3 uses)', (hash) => {
    for (const id of purposes) {
      for (const password of passwords) {
        for (const [length, iterations] of [[32, 1], [64, 3], [100, 11]]) {
          const got = pkcs12Kdf(hash, bmpPassword(password), salts[1], id, iterations, length);
          expect(got.equals(referenceKdf(hash, bmpPassword(password), salts[1], id, iterations, length))).toBe(true);
        }
      }
    }
  });

  it('matches the reference for random inputs, including a zero-length password form', () => {
    fc.assert(
      fc.property(
        fc.oneof(fc.string({ unit: 'binary', maxLength: 24 }).map(bmpPassword), fc.constant(Buffer.alloc(0))),
        fc.uint8Array({ maxLength: 80 }).map((salt) => Buffer.from(salt)),
        fc.constantFrom<KdfPurpose>(KDF_KEY, KDF_IV, KDF_MAC),
        fc.integer({ min: 1, max: 70 }),
        fc.integer({ min: 1, max: 90 }),
        (password, salt, id, iterations, length) => {
          expect(pkcs12Kdf('sha1', password, salt, id, iterations, length).equals(referenceKdf('sha1', password, salt, id, iterations, length))).toBe(true);
        },
      ),
      { numRuns: 150 },
    );
  });

  it('refuses an iteration count below 1', () => {
    expect(() => pkcs12Kdf('sha1', bmpPassword('x'), Buffer.alloc(8), KDF_KEY, 0, 24)).toThrow(RangeError);
  });
});
