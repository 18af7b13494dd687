/**
 * CMS SignedData (RFC 5652) for MDM: the Mdm-Signature a device puts on every request
 * (createMdmSigner; parseSignedData + verifySignature on the server) and signed enrollment
 * profiles (signAttached).
 */
export type { DigestName, KeyType } from './algorithms';
export { signAttached, type SignAttachedOptions } from './attached';
export {
  findSignerCertificate,
  issuerAndSerialOf,
  signerIdMatches,
  type CertificateIds,
  type SignerId,
} from './certificate';
export { CmsError, type CmsErrorCode } from './errors';
export type { SignerIdentity } from './identity';
export { createMdmSigner, type MdmSigner, type MdmSignerOptions } from './mdm-signer';
export { parseSignedData, type ParsedSignedData } from './parse';
export { verifySignature } from './verify';
