import { spawnSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { buildPkcs12, openPkcs12, Pkcs12Error } from '../../../protocol/pkcs12';
import { openssl, tempDirs } from '../../helpers/pki';

// Interoperability with the openssl 3 binary, both ways: what buildPkcs12 writes must open in
// `openssl pkcs12` without -legacy, and what `openssl pkcs12 -export` writes must open here.

const tempDir = tempDirs('mdmsim-pkcs12-openssl-');

interface Identity {
  certPath: string;
  keyPath: string;
  certDer: Buffer;
  privateKey: crypto.KeyObject;
}

type KeyKind = 'ec' | 'rsa';
const NEW_KEY: Record<KeyKind, string[]> = { ec: ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'], rsa: ['-newkey', 'rsa:2048'] };

function identityFrom(certPath: string, keyPath: string): Identity {
  return {
    certPath,
    keyPath,
    certDer: new crypto.X509Certificate(fs.readFileSync(certPath)).raw,
    privateKey: crypto.createPrivateKey(fs.readFileSync(keyPath)),
  };
}

function selfSigned(dir: string, name: string, kind: KeyKind): Identity {
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}-key.pem`);
  openssl('req', '-x509', ...NEW_KEY[kind], '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-keyout', keyPath, '-out', certPath);
  return identityFrom(certPath, keyPath);
}

/** A leaf issued by `ca`, so the chain cert is a real issuer. */
function issuedBy(dir: string, ca: Identity, name: string, kind: KeyKind): Identity {
  const csrPath = path.join(dir, `${name}.csr`);
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}-key.pem`);
  openssl('req', '-new', ...NEW_KEY[kind], '-nodes', '-subj', `/CN=${name}`, '-keyout', keyPath, '-out', csrPath);
  openssl('x509', '-req', '-in', csrPath, '-CA', ca.certPath, '-CAkey', ca.keyPath, '-set_serial', '7', '-days', '1', '-out', certPath);
  return identityFrom(certPath, keyPath);
}

const spki = (key: crypto.KeyObject): Buffer => crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });

/** The PEM blocks of one type in openssl's output, as DER. */
function pemBlocks(text: string, label: string): Buffer[] {
  const re = new RegExp(`-----BEGIN ${label}-----([^-]+)-----END ${label}-----`, 'g');
  return [...text.matchAll(re)].map((m) => Buffer.from(m[1].replace(/\s+/g, ''), 'base64'));
}

let dir: string;
let ca: Identity;
const leaves = {} as Record<KeyKind, Identity>;
beforeAll(() => {
  dir = tempDir();
  ca = selfSigned(dir, 'mdmsim test CA', 'ec');
  leaves.ec = issuedBy(dir, ca, 'device-ec', 'ec');
  leaves.rsa = issuedBy(dir, ca, 'device-rsa', 'rsa');
});

describe('buildPkcs12 → openssl pkcs12 (3.0, no -legacy)', () => {
  it.each(['ec', 'rsa'] as const)('openssl extracts the same %s certificate, chain and key', (kind) => {
    const leaf = leaves[kind];
    const file = path.join(dir, `ours-${kind}.p12`);
    fs.writeFileSync(file, buildPkcs12({ certDer: leaf.certDer, privateKey: leaf.privateKey, chainDer: [ca.certDer] }, { password: 'enroll-pw', friendlyName: 'Device Identity' }));

    const out = openssl('pkcs12', '-in', file, '-passin', 'pass:enroll-pw', '-nodes');
    const certs = pemBlocks(out, 'CERTIFICATE');
    expect(certs).toHaveLength(2);
    expect(certs[0].equals(leaf.certDer)).toBe(true);
    expect(certs[1].equals(ca.certDer)).toBe(true);
    const keys = pemBlocks(out, 'PRIVATE KEY');
    expect(keys).toHaveLength(1);
    const extracted = crypto.createPrivateKey({ key: keys[0], format: 'der', type: 'pkcs8' });
    expect(spki(extracted).equals(spki(leaf.privateKey))).toBe(true);
    expect(out).toContain('friendlyName: Device Identity');
    const localKeyId = crypto.createHash('sha1').update(leaf.certDer).digest('hex').toUpperCase().replace(/(..)(?!$)/g, '$1 ');
    expect(out.split(`localKeyID: ${localKeyId}`).length - 1).toBe(2); // on the leaf and on the key
  });

  it('uses the algorithms macOS imports: 3DES key bag, plain certificates, SHA-1 MAC, 2048 iterations', () => {
    const file = path.join(dir, 'info.p12');
    fs.writeFileSync(file, buildPkcs12({ certDer: leaves.ec.certDer, privateKey: leaves.ec.privateKey }, { password: 'pw' }));
    const text = infoText(file, 'pw');
    expect(text).toContain('MAC: sha1, Iteration 2048');
    expect(text).toContain('Shrouded Keybag: pbeWithSHA1And3-KeyTripleDES-CBC, Iteration 2048');
    expect(text).not.toContain('Encrypted data');
  });

  it('writes a file openssl opens with a non-ASCII password, an empty one, and 1 iteration', () => {
    const cases: Array<[string, number]> = [
      ['pässwörd ✓ 😀', 2048],
      ['', 2048],
      ['one', 1],
    ];
    for (const [password, iterations] of cases) {
      const file = path.join(dir, `pw-${iterations}-${password.length}.p12`);
      fs.writeFileSync(file, buildPkcs12({ certDer: leaves.ec.certDer, privateKey: leaves.ec.privateKey }, { password, iterations }));
      const out = openssl('pkcs12', '-in', file, '-passin', `pass:${password}`, '-nodes');
      expect(pemBlocks(out, 'CERTIFICATE')[0].equals(leaves.ec.certDer)).toBe(true);
      expect(pemBlocks(out, 'PRIVATE KEY')).toHaveLength(1);
    }
  });
});

/** What `openssl pkcs12 -info` found, which it writes to stderr. */
function infoText(file: string, password: string): string {
  const result = spawnSync('/usr/bin/openssl', ['pkcs12', '-in', file, '-passin', `pass:${password}`, '-info', '-noout'], { encoding: 'utf8' });
  return `${result.stdout}${result.stderr}`;
}

describe('openssl pkcs12 -export → openPkcs12', () => {
  const variants: Array<[string, string[], RegExp]> = [
    ['default (PBES2 AES-256-CBC, SHA-256 MAC)', [], /MAC: sha256.*PBES2, PBKDF2, AES-256-CBC/s],
    ['PBE-SHA1-3DES, SHA-1 MAC', ['-keypbe', 'PBE-SHA1-3DES', '-certpbe', 'PBE-SHA1-3DES', '-macalg', 'sha1'], /MAC: sha1.*pbeWithSHA1And3-KeyTripleDES-CBC/s],
    ['PBES2 AES-128-CBC key, AES-192-CBC certificates', ['-keypbe', 'AES-128-CBC', '-certpbe', 'AES-192-CBC'], /AES-192-CBC.*AES-128-CBC/s],
    ['plain certificates, no MAC', ['-certpbe', 'NONE', '-nomac'], /Shrouded Keybag/],
  ];

  it.each(variants)('opens %s, for EC and RSA, with the chain after the leaf', (_name, flags, expectedInfo) => {
    for (const kind of ['ec', 'rsa'] as const) {
      const leaf = leaves[kind];
      const file = path.join(dir, `openssl-${kind}-${flags.join('_')}.p12`);
      openssl('pkcs12', '-export', '-in', leaf.certPath, '-inkey', leaf.keyPath, '-certfile', ca.certPath, '-name', 'From openssl', '-passout', 'pass:s3cret', ...flags, '-out', file);
      expect(infoText(file, 's3cret')).toMatch(expectedInfo);

      const opened = openPkcs12(fs.readFileSync(file), 's3cret');
      expect(opened.certDer.equals(leaf.certDer)).toBe(true);
      expect(spki(opened.privateKey).equals(spki(leaf.privateKey))).toBe(true);
      expect(opened.privateKey.type).toBe('private');
      expect(opened.certificates.map((c) => c.toString('hex'))).toEqual([leaf.certDer.toString('hex'), ca.certDer.toString('hex')]);
      expect(opened.friendlyName).toBe('From openssl');

      const wrong = catchError(() => openPkcs12(fs.readFileSync(file), 's3cret!'));
      // Without a MAC only decryption can tell, and openssl's files then fail on the certificates or the key.
      expect(wrong).toBeInstanceOf(Pkcs12Error);
      expect((wrong as Pkcs12Error).code).toBe('bad-password');
      expect((wrong as Pkcs12Error).message).toMatch(/password does not open/);
    }
  });

  it('opens a file made with an empty password', () => {
    const leaf = leaves.ec;
    const file = path.join(dir, 'empty.p12');
    openssl('pkcs12', '-export', '-in', leaf.certPath, '-inkey', leaf.keyPath, '-passout', 'pass:', '-out', file);
    expect(openPkcs12(fs.readFileSync(file), '').certDer.equals(leaf.certDer)).toBe(true);
  });

  it('reports a file with certificates and no key as no-identity', () => {
    const file = path.join(dir, 'nokey.p12');
    openssl('pkcs12', '-export', '-nokeys', '-in', leaves.ec.certPath, '-passout', 'pass:pw', '-out', file);
    const err = catchError(() => openPkcs12(fs.readFileSync(file), 'pw'));
    expect(err).toBeInstanceOf(Pkcs12Error);
    expect((err as Pkcs12Error).code).toBe('no-identity');
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected a throw');
}
