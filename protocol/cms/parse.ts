/**
 * Reads a CMS SignedData (RFC 5652) as devices send it: BER with indefinite lengths, one
 * signer, content detached or attached. Lean on purpose, because a server parses one for
 * every request: certificates, issuer, signature and digest are views into the input, and
 * only signed attributes (which must be re-tagged to be verified) are copied.
 */
import {
  childrenOf,
  encodingOf,
  integerHex,
  isOid,
  octetStringValue,
  oidBytes,
  oidString,
  readTlv,
  Reader,
  TAG,
  toDefinite,
  type Tlv,
} from '../asn1';
import { OID } from '../asn1/oids';
import { readDigestAlgorithm, readSignatureAlgorithm, type DigestName, type KeyType } from './algorithms';
import type { SignerId } from './certificate';
import { CmsError } from './errors';

export interface ParsedSignedData {
  /** eContentType, dotted. */
  contentType: string;
  /** eContent when attached (constructed OCTET STRINGs joined). */
  content?: Buffer;
  /** DER of each certificate, as views into the input. */
  certificates: Buffer[];
  signer: {
    sid: SignerId;
    digest: DigestName;
    /** 'rsa' (PKCS#1 v1.5) or 'ecdsa'. */
    keyType: KeyType;
    /** DER of the signed attributes as a SET (tag 0x31), what the signature covers, when present. */
    signedAttributes?: Buffer;
    /** From the signed attributes. */
    messageDigest?: Buffer;
    signature: Buffer;
  };
}

const SIGNED_DATA = oidBytes(OID.signedData);
const DATA = oidBytes(OID.data);
const CONTENT_TYPE = oidBytes(OID.contentType);
const MESSAGE_DIGEST = oidBytes(OID.messageDigest);

/**
 * Parses a DER or BER ContentInfo holding a SignedData with exactly one SignerInfo. Throws
 * CmsError: 'not-signed-data', 'unsupported-algorithm', or 'malformed' for anything else
 * wrong with the input.
 */
export function parseSignedData(der: Buffer): ParsedSignedData {
  try {
    return readContentInfo(der);
  } catch (err) {
    if (err instanceof CmsError) throw err;
    // Asn1Error and anything else the reader trips over: the input is at fault, not the caller.
    throw new CmsError(`malformed CMS SignedData: ${err instanceof Error ? err.message : String(err)}`, 'malformed');
  }
}

function malformed(message: string, at: number): CmsError {
  return new CmsError(`malformed CMS SignedData: ${message} (at byte ${at})`, 'malformed');
}

/** Refuses fields after the last one a structure defines. */
function expectEnd(reader: Reader, what: string): void {
  if (reader.done) return;
  const extra = reader.next();
  throw malformed(`unexpected element (identifier 0x${extra.tag.toString(16)}) after the last field of ${what}`, extra.start);
}

function readContentInfo(der: Buffer): ParsedSignedData {
  if (!Buffer.isBuffer(der)) throw new CmsError(`expected the DER of a ContentInfo as a Buffer, got ${typeof der}`, 'malformed');
  const root = readTlv(der, 0, der.length);
  // Some encoders pad BER with zero octets after the final end-of-contents; anything else is junk.
  for (let at = root.end; at < der.length; at++) {
    if (der[at] !== 0) throw malformed(`${der.length - root.end} bytes after the end of the ContentInfo`, root.end);
  }
  if (root.tag !== TAG.SEQUENCE) throw malformed(`expected a ContentInfo SEQUENCE, got identifier 0x${root.tag.toString(16)}`, 0);
  const contentInfo = new Reader(root);
  const contentType = contentInfo.next(TAG.OID, 'ContentInfo.contentType');
  if (!isOid(contentType, SIGNED_DATA)) {
    throw new CmsError(`ContentInfo.contentType is ${oidString(contentType)}, expected signedData (${OID.signedData})`, 'not-signed-data');
  }
  const explicit = new Reader(contentInfo.next(0xa0, 'ContentInfo.content [0]'));
  expectEnd(contentInfo, 'ContentInfo');
  const signedData = explicit.next(TAG.SEQUENCE, 'SignedData');
  expectEnd(explicit, 'ContentInfo.content [0]');
  return readSignedData(signedData);
}

function readSignedData(el: Tlv): ParsedSignedData {
  const fields = new Reader(el);
  fields.next(TAG.INTEGER, 'SignedData.version');
  fields.next(TAG.SET, 'SignedData.digestAlgorithms');

  const encap = new Reader(fields.next(TAG.SEQUENCE, 'SignedData.encapContentInfo'));
  const eContentType = encap.next(TAG.OID, 'encapContentInfo.eContentType');
  let content: Buffer | undefined;
  const eContent = encap.optional(0xa0);
  if (eContent !== undefined) {
    const wrapper = new Reader(eContent);
    content = octetStringValue(wrapper.next(undefined, 'encapContentInfo.eContent'));
    expectEnd(wrapper, 'encapContentInfo.eContent [0]');
  }
  expectEnd(encap, 'encapContentInfo');

  const certificatesField = fields.optional(0xa0);
  const certificates = certificatesField === undefined ? [] : certificatesOf(certificatesField);
  fields.optional(0xa1); // crls: revocation is the server's business, not the parser's
  const signerInfos = fields.next(TAG.SET, 'SignedData.signerInfos');
  expectEnd(fields, 'SignedData');

  const infos = new Reader(signerInfos);
  if (infos.done) throw malformed('SignedData.signerInfos is empty; expected exactly one SignerInfo', signerInfos.start);
  const signerInfo = infos.next(TAG.SEQUENCE, 'SignerInfo');
  if (!infos.done) {
    throw malformed(`SignedData has ${childrenOf(signerInfos).length} SignerInfos; expected exactly one (a device signs alone)`, signerInfos.start);
  }
  const parsed: ParsedSignedData = {
    contentType: isOid(eContentType, DATA) ? OID.data : oidString(eContentType),
    certificates,
    signer: readSignerInfo(signerInfo, eContentType),
  };
  if (content !== undefined) parsed.content = content;
  return parsed;
}

/** CertificateSet: X.509 certificates (SEQUENCEs); the other CertificateChoices are skipped. */
function certificatesOf(field: Tlv): Buffer[] {
  const out: Buffer[] = [];
  for (const choice of childrenOf(field)) if (choice.tag === TAG.SEQUENCE) out.push(derOf(choice));
  return out;
}

/** A view when the element is already definite-length; a DER copy only for indefinite BER. */
function derOf(el: Tlv): Buffer {
  return el.indefinite ? toDefinite(el) : encodingOf(el);
}

function readSignerInfo(el: Tlv, eContentType: Tlv): ParsedSignedData['signer'] {
  const fields = new Reader(el);
  fields.next(TAG.INTEGER, 'SignerInfo.version');
  const sid = readSignerId(fields.next(undefined, 'SignerInfo.sid'));
  const digest = readDigestAlgorithm(fields.next(TAG.SEQUENCE, 'SignerInfo.digestAlgorithm'), 'SignerInfo.digestAlgorithm');
  const attributes = fields.optional(0xa0);
  const keyType = readSignatureAlgorithm(fields.next(TAG.SEQUENCE, 'SignerInfo.signatureAlgorithm'), digest, 'SignerInfo.signatureAlgorithm');
  const signature = octetStringValue(fields.next(undefined, 'SignerInfo.signature'));
  fields.optional(0xa1); // unsignedAttrs
  expectEnd(fields, 'SignerInfo');

  const signer: ParsedSignedData['signer'] = { sid, digest, keyType, signature };
  if (attributes !== undefined) {
    signer.messageDigest = readSignedAttributes(attributes, eContentType);
    // The signature covers the attributes as a DER SET, not as the [0] IMPLICIT that carries them.
    signer.signedAttributes = toDefinite(attributes, TAG.SET);
  }
  return signer;
}

/** SignerIdentifier: IssuerAndSerialNumber, or [0] IMPLICIT SubjectKeyIdentifier. */
function readSignerId(el: Tlv): SignerId {
  if (el.tag === TAG.SEQUENCE) {
    const fields = new Reader(el);
    const issuer = fields.next(TAG.SEQUENCE, 'IssuerAndSerialNumber.issuer');
    const serial = fields.next(TAG.INTEGER, 'IssuerAndSerialNumber.serialNumber');
    expectEnd(fields, 'IssuerAndSerialNumber');
    return { issuerAndSerial: { issuer: derOf(issuer), serialHex: integerHex(serial) } };
  }
  if ((el.tag & ~0x20) === 0x80) return { subjectKeyIdentifier: octetStringValue(el, 0x80) };
  throw malformed(`expected SignerInfo.sid as IssuerAndSerialNumber (0x30) or [0] SubjectKeyIdentifier (0x80), got identifier 0x${el.tag.toString(16)}`, el.start);
}

/**
 * Checks the attributes RFC 5652 §5.3 requires when any are signed — content-type (equal to
 * eContentType) and message-digest, each once with one value — and returns the digest.
 */
function readSignedAttributes(el: Tlv, eContentType: Tlv): Buffer {
  let messageDigest: Buffer | undefined;
  let sawContentType = false;
  for (const attribute of childrenOf(el)) {
    if (attribute.tag !== TAG.SEQUENCE) throw malformed(`expected an Attribute SEQUENCE in signedAttrs, got identifier 0x${attribute.tag.toString(16)}`, attribute.start);
    const fields = new Reader(attribute);
    const type = fields.next(TAG.OID, 'Attribute.attrType');
    const values = fields.next(TAG.SET, 'Attribute.attrValues');
    expectEnd(fields, 'Attribute');
    const isContentType = isOid(type, CONTENT_TYPE);
    const isMessageDigest = isOid(type, MESSAGE_DIGEST);
    if (!isContentType && !isMessageDigest) continue;
    const name = isContentType ? 'content-type' : 'message-digest';
    if (isContentType ? sawContentType : messageDigest !== undefined) throw malformed(`signedAttrs has the ${name} attribute twice`, attribute.start);
    const valueList = childrenOf(values);
    if (valueList.length !== 1) throw malformed(`the ${name} attribute has ${valueList.length} values; expected one`, values.start);
    const [value] = valueList;
    if (isContentType) {
      if (value.tag !== TAG.OID || !isOid(value, eContentType.buf.subarray(eContentType.contentStart, eContentType.contentEnd))) {
        throw malformed(`the content-type attribute does not match eContentType ${oidString(eContentType)}`, value.start);
      }
      sawContentType = true;
    } else {
      messageDigest = octetStringValue(value);
    }
  }
  if (!sawContentType) throw malformed('signedAttrs lacks the content-type attribute that RFC 5652 §5.3 requires', el.start);
  if (messageDigest === undefined) throw malformed('signedAttrs lacks the message-digest attribute that RFC 5652 §5.3 requires', el.start);
  return messageDigest;
}
