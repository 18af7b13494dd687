import * as crypto from 'node:crypto';
import { algorithm, explicit, implicitConstructed, implicitPrimitive, integer, NULL, octetString, oid, sequence, setOf, tlv, utf8String } from '../../../protocol/asn1/der';
import { OID } from '../../../protocol/asn1/oids';
import { CmsError, parseSignedData, verifySignature } from '../../../protocol/cms';

// Hand-built SignedData structures, to reach the branches real signers rarely produce.
// Certificates do not matter to the parser, so none are included.

const issuerName = sequence(setOf(sequence(oid('2.5.4.3'), utf8String('test issuer'))));
const defaultSid = sequence(issuerName, integer(Buffer.from('00ff01', 'hex')));

interface Shape {
  contentType?: string;
  digestAlg?: Buffer;
  signatureAlg?: Buffer;
  sid?: Buffer;
  /** The [0] IMPLICIT signedAttrs element, encoded. */
  signedAttrs?: Buffer;
  /** The [0] EXPLICIT eContent element, encoded. */
  eContent?: Buffer;
  eContentType?: string;
  signerInfoCount?: number;
  signature?: Buffer;
}

function signerInfo(shape: Shape): Buffer {
  return sequence(
    integer(1),
    shape.sid ?? defaultSid,
    shape.digestAlg ?? algorithm(OID.sha256),
    ...(shape.signedAttrs ? [shape.signedAttrs] : []),
    shape.signatureAlg ?? algorithm(OID.rsaEncryption, NULL),
    octetString(shape.signature ?? Buffer.alloc(256, 7)),
  );
}

function build(shape: Shape = {}): Buffer {
  const encap = sequence(oid(shape.eContentType ?? OID.data), ...(shape.eContent ? [shape.eContent] : []));
  const infos = Array.from({ length: shape.signerInfoCount ?? 1 }, () => signerInfo(shape));
  const signedData = sequence(integer(1), setOf(algorithm(OID.sha256)), encap, tlv(0x31, ...infos));
  return sequence(oid(shape.contentType ?? OID.signedData), explicit(0, signedData));
}

const attribute = (type: string, ...values: Buffer[]) => sequence(oid(type), setOf(...values));
const digestAttr = (digest: Buffer = Buffer.alloc(32, 1)) => attribute(OID.messageDigest, octetString(digest));
const contentTypeAttr = (type: string = OID.data) => attribute(OID.contentType, oid(type));

/** The same value with indefinite lengths, as BER allows: identifier, 0x80, children, EOC. */
function indefinite(tag: number, ...children: Buffer[]): Buffer {
  return Buffer.concat([Buffer.from([tag, 0x80]), ...children, Buffer.from([0, 0])]);
}

function cmsError(fn: () => unknown): CmsError {
  try {
    fn();
  } catch (err) {
    if (err instanceof CmsError) return err;
    throw new Error(`expected a CmsError, got ${String(err)}`);
  }
  throw new Error('expected a CmsError, nothing was thrown');
}

describe('parseSignedData: algorithms', () => {
  it.each([
    ['rsaEncryption', algorithm(OID.sha256), algorithm(OID.rsaEncryption, NULL), 'sha256', 'rsa'],
    ['sha256WithRSAEncryption', algorithm(OID.sha256), algorithm(OID.sha256WithRSAEncryption, NULL), 'sha256', 'rsa'],
    ['sha1WithRSAEncryption', algorithm(OID.sha1, NULL), algorithm(OID.sha1WithRSAEncryption, NULL), 'sha1', 'rsa'],
    ['sha512WithRSAEncryption', algorithm(OID.sha512), algorithm(OID.sha512WithRSAEncryption), 'sha512', 'rsa'],
    ['ecdsa-with-SHA384', algorithm(OID.sha384), algorithm(OID.ecdsaWithSHA384), 'sha384', 'ecdsa'],
    ['ecdsa-with-SHA1', algorithm(OID.sha1), algorithm(OID.ecdsaWithSHA1), 'sha1', 'ecdsa'],
    ['ecPublicKey', algorithm(OID.sha512), algorithm(OID.ecPublicKey), 'sha512', 'ecdsa'],
  ])('accepts %s', (_name, digestAlg, signatureAlg, digest, keyType) => {
    const { signer } = parseSignedData(build({ digestAlg, signatureAlg }));
    expect(signer.digest).toBe(digest);
    expect(signer.keyType).toBe(keyType);
  });

  it('refuses RSA-PSS, naming it', () => {
    const err = cmsError(() => parseSignedData(build({ signatureAlg: algorithm(OID.rsassaPss, sequence()) })));
    expect(err.code).toBe('unsupported-algorithm');
    expect(err.message).toContain('1.2.840.113549.1.1.10');
    expect(err.message).toContain('SignerInfo.signatureAlgorithm');
  });

  it('refuses unknown digest and signature OIDs, naming them', () => {
    const digestErr = cmsError(() => parseSignedData(build({ digestAlg: algorithm('1.2.840.113549.2.5') })));
    expect(digestErr.code).toBe('unsupported-algorithm');
    expect(digestErr.message).toContain('1.2.840.113549.2.5');
    const sigErr = cmsError(() => parseSignedData(build({ signatureAlg: algorithm('1.3.101.112') })));
    expect(sigErr.code).toBe('unsupported-algorithm');
    expect(sigErr.message).toContain('1.3.101.112');
  });

  it('refuses a signature algorithm that names another hash than the digest algorithm', () => {
    const rsa = cmsError(() => parseSignedData(build({ digestAlg: algorithm(OID.sha1), signatureAlg: algorithm(OID.sha256WithRSAEncryption, NULL) })));
    expect(rsa.code).toBe('unsupported-algorithm');
    expect(rsa.message).toMatch(/sha256WithRSAEncryption.*sha256.*digestAlgorithm is sha1/);
    const ec = cmsError(() => parseSignedData(build({ digestAlg: algorithm(OID.sha256), signatureAlg: algorithm(OID.ecdsaWithSHA1) })));
    expect(ec.code).toBe('unsupported-algorithm');
  });
});

describe('parseSignedData: structure', () => {
  it('refuses a ContentInfo that is not signedData', () => {
    const err = cmsError(() => parseSignedData(build({ contentType: OID.data })));
    expect(err.code).toBe('not-signed-data');
    expect(err.message).toContain(OID.data);
  });

  it('refuses zero or several SignerInfos, saying how many', () => {
    const none = cmsError(() => parseSignedData(build({ signerInfoCount: 0 })));
    expect(none.code).toBe('malformed');
    expect(none.message).toMatch(/signerInfos is empty; expected exactly one SignerInfo/);
    const two = cmsError(() => parseSignedData(build({ signerInfoCount: 2 })));
    expect(two.code).toBe('malformed');
    expect(two.message).toMatch(/2 SignerInfos; expected exactly one/);
  });

  it('reads a subjectKeyIdentifier sid', () => {
    const keyId = crypto.randomBytes(20);
    const { signer } = parseSignedData(build({ sid: implicitPrimitive(0, keyId) }));
    expect(signer.sid.subjectKeyIdentifier).toEqual(keyId);
    expect(signer.sid.issuerAndSerial).toBeUndefined();
  });

  it('reports serial numbers without leading zero octets', () => {
    expect(parseSignedData(build()).signer.sid.issuerAndSerial).toEqual({ issuer: issuerName, serialHex: 'ff01' });
  });

  it('joins attached content split into a constructed OCTET STRING', () => {
    const chunks = [Buffer.from('<?xml '), Buffer.from('version="1.0"?>'), Buffer.from('<plist/>')];
    const eContent = explicit(0, indefinite(0x24, ...chunks.map(octetString)));
    expect(parseSignedData(build({ eContent })).content?.toString()).toBe('<?xml version="1.0"?><plist/>');
  });

  it('reads indefinite lengths anywhere, including signed attributes, which it re-encodes as a DER SET', () => {
    const attrs = [contentTypeAttr(), digestAttr()];
    const der = parseSignedData(build({ signedAttrs: implicitConstructed(0, ...attrs) }));
    expect(der.signer.signedAttributes).toEqual(setOf(...attrs));
    const ber = parseSignedData(
      build({ signedAttrs: indefinite(0xa0, indefinite(0x30, oid(OID.contentType), indefinite(0x31, oid(OID.data))), digestAttr()) }),
    );
    expect(ber.signer.signedAttributes).toEqual(tlv(0x31, contentTypeAttr(), digestAttr()));
    expect(ber.signer.messageDigest).toEqual(Buffer.alloc(32, 1));
  });

  it('requires content-type and message-digest when attributes are signed (RFC 5652 5.3)', () => {
    const noDigest = cmsError(() => parseSignedData(build({ signedAttrs: implicitConstructed(0, contentTypeAttr()) })));
    expect(noDigest.code).toBe('malformed');
    expect(noDigest.message).toMatch(/lacks the message-digest attribute/);
    const noType = cmsError(() => parseSignedData(build({ signedAttrs: implicitConstructed(0, digestAttr()) })));
    expect(noType.message).toMatch(/lacks the content-type attribute/);
    const wrongType = cmsError(() => parseSignedData(build({ signedAttrs: implicitConstructed(0, contentTypeAttr(OID.signedData), digestAttr()) })));
    expect(wrongType.message).toMatch(/content-type attribute does not match eContentType 1.2.840.113549.1.7.1/);
    const twoValues = cmsError(() =>
      parseSignedData(build({ signedAttrs: implicitConstructed(0, contentTypeAttr(), attribute(OID.messageDigest, octetString(Buffer.alloc(1)), octetString(Buffer.alloc(2)))) })),
    );
    expect(twoValues.message).toMatch(/message-digest attribute has 2 values; expected one/);
    const twice = cmsError(() => parseSignedData(build({ signedAttrs: implicitConstructed(0, contentTypeAttr(), digestAttr(), digestAttr(Buffer.alloc(32, 2))) })));
    expect(twice.message).toMatch(/message-digest attribute twice/);
  });

  it.each([
    ['empty input', Buffer.alloc(0), /truncated/],
    ['a lone byte', Buffer.from([0x30]), /truncated/],
    ['a truncated structure', build().subarray(0, 100), /truncated/],
    ['an OCTET STRING', octetString(Buffer.alloc(3)), /expected a ContentInfo SEQUENCE/],
    ['a missing signerInfos', sequence(oid(OID.signedData), explicit(0, sequence(integer(1), setOf(), sequence(oid(OID.data))))), /expected SignedData.signerInfos/],
    ['trailing fields', sequence(oid(OID.signedData), explicit(0, sequence(integer(1))), NULL), /after the last field of ContentInfo/],
    ['a bad sid', build({ sid: NULL }), /expected SignerInfo.sid as IssuerAndSerialNumber/],
  ])('refuses %s as malformed, saying what and where', (_name, input, message) => {
    const err = cmsError(() => parseSignedData(input));
    expect(err.code).toBe('malformed');
    expect(err.message).toMatch(message);
    expect(err.message).toMatch(/at byte \d+/);
  });

  it('refuses what is not a Buffer as malformed', () => {
    expect(cmsError(() => parseSignedData('MIAG' as unknown as Buffer)).code).toBe('malformed');
  });
});

describe('verifySignature with signed attributes', () => {
  const keys = crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const content = Buffer.from('attached content');

  function signedWith(digest: Buffer): Buffer {
    const attrs = [contentTypeAttr(), digestAttr(digest)];
    const signature = crypto.sign('sha256', setOf(...attrs), keys.privateKey);
    return build({ signedAttrs: implicitConstructed(0, ...attrs), signatureAlg: algorithm(OID.ecdsaWithSHA256), signature, eContent: explicit(0, octetString(content)) });
  }

  it('checks the message digest before the signature', () => {
    const good = parseSignedData(signedWith(crypto.hash('sha256', content, 'buffer')));
    expect(verifySignature(good, undefined, keys.publicKey)).toBe(true);
    expect(verifySignature(good, Buffer.from('other content'), keys.publicKey)).toBe(false);
    // A valid signature over attributes whose digest is of something else.
    const mismatched = parseSignedData(signedWith(crypto.hash('sha256', 'other', 'buffer')));
    expect(verifySignature(mismatched, undefined, keys.publicKey)).toBe(false);
  });
});
