import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import forge from 'node-forge';

const generateKeyPair = promisify(crypto.generateKeyPair);

/**
 * A fresh RSA 2048 key pair. node:crypto runs this in the libuv thread pool in tens of
 * milliseconds; forge's pure-JS generator would block the event loop for up to seconds.
 */
export function generateRsaKeyPair(): Promise<crypto.KeyPairKeyObjectResult> {
  return generateKeyPair('rsa', { modulusLength: 2048 });
}

/**
 * The forge form of a node key's public half, for placing in a forge certificate. Accepts a
 * private key too, so callers holding only the private key need not derive the public one.
 */
export function forgePublicKey(key: crypto.KeyObject): forge.pki.rsa.PublicKey {
  const publicKey = key.type === 'private' ? crypto.createPublicKey(key) : key;
  if (publicKey.asymmetricKeyType !== 'rsa') {
    throw new Error(
      `expected an RSA key, got ${publicKey.asymmetricKeyType ?? publicKey.type}: ` +
        'mdmsim builds certificates with node-forge, which handles RSA keys only',
    );
  }
  const spki = publicKey.export({ type: 'spki', format: 'der' });
  return forge.pki.publicKeyFromAsn1(forge.asn1.fromDer(spki.toString('binary')));
}

/** PKCS#8 PEM, the form every TLS stack and openssl read without being told the key type. */
export function privateKeyToPem(key: crypto.KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }).toString();
}

/**
 * Whether the private key is intact and belongs to the public key. A signature probe alone is
 * not enough: OpenSSL quietly falls back from a damaged CRT prime to the private exponent, so a
 * key file corrupted there still signs correctly under OpenSSL, while other RSA code (forge's,
 * which uses CRT unchecked) would produce bad signatures with it.
 */
export function privateKeyMatches(privateKey: crypto.KeyObject, publicKey: crypto.KeyObject): boolean {
  if (privateKey.asymmetricKeyType === 'rsa' && !rsaKeyIsConsistent(privateKey)) return false;
  const probe = crypto.randomBytes(32);
  try {
    return crypto.verify('sha256', probe, publicKey, crypto.sign('sha256', probe, privateKey));
  } catch {
    return false;
  }
}

/** Checks the RSA private key's parameters against each other (RFC 8017 section 3.2). */
function rsaKeyIsConsistent(key: crypto.KeyObject): boolean {
  const jwk = key.export({ format: 'jwk' });
  const [n, e, d, p, q, dp, dq, qi] = [jwk.n, jwk.e, jwk.d, jwk.p, jwk.q, jwk.dp, jwk.dq, jwk.qi].map(toBigInt);
  return (
    p > 1n &&
    q > 1n &&
    n === p * q &&
    (e * d) % (p - 1n) === 1n &&
    (e * d) % (q - 1n) === 1n &&
    dp === d % (p - 1n) &&
    dq === d % (q - 1n) &&
    (qi * q) % p === 1n
  );
}

function toBigInt(base64url: string | undefined): bigint {
  const hex = Buffer.from(base64url ?? '', 'base64url').toString('hex');
  return BigInt(`0x${hex || '0'}`);
}
