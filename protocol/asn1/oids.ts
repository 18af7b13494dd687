/** The object identifiers CMS, PKCS#12 and mdmsim's certificates use, by name. */
export const OID = {
  // CMS (RFC 5652) and PKCS#9 attributes
  data: '1.2.840.113549.1.7.1',
  signedData: '1.2.840.113549.1.7.2',
  contentType: '1.2.840.113549.1.9.3',
  messageDigest: '1.2.840.113549.1.9.4',
  signingTime: '1.2.840.113549.1.9.5',
  friendlyName: '1.2.840.113549.1.9.20',
  localKeyId: '1.2.840.113549.1.9.21',
  x509Certificate: '1.2.840.113549.1.9.22.1',
  // digests
  sha1: '1.3.14.3.2.26',
  sha256: '2.16.840.1.101.3.4.2.1',
  sha384: '2.16.840.1.101.3.4.2.2',
  sha512: '2.16.840.1.101.3.4.2.3',
  // signatures and keys
  rsaEncryption: '1.2.840.113549.1.1.1',
  sha1WithRSAEncryption: '1.2.840.113549.1.1.5',
  sha256WithRSAEncryption: '1.2.840.113549.1.1.11',
  sha384WithRSAEncryption: '1.2.840.113549.1.1.12',
  sha512WithRSAEncryption: '1.2.840.113549.1.1.13',
  ecPublicKey: '1.2.840.10045.2.1',
  ecdsaWithSHA1: '1.2.840.10045.4.1',
  ecdsaWithSHA256: '1.2.840.10045.4.3.2',
  ecdsaWithSHA384: '1.2.840.10045.4.3.3',
  ecdsaWithSHA512: '1.2.840.10045.4.3.4',
  prime256v1: '1.2.840.10045.3.1.7',
  // PKCS#12 (RFC 7292)
  keyBag: '1.2.840.113549.1.12.10.1.1',
  pkcs8ShroudedKeyBag: '1.2.840.113549.1.12.10.1.2',
  certBag: '1.2.840.113549.1.12.10.1.3',
  pbeWithSHAAnd3KeyTripleDESCBC: '1.2.840.113549.1.12.1.3',
  encryptedData: '1.2.840.113549.1.7.6',
  // Apple's APNs certificate extensions (development, production)
  appleApnsDevelopment: '1.2.840.113635.100.6.3.1',
  appleApnsProduction: '1.2.840.113635.100.6.3.2',
  // X.520 / RFC 4519 userId (UID), the push topic in an MDM push certificate
  userId: '0.9.2342.19200300.100.1.1',
  // RSASSA-PSS (RFC 4055), named so CMS can refuse it by name
  rsassaPss: '1.2.840.113549.1.1.10',
  // X.509 extension: the signer identifier CMS may use instead of issuer and serial
  subjectKeyIdentifier: '2.5.29.14',
} as const;
