/**
 * Checks a parsed SignedData's signature. Whether the key is trusted (and belongs to the
 * signer's certificate) is the caller's decision; this only answers whether the signature
 * over this content was made with this key.
 */
import * as crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import type { KeyType } from './algorithms';
import { CmsError } from './errors';
import type { ParsedSignedData } from './parse';

/** node's name for the key type each signature scheme needs. */
const KEY_TYPES: Record<KeyType, crypto.KeyType> = { rsa: 'rsa', ecdsa: 'ec' };

/**
 * Checks the signature over `content` (detached) or, when `content` is undefined,
 * parsed.content: the message-digest attribute first when there are signed attributes, then
 * the signature itself. False for a wrong signature, tampered content or a key of another
 * type; CmsError only when there is nothing to check.
 */
export function verifySignature(parsed: ParsedSignedData, content: Buffer | undefined, publicKey: KeyObject): boolean {
  const data = content ?? parsed.content;
  if (data === undefined) throw new CmsError('nothing to verify: the SignedData is detached and no content was given', 'malformed');
  const { signer } = parsed;
  // Asking OpenSSL to check an RSA signature with an EC key (or the reverse) is a wrong key,
  // not an error; catching it here also keeps Ed25519 keys away from a digest they refuse.
  if (publicKey.asymmetricKeyType !== KEY_TYPES[signer.keyType]) return false;
  let signed = data;
  if (signer.signedAttributes !== undefined) {
    if (signer.messageDigest === undefined) throw new CmsError('signed attributes without a message-digest attribute', 'malformed');
    if (!crypto.hash(signer.digest, data, 'buffer').equals(signer.messageDigest)) return false;
    signed = signer.signedAttributes;
  }
  return crypto.verify(signer.digest, signed, publicKey, signer.signature);
}
