/**
 * ASN.1 as CMS, PKCS#12 and X.509 need it: a DER writer (der.ts) and a zero-copy BER reader
 * (ber.ts). Certificates themselves are built with node-forge (server/pki); this module is
 * for the structures that sit on the hot path or that forge cannot build for EC keys.
 */
export * as der from './der';
export * from './ber';
export { Asn1Error } from './errors';
export { TAG } from './der';
export { spkiDer, pkcs8Der } from './keys';
export { OID } from './oids';
