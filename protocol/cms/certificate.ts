/**
 * What identifies an X.509 certificate to CMS: its issuer and serial number, or its subject
 * key identifier. Read straight from the DER (views, no copies), because a server matches
 * these on every request and node's X509Certificate does not expose the raw issuer.
 */
import { Asn1Error, contentOf, encodingOf, integerHex, isOid, oidBytes, readRoot, Reader, TAG, type Tlv } from '../asn1';
import { OID } from '../asn1/oids';
import { CmsError } from './errors';

export interface SignerId {
  issuerAndSerial?: {
    /** DER of the issuer Name. */
    issuer: Buffer;
    /** Lower-case hex, no leading zero octets. */
    serialHex: string;
  };
  subjectKeyIdentifier?: Buffer;
}

export interface CertificateIds {
  /** DER of the issuer Name (a view into the certificate). */
  issuer: Buffer;
  /** Lower-case hex, no leading zero octets. */
  serialHex: string;
  subjectKeyIdentifier?: Buffer;
}

/** CertificateIds plus the serial's own encoding, which a signer copies byte for byte. */
export interface CertificateFields extends CertificateIds {
  serialDer: Buffer;
}

const SKI = oidBytes(OID.subjectKeyIdentifier);

/** Reads the fields of a certificate that CMS refers to; throws CmsError 'malformed'. */
export function certificateFields(certDer: Buffer): CertificateFields {
  try {
    const cert = readRoot(certDer);
    if (cert.tag !== TAG.SEQUENCE) throw new Asn1Error(`expected a Certificate SEQUENCE, got identifier 0x${cert.tag.toString(16)}`, 0);
    const tbs = new Reader(new Reader(cert).next(TAG.SEQUENCE, 'tbsCertificate'));
    tbs.optional(0xa0); // version
    const serial = tbs.next(TAG.INTEGER, 'tbsCertificate.serialNumber');
    tbs.next(TAG.SEQUENCE, 'tbsCertificate.signature');
    const issuer = tbs.next(TAG.SEQUENCE, 'tbsCertificate.issuer');
    tbs.next(TAG.SEQUENCE, 'tbsCertificate.validity');
    tbs.next(TAG.SEQUENCE, 'tbsCertificate.subject');
    tbs.next(TAG.SEQUENCE, 'tbsCertificate.subjectPublicKeyInfo');
    let subjectKeyIdentifier: Buffer | undefined;
    while (!tbs.done) {
      const field = tbs.next();
      if (field.tag === 0xa3) subjectKeyIdentifier = subjectKeyIdentifierOf(field);
    }
    return { issuer: encodingOf(issuer), serialHex: integerHex(serial), serialDer: encodingOf(serial), subjectKeyIdentifier };
  } catch (err) {
    if (err instanceof CmsError) throw err;
    throw new CmsError(`malformed X.509 certificate: ${err instanceof Error ? err.message : String(err)}`, 'malformed');
  }
}

/** The SubjectKeyIdentifier extension's key identifier, from [3] EXPLICIT Extensions. */
function subjectKeyIdentifierOf(extensionsField: Tlv): Buffer | undefined {
  const extensions = new Reader(new Reader(extensionsField).next(TAG.SEQUENCE, 'tbsCertificate.extensions'));
  while (!extensions.done) {
    const extension = new Reader(extensions.next(TAG.SEQUENCE, 'Extension'));
    if (!isOid(extension.next(TAG.OID, 'Extension.extnID'), SKI)) continue;
    extension.optional(TAG.BOOLEAN); // critical
    const value = contentOf(extension.next(TAG.OCTET_STRING, 'Extension.extnValue'));
    const keyId = readRoot(value);
    if (keyId.tag !== TAG.OCTET_STRING) throw new Asn1Error('expected the SubjectKeyIdentifier to be an OCTET STRING', extensionsField.start);
    return contentOf(keyId);
  }
  return undefined;
}

/** The certificate's issuer (DER Name), serial number and subject key identifier. */
export function issuerAndSerialOf(certDer: Buffer): CertificateIds {
  const { issuer, serialHex, subjectKeyIdentifier } = certificateFields(certDer);
  return subjectKeyIdentifier === undefined ? { issuer, serialHex } : { issuer, serialHex, subjectKeyIdentifier };
}

/**
 * Whether a SignerInfo's sid designates the certificate with these ids (from
 * issuerAndSerialOf, which a server can cache per certificate).
 */
export function signerIdMatches(sid: SignerId, ids: CertificateIds): boolean {
  if (sid.issuerAndSerial !== undefined) {
    return sid.issuerAndSerial.serialHex === ids.serialHex && sid.issuerAndSerial.issuer.equals(ids.issuer);
  }
  return sid.subjectKeyIdentifier !== undefined && ids.subjectKeyIdentifier !== undefined && sid.subjectKeyIdentifier.equals(ids.subjectKeyIdentifier);
}

/**
 * The certificate among `parsed.certificates` that the signer names, or undefined. A
 * certificate that cannot be read throws CmsError 'malformed' (parseSignedData does not read
 * inside certificates).
 */
export function findSignerCertificate(parsed: { certificates: readonly Buffer[]; signer: { sid: SignerId } }): Buffer | undefined {
  return parsed.certificates.find((cert) => signerIdMatches(parsed.signer.sid, issuerAndSerialOf(cert)));
}
