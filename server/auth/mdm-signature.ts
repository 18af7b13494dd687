/**
 * Mdm-Signature verification: every request an enrolled Mac sends carries a base64 detached
 * CMS SignedData over the raw body, made with the identity from its enrollment profile. This
 * checks the signature, that the signer was issued by the mdmsim CA, and that it is valid at
 * clock time; whether it is the certificate bound to the device is the service's question.
 *
 * It runs on every request, so everything that depends only on the certificate (parsing, the
 * chain check, the public key) is computed once per certificate and cached; a request then
 * costs a base64 decode, a lean BER walk, a hash for the cache key and the verify itself.
 */
import * as crypto from 'node:crypto';
import { CmsError, issuerAndSerialOf, parseSignedData, verifySignature, type ParsedSignedData, type SignerId } from '../../protocol/cms';
import type { Clock } from '../../protocol/clock';
import { problem, type ProblemError } from '../../protocol/problem';

export const MDM_SIGNATURE_HEADER = 'mdm-signature';

/** The certificate that signed a request, as the service needs it for binding. */
export interface VerifiedSigner {
  /** SHA-256 of the certificate DER, lower-case hex: what an enrollment is bound to. */
  sha256: string;
  subject: string;
  serialNumber: string;
}

export interface MdmSignatureVerifierOptions {
  /** The CA whose certificates may sign (the mdmsim CA). */
  caCertDer: Buffer;
  clock: Clock;
  /** Certificates whose parse and chain check are kept (default 100,000: one per device of a big fleet). */
  maxCachedCertificates?: number;
}

interface CertificateFacts {
  signer: VerifiedSigner;
  publicKey: crypto.KeyObject;
  issuer: Buffer;
  serialHex: string;
  subjectKeyIdentifier?: Buffer;
  issuedByCa: boolean;
  notBefore: number;
  notAfter: number;
}

const HINT_ENROLL = 'enroll with the profile from GET /mdm/enroll (it sets SignMessage) and sign each body with its identity';

export class MdmSignatureVerifier {
  private readonly ca: crypto.X509Certificate;
  private readonly clock: Clock;
  private readonly max: number;
  /** Keyed by the certificate's SHA-256; insertion order doubles as eviction order. */
  private readonly cache = new Map<string, CertificateFacts>();

  constructor(options: MdmSignatureVerifierOptions) {
    this.ca = new crypto.X509Certificate(options.caCertDer);
    this.clock = options.clock;
    this.max = options.maxCachedCertificates ?? 100_000;
  }

  /** The signer of `body`, or a 400 ProblemError naming what is wrong. */
  verify(header: string | string[] | undefined, body: Buffer): VerifiedSigner {
    const value = Array.isArray(header) ? header.join(',') : header;
    if (value === undefined || value.trim() === '') {
      throw refusal('missing-signature', 'the request has no Mdm-Signature header', { hint: `${HINT_ENROLL}, or start the server with --auth none to test without signatures` });
    }
    const parsed = parseHeader(value);
    const cert = this.signerCertificate(parsed);
    if (!verifySignature(parsed, body, cert.publicKey)) {
      throw refusal('signature-mismatch', `the Mdm-Signature does not match the body: the body was changed after signing, or it was signed with a key other than the one of the certificate in the signature (${cert.signer.subject})`, {
        hint: 'sign the exact bytes sent (after any serialization), with the private key of the certificate in the signature',
      });
    }
    if (!cert.issuedByCa) {
      throw refusal('unknown-ca', `the signing certificate (${cert.signer.subject}) was not issued by the mdmsim CA`, {
        expected: `a device identity issued by ${this.ca.subject.replace(/\n/g, ', ')}`,
        hint: `${HINT_ENROLL}; a profile from another mdmsim data dir has another CA`,
      });
    }
    const now = this.clock.now();
    if (now < cert.notBefore || now > cert.notAfter) {
      const when = `valid from ${new Date(cert.notBefore).toISOString()} to ${new Date(cert.notAfter).toISOString()}, and the clock says ${new Date(now).toISOString()}`;
      throw refusal(now > cert.notAfter ? 'certificate-expired' : 'certificate-not-yet-valid', `the signing certificate (${cert.signer.subject}) is ${when}`, {
        hint: 'enroll again (GET /mdm/enroll) for an identity valid at the current clock time',
      });
    }
    return cert.signer;
  }

  /** The certificate in the signature that its SignerInfo names, with its cached facts. */
  private signerCertificate(parsed: ParsedSignedData): CertificateFacts {
    let unreadable = 0;
    for (const certDer of parsed.certificates) {
      const facts = this.factsOf(certDer);
      if (!facts) unreadable++;
      else if (matches(parsed.signer.sid, facts)) return facts;
    }
    throw refusal(
      'malformed-signature',
      unreadable > 0
        ? `the Mdm-Signature holds ${unreadable === 1 ? 'an unreadable certificate' : `${unreadable} unreadable certificates`} and none of the others is the one its signer names`
        : 'the Mdm-Signature does not contain the certificate its signer names',
      { expected: 'the signing certificate, a readable X.509 certificate, in the SignedData certificates field' },
    );
  }

  private factsOf(certDer: Buffer): CertificateFacts | undefined {
    // One-shot: about half the cost of createHash().update().digest() on a ~1 KB certificate.
    const sha256 = crypto.hash('sha256', certDer, 'hex');
    const cached = this.cache.get(sha256);
    if (cached) return cached;
    const facts = readCertificate(certDer, sha256, this.ca);
    if (!facts) return undefined;
    if (this.cache.size >= this.max) this.cache.delete(this.cache.keys().next().value!);
    this.cache.set(sha256, facts);
    return facts;
  }
}

function parseHeader(value: string): ParsedSignedData {
  // Node joins repeated headers with ", " and base64 has no comma: which signature counts must
  // not depend on how lenient the base64 decoder is with the join.
  if (value.includes(',')) {
    throw refusal('malformed-signature', 'the request carries more than one Mdm-Signature header', { expected: 'exactly one Mdm-Signature header' });
  }
  // Buffer.from skips characters that are not base64, so the strict check waits for a failure.
  const der = Buffer.from(value, 'base64');
  let parsed: ParsedSignedData;
  try {
    if (der.length === 0) throw new CmsError('empty', 'malformed');
    parsed = parseSignedData(der);
  } catch (error) {
    if (!(error instanceof CmsError)) throw error;
    if (!/^[A-Za-z0-9+/=\s]+$/.test(value)) {
      throw refusal('malformed-signature', 'the Mdm-Signature header is not base64', { expected: 'base64 of a DER (or BER) CMS SignedData' });
    }
    if (error.code === 'unsupported-algorithm') {
      throw refusal('unsupported-signature-algorithm', `the Mdm-Signature uses an algorithm mdmsim does not verify: ${error.message}`, {
        expected: 'RSA (PKCS#1 v1.5) or ECDSA signatures with SHA-1, SHA-256, SHA-384 or SHA-512',
      });
    }
    throw refusal('malformed-signature', `the Mdm-Signature is not a readable CMS SignedData: ${error.message}`, { expected: 'base64 of a CMS SignedData' });
  }
  if (parsed.content !== undefined) {
    throw refusal('malformed-signature', 'the Mdm-Signature carries its content; a detached signature over the request body was expected', {
      expected: 'a detached CMS SignedData (no eContent)',
    });
  }
  return parsed;
}

/** Everything verification needs from a certificate; undefined if it is not a readable X.509 certificate. */
function readCertificate(certDer: Buffer, sha256: string, ca: crypto.X509Certificate): CertificateFacts | undefined {
  // Every accessor may throw on a damaged certificate (the public key is decoded lazily).
  try {
    const x509 = new crypto.X509Certificate(certDer);
    const ids = issuerAndSerialOf(certDer);
    return {
      signer: { sha256, subject: nameOf(x509), serialNumber: x509.serialNumber },
      publicKey: x509.publicKey,
      // Copies: the certificate bytes are a view into one request's header.
      issuer: Buffer.from(ids.issuer),
      serialHex: ids.serialHex,
      subjectKeyIdentifier: ids.subjectKeyIdentifier && Buffer.from(ids.subjectKeyIdentifier),
      issuedByCa: x509.checkIssued(ca) && x509.verify(ca.publicKey),
      notBefore: Date.parse(x509.validFrom),
      notAfter: Date.parse(x509.validTo),
    };
  } catch {
    return undefined;
  }
}

/** The subject on one line; a device identity may have an empty one (real SCEP ones do). */
function nameOf(x509: crypto.X509Certificate): string {
  const subject = (x509.subject ?? '').replace(/\n/g, ', ');
  return subject || `serial ${x509.serialNumber.toLowerCase()}, empty subject`;
}

function matches(sid: SignerId, facts: CertificateFacts): boolean {
  if (sid.issuerAndSerial) return sid.issuerAndSerial.serialHex === facts.serialHex && sid.issuerAndSerial.issuer.equals(facts.issuer);
  return sid.subjectKeyIdentifier !== undefined && facts.subjectKeyIdentifier !== undefined && sid.subjectKeyIdentifier.equals(facts.subjectKeyIdentifier);
}

function refusal(code: string, message: string, extra: { expected?: string; hint?: string } = {}): ProblemError {
  return problem(400, code, message, { field: 'Mdm-Signature', ...extra });
}
