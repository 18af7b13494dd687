/**
 * The DER layout of a SignedData with one signer, shared by the device-side detached signer
 * and the server-side attached one. Version 1 throughout: id-data content, X.509 certificates
 * and an IssuerAndSerialNumber sid (RFC 5652 §5.1, §5.3).
 */
import { explicit, integer, octetString, oid, sequence, setOf, tlv, TAG } from '../asn1/der';
import { OID } from '../asn1/oids';
import { digestAlgorithmId, signatureAlgorithmId, type DigestName } from './algorithms';
import type { PreparedIdentity } from './identity';

const VERSION_1 = integer(1);

export interface SignedDataParts {
  identity: PreparedIdentity;
  digest: DigestName;
  /** Attached content; undefined for a detached signature. */
  content?: Buffer;
  /** DER of the signed attributes as a SET (0x31), as signed; undefined for none. */
  signedAttributes?: Buffer;
  signature: Buffer;
}

/**
 * The ContentInfo. The signature is the very last element, so everything before it depends
 * only on the signature's length — which is what lets a signer build it once.
 */
export function signedDataContentInfo(parts: SignedDataParts): Buffer {
  const { identity, digest, content, signedAttributes, signature } = parts;
  const digestAlgorithm = digestAlgorithmId(digest);
  const encapContentInfo =
    content === undefined ? sequence(oid(OID.data)) : sequence(oid(OID.data), explicit(0, octetString(content)));
  const signerInfo = sequence(
    VERSION_1,
    identity.sid,
    digestAlgorithm,
    ...(signedAttributes === undefined ? [] : [retag(signedAttributes, 0xa0)]),
    signatureAlgorithmId(identity.keyType, digest),
    octetString(signature),
  );
  const signedData = sequence(VERSION_1, setOf(digestAlgorithm), encapContentInfo, identity.certificates, tlv(TAG.SET, signerInfo));
  return sequence(oid(OID.signedData), explicit(0, signedData));
}

/** The same encoding under another identifier (SET ⇄ [0] IMPLICIT SET). */
export function retag(encoding: Buffer, tag: number): Buffer {
  const out = Buffer.from(encoding);
  out[0] = tag;
  return out;
}
