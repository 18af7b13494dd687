/**
 * The PFX MAC (RFC 7292 section 5.1, "password integrity mode"): an HMAC over the authSafe
 * content octets, keyed by the PKCS#12 KDF with ID 3 and the MacData salt and iteration count.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { KDF_HASHES, KDF_MAC, pkcs12Kdf, type KdfHash } from './kdf';

/** HMAC-`hash` of `data` under the key `password` (B.1 form) derives from `salt`. */
export function pkcs12Mac(hash: KdfHash, bmpPassword: Buffer, salt: Buffer, iterations: number, data: Buffer): Buffer {
  const key = pkcs12Kdf(hash, bmpPassword, salt, KDF_MAC, iterations, KDF_HASHES[hash].u);
  return createHmac(hash, key).update(data).digest();
}

/** Whether `mac` is the MAC of `data` under `bmpPassword`. */
export function macMatches(hash: KdfHash, bmpPassword: Buffer, salt: Buffer, iterations: number, data: Buffer, mac: Buffer): boolean {
  const expected = pkcs12Mac(hash, bmpPassword, salt, iterations, data);
  return expected.length === mac.length && timingSafeEqual(expected, mac);
}
