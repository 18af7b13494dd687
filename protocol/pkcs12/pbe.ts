/**
 * Password-based encryption of bag contents: pbeWithSHAAnd3-KeyTripleDES-CBC for writing (what
 * every macOS version imports), and for reading also its 2-key variant and PBES2 (PBKDF2 +
 * AES-CBC or 3DES-CBC), which openssl 3 writes by default.
 */
import { createCipheriv, createDecipheriv, pbkdf2Sync } from 'node:crypto';
import { contentOf, oidString, Reader, smallInteger, type Tlv } from '../asn1/ber';
import { algorithm, integer, octetString, sequence, TAG } from '../asn1/der';
import { OID } from '../asn1/oids';
import { Pkcs12Error } from './errors';
import { KDF_IV, KDF_KEY, pkcs12Kdf } from './kdf';
import { describeOid, P12_OID } from './oids';

/**
 * Far above any real file (openssl writes 2048, PBKDF2 guidance tops out near 600 000), low
 * enough that a crafted count cannot keep a caller busy for minutes.
 */
export const MAX_ITERATIONS = 1_000_000;

/** The password in the forms files use it. */
export interface PasswordForms {
  /** As the caller gave it: what node:crypto takes as a PKCS#8 passphrase. */
  text: string;
  /** For the PKCS#12 KDF: the B.1 BMPString form (see passwordForms in open.ts for the exception). */
  bmp: Buffer;
  /** For PBKDF2 (PBES2): the UTF-8 bytes, as openssl uses them. */
  utf8: Buffer;
}

/** `plain` encrypted with pbeWithSHAAnd3-KeyTripleDES-CBC: its AlgorithmIdentifier and the ciphertext. */
export function encryptSha1TripleDes(plain: Buffer, bmpPassword: Buffer, salt: Buffer, iterations: number): { algorithm: Buffer; ciphertext: Buffer } {
  const key = pkcs12Kdf('sha1', bmpPassword, salt, KDF_KEY, iterations, 24);
  const iv = pkcs12Kdf('sha1', bmpPassword, salt, KDF_IV, iterations, 8);
  const cipher = createCipheriv('des-ede3-cbc', key, iv);
  return {
    algorithm: algorithm(OID.pbeWithSHAAnd3KeyTripleDESCBC, sequence(octetString(salt), integer(iterations))),
    ciphertext: Buffer.concat([cipher.update(plain), cipher.final()]),
  };
}

/** What an encryption AlgorithmIdentifier says: the cipher and how its key and IV come from the password. */
export type Encryption =
  | { scheme: 'pkcs12-pbe'; cipher: string; keyLength: number; salt: Buffer; iterations: number }
  | { scheme: 'pbes2'; cipher: string; keyLength: number; iv: Buffer; salt: Buffer; iterations: number; prf: string };

/**
 * Decrypts `ciphertext` as `algorithmId` (an AlgorithmIdentifier element) says. `what` names the
 * content for messages ("the private key"). Unknown algorithms are 'unsupported'; a failed
 * padding check is 'bad-password'.
 */
export function decrypt(algorithmId: Tlv, ciphertext: Buffer, password: PasswordForms, what: string): Buffer {
  const { cipher, key, iv } = keyAndIv(readEncryption(algorithmId, what), password);
  const blockSize = iv.length;
  if (ciphertext.length === 0 || ciphertext.length % blockSize !== 0) {
    throw new Pkcs12Error(`${what} is ${ciphertext.length} bytes of ciphertext, expected a non-zero multiple of ${blockSize}`, 'malformed');
  }
  const decipher = createDecipheriv(cipher, key, iv);
  const head = decipher.update(ciphertext);
  let tail: Buffer;
  try {
    tail = decipher.final();
  } catch {
    // The padding is the only check CBC has; when it fails, the key (so the password) is wrong.
    throw new Pkcs12Error(`the password does not open this PKCS#12 file: it does not decrypt ${what}`, 'bad-password');
  }
  return tail.length === 0 ? head : Buffer.concat([head, tail]);
}

function keyAndIv(encryption: Encryption, password: PasswordForms): { cipher: string; key: Buffer; iv: Buffer } {
  const { cipher, keyLength, salt, iterations } = encryption;
  if (encryption.scheme === 'pbes2') {
    return { cipher, key: pbkdf2Sync(password.utf8, salt, iterations, keyLength, encryption.prf), iv: encryption.iv };
  }
  return {
    cipher,
    key: pkcs12Kdf('sha1', password.bmp, salt, KDF_KEY, iterations, keyLength),
    iv: pkcs12Kdf('sha1', password.bmp, salt, KDF_IV, iterations, 8),
  };
}

/**
 * The encryption an AlgorithmIdentifier element describes, checked: a supported algorithm
 * (else 'unsupported', naming its OID), sane parameters and an iteration count within
 * MAX_ITERATIONS.
 */
export function readEncryption(algorithmId: Tlv, what: string): Encryption {
  const r = new Reader(algorithmId);
  const id = oidString(r.next(TAG.OID, 'an encryption algorithm OID'));
  switch (id) {
    case OID.pbeWithSHAAnd3KeyTripleDESCBC:
      return pkcs12Pbe(r.next(TAG.SEQUENCE, 'PKCS#12 PBE parameters'), 'des-ede3-cbc', 24, what);
    case P12_OID.pbeWithSHAAnd2KeyTripleDESCBC:
      return pkcs12Pbe(r.next(TAG.SEQUENCE, 'PKCS#12 PBE parameters'), 'des-ede-cbc', 16, what);
    case P12_OID.pbes2:
      return pbes2(r.next(TAG.SEQUENCE, 'PBES2 parameters'), what);
    default:
      throw unsupported(what, id);
  }
}

/** pkcs-12PbeParams: SEQUENCE { salt OCTET STRING, iterations INTEGER }. */
function pkcs12Pbe(params: Tlv, cipher: string, keyLength: number, what: string): Encryption {
  const r = new Reader(params);
  const salt = contentOf(r.next(TAG.OCTET_STRING, 'the PBE salt'));
  const iterations = iterationCount(r.next(TAG.INTEGER, 'the PBE iteration count'), what);
  return { scheme: 'pkcs12-pbe', cipher, keyLength, salt, iterations };
}

const PBES2_CIPHERS: Record<string, { cipher: string; keyLength: number; ivLength: number }> = {
  [P12_OID.aes128Cbc]: { cipher: 'aes-128-cbc', keyLength: 16, ivLength: 16 },
  [P12_OID.aes192Cbc]: { cipher: 'aes-192-cbc', keyLength: 24, ivLength: 16 },
  [P12_OID.aes256Cbc]: { cipher: 'aes-256-cbc', keyLength: 32, ivLength: 16 },
  [P12_OID.desEde3Cbc]: { cipher: 'des-ede3-cbc', keyLength: 24, ivLength: 8 },
};

const PBKDF2_PRFS: Record<string, string> = {
  [P12_OID.hmacWithSHA1]: 'sha1',
  [P12_OID.hmacWithSHA224]: 'sha224',
  [P12_OID.hmacWithSHA256]: 'sha256',
  [P12_OID.hmacWithSHA384]: 'sha384',
  [P12_OID.hmacWithSHA512]: 'sha512',
};

/** PBES2-params: SEQUENCE { keyDerivationFunc AlgorithmIdentifier, encryptionScheme AlgorithmIdentifier }. */
function pbes2(params: Tlv, what: string): Encryption {
  const r = new Reader(params);
  const kdf = new Reader(r.next(TAG.SEQUENCE, 'the PBES2 key derivation function'));
  const scheme = new Reader(r.next(TAG.SEQUENCE, 'the PBES2 encryption scheme'));

  const kdfId = oidString(kdf.next(TAG.OID, 'a key derivation function OID'));
  if (kdfId !== P12_OID.pbkdf2) throw unsupported(what, kdfId, 'key derivation');
  const schemeId = oidString(scheme.next(TAG.OID, 'an encryption scheme OID'));
  const spec = PBES2_CIPHERS[schemeId];
  if (spec === undefined) throw unsupported(what, schemeId);
  const { cipher, keyLength, ivLength } = spec;
  const iv = contentOf(scheme.next(TAG.OCTET_STRING, 'the IV'));
  if (iv.length !== ivLength) throw new Pkcs12Error(`${what}: ${cipher} needs a ${ivLength}-byte IV, got ${iv.length} bytes`, 'malformed');

  // PBKDF2-params: SEQUENCE { salt, iterationCount, keyLength OPTIONAL, prf DEFAULT hmacWithSHA1 }
  const p = new Reader(kdf.next(TAG.SEQUENCE, 'PBKDF2 parameters'));
  const saltEl = p.next(undefined, 'the PBKDF2 salt');
  if (saltEl.tag !== TAG.OCTET_STRING) throw new Pkcs12Error(`${what}: only a specified (OCTET STRING) PBKDF2 salt is supported`, 'unsupported');
  const salt = contentOf(saltEl);
  const iterations = iterationCount(p.next(TAG.INTEGER, 'the PBKDF2 iteration count'), what);
  const keyLengthEl = p.optional(TAG.INTEGER);
  if (keyLengthEl !== undefined) {
    const stated = smallInteger(keyLengthEl, 'the PBKDF2 key length');
    if (stated !== keyLength) throw new Pkcs12Error(`${what}: PBKDF2 key length ${stated} does not fit ${cipher} (${keyLength} bytes)`, 'malformed');
  }
  let prf = 'sha1';
  if (!p.done) {
    const prfId = oidString(new Reader(p.next(TAG.SEQUENCE, 'the PBKDF2 PRF')).next(TAG.OID, 'a PRF OID'));
    const named = PBKDF2_PRFS[prfId];
    if (named === undefined) throw unsupported(what, prfId, 'PBKDF2 PRF');
    prf = named;
  }
  return { scheme: 'pbes2', cipher, keyLength, iv, salt, iterations, prf };
}

/** An iteration count, refused when zero or beyond MAX_ITERATIONS. */
export function iterationCount(el: Tlv, what: string): number {
  const n = smallInteger(el, 'an iteration count');
  if (n === 0) throw new Pkcs12Error(`${what}: iteration count is 0, expected at least 1`, 'malformed');
  if (n > MAX_ITERATIONS) throw new Pkcs12Error(`${what}: iteration count ${n} is above mdmsim's limit of ${MAX_ITERATIONS}`, 'unsupported');
  return n;
}

function unsupported(what: string, dotted: string, kind = 'encryption'): Pkcs12Error {
  return new Pkcs12Error(
    `${what} uses ${kind} algorithm ${describeOid(dotted)}, which is not supported (supported: PBE-SHA1-3DES and PBES2 with PBKDF2 and AES-CBC or 3DES-CBC)`,
    'unsupported',
  );
}
