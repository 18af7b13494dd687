/**
 * The device side of Mdm-Signature: a detached SignedData over the raw request body, DER,
 * without signed attributes, as a Mac sends it. A simulated fleet signs every request, so
 * the structure is assembled once per identity and each signature is only copied in behind
 * a prebuilt prefix.
 */
import * as crypto from 'node:crypto';
import { checkDigest, type DigestName } from './algorithms';
import { signedDataContentInfo } from './assemble';
import { prepareIdentity, type SignerIdentity } from './identity';

export interface MdmSigner {
  /** The Mdm-Signature header value: base64 of signDer(body). */
  sign(body: Buffer): string;
  /** The DER ContentInfo. */
  signDer(body: Buffer): Buffer;
}

export interface MdmSignerOptions {
  /** Default sha256; sha1 is what older macOS releases used. */
  digest?: 'sha256' | 'sha1';
}

const MDM_DIGESTS: readonly DigestName[] = ['sha256', 'sha1'];

/**
 * Throws at creation when the key does not match the certificate or is neither RSA nor EC,
 * so a misconfigured device fails where it is set up rather than at its first request.
 */
export function createMdmSigner(identity: SignerIdentity, options: MdmSignerOptions = {}): MdmSigner {
  const digest = checkDigest(options.digest ?? 'sha256', MDM_DIGESTS, 'createMdmSigner');
  const prepared = prepareIdentity(identity, 'createMdmSigner');

  // Everything before the signature, by signature length. An RSA signature is always the
  // modulus long, so there is one prefix, built now. A DER ECDSA signature varies by a byte
  // or two (leading zeros of r and s), which changes only the enclosing length octets; each
  // length seen is built once, and there are only a few.
  const prefixes = new Map<number, Buffer>();
  const prefixFor = (signatureLength: number): Buffer => {
    let prefix = prefixes.get(signatureLength);
    if (prefix === undefined) {
      const whole = signedDataContentInfo({ identity: prepared, digest, signature: Buffer.alloc(signatureLength) });
      prefix = whole.subarray(0, whole.length - signatureLength);
      prefixes.set(signatureLength, prefix);
    }
    return prefix;
  };
  if (prepared.rsaSignatureLength !== undefined) prefixFor(prepared.rsaSignatureLength);

  const signDer = (body: Buffer): Buffer => {
    const signature = crypto.sign(digest, body, prepared.privateKey);
    const prefix = prefixFor(signature.length);
    const out = Buffer.allocUnsafe(prefix.length + signature.length);
    prefix.copy(out, 0);
    signature.copy(out, prefix.length);
    return out;
  };
  return { signDer, sign: (body) => signDer(body).toString('base64') };
}
