/**
 * A fleet-sized Mdm-Signature signer and certificate reader. The signature is the same as
 * protocol/cms's createMdmSigner makes (a detached SignedData over the body, DER, no signed
 * attributes, assembled by protocol/cms's signedDataContentInfo); what differs is what a Mac
 * keeps: the key, its certificate and one prefix per signature length, each in a buffer of its
 * own. Small Node buffers are slices of shared 8 KB pool slabs, and a long-lived slice keeps its
 * whole slab alive: 10,000 Macs each holding a few slices would pin tens of megabytes.
 */
import * as crypto from 'node:crypto';
import { readRoot, Reader, contentOf } from '../protocol/asn1/ber';
import { implicitConstructed, sequence, TAG } from '../protocol/asn1/der';
import { signedDataContentInfo } from '../protocol/cms/assemble';
import { certificateFields } from '../protocol/cms/certificate';
import type { MdmSigner } from '../protocol/cms';

/** A copy in a buffer of its own (never a pool slice), so it pins nothing else. */
export function ownBuffer(buf: Buffer): Buffer {
  const out = Buffer.alloc(buf.length);
  buf.copy(out);
  return out;
}

export interface CompactIdentity {
  certDer: Buffer;
  privateKey: crypto.KeyObject;
}

/**
 * An MdmSigner for an enrollment identity (sha256). `identity.certDer` should be the Mac's own
 * copy (ownBuffer): the signer keeps it to build the rare prefix it has not seen yet.
 */
export function createCompactSigner(identity: CompactIdentity): MdmSigner {
  const { certDer, privateKey } = identity;
  const type = privateKey.asymmetricKeyType;
  if (privateKey.type !== 'private' || (type !== 'rsa' && type !== 'ec')) {
    throw new Error(`an MDM identity is an RSA or EC private key; got a ${privateKey.type} ${type ?? ''} key`);
  }
  const keyType = type === 'rsa' ? 'rsa' : 'ecdsa';
  // Signature lengths vary by a byte or two for ECDSA (DER integers); prefixes by length.
  const lengths: number[] = [];
  const prefixes: Buffer[] = [];
  const prefixFor = (length: number): Buffer => {
    const at = lengths.indexOf(length);
    let p = at >= 0 ? prefixes[at] : undefined;
    if (p === undefined) {
      const { issuer, serialDer } = certificateFields(certDer);
      const whole = signedDataContentInfo({
        identity: { keyType, privateKey, sid: sequence(issuer, serialDer), certificates: implicitConstructed(0, certDer) },
        digest: 'sha256',
        signature: Buffer.alloc(length),
      });
      p = ownBuffer(whole.subarray(0, whole.length - length));
      lengths.push(length);
      prefixes.push(p);
    }
    return p;
  };
  const signDer = (body: Buffer): Buffer => {
    const signature = crypto.sign('sha256', body, privateKey);
    const prefix = prefixFor(signature.length);
    const out = Buffer.allocUnsafe(prefix.length + signature.length);
    prefix.copy(out, 0);
    signature.copy(out, prefix.length);
    return out;
  };
  return { signDer, sign: (body) => signDer(body).toString('base64') };
}

const CN = Buffer.from([0x55, 0x04, 0x03]); // 2.5.4.3

/** The subject's commonName of a certificate (DER), read without a full X.509 parse. */
export function subjectCommonName(certDer: Buffer): string | undefined {
  try {
    const tbs = new Reader(new Reader(readRoot(certDer)).next(TAG.SEQUENCE, 'tbsCertificate'));
    tbs.optional(0xa0);
    tbs.next(TAG.INTEGER, 'serialNumber');
    tbs.next(TAG.SEQUENCE, 'signature');
    tbs.next(TAG.SEQUENCE, 'issuer');
    tbs.next(TAG.SEQUENCE, 'validity');
    const subject = new Reader(tbs.next(TAG.SEQUENCE, 'subject'));
    while (!subject.done) {
      const rdn = new Reader(subject.next(TAG.SET, 'RelativeDistinguishedName'));
      while (!rdn.done) {
        const atv = new Reader(rdn.next(TAG.SEQUENCE, 'AttributeTypeAndValue'));
        const oid = atv.next(TAG.OID, 'type');
        const value = atv.next();
        if (contentOf(oid).equals(CN)) return value.tag === TAG.BMP_STRING ? Buffer.from(contentOf(value)).swap16().toString('utf16le') : contentOf(value).toString('utf8');
      }
    }
  } catch {
    return undefined;
  }
  return undefined;
}
