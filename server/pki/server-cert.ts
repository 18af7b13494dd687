import * as crypto from 'node:crypto';
import * as path from 'node:path';
import forge from 'node-forge';
import type { Ca } from './ca';
import { messageOf } from './errors';
import { readIfExists } from '../data-dir';
import { replaceCertificateAndKey } from './pair-files';
import { type SanEntry, sanEntriesFor, sanKey, sanKeysOf, toForgeAltName } from './hosts';
import { generateRsaKeyPair, privateKeyMatches, privateKeyToPem } from './keys';

export const SERVER_CERT_FILE = 'server.pem';
export const SERVER_KEY_FILE = 'server-key.pem';
/** Always covered, so local clients work whatever --host says. */
export const DEFAULT_SERVER_HOSTS: readonly string[] = ['localhost', '127.0.0.1', '::1'];

/** Apple platforms and browsers reject TLS server certificates valid for more than 398 days. */
const SERVER_VALIDITY_DAYS = 397;
/** Reissue this long before expiry, so a long-running lab never serves an expired certificate. */
const MIN_REMAINING_MS = 7 * 24 * 60 * 60 * 1000;
/** X.509's upper bound for a commonName (RFC 5280, ub-common-name). */
const MAX_COMMON_NAME = 64;

export interface ServerCert {
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  /** True when the files from an earlier run were good enough to keep. */
  reused: boolean;
  /** When not reused, why a new certificate was issued (worth a log line). */
  reason?: string;
}

interface Existing {
  cert: forge.pki.Certificate;
  x509: crypto.X509Certificate;
  key: crypto.KeyObject;
  certPem: string;
  keyPem: string;
}

/**
 * The TLS server certificate and key in `dataDir` (server.pem, server-key.pem), kept from an
 * earlier run when still usable for these hosts, otherwise issued anew by `ca` and written.
 * Covers `hosts` plus localhost, 127.0.0.1 and ::1; the first host is the subject CN.
 * Throws only for a host that is neither a DNS name nor an IP address, or when writing fails.
 */
export async function loadOrCreateServerCert(
  dataDir: string,
  ca: Ca,
  hosts: readonly string[],
): Promise<ServerCert> {
  const sans = sanEntriesFor([...hosts, ...DEFAULT_SERVER_HOSTS]);
  const dir = path.resolve(dataDir);
  const certPath = path.join(dir, SERVER_CERT_FILE);
  const keyPath = path.join(dir, SERVER_KEY_FILE);

  const existing = await readExisting(certPath, keyPath);
  let reason: string;
  let kept: crypto.KeyObject | undefined;
  if (typeof existing === 'string') {
    reason = existing;
  } else {
    const why = whyNotReusable(existing, ca, sans, certPath, keyPath);
    if (why === undefined) return { certPem: existing.certPem, keyPem: existing.keyPem, reused: true };
    kept = keepableKey(existing);
    reason = kept === undefined ? why : `${why}; keeping the key in ${keyPath}`;
  }

  const fresh = await issueServerCert(ca, sans, kept);
  await replaceCertificateAndKey(dir, { certPath, keyPath }, fresh, "mdmsim's certificates");
  return { ...fresh, reused: false, reason };
}

/**
 * The existing key when it is sound and belongs to the certificate being replaced. Installed
 * agents pin this key (protocol/agent.ts publicKeyPin), so a new key would make every one of them
 * refuse the server until the 7-day rule reinstalled it; a new name or a renewal is no reason for that.
 */
function keepableKey(existing: Existing): crypto.KeyObject | undefined {
  const { key, x509 } = existing;
  if (key.asymmetricKeyType !== 'rsa') return undefined;
  return privateKeyMatches(key, x509.publicKey) ? key : undefined;
}

/** The parsed files, or why there is nothing to reuse. */
async function readExisting(certPath: string, keyPath: string): Promise<Existing | string> {
  const certPem = await readIfExists(certPath);
  const keyPem = await readIfExists(keyPath);
  if (certPem === undefined) return `${certPath} does not exist`;
  if (keyPem === undefined) return `${keyPath} does not exist`;
  try {
    const cert = forge.pki.certificateFromPem(certPem);
    const x509 = new crypto.X509Certificate(certPem);
    return { cert, x509, key: crypto.createPrivateKey(keyPem), certPem, keyPem };
  } catch (err) {
    return `${certPath} or ${keyPath} is unreadable (${messageOf(err)})`;
  }
}

/** Why the existing certificate cannot be served for these hosts, or undefined if it can. */
function whyNotReusable(
  existing: Existing,
  ca: Ca,
  sans: readonly SanEntry[],
  certPath: string,
  keyPath: string,
): string | undefined {
  const { cert, x509, key } = existing;
  if (!privateKeyMatches(key, x509.publicKey)) return `${keyPath} does not match ${certPath}`;
  const caX509 = new crypto.X509Certificate(ca.certDer);
  if (!x509.checkIssued(caX509) || !x509.verify(caX509.publicKey)) {
    return `${certPath} was not issued by the current CA (${ca.certPath})`;
  }
  const covered = sanKeysOf(cert);
  const missing = sans.filter((san) => !covered.has(sanKey(san))).map(displayName);
  if (missing.length > 0) return `${certPath} does not cover ${missing.join(', ')}`;
  return whyNotValidLongEnough(cert, certPath);
}

/** Judged by the real clock, which is what TLS clients check, whatever the simulated time. */
function whyNotValidLongEnough(cert: forge.pki.Certificate, certPath: string): string | undefined {
  const { notBefore, notAfter } = cert.validity;
  const now = Date.now();
  if (notBefore.getTime() > now) return `${certPath} is not valid until ${notBefore.toISOString()}`;
  if (notAfter.getTime() - now <= MIN_REMAINING_MS) {
    return `${certPath} expires ${notAfter.toISOString()}, within 7 days`;
  }
  return undefined;
}

async function issueServerCert(
  ca: Ca,
  sans: readonly SanEntry[],
  keptKey: crypto.KeyObject | undefined,
): Promise<{ certPem: string; keyPem: string }> {
  const { privateKey, publicKey } =
    keptKey === undefined ? await generateRsaKeyPair() : { privateKey: keptKey, publicKey: crypto.createPublicKey(keptKey) };
  const { certPem } = ca.issue({
    subject: [
      { name: 'commonName', value: commonNameFor(sans[0]) },
      { name: 'organizationName', value: 'mdmsim' },
    ],
    publicKey,
    days: SERVER_VALIDITY_DAYS,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: sans.map(toForgeAltName) },
    ],
  });
  return { certPem, keyPem: privateKeyToPem(privateKey) };
}

/** Clients match hosts against the SANs only; the CN is for people reading the certificate. */
function commonNameFor(san: SanEntry): string {
  const name = displayName(san);
  return name.length <= MAX_COMMON_NAME ? name : 'mdmsim server';
}

function displayName(san: SanEntry): string {
  return san.kind === 'dns' ? san.name : san.address;
}
