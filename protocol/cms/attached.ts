/**
 * The server side: content (an enrollment profile) signed with the content attached, with
 * the signed attributes S/MIME verifiers expect — content-type, signing-time, message-digest.
 * Profiles are signed rarely, so nothing is cached here.
 */
import * as crypto from 'node:crypto';
import { octetString, oid, sequence, setOf, time } from '../asn1/der';
import { OID } from '../asn1/oids';
import { checkDigest, type DigestName } from './algorithms';
import { signedDataContentInfo } from './assemble';
import { prepareIdentity, type SignerIdentity } from './identity';

export interface SignAttachedOptions {
  /** Default sha256. */
  digest?: DigestName;
  /** Default now; pass the simulation's clock so profiles carry simulated time. */
  signingTime?: Date;
}

const ALL_DIGESTS: readonly DigestName[] = ['sha1', 'sha256', 'sha384', 'sha512'];

const attribute = (type: string, value: Buffer): Buffer => sequence(oid(type), setOf(value));

/** A DER ContentInfo holding a SignedData with `content` attached. */
export function signAttached(content: Buffer, identity: SignerIdentity, options: SignAttachedOptions = {}): Buffer {
  const digest = checkDigest(options.digest ?? 'sha256', ALL_DIGESTS, 'signAttached');
  const signingTime = options.signingTime ?? new Date();
  if (Number.isNaN(signingTime.getTime())) throw new Error('signAttached: options.signingTime is an invalid Date');
  const prepared = prepareIdentity(identity, 'signAttached');
  // DER sorts the SET, and the signature covers exactly that encoding (RFC 5652 §5.4).
  const signedAttributes = setOf(
    attribute(OID.contentType, oid(OID.data)),
    attribute(OID.signingTime, time(signingTime)),
    attribute(OID.messageDigest, octetString(crypto.hash(digest, content, 'buffer'))),
  );
  const signature = crypto.sign(digest, signedAttributes, prepared.privateKey);
  return signedDataContentInfo({ identity: prepared, digest, content, signedAttributes, signature });
}
