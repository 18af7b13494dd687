/**
 * Reading the AuthenticatedSafe: its ContentInfos (plain or password-encrypted), the
 * SafeContents inside them and the key and certificate bags those hold. Bags mdmsim has no
 * use for (CRLs, secrets, other certificate types, unknown bags) are skipped.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { contentOf, encodingOf, octetStringValue, oidString, readRoot, Reader, smallInteger, type Tlv } from '../asn1/ber';
import { TAG } from '../asn1/der';
import { OID } from '../asn1/oids';
import { Pkcs12Error } from './errors';
import { describeOid, P12_OID } from './oids';
import { decrypt, readEncryption, type PasswordForms } from './pbe';

export interface BagAttributes {
  localKeyId?: Buffer;
  friendlyName?: string;
}

export interface KeyEntry extends BagAttributes {
  key: KeyObject;
}

export interface CertEntry extends BagAttributes {
  der: Buffer;
}

export interface Bags {
  keys: KeyEntry[];
  certs: CertEntry[];
}

/** safeContentsBags may nest; real files never go past one level. */
const MAX_NESTING = 4;

/** The bags of an AuthenticatedSafe (the authSafe content octets). */
export function readAuthenticatedSafe(authSafe: Buffer, password: PasswordForms): Bags {
  const bags: Bags = { keys: [], certs: [] };
  const infos = new Reader(tagged(readRoot(authSafe), TAG.SEQUENCE, 'AuthenticatedSafe'));
  while (!infos.done) {
    const { type, content } = readContentInfo(infos.next(TAG.SEQUENCE, 'a ContentInfo'));
    if (type === OID.data) {
      readSafeContents(octetStringValue(content), password, bags);
    } else if (type === OID.encryptedData) {
      readSafeContents(decryptEncryptedData(content, password), password, bags);
    } else {
      throw new Pkcs12Error(`AuthenticatedSafe holds ${describeOid(type)} content, expected data or encryptedData`, 'unsupported');
    }
  }
  return bags;
}

/** ContentInfo { contentType OID, content [0] EXPLICIT }: the type and the content element. */
export function readContentInfo(el: Tlv): { type: string; content: Tlv } {
  const r = new Reader(el);
  const type = oidString(r.next(TAG.OID, 'a content type'));
  const wrapper = r.next(0xa0, 'the [0] content');
  const content = new Reader(wrapper).next(undefined, 'content inside [0]');
  return { type, content };
}

/**
 * EncryptedData { version, EncryptedContentInfo { contentType, contentEncryptionAlgorithm,
 * [0] IMPLICIT encryptedContent } }: the decrypted SafeContents encoding.
 */
function decryptEncryptedData(el: Tlv, password: PasswordForms): Buffer {
  const r = new Reader(tagged(el, TAG.SEQUENCE, 'EncryptedData'));
  smallInteger(r.next(TAG.INTEGER, 'the EncryptedData version'), 'the EncryptedData version');
  const info = new Reader(r.next(TAG.SEQUENCE, 'EncryptedContentInfo'));
  const type = oidString(info.next(TAG.OID, 'the encrypted content type'));
  if (type !== OID.data) throw new Pkcs12Error(`encryptedData holds ${describeOid(type)}, expected data`, 'malformed');
  const algorithm = info.next(TAG.SEQUENCE, 'the content encryption algorithm');
  const ciphertext = info.done ? Buffer.alloc(0) : octetStringValue(info.next(undefined, 'the encrypted content'), 0x80);
  const plain = decrypt(algorithm, ciphertext, password, 'the encrypted certificates');
  // As for keys (see shroudedKey): valid padding around something that is not DER means the
  // wrong password, not a damaged file.
  try {
    readRoot(plain);
  } catch {
    throw new Pkcs12Error('the password does not open this PKCS#12 file: the encrypted certificates do not decrypt to SafeContents', 'bad-password');
  }
  return plain;
}

function readSafeContents(encoding: Buffer, password: PasswordForms, bags: Bags): void {
  readBags(tagged(readRoot(encoding), TAG.SEQUENCE, 'SafeContents'), password, bags, 0);
}

/** SafeBag { bagId OID, bagValue [0] EXPLICIT, bagAttributes SET OF Attribute OPTIONAL }, each. */
function readBags(safeContents: Tlv, password: PasswordForms, bags: Bags, nesting: number): void {
  const list = new Reader(safeContents);
  while (!list.done) {
    const r = new Reader(list.next(TAG.SEQUENCE, 'a SafeBag'));
    const bagId = oidString(r.next(TAG.OID, 'a bag type'));
    const value = new Reader(r.next(0xa0, 'the [0] bag value')).next(undefined, 'a bag value');
    const attributesEl = r.optional(TAG.SET);
    const attributes = attributesEl === undefined ? {} : readAttributes(attributesEl);
    switch (bagId) {
      case OID.keyBag:
        bags.keys.push({ ...attributes, key: plainKey(encodingOf(tagged(value, TAG.SEQUENCE, 'PrivateKeyInfo'))) });
        break;
      case OID.pkcs8ShroudedKeyBag:
        bags.keys.push({ ...attributes, key: shroudedKey(value, password) });
        break;
      case OID.certBag: {
        const der = x509Certificate(value);
        if (der !== undefined) bags.certs.push({ ...attributes, der });
        break;
      }
      case P12_OID.safeContentsBag:
        if (nesting >= MAX_NESTING) throw new Pkcs12Error(`safeContentsBags nested more than ${MAX_NESTING} deep`, 'malformed');
        readBags(tagged(value, TAG.SEQUENCE, 'nested SafeContents'), password, bags, nesting + 1);
        break;
    }
  }
}

/**
 * EncryptedPrivateKeyInfo { encryptionAlgorithm, encryptedData OCTET STRING }, decrypted by
 * node:crypto (OpenSSL), which takes PBE-SHA1-3DES and PBES2 alike — after the algorithm and
 * its iteration count are checked here, so that refusals name the OID and a crafted count
 * cannot stall OpenSSL.
 */
function shroudedKey(el: Tlv, password: PasswordForms): KeyObject {
  const r = new Reader(tagged(el, TAG.SEQUENCE, 'EncryptedPrivateKeyInfo'));
  const algorithm = r.next(TAG.SEQUENCE, 'the key encryption algorithm');
  const ciphertext = octetStringValue(r.next(undefined, 'the encrypted key'));
  readEncryption(algorithm, 'the private key');
  try {
    // OpenSSL derives PKCS#12 PBE keys from the B.1 form of the passphrase; only a file keyed
    // with the zero-length reading of the empty password (see passwordForms) needs ours.
    return password.bmp.length > 0
      ? createPrivateKey({ key: encodingOf(el), format: 'der', type: 'pkcs8', passphrase: password.text })
      : createPrivateKey({ key: decrypt(algorithm, ciphertext, password, 'the private key'), format: 'der', type: 'pkcs8' });
  } catch (e) {
    if (e instanceof Pkcs12Error) throw e;
    // The MAC, when there is one, has verified, so the content is what its writer made: a key
    // that does not decrypt was encrypted under another password (openssl -twopass makes such
    // files). Without a MAC, a wrong password is also the likeliest cause.
    throw new Pkcs12Error('the password does not open this PKCS#12 file: it does not decrypt the private key', 'bad-password');
  }
}

/** An unencrypted PrivateKeyInfo. */
function plainKey(pkcs8: Buffer): KeyObject {
  try {
    return createPrivateKey({ key: pkcs8, format: 'der', type: 'pkcs8' });
  } catch (e) {
    throw new Pkcs12Error(`the private key is not a PKCS#8 key node:crypto can read (${(e as Error).message})`, 'malformed');
  }
}

/** CertBag { certId OID, certValue [0] EXPLICIT OCTET STRING }: the DER of an X.509 certificate, else nothing. */
function x509Certificate(el: Tlv): Buffer | undefined {
  const r = new Reader(tagged(el, TAG.SEQUENCE, 'CertBag'));
  const certId = oidString(r.next(TAG.OID, 'a certificate type'));
  const value = new Reader(r.next(0xa0, 'the [0] certificate value')).next(undefined, 'the certificate');
  if (certId !== OID.x509Certificate) return undefined;
  const der = octetStringValue(value);
  // A certificate is one complete SEQUENCE; anything else is damage, whatever reads it next.
  tagged(readRoot(der), TAG.SEQUENCE, 'an X.509 certificate');
  return der;
}

/** Attribute { attrId OID, attrValues SET OF }: the two PKCS#12 uses; others are skipped. */
function readAttributes(set: Tlv): BagAttributes {
  const out: BagAttributes = {};
  const list = new Reader(set);
  while (!list.done) {
    const r = new Reader(list.next(TAG.SEQUENCE, 'an Attribute'));
    const type = oidString(r.next(TAG.OID, 'an attribute type'));
    const values = new Reader(r.next(TAG.SET, 'attribute values'));
    if (type === OID.localKeyId) {
      out.localKeyId = octetStringValue(values.next(undefined, 'a localKeyId value'));
    } else if (type === OID.friendlyName) {
      const name = values.next(TAG.BMP_STRING, 'a friendlyName BMPString');
      out.friendlyName = bmpText(name);
    }
  }
  return out;
}

function bmpText(el: Tlv): string {
  const bytes = contentOf(el);
  if (bytes.length % 2 !== 0) throw new Pkcs12Error(`friendlyName BMPString has an odd length (${bytes.length} bytes)`, 'malformed');
  return Buffer.from(bytes).swap16().toString('utf16le');
}

/** `el`, which must have identifier `tag`. */
function tagged(el: Tlv, tag: number, what: string): Tlv {
  if (el.tag !== tag) throw new Pkcs12Error(`expected ${what} (identifier 0x${tag.toString(16)}), got identifier 0x${el.tag.toString(16)}`, 'malformed');
  return el;
}
