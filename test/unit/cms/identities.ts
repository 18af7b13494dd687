/**
 * Test identities made by the openssl binary rather than by mdmsim, so that what the CMS
 * code is checked against was not built with its own assumptions: a root CA, an
 * intermediate, and signers with S/MIME-capable key usages.
 */
import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { SignerIdentity } from '../../../protocol/cms';
import { openssl } from '../../helpers/pki';

export type KeyAlg = 'rsa' | 'ec';

export interface TestCert {
  certPath: string;
  keyPath: string;
  certDer: Buffer;
  privateKey: crypto.KeyObject;
  publicKey: crypto.KeyObject;
}

export interface TestIdentity extends TestCert, SignerIdentity {}

const EXTENSIONS = `
[ca]
basicConstraints = critical,CA:TRUE
keyUsage = critical,keyCertSign,cRLSign
subjectKeyIdentifier = hash
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
# openssl smime's default purpose check wants emailProtection once any EKU is present
extendedKeyUsage = emailProtection,codeSigning
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid
`;

let counter = 0;

function generateKey(file: string, alg: KeyAlg): void {
  if (alg === 'rsa') openssl('genpkey', '-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048', '-out', file);
  else openssl('genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', file);
}

/**
 * A certificate issued by `issuer` (self-signed when undefined). Serials start with a set
 * high bit, so their DER INTEGER carries a leading zero octet that serialHex must drop.
 */
export function makeCert(dir: string, name: string, alg: KeyAlg, profile: 'ca' | 'leaf', issuer?: TestCert): TestCert {
  const base = path.join(dir, `${name.replace(/\W+/g, '-')}-${++counter}`);
  const extFile = path.join(dir, 'extensions.cnf');
  if (!fs.existsSync(extFile)) fs.writeFileSync(extFile, EXTENSIONS);
  const keyPath = `${base}.key`;
  const certPath = `${base}.pem`;
  generateKey(keyPath, alg);
  openssl('req', '-new', '-key', keyPath, '-subj', `/O=mdmsim tests/CN=${name}`, '-out', `${base}.csr`);
  const serial = `0x${(0x80 | crypto.randomBytes(1)[0]).toString(16)}${crypto.randomBytes(15).toString('hex')}`;
  const signing = issuer === undefined ? ['-signkey', keyPath] : ['-CA', issuer.certPath, '-CAkey', issuer.keyPath];
  openssl('x509', '-req', '-in', `${base}.csr`, ...signing, '-set_serial', serial, '-days', '2', '-extfile', extFile, '-extensions', profile, '-out', certPath);
  const privateKey = crypto.createPrivateKey(fs.readFileSync(keyPath));
  return {
    certPath,
    keyPath,
    certDer: new crypto.X509Certificate(fs.readFileSync(certPath)).raw,
    privateKey,
    publicKey: crypto.createPublicKey(privateKey),
  };
}

export interface TestPki {
  root: TestCert;
  intermediate: TestCert;
  /** Issued by the root. */
  rsa: TestIdentity;
  ec: TestIdentity;
  /** Issued by the intermediate, with the intermediate as its chain. */
  chained: TestIdentity;
}

/** A root CA, an intermediate, and RSA, EC and chained signers. */
export function makePki(dir: string): TestPki {
  const root = makeCert(dir, 'mdmsim test root CA', 'rsa', 'ca');
  const intermediate = makeCert(dir, 'mdmsim test intermediate CA', 'ec', 'ca', root);
  const chainedLeaf = makeCert(dir, 'chained signer', 'rsa', 'leaf', intermediate);
  return {
    root,
    intermediate,
    rsa: makeCert(dir, 'rsa signer', 'rsa', 'leaf', root),
    ec: makeCert(dir, 'ec signer', 'ec', 'leaf', root),
    chained: { ...chainedLeaf, chainDer: [intermediate.certDer] },
  };
}
