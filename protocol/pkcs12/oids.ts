/**
 * Object identifiers that only PKCS#12 reading needs: password-based encryption, MAC and bag
 * types beyond those in protocol/asn1/oids.ts, and names for the ones mdmsim refuses, so an
 * 'unsupported' error can say what it met.
 */
import { OID } from '../asn1/oids';

export const P12_OID = {
  // PKCS#12 PBE (RFC 7292 appendix C)
  pbeWithSHAAnd128BitRC4: '1.2.840.113549.1.12.1.1',
  pbeWithSHAAnd40BitRC4: '1.2.840.113549.1.12.1.2',
  pbeWithSHAAnd2KeyTripleDESCBC: '1.2.840.113549.1.12.1.4',
  pbeWithSHAAnd128BitRC2CBC: '1.2.840.113549.1.12.1.5',
  pbeWithSHAAnd40BitRC2CBC: '1.2.840.113549.1.12.1.6',
  // PKCS#5 v2 (RFC 8018)
  pbkdf2: '1.2.840.113549.1.5.12',
  pbes2: '1.2.840.113549.1.5.13',
  pbmac1: '1.2.840.113549.1.5.14',
  hmacWithSHA1: '1.2.840.113549.2.7',
  hmacWithSHA224: '1.2.840.113549.2.8',
  hmacWithSHA256: '1.2.840.113549.2.9',
  hmacWithSHA384: '1.2.840.113549.2.10',
  hmacWithSHA512: '1.2.840.113549.2.11',
  aes128Cbc: '2.16.840.1.101.3.4.1.2',
  aes192Cbc: '2.16.840.1.101.3.4.1.22',
  aes256Cbc: '2.16.840.1.101.3.4.1.42',
  desEde3Cbc: '1.2.840.113549.3.7',
  rc2Cbc: '1.2.840.113549.3.2',
  sha224: '2.16.840.1.101.3.4.2.4',
  // content types and bags
  envelopedData: '1.2.840.113549.1.7.3',
  secretBag: '1.2.840.113549.1.12.10.1.5',
  crlBag: '1.2.840.113549.1.12.10.1.4',
  safeContentsBag: '1.2.840.113549.1.12.10.1.6',
} as const;

const NAMES: Record<string, string> = {
  [P12_OID.pbeWithSHAAnd128BitRC4]: 'pbeWithSHAAnd128BitRC4',
  [P12_OID.pbeWithSHAAnd40BitRC4]: 'pbeWithSHAAnd40BitRC4',
  [P12_OID.pbeWithSHAAnd128BitRC2CBC]: 'pbeWithSHAAnd128BitRC2-CBC',
  [P12_OID.pbeWithSHAAnd40BitRC2CBC]: 'pbeWithSHAAnd40BitRC2-CBC',
  [P12_OID.pbmac1]: 'PBMAC1',
  [P12_OID.rc2Cbc]: 'RC2-CBC',
  [P12_OID.envelopedData]: 'envelopedData',
  [OID.signedData]: 'signedData',
  '1.2.840.113549.1.5.3': 'pbeWithMD5AndDES-CBC',
  '1.2.840.113549.1.5.10': 'pbeWithSHA1AndDES-CBC',
  '1.3.14.3.2.7': 'DES-CBC',
  '1.2.840.113549.2.5': 'MD5',
};

/** "name (dotted)" when the OID has a name here, else the dotted form: for error messages. */
export function describeOid(dotted: string): string {
  const name = NAMES[dotted];
  return name === undefined ? dotted : `${name} (${dotted})`;
}
