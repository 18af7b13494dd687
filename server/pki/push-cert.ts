/**
 * The MDM push certificate: what Apple issues an MDM vendor, issued here by the mdmsim CA.
 * Its subject UID is the push Topic (com.apple.mgmt.External.<uuid>) that enrollment profiles
 * name and devices subscribe with; it carries Apple's APNs extensions so APNs client libraries
 * treat it as a real one. Kept in the data dir (push.pem, push-key.pem) so that a user's own
 * MDM server or APNs client can push with it.
 */
import * as crypto from 'node:crypto';
import * as path from 'node:path';
import forge from 'node-forge';
import { OID } from '../../protocol/asn1';
import type { Ca } from './ca';
import { messageOf } from './errors';
import { readIfExists } from '../data-dir';
import { replaceCertificateAndKey } from './pair-files';
import { generateRsaKeyPair, privateKeyMatches, privateKeyToPem } from './keys';

export const PUSH_CERT_FILE = 'push.pem';
export const PUSH_KEY_FILE = 'push-key.pem';
export const TOPIC_PREFIX = 'com.apple.mgmt.External.';

/** Apple issues MDM push certificates for a year. */
const PUSH_VALIDITY_DAYS = 365;
/** Apple's portal starts warning 30 days ahead; renew then, keeping the topic. */
const RENEW_BEFORE_MS = 30 * 24 * 60 * 60 * 1000;

export interface PushCert {
  /** com.apple.mgmt.External.<uuid>: the certificate's subject UID. */
  topic: string;
  certPem: string;
  /** PKCS#8 PEM. */
  keyPem: string;
  certPath: string;
  keyPath: string;
  notAfter: Date;
  reused: boolean;
  /** When not reused, why a new certificate was issued. */
  reason?: string;
}

const TOPIC_PATTERN = /^com\.apple\.mgmt\.External\.[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/**
 * The push certificate in `dataDir`, kept while it is usable, renewed (same topic, so that
 * enrollments keep working) within 30 days of expiry or when the CA changed, and created with
 * a new topic when there is none.
 */
export async function loadOrCreatePushCert(dataDir: string, ca: Ca): Promise<PushCert> {
  const dir = path.resolve(dataDir);
  const certPath = path.join(dir, PUSH_CERT_FILE);
  const keyPath = path.join(dir, PUSH_KEY_FILE);
  const existing = await readExisting(certPath, keyPath);
  if (typeof existing !== 'string') {
    const why = whyNotReusable(existing, ca, certPath, keyPath);
    if (why === undefined) {
      return { topic: existing.topic!, certPem: existing.certPem, keyPem: existing.keyPem, certPath, keyPath, notAfter: new Date(existing.x509.validTo), reused: true };
    }
    return write(dir, certPath, keyPath, await issuePushCert(ca, existing.topic ?? newTopic()), why);
  }
  return write(dir, certPath, keyPath, await issuePushCert(ca, newTopic()), existing);
}

interface Existing {
  x509: crypto.X509Certificate;
  key?: crypto.KeyObject;
  certPem: string;
  keyPem: string;
  /** The topic in the certificate's UID, when it has a well-formed one. */
  topic?: string;
}

async function readExisting(certPath: string, keyPath: string): Promise<Existing | string> {
  const certPem = await readIfExists(certPath);
  if (certPem === undefined) return `${certPath} does not exist`;
  let x509: crypto.X509Certificate;
  try {
    x509 = new crypto.X509Certificate(certPem);
  } catch (err) {
    return `${certPath} is unreadable (${messageOf(err)})`;
  }
  const keyPem = (await readIfExists(keyPath)) ?? '';
  let key: crypto.KeyObject | undefined;
  try {
    key = keyPem ? crypto.createPrivateKey(keyPem) : undefined;
  } catch {
    key = undefined;
  }
  return { x509, key, certPem, keyPem, topic: topicOf(x509) };
}

/** The UID attribute of the subject (X509Certificate prints one attribute per line). */
export function topicOf(x509: crypto.X509Certificate): string | undefined {
  const uid = x509.subject
    .split('\n')
    .find((line) => line.startsWith('UID='))
    ?.slice('UID='.length);
  return uid !== undefined && TOPIC_PATTERN.test(uid) ? uid : undefined;
}

function whyNotReusable(existing: Existing, ca: Ca, certPath: string, keyPath: string): string | undefined {
  const { x509, key } = existing;
  if (!existing.topic) return `${certPath} has no com.apple.mgmt.External.<uuid> topic in its subject UID`;
  if (!key) return `${keyPath} is missing or unreadable`;
  if (!privateKeyMatches(key, x509.publicKey)) return `${keyPath} does not match ${certPath}`;
  const caX509 = new crypto.X509Certificate(ca.certDer);
  if (!x509.checkIssued(caX509) || !x509.verify(caX509.publicKey)) return `${certPath} was not issued by the current CA (${ca.certPath})`;
  // Judged by the host's clock: APNs clients and TLS stacks check it against theirs.
  const now = Date.now();
  if (Date.parse(x509.validFrom) > now) return `${certPath} is not valid until ${new Date(x509.validFrom).toISOString()}`;
  if (Date.parse(x509.validTo) - now <= RENEW_BEFORE_MS) return `${certPath} expires ${new Date(x509.validTo).toISOString()}, within 30 days`;
  return undefined;
}

function newTopic(): string {
  return `${TOPIC_PREFIX}${crypto.randomUUID()}`;
}

async function issuePushCert(ca: Ca, topic: string): Promise<{ topic: string; certPem: string; keyPem: string }> {
  const uuid = topic.slice(TOPIC_PREFIX.length);
  const { privateKey, publicKey } = await generateRsaKeyPair();
  const { certPem } = ca.issue({
    // The subject Apple's push certificates carry: UID=<topic>, CN=APSP:<uuid>, C=US.
    subject: [
      utf8Field({ type: OID.userId, value: topic }),
      utf8Field({ name: 'commonName', value: `APSP:${uuid}` }),
      { name: 'countryName', value: 'US' },
    ],
    publicKey,
    days: PUSH_VALIDITY_DAYS,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, critical: true },
      { name: 'extKeyUsage', clientAuth: true },
      // Apple Push Notification service, development and production: present with a NULL
      // value in every MDM push certificate; APNs client libraries look for them.
      { id: OID.appleApnsDevelopment, critical: false, value: '\x05\x00' },
      { id: OID.appleApnsProduction, critical: false, value: '\x05\x00' },
    ],
  });
  return { topic, certPem, keyPem: privateKeyToPem(privateKey) };
}

async function write(
  dir: string,
  certPath: string,
  keyPath: string,
  fresh: { topic: string; certPem: string; keyPem: string },
  reason: string,
): Promise<PushCert> {
  await replaceCertificateAndKey(dir, { certPath, keyPath }, fresh, 'the push certificate');
  const notAfter = new Date(new crypto.X509Certificate(fresh.certPem).validTo);
  return { ...fresh, certPath, keyPath, notAfter, reused: false, reason };
}

/** Apple writes these attributes as UTF8String; forge's typings only allow a tag class here. */
function utf8Field(field: { type?: string; name?: string; value: string }): forge.pki.CertificateField {
  return { ...field, valueTagClass: forge.asn1.Type.UTF8 } as unknown as forge.pki.CertificateField;
}
