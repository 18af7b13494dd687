import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { childrenOf, contentOf, readRoot } from '../../../protocol/asn1/ber';
import { octetString, sequence } from '../../../protocol/asn1/der';
import { Pkcs12Error } from '../../../protocol/pkcs12';
import { bmpPassword } from '../../../protocol/pkcs12/kdf';
import { decrypt, encryptSha1TripleDes, type PasswordForms } from '../../../protocol/pkcs12/pbe';
import { openssl, tempDirs } from '../../helpers/pki';

// The content decryption openPkcs12 does itself (encryptedData), checked on ciphertexts that
// openssl made: `openssl pkcs8 -topk8` encrypts a PKCS#8 key with the same algorithm
// identifiers PKCS#12 uses, and `-nocrypt` gives the plaintext to compare with.

const tempDir = tempDirs('mdmsim-pkcs12-pbe-');
const PASSWORD = 'pässwörd ✓';
const forms = (password: string): PasswordForms => ({ text: password, bmp: bmpPassword(password), utf8: Buffer.from(password, 'utf8') });

let dir: string;
let keyPath: string;
let plain: Buffer;
beforeAll(() => {
  dir = tempDir();
  keyPath = path.join(dir, 'key.pem');
  fs.writeFileSync(keyPath, crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ type: 'pkcs8', format: 'pem' }));
  plain = readDer(['-nocrypt']);
});

/** `openssl pkcs8 -topk8 <flags>` output as DER. */
function readDer(flags: string[]): Buffer {
  const out = path.join(dir, `key-${flags.join('_')}.der`);
  openssl('pkcs8', '-topk8', '-in', keyPath, ...flags, '-outform', 'der', '-out', out);
  return fs.readFileSync(out);
}

/** EncryptedPrivateKeyInfo → its AlgorithmIdentifier element and ciphertext. */
function parts(der: Buffer) {
  const [algorithm, ciphertext] = childrenOf(readRoot(der));
  return { algorithm, ciphertext: contentOf(ciphertext) };
}

describe('decrypt', () => {
  it.each([
    ['PBE-SHA1-3DES', ['-v1', 'PBE-SHA1-3DES']],
    ['PBE-SHA1-2DES', ['-v1', 'PBE-SHA1-2DES']],
    ['PBES2 AES-128-CBC, PBKDF2-HMAC-SHA1', ['-v2', 'aes-128-cbc', '-v2prf', 'hmacWithSHA1']],
    ['PBES2 AES-192-CBC, PBKDF2-HMAC-SHA512', ['-v2', 'aes-192-cbc', '-v2prf', 'hmacWithSHA512']],
    ['PBES2 AES-256-CBC, PBKDF2-HMAC-SHA256', ['-v2', 'aes-256-cbc', '-v2prf', 'hmacWithSHA256']],
    ['PBES2 3DES-CBC, PBKDF2-HMAC-SHA1', ['-v2', 'des3']],
  ])('decrypts what openssl encrypted with %s', (_name, flags) => {
    const { algorithm, ciphertext } = parts(readDer([...flags, '-iter', '1000', '-passout', `pass:${PASSWORD}`]));
    expect(decrypt(algorithm, ciphertext, forms(PASSWORD), 'the key').equals(plain)).toBe(true);
    // A wrong key fails the padding check, except by chance (about 1 in 256): then it yields garbage.
    try {
      expect(decrypt(algorithm, ciphertext, forms('wrong'), 'the key').equals(plain)).toBe(false);
    } catch (e) {
      expect(e).toBeInstanceOf(Pkcs12Error);
      expect((e as Pkcs12Error).code).toBe('bad-password');
    }
  });

  it('encryptSha1TripleDes writes what openssl decrypts', () => {
    const pkcs8 = crypto.createPrivateKey(fs.readFileSync(keyPath)).export({ type: 'pkcs8', format: 'der' });
    const { algorithm, ciphertext } = encryptSha1TripleDes(pkcs8, bmpPassword(PASSWORD), crypto.randomBytes(8), 777);
    const file = path.join(dir, 'ours.der');
    fs.writeFileSync(file, sequence(algorithm, octetString(ciphertext)));
    const out = path.join(dir, 'ours-plain.der');
    openssl('pkcs8', '-topk8', '-nocrypt', '-inform', 'der', '-in', file, '-passin', `pass:${PASSWORD}`, '-outform', 'der', '-out', out);
    expect(fs.readFileSync(out).equals(plain)).toBe(true);
  });
});
