/**
 * mdmsim's local PKI: a CA kept in the data dir, the TLS server certificate it issues, and
 * the building blocks (node:crypto keys and signatures on forge-built certificates) that
 * device identities and the APNs certificate reuse.
 */
export {
  CA_CERT_FILE,
  CA_KEY_FILE,
  loadOrCreateCa,
  type Ca,
  type IssuedCertificate,
  type IssueOptions,
} from './ca';
export { PkiError } from './errors';
export { sanEntriesFor, sanEntryFor, type SanEntry } from './hosts';
export { forgePublicKey, generateRsaKeyPair, privateKeyMatches, privateKeyToPem } from './keys';
export {
  DEFAULT_SERVER_HOSTS,
  loadOrCreateServerCert,
  SERVER_CERT_FILE,
  SERVER_KEY_FILE,
  type ServerCert,
} from './server-cert';
export { certificateToDer, randomSerialNumber, signCertificate } from './sign';
export { issueDeviceIdentity, KeyPool, IDENTITY_KEY_TYPES, IDENTITY_VALIDITY_DAYS, type DeviceIdentity, type IdentityKeyType } from './identity';
export { issueProfileSigner, type ProfileSigner } from './profile-signer';
export { loadOrCreatePushCert, PUSH_CERT_FILE, PUSH_KEY_FILE, TOPIC_PREFIX, topicOf, type PushCert } from './push-cert';
export { derToPem } from './pem';
