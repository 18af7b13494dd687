import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';
import * as path from 'node:path';
import forge from 'node-forge';
import { messageOf, PkiError } from './errors';
import {
  createExclusive,
  ensureDir,
  exists,
  inDataDir,
  PRIVATE_FILE_MODE,
  PUBLIC_FILE_MODE,
  readIfExists,
  waitForFile,
} from '../data-dir';
import { forgePublicKey, generateRsaKeyPair, privateKeyMatches, privateKeyToPem } from './keys';
import { randomSerialNumber, signCertificate, signTbsCertificate } from './sign';
import { childrenOf, der, readRoot, spkiDer } from '../../protocol/asn1';
import { derToPem } from './pem';

export const CA_CERT_FILE = 'ca.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CA_COMMON_NAME = 'mdmsim Local CA';
export const CA_ORGANIZATION = 'mdmsim';

const CA_VALIDITY_YEARS = 10;
/**
 * notBefore is set this far in the past so that a machine whose clock is slightly behind the
 * one that issued the certificate (a fleet on another host, a VM) does not reject it as not
 * yet valid.
 */
const BACKDATE_MS = 5 * 60 * 1000;
/**
 * A ca-key.pem younger than this without its ca.pem is probably another process midway through
 * creating the CA (it writes the key first) rather than a broken pair...
 */
const RACE_WINDOW_MS = 10_000;
/** ...so wait this long for its ca.pem before calling the pair broken. */
const RACE_WAIT_MS = 2000;
const DAY_MS = 24 * 60 * 60 * 1000;

/** What a certificate issued by the CA should contain; see Ca.issue. */
export interface IssueOptions {
  /** Subject attributes in forge's form, e.g. `[{ name: 'commonName', value: 'x' }]`. */
  subject: forge.pki.CertificateField[];
  /** The subject's public key, RSA or EC (a private key is accepted and its public half used). */
  publicKey: crypto.KeyObject;
  /**
   * forge extension descriptions (basicConstraints, keyUsage, extKeyUsage, subjectAltName…).
   * subjectKeyIdentifier and authorityKeyIdentifier are always added; don't pass them.
   */
  extensions: object[];
  /** Days from notBefore to notAfter. */
  days: number;
  /** Defaults to a few minutes before now, to tolerate clock skew between machines. */
  notBefore?: Date;
}

/** A certificate issued by the CA. */
export interface IssuedCertificate {
  certPem: string;
  certDer: Buffer;
}

/** mdmsim's local certificate authority, loaded from (or just written to) the data dir. */
export interface Ca {
  /** Absolute path of ca.pem, to tell users and clients which certificate to trust. */
  readonly certPath: string;
  readonly certPem: string;
  readonly cert: forge.pki.Certificate;
  readonly certDer: Buffer;
  readonly key: crypto.KeyObject;
  /** SHA-256 of the certificate's DER, lower-case hex without separators. */
  readonly fingerprint256: string;
  /**
   * Issues and signs a certificate with the CA's key (random serial, SHA-256 with RSA) for an
   * RSA or EC subject key.
   */
  issue(options: IssueOptions): IssuedCertificate;
}

interface CaPaths {
  dir: string;
  cert: string;
  key: string;
}

/**
 * The CA in `dataDir`: created on first run (ca.pem + ca-key.pem, directory made owner-only),
 * loaded on every later run. Throws a PkiError naming the file and the way out when the files
 * are unreadable, do not belong together, or are not a usable CA.
 */
export async function loadOrCreateCa(dataDir: string): Promise<Ca> {
  const paths = caPaths(dataDir);
  await inDataDir(
    paths.dir,
    async () => {
      await ensureDir(paths.dir);
      if (!(await exists(paths.key)) && !(await exists(paths.cert))) await createCaFiles(paths);
    },
    "mdmsim's certificates",
    (message, file) => new PkiError(message, file),
  );
  return loadCa(paths);
}

function caPaths(dataDir: string): CaPaths {
  const dir = path.resolve(dataDir);
  return { dir, cert: path.join(dir, CA_CERT_FILE), key: path.join(dir, CA_KEY_FILE) };
}

/**
 * Writes a new CA unless another process (or a concurrent call) wrote one first, in which case
 * its files are kept and ours dropped. The key goes first so that ca.pem never exists without
 * its key; loadCa waits briefly for a ca.pem that is about to appear.
 */
async function createCaFiles(paths: CaPaths): Promise<void> {
  const { privateKey, publicKey } = await generateRsaKeyPair();
  const certPem = forge.pki.certificateToPem(buildCaCertificate(privateKey, publicKey));
  if (!(await createExclusive(paths.key, privateKeyToPem(privateKey), PRIVATE_FILE_MODE))) return;
  await createExclusive(paths.cert, certPem, PUBLIC_FILE_MODE);
}

function buildCaCertificate(privateKey: crypto.KeyObject, publicKey: crypto.KeyObject): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerialNumber();
  cert.publicKey = forgePublicKey(publicKey);
  cert.validity.notBefore = new Date(Date.now() - BACKDATE_MS);
  cert.validity.notAfter = addYears(cert.validity.notBefore, CA_VALIDITY_YEARS);
  cert.setSubject(caName());
  cert.setIssuer(caName());
  cert.setExtensions([
    { name: 'basicConstraints', cA: true, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  signCertificate(cert, privateKey);
  return cert;
}

function caName(): forge.pki.CertificateField[] {
  return [
    { name: 'commonName', value: CA_COMMON_NAME },
    { name: 'organizationName', value: CA_ORGANIZATION },
  ];
}

async function loadCa(paths: CaPaths): Promise<Ca> {
  const keyPem = await readIfExists(paths.key);
  let certPem = await readIfExists(paths.cert);
  if (keyPem !== undefined && certPem === undefined && (await certIsOnItsWay(paths))) {
    certPem = await readIfExists(paths.cert);
  }
  if (keyPem === undefined) throw halfPairError(paths, paths.cert, paths.key);
  if (certPem === undefined) throw halfPairError(paths, paths.key, paths.cert);

  const key = parseCaKey(paths, keyPem);
  const { cert, x509 } = parseCaCertificate(paths, certPem);
  checkCaPair(paths, x509, key);
  checkIsCa(paths, x509);
  checkCurrentlyValid(paths, cert);
  return makeCa(paths.cert, certPem, cert, x509, key);
}

async function certIsOnItsWay(paths: CaPaths): Promise<boolean> {
  const keyAgeMs = Date.now() - (await fs.stat(paths.key)).mtimeMs;
  return keyAgeMs < RACE_WINDOW_MS && (await waitForFile(paths.cert, RACE_WAIT_MS));
}

function parseCaKey(paths: CaPaths, keyPem: string): crypto.KeyObject {
  try {
    return crypto.createPrivateKey(keyPem);
  } catch (err) {
    throw new PkiError(
      `${paths.key} is not a readable private key (${messageOf(err)}); expected an unencrypted ` +
        `PEM private key ("BEGIN PRIVATE KEY"). ${regenerateAdvice(paths)}`,
      paths.key,
    );
  }
}

interface ParsedCertificate {
  cert: forge.pki.Certificate;
  x509: crypto.X509Certificate;
}

function parseCaCertificate(paths: CaPaths, certPem: string): ParsedCertificate {
  try {
    // forge builds what the CA issues, and it reads RSA certificates only.
    return { cert: forge.pki.certificateFromPem(certPem), x509: new crypto.X509Certificate(certPem) };
  } catch (err) {
    throw new PkiError(
      `${paths.cert} is not a readable certificate (${messageOf(err)}); expected a PEM ` +
        `"BEGIN CERTIFICATE" block holding an RSA CA certificate. ${regenerateAdvice(paths)}`,
      paths.cert,
    );
  }
}

function checkCaPair(paths: CaPaths, x509: crypto.X509Certificate, key: crypto.KeyObject): void {
  if (privateKeyMatches(key, x509.publicKey)) return;
  throw new PkiError(
    `${paths.key} does not match ${paths.cert}: the key is damaged or belongs to another ` +
      `certificate. ${regenerateAdvice(paths)}`,
    paths.key,
  );
}

function checkIsCa(paths: CaPaths, x509: crypto.X509Certificate): void {
  if (x509.ca) return;
  throw new PkiError(
    `${paths.cert} is not a CA certificate (it lacks basicConstraints CA:TRUE), so it cannot ` +
      `issue server and device certificates. ${regenerateAdvice(paths)}`,
    paths.cert,
  );
}

/** By the real clock: TLS clients and devices check the CA against theirs. */
function checkCurrentlyValid(paths: CaPaths, cert: forge.pki.Certificate): void {
  const { notBefore, notAfter } = cert.validity;
  const now = Date.now();
  if (notBefore.getTime() <= now && now <= notAfter.getTime()) return;
  throw new PkiError(
    `${paths.cert} is not valid now: it is valid from ${notBefore.toISOString()} to ` +
      `${notAfter.toISOString()}. ${regenerateAdvice(paths)}`,
    paths.cert,
  );
}

function halfPairError(paths: CaPaths, present: string, missing: string): PkiError {
  return new PkiError(
    `${present} exists but ${missing} does not; the CA needs both. Restore ${missing}, or ` +
      `delete ${present} to have mdmsim create a new CA on the next start. ${consequences()}`,
    missing,
  );
}

function regenerateAdvice(paths: CaPaths): string {
  return `Delete ${paths.cert} and ${paths.key} to have mdmsim create a new CA on the next start. ${consequences()}`;
}

function consequences(): string {
  return 'Devices enrolled under the old CA must then enroll again, and clients must trust the new ca.pem.';
}

function makeCa(
  certPath: string,
  certPem: string,
  cert: forge.pki.Certificate,
  x509: crypto.X509Certificate,
  key: crypto.KeyObject,
): Ca {
  // The file's exact bytes: re-encoding through forge need not reproduce them.
  const certDer = Buffer.from(x509.raw);
  const keyIdentifier = subjectKeyIdentifierOf(cert);
  return {
    certPath,
    certPem,
    cert,
    certDer,
    key,
    fingerprint256: crypto.createHash('sha256').update(certDer).digest('hex'),
    issue: (options) => issueCertificate(cert, key, keyIdentifier, options),
  };
}

function issueCertificate(
  caCert: forge.pki.Certificate,
  caKey: crypto.KeyObject,
  caKeyIdentifier: string,
  options: IssueOptions,
): IssuedCertificate {
  // spkiDer refuses key types other than RSA and EC, naming the type.
  const spki = spkiDer(options.publicKey);
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerialNumber();
  // forge's TBS builder serializes RSA keys only; any RSA key holds its place, and the real
  // SubjectPublicKeyInfo (RSA or EC, from node:crypto) replaces it in the structure below.
  cert.publicKey = placeholderPublicKey();
  cert.validity.notBefore = options.notBefore ?? new Date(Date.now() - BACKDATE_MS);
  cert.validity.notAfter = new Date(cert.validity.notBefore.getTime() + options.days * DAY_MS);
  cert.setSubject(options.subject.map((field) => ({ ...field })));
  // Copied byte-for-byte in form (string types included) so the chain links under any verifier.
  cert.setIssuer(caCert.subject.attributes.map((field) => ({ ...field })));
  cert.setExtensions([
    // Copies: forge caches the encoded value on the object, and callers may share theirs.
    ...options.extensions.map((ext) => ({ ...ext })),
    // Given as a raw value: for a named subjectKeyIdentifier forge would hash the placeholder.
    { id: SUBJECT_KEY_IDENTIFIER, value: der.octetString(keyIdentifierOf(spki)).toString('binary') },
    { name: 'authorityKeyIdentifier', keyIdentifier: caKeyIdentifier },
  ]);
  // Named inside the signed bytes too, so it is set before the TBS is built.
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption;
  const tbs = getTbsCertificate(cert);
  tbs.value[SPKI_INDEX] = forge.asn1.fromDer(spki.toString('binary'));
  const certDer = signTbsCertificate(Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary'), caKey);
  // No X509Certificate round trip: parsing costs ~120 µs, more than the rest of the structure.
  return { certPem: derToPem(certDer, 'CERTIFICATE'), certDer };
}

const SUBJECT_KEY_IDENTIFIER = '2.5.29.14';

/** Position of subjectPublicKeyInfo in a v3 TBSCertificate (after version, serial, signature, issuer, validity, subject). */
const SPKI_INDEX = 6;

// Present at runtime but missing from @types/node-forge.
const getTbsCertificate = (
  forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 & { value: forge.asn1.Asn1[] } }
).getTBSCertificate;

let placeholder: forge.pki.rsa.PublicKey | undefined;
function placeholderPublicKey(): forge.pki.rsa.PublicKey {
  placeholder ??= forge.pki.rsa.setPublicKey(new forge.jsbn.BigInteger('3'), new forge.jsbn.BigInteger('3'));
  return placeholder;
}

/** RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey BIT STRING's value. */
function keyIdentifierOf(spki: Buffer): Buffer {
  const info = readRoot(spki);
  const fields = childrenOf(info);
  const bits = fields[1];
  return crypto.createHash('sha1').update(spki.subarray(bits.contentStart + 1, bits.contentEnd)).digest();
}

/**
 * The CA's key identifier (binary string) for authorityKeyIdentifier: the one it declares, or,
 * for a CA without one, the SHA-1 of its public key as RFC 5280 suggests.
 */
function subjectKeyIdentifierOf(cert: forge.pki.Certificate): string {
  const ext = cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  if (ext?.subjectKeyIdentifier) return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  return forge.pki.getPublicKeyFingerprint(cert.publicKey, { encoding: 'binary' });
}

function addYears(date: Date, years: number): Date {
  const result = new Date(date);
  result.setUTCFullYear(result.getUTCFullYear() + years);
  return result;
}
