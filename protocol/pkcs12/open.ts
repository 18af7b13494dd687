/**
 * Opening a PFX the way a Mac installing a com.apple.security.pkcs12 payload does: check the
 * MAC (so a wrong password is told apart from a damaged file), decrypt, and pair the private
 * key with its certificate. Every failure is a Pkcs12Error.
 */
import { createPublicKey, X509Certificate, type KeyObject } from 'node:crypto';
import { Asn1Error } from '../asn1/errors';
import { contentOf, octetStringValue, oidString, readRoot, Reader, type Tlv } from '../asn1/ber';
import { TAG } from '../asn1/der';
import { OID } from '../asn1/oids';
import { Pkcs12Error } from './errors';
import { bmpPassword, KDF_HASHES, type KdfHash } from './kdf';
import { macMatches } from './mac';
import { describeOid, P12_OID } from './oids';
import { iterationCount, type PasswordForms } from './pbe';
import { readAuthenticatedSafe, readContentInfo, type CertEntry, type KeyEntry } from './safe';

export interface OpenedPkcs12 {
  certDer: Buffer;
  privateKey: KeyObject;
  /** every certificate in the file, leaf first when known */
  certificates: Buffer[];
  friendlyName?: string;
}

/** The identity in `pfx`, opened with `password`. */
export function openPkcs12(pfx: Buffer, password: string): OpenedPkcs12 {
  // Wrong argument types are the caller's bug, not a bad file: they stay TypeErrors.
  if (!Buffer.isBuffer(pfx)) throw new TypeError(`openPkcs12: expected the PKCS#12 file as a Buffer, got ${typeof pfx}`);
  if (typeof password !== 'string') throw new TypeError(`openPkcs12: expected the password as a string, got ${typeof password}`);
  try {
    return open(pfx, password);
  } catch (e) {
    if (e instanceof Pkcs12Error) throw e;
    if (e instanceof Asn1Error) throw new Pkcs12Error(`not a valid PKCS#12 file: ${e.message}`, 'malformed');
    // Anything else came from node:crypto or Buffer refusing what the file holds.
    throw new Pkcs12Error(`not a valid PKCS#12 file: ${e instanceof Error ? e.message : String(e)}`, 'malformed');
  }
}

function open(pfx: Buffer, password: string): OpenedPkcs12 {
  // PFX { version INTEGER (3), authSafe ContentInfo, macData MacData OPTIONAL }
  const root = readRoot(pfx);
  if (root.tag !== TAG.SEQUENCE) throw new Pkcs12Error(`not a PKCS#12 file: expected a SEQUENCE, got identifier 0x${root.tag.toString(16)}`, 'malformed');
  const r = new Reader(root);
  const version = contentOf(r.next(TAG.INTEGER, 'the PFX version'));
  if (version.length !== 1 || version[0] !== 3) throw new Pkcs12Error(`expected PFX version 3, got 0x${version.toString('hex')}`, 'malformed');
  const authSafe = authSafeContent(r.next(TAG.SEQUENCE, 'the authSafe ContentInfo'));
  const macData = r.optional(TAG.SEQUENCE);
  if (!r.done) throw new Pkcs12Error('unexpected element after the PFX MacData', 'malformed');

  const forms = passwordForms(password, authSafe, macData);
  const { keys, certs } = readAuthenticatedSafe(authSafe, forms);
  return identity(keys, certs);
}

/** The AuthenticatedSafe encoding: the data content of the authSafe ContentInfo. */
function authSafeContent(el: Tlv): Buffer {
  const { type, content } = readContentInfo(el);
  if (type === OID.data) return octetStringValue(content);
  if (type === OID.signedData) throw new Pkcs12Error('public-key integrity mode (a signedData authSafe) is not supported, only password integrity', 'unsupported');
  throw new Pkcs12Error(`authSafe has content type ${describeOid(type)}, expected data`, 'unsupported');
}

const MAC_HASHES: Record<string, KdfHash> = {
  [OID.sha1]: 'sha1',
  [P12_OID.sha224]: 'sha224',
  [OID.sha256]: 'sha256',
  [OID.sha384]: 'sha384',
  [OID.sha512]: 'sha512',
};

/**
 * The password as the file was protected with it, checked against the MAC when there is one.
 * The empty password has two readings: B.1 makes it two zero bytes, but some writers feed the
 * KDF no bytes at all; whichever the MAC confirms is used for the content too.
 */
function passwordForms(password: string, authSafe: Buffer, macData: Tlv | undefined): PasswordForms {
  const utf8 = Buffer.from(password, 'utf8');
  const candidates = password === '' ? [bmpPassword(''), Buffer.alloc(0)] : [bmpPassword(password)];
  if (macData === undefined) return { text: password, bmp: candidates[0], utf8 };

  // MacData { mac DigestInfo { digestAlgorithm, digest }, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }
  const r = new Reader(macData);
  const digestInfo = new Reader(r.next(TAG.SEQUENCE, 'the MAC DigestInfo'));
  const algorithmId = oidString(new Reader(digestInfo.next(TAG.SEQUENCE, 'the MAC algorithm')).next(TAG.OID, 'the MAC algorithm OID'));
  const mac = contentOf(digestInfo.next(TAG.OCTET_STRING, 'the MAC value'));
  const salt = contentOf(r.next(TAG.OCTET_STRING, 'the MAC salt'));
  const iterationsEl = r.optional(TAG.INTEGER);
  const iterations = iterationsEl === undefined ? 1 : iterationCount(iterationsEl, 'the MAC');

  const hash = MAC_HASHES[algorithmId];
  if (hash === undefined) throw new Pkcs12Error(`the MAC uses ${describeOid(algorithmId)}, which is not supported (supported: SHA-1 and SHA-2)`, 'unsupported');
  if (mac.length !== KDF_HASHES[hash].u) throw new Pkcs12Error(`the ${hash} MAC is ${mac.length} bytes, expected ${KDF_HASHES[hash].u}`, 'malformed');
  const bmp = candidates.find((candidate) => macMatches(hash, candidate, salt, iterations, authSafe, mac));
  if (bmp === undefined) throw new Pkcs12Error(`the password does not open this PKCS#12 file: its ${hash} MAC does not verify`, 'bad-password');
  return { text: password, bmp, utf8 };
}

/** The first key that has a certificate: by localKeyId, else by public key. */
function identity(keys: KeyEntry[], certs: CertEntry[]): OpenedPkcs12 {
  if (keys.length === 0) throw new Pkcs12Error(`no private key in the file (${certs.length} certificate(s))`, 'no-identity');
  for (const key of keys) {
    const leaf = certs.find((cert) => sameKeyId(key, cert)) ?? certWithPublicKey(certs, key.key);
    if (leaf === undefined) continue;
    const opened: OpenedPkcs12 = {
      certDer: leaf.der,
      privateKey: key.key,
      certificates: [leaf.der, ...certs.filter((cert) => cert !== leaf).map((cert) => cert.der)],
    };
    const friendlyName = key.friendlyName ?? leaf.friendlyName;
    if (friendlyName !== undefined) opened.friendlyName = friendlyName;
    return opened;
  }
  throw new Pkcs12Error(`none of the ${certs.length} certificate(s) belongs to the private key`, 'no-identity');
}

function sameKeyId(key: KeyEntry, cert: CertEntry): boolean {
  return key.localKeyId !== undefined && cert.localKeyId !== undefined && key.localKeyId.equals(cert.localKeyId);
}

/** The certificate for `key` when no localKeyId says which: the one with its public key. */
function certWithPublicKey(certs: CertEntry[], key: KeyObject): CertEntry | undefined {
  if (certs.length === 0) return undefined;
  const spki = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return certs.find((cert) => {
    let certKey: KeyObject;
    try {
      certKey = new X509Certificate(cert.der).publicKey;
    } catch (e) {
      throw new Pkcs12Error(`a certificate in the file is not one node:crypto can read (${(e as Error).message})`, 'malformed');
    }
    return certKey.export({ type: 'spki', format: 'der' }).equals(spki);
  });
}
