/**
 * The digest and signature algorithms mdmsim reads and writes in CMS, and which pairs of
 * them make a signature it can check. Matching is done on OID content octets, so the hot
 * path never turns an OID into a string.
 */
import { isOid, oidBytes, oidString, Reader, TAG, type Tlv } from '../asn1';
import { algorithm, NULL } from '../asn1/der';
import { OID } from '../asn1/oids';
import { CmsError } from './errors';

export type DigestName = 'sha1' | 'sha256' | 'sha384' | 'sha512';
/** 'rsa' is PKCS#1 v1.5; RSA-PSS is not supported. */
export type KeyType = 'rsa' | 'ecdsa';

interface DigestEntry {
  name: DigestName;
  oid: string;
  bytes: Buffer;
}

const DIGESTS: readonly DigestEntry[] = (['sha1', 'sha256', 'sha384', 'sha512'] as const).map((name) => ({
  name,
  oid: OID[name],
  bytes: oidBytes(OID[name]),
}));

interface SignatureEntry {
  name: string;
  oid: string;
  bytes: Buffer;
  keyType: KeyType;
  /** The hash the OID names; undefined for bare key OIDs (rsaEncryption, ecPublicKey). */
  digest?: DigestName;
}

const signatureEntry = (name: keyof typeof OID, keyType: KeyType, digest?: DigestName): SignatureEntry => ({
  name,
  oid: OID[name],
  bytes: oidBytes(OID[name]),
  keyType,
  digest,
});

const SIGNATURES: readonly SignatureEntry[] = [
  signatureEntry('rsaEncryption', 'rsa'),
  signatureEntry('sha1WithRSAEncryption', 'rsa', 'sha1'),
  signatureEntry('sha256WithRSAEncryption', 'rsa', 'sha256'),
  signatureEntry('sha384WithRSAEncryption', 'rsa', 'sha384'),
  signatureEntry('sha512WithRSAEncryption', 'rsa', 'sha512'),
  signatureEntry('ecPublicKey', 'ecdsa'),
  signatureEntry('ecdsaWithSHA1', 'ecdsa', 'sha1'),
  signatureEntry('ecdsaWithSHA256', 'ecdsa', 'sha256'),
  signatureEntry('ecdsaWithSHA384', 'ecdsa', 'sha384'),
  signatureEntry('ecdsaWithSHA512', 'ecdsa', 'sha512'),
];

/** Names for OIDs that show up in error messages, so "unsupported" says what it was. */
function describe(dotted: string): string {
  const name = (Object.keys(OID) as (keyof typeof OID)[]).find((key) => OID[key] === dotted);
  return name === undefined ? dotted : `${name} (${dotted})`;
}

/** The OID of an AlgorithmIdentifier; its parameters are not needed by anything accepted here. */
function algorithmOid(algId: Tlv, what: string): Tlv {
  return new Reader(algId).next(TAG.OID, `${what}.algorithm`);
}

/** Reads a DigestAlgorithmIdentifier. */
export function readDigestAlgorithm(algId: Tlv, what: string): DigestName {
  const el = algorithmOid(algId, what);
  for (const entry of DIGESTS) if (isOid(el, entry.bytes)) return entry.name;
  throw new CmsError(
    `unsupported digest algorithm ${describe(oidString(el))} in ${what} (at byte ${el.start}); expected sha1, sha256, sha384 or sha512`,
    'unsupported-algorithm',
  );
}

/**
 * Reads a SignatureAlgorithmIdentifier and checks it against the SignerInfo's digest: a
 * signature OID that names a hash must name the same one, or the signature could not have
 * been made the way the digestAlgorithm says.
 */
export function readSignatureAlgorithm(algId: Tlv, digest: DigestName, what: string): KeyType {
  const el = algorithmOid(algId, what);
  const entry = SIGNATURES.find((candidate) => isOid(el, candidate.bytes));
  if (entry === undefined) {
    throw new CmsError(
      `unsupported signature algorithm ${describe(oidString(el))} in ${what} (at byte ${el.start}); expected rsaEncryption, sha*WithRSAEncryption, ecdsa-with-SHA* or ecPublicKey`,
      'unsupported-algorithm',
    );
  }
  if (entry.digest !== undefined && entry.digest !== digest) {
    throw new CmsError(
      `${what} is ${entry.name} (${entry.oid}), which hashes with ${entry.digest}, but the digestAlgorithm is ${digest} (at byte ${el.start})`,
      'unsupported-algorithm',
    );
  }
  return entry.keyType;
}

function digestEntry(digest: DigestName): DigestEntry {
  const entry = DIGESTS.find((candidate) => candidate.name === digest);
  if (entry === undefined) throw new Error(`unsupported digest ${JSON.stringify(digest)}: expected sha1, sha256, sha384 or sha512`);
  return entry;
}

/** Checks a digest name from a JavaScript caller, whom the type does not bind. */
export function checkDigest(digest: string, allowed: readonly DigestName[], where: string): DigestName {
  if (!(allowed as readonly string[]).includes(digest)) {
    throw new Error(`${where}: unsupported digest ${JSON.stringify(digest)}; expected one of ${allowed.join(', ')}`);
  }
  return digest as DigestName;
}

/**
 * DigestAlgorithmIdentifier as OpenSSL writes it: NULL parameters for SHA-1, none for
 * SHA-2 (RFC 5754 §2), both of which every reader accepts.
 */
export function digestAlgorithmId(digest: DigestName): Buffer {
  const { oid } = digestEntry(digest);
  return digest === 'sha1' ? algorithm(oid, NULL) : algorithm(oid);
}

/**
 * SignatureAlgorithmIdentifier: rsaEncryption with NULL parameters (RFC 3370 §3.2, and what
 * Macs and OpenSSL send), ecdsa-with-SHA* without parameters (RFC 5758 §3.2).
 */
export function signatureAlgorithmId(keyType: KeyType, digest: DigestName): Buffer {
  if (keyType === 'rsa') return algorithm(OID.rsaEncryption, NULL);
  const entry = SIGNATURES.find((candidate) => candidate.keyType === 'ecdsa' && candidate.digest === digest);
  if (entry === undefined) throw new Error(`no ECDSA signature algorithm for digest ${digest}`);
  return algorithm(entry.oid);
}
