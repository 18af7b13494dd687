/**
 * The PKCS#12 key derivation (RFC 7292 appendix B): keys, IVs and MAC keys for the
 * PKCS#12-specific algorithms (pbeWithSHAAnd3-KeyTripleDES-CBC and the MacData HMAC).
 * PBES2 content uses PBKDF2 instead (node:crypto's pbkdf2Sync, see pbe.ts).
 */
import { createHash, hash as digest } from 'node:crypto';
import { repeatSha1 } from './sha1';

/** The "ID" byte of B.3: what the derived bytes are for. */
export const KDF_KEY = 1;
export const KDF_IV = 2;
export const KDF_MAC = 3;
export type KdfPurpose = typeof KDF_KEY | typeof KDF_IV | typeof KDF_MAC;

/** The hashes the derivation is defined over here: u = digest size, v = block size (bytes). */
export const KDF_HASHES = {
  sha1: { u: 20, v: 64 },
  sha224: { u: 28, v: 64 },
  sha256: { u: 32, v: 64 },
  sha384: { u: 48, v: 128 },
  sha512: { u: 64, v: 128 },
} as const;
export type KdfHash = keyof typeof KDF_HASHES;

/**
 * A password as the derivation takes it (B.1): BMPString, big-endian, with two zero bytes
 * at the end — so the empty password is two zero bytes, not nothing.
 */
export function bmpPassword(password: string): Buffer {
  const out = Buffer.alloc(password.length * 2 + 2);
  out.write(password, 'utf16le');
  out.subarray(0, password.length * 2).swap16();
  return out;
}

/**
 * `length` bytes derived from `password` (already in its B.1 form, see bmpPassword) and
 * `salt` for `purpose`, hashing `iterations` times per block (B.2).
 */
export function pkcs12Kdf(
  hash: KdfHash,
  password: Buffer,
  salt: Buffer,
  purpose: KdfPurpose,
  iterations: number,
  length: number,
): Buffer {
  if (!Number.isSafeInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  const { u, v } = KDF_HASHES[hash];
  const diversifier = Buffer.alloc(v, purpose);
  // I = S || P, each repeated to a whole number of v-byte blocks (nothing when empty).
  const input = Buffer.concat([fill(salt, v * Math.ceil(salt.length / v)), fill(password, v * Math.ceil(password.length / v))]);
  const blocks = Math.ceil(length / u);
  const out = Buffer.allocUnsafe(blocks * u);
  for (let i = 0; i < blocks; i++) {
    const first = createHash(hash).update(diversifier).update(input).digest();
    const a = hash === 'sha1' ? repeatSha1(first, iterations - 1) : repeatDigest(hash, first, iterations - 1);
    a.copy(out, i * u);
    if (i + 1 < blocks) addToEachBlock(input, fill(a, v), v);
  }
  return out.subarray(0, length);
}

/** Step 6a for hashes other than SHA-1, where node:crypto's per-call cost is simply paid. */
function repeatDigest(hash: KdfHash, value: Buffer, times: number): Buffer {
  let a = value;
  for (let n = 0; n < times; n++) a = digest(hash, a, 'buffer');
  return a;
}

/** `pattern` repeated (and cut) to `length` bytes. */
function fill(pattern: Buffer, length: number): Buffer {
  const out = Buffer.allocUnsafe(length);
  for (let at = 0; at < length; at += pattern.length) pattern.copy(out, at, 0, Math.min(pattern.length, length - at));
  return out;
}

/** Step 6c: each v-byte block I_j of `input` becomes (I_j + B + 1) mod 2^(8v), in place. */
function addToEachBlock(input: Buffer, b: Buffer, v: number): void {
  for (let j = 0; j < input.length; j += v) {
    let carry = 1;
    for (let k = v - 1; k >= 0; k--) {
      carry += input[j + k] + b[k];
      input[j + k] = carry & 0xff;
      carry >>>= 8;
    }
  }
}
