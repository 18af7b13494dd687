import * as crypto from 'node:crypto';
import forge from 'node-forge';
import { der } from '../../protocol/asn1';

// Present at runtime but missing from @types/node-forge.
const getTbsCertificate = (
  forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }
).getTBSCertificate;

const SHA256_WITH_RSA = forge.pki.oids.sha256WithRSAEncryption;

/**
 * Signs a forge certificate with a node:crypto private key (SHA-256 with RSA, PKCS#1 v1.5),
 * leaving it ready for `forge.pki.certificateToPem`. The caller fills in everything else
 * (serial, names, validity, public key, extensions) first; any change after signing requires
 * signing again.
 *
 * forge's own `cert.sign` would do the RSA operation in pure JS, several milliseconds each.
 */
export function signCertificate(cert: forge.pki.Certificate, issuerKey: crypto.KeyObject): void {
  if (issuerKey.type !== 'private' || issuerKey.asymmetricKeyType !== 'rsa') {
    throw new Error(
      `signCertificate needs an RSA private key, got a ${issuerKey.asymmetricKeyType ?? ''} ` +
        `${issuerKey.type} key`,
    );
  }
  // The algorithm is named inside the signed bytes too, so it must be set before serializing.
  cert.signatureOid = SHA256_WITH_RSA;
  cert.siginfo.algorithmOid = SHA256_WITH_RSA;
  // forge serializes a cached tbsCertificate when present (a parsed certificate has one), so
  // replace the cache: what gets written out must be exactly what was signed.
  cert.tbsCertificate = getTbsCertificate(cert);
  const tbsDer = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = crypto.sign('sha256', tbsDer, issuerKey).toString('binary');
}

/**
 * A random positive 16-byte serial number as forge wants it (hex). The first byte is kept in
 * 0x01..0x7f: a set top bit would make the DER INTEGER negative, and a zero byte would make
 * its encoding non-minimal; both are rejected by strict parsers.
 */
export function randomSerialNumber(): string {
  const bytes = crypto.randomBytes(16);
  bytes[0] = (bytes[0] & 0x7f) || 0x01;
  return bytes.toString('hex');
}

/** The DER encoding of a (signed) forge certificate. */
export function certificateToDer(cert: forge.pki.Certificate): Buffer {
  return Buffer.from(forge.asn1.toDer(forge.pki.certificateToAsn1(cert)).getBytes(), 'binary');
}

/**
 * A complete certificate (DER) from a TBSCertificate DER that names SHA-256 with RSA as its
 * signature algorithm: the fast path for certificates whose structure forge cannot finish
 * (EC subject keys).
 */
export function signTbsCertificate(tbsDer: Buffer, issuerKey: crypto.KeyObject): Buffer {
  const signature = crypto.sign('sha256', tbsDer, issuerKey);
  return der.sequence(tbsDer, der.algorithm(SHA256_WITH_RSA, der.NULL), der.bitString(signature));
}
