/**
 * Key encodings assembled from a key's JWK form. OpenSSL 3's DER encoders behind
 * `KeyObject.export({ format: 'der' })` cost ~150 µs a call on a 2-core VM, while the JWK export
 * costs ~6 µs; issuing an identity per profile download pays for these on every request.
 */
import type { JsonWebKey, KeyObject } from 'node:crypto';
import { createPublicKey } from 'node:crypto';
import * as der from './der';
import { OID } from './oids';

/** The named curves mdmsim issues and reads keys on, with their field size in bytes. */
const CURVES: Record<string, { oid: string; bytes: number }> = {
  'P-256': { oid: OID.prime256v1, bytes: 32 },
  'P-384': { oid: '1.3.132.0.34', bytes: 48 },
};

/** SubjectPublicKeyInfo (DER) of an RSA or EC key; a private key gives its public half's. */
export function spkiDer(key: KeyObject): Buffer {
  const jwk = publicJwk(key);
  if (jwk.kty === 'RSA') {
    const rsaPublicKey = der.sequence(der.integer(b64(jwk.n)), der.integer(b64(jwk.e)));
    return der.sequence(der.algorithm(OID.rsaEncryption, der.NULL), der.bitString(rsaPublicKey));
  }
  const curve = curveOf(jwk);
  return der.sequence(der.sequence(der.oid(OID.ecPublicKey), der.oid(curve.oid)), der.bitString(ecPoint(jwk, curve.bytes)));
}

/** PrivateKeyInfo (PKCS#8, unencrypted DER) of an RSA or EC private key. */
export function pkcs8Der(key: KeyObject): Buffer {
  if (key.type !== 'private') throw new Error(`pkcs8Der needs a private key, got a ${key.type} key`);
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA') {
    // RSAPrivateKey (RFC 8017 A.1.2), version 0 (two primes).
    const rsa = der.sequence(
      der.integer(0),
      ...[jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map((v) => der.integer(b64(v))),
    );
    return der.sequence(der.integer(0), der.algorithm(OID.rsaEncryption, der.NULL), der.octetString(rsa));
  }
  if (jwk.kty !== 'EC') throw new Error(`mdmsim handles RSA and EC keys; got a ${String(jwk.kty)} key`);
  const curve = curveOf(jwk);
  // ECPrivateKey (RFC 5915) with the public key, which macOS and OpenSSL expect to find there.
  const ec = der.sequence(
    der.integer(1),
    der.octetString(fixedLength(b64(jwk.d), curve.bytes)),
    der.explicit(1, der.bitString(ecPoint(jwk, curve.bytes))),
  );
  return der.sequence(der.integer(0), der.sequence(der.oid(OID.ecPublicKey), der.oid(curve.oid)), der.octetString(ec));
}

function publicJwk(key: KeyObject): JsonWebKey {
  const jwk = key.export({ format: 'jwk' });
  if (jwk.kty === 'RSA' || jwk.kty === 'EC') return jwk;
  // Only reached for key types mdmsim does not issue; the slower path names the type.
  const type = (key.type === 'private' ? createPublicKey(key) : key).asymmetricKeyType;
  throw new Error(`mdmsim handles RSA and EC keys; got a ${type ?? 'unknown'} key`);
}

function curveOf(jwk: JsonWebKey): { oid: string; bytes: number } {
  const curve = CURVES[jwk.crv ?? ''];
  if (!curve) throw new Error(`unsupported EC curve ${String(jwk.crv)}: mdmsim handles P-256 and P-384`);
  return curve;
}

/** The uncompressed point 04 || X || Y. */
function ecPoint(jwk: JsonWebKey, bytes: number): Buffer {
  return Buffer.concat([Buffer.from([4]), fixedLength(b64(jwk.x), bytes), fixedLength(b64(jwk.y), bytes)]);
}

function b64(value: string | undefined): Buffer {
  if (value === undefined) throw new Error('incomplete JWK: a key parameter is missing');
  return Buffer.from(value, 'base64url');
}

function fixedLength(bytes: Buffer, length: number): Buffer {
  if (bytes.length === length) return bytes;
  if (bytes.length > length) throw new Error(`key parameter of ${bytes.length} bytes where ${length} were expected`);
  return Buffer.concat([Buffer.alloc(length - bytes.length), bytes]);
}
