/**
 * The TLS inspector's own certificate authority, as inspection gear has one: the organisation
 * deploys its root to the Macs, and the inspector mints a leaf for every name a Mac connects to.
 * Certificates are built with node-forge and signed with node:crypto (forge's pure-JS RSA takes
 * milliseconds per signature). Every leaf shares one key pair, as mockttp does: each name still
 * gets its own certificate, and a key shared by an inspector's leaves changes nothing the agent's
 * pin sees (it is not the server's key either way). Leaves are cached per name.
 *
 * Validity is on the wall clock, not the lab's: TLS peers check certificates against real time.
 */
import { createSecureContext, type SecureContext } from 'node:tls';
import { createHash, generateKeyPair, randomBytes, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';

const DAY = 86_400_000;

// Present at runtime but missing from @types/node-forge.
const getTbsCertificate = (forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 }).getTBSCertificate;

function rsaKeyPair(): Promise<{ publicKey: KeyObject; privateKey: KeyObject }> {
  return new Promise((resolve, reject) => generateKeyPair('rsa', { modulusLength: 2048 }, (err, publicKey, privateKey) => (err ? reject(err) : resolve({ publicKey, privateKey }))));
}

function serial(): string {
  const b = randomBytes(16);
  b[0] = (b[0]! & 0x7f) || 0x01;
  return b.toString('hex');
}

function forgeKey(key: KeyObject): forge.pki.rsa.PublicKey {
  return forge.pki.publicKeyFromPem(key.export({ type: 'spki', format: 'pem' }) as string) as forge.pki.rsa.PublicKey;
}

/** Signs with SHA-256/RSA through node:crypto and returns the certificate as PEM. */
function signed(cert: forge.pki.Certificate, issuerKey: KeyObject): string {
  cert.signatureOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.siginfo.algorithmOid = forge.pki.oids.sha256WithRSAEncryption!;
  cert.tbsCertificate = getTbsCertificate(cert);
  const tbs = Buffer.from(forge.asn1.toDer(cert.tbsCertificate).getBytes(), 'binary');
  cert.signature = sign('sha256', tbs, issuerKey).toString('binary');
  return forge.pki.certificateToPem(cert);
}

/** Leaves kept (most recently used); a fleet's proxy sees a handful of names, so this is only a bound. */
export const MAX_CACHED_LEAVES = 256;

export class InspectionCa {
  /** Leaf contexts by name, least recently used first. */
  private readonly leaves = new Map<string, SecureContext>();
  private readonly caCert: forge.pki.Certificate;
  /** How many leaves were minted (each name once). */
  minted = 0;

  private constructor(
    readonly certPem: string,
    private readonly caKey: KeyObject,
    private readonly leafPublic: KeyObject,
    private readonly leafKeyPem: string,
  ) {
    this.caCert = forge.pki.certificateFromPem(certPem);
  }

  static async create(name = 'mdmsim TLS Inspection CA'): Promise<InspectionCa> {
    const [ca, leaf] = await Promise.all([rsaKeyPair(), rsaKeyPair()]);
    const cert = forge.pki.createCertificate();
    cert.serialNumber = serial();
    cert.publicKey = forgeKey(ca.publicKey);
    const now = Date.now();
    cert.validity.notBefore = new Date(now - DAY);
    cert.validity.notAfter = new Date(now + 10 * 365 * DAY);
    const subject = [
      { name: 'commonName', value: name },
      { name: 'organizationName', value: 'mdmsim network lab' },
    ];
    cert.setSubject(subject);
    cert.setIssuer(subject);
    cert.setExtensions([
      { name: 'basicConstraints', cA: true, critical: true },
      { name: 'keyUsage', keyCertSign: true, cRLSign: true, critical: true },
      { name: 'subjectKeyIdentifier' },
    ]);
    const pem = signed(cert, ca.privateKey);
    return new InspectionCa(pem, ca.privateKey, leaf.publicKey, leaf.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string);
  }

  get certDer(): Buffer {
    return new X509Certificate(this.certPem).raw;
  }

  /** SHA-256 of the CA certificate (hex), to tell it apart in events. */
  get fingerprint256(): string {
    return createHash('sha256').update(this.certDer).digest('hex');
  }

  /** The inspector's server context for `name` (a DNS name or an IP), minted the first time; at most MAX_CACHED_LEAVES are kept. */
  contextFor(name: string): SecureContext {
    const key = name.toLowerCase();
    let ctx = this.leaves.get(key);
    if (ctx) {
      this.leaves.delete(key);
    } else {
      ctx = createSecureContext({ key: this.leafKeyPem, cert: `${this.leafPem(key)}${this.certPem}` });
      this.minted++;
      if (this.leaves.size >= MAX_CACHED_LEAVES) this.leaves.delete(this.leaves.keys().next().value!);
    }
    this.leaves.set(key, ctx);
    return ctx;
  }

  /** How many leaves are kept now. */
  get cachedLeaves(): number {
    return this.leaves.size;
  }

  private leafPem(name: string): string {
    const cert = forge.pki.createCertificate();
    cert.serialNumber = serial();
    cert.publicKey = forgeKey(this.leafPublic);
    const now = Date.now();
    cert.validity.notBefore = new Date(now - DAY);
    cert.validity.notAfter = new Date(now + 397 * DAY);
    cert.setSubject([{ name: 'commonName', value: name.length <= 64 ? name : name.slice(0, 64) }]);
    cert.setIssuer(this.caCert.subject.attributes);
    const altName = isIP(name) !== 0 ? { type: 7, ip: name } : { type: 2, value: name };
    cert.setExtensions([
      { name: 'basicConstraints', cA: false, critical: true },
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
      { name: 'extKeyUsage', serverAuth: true },
      { name: 'subjectAltName', altNames: [altName] },
      { name: 'subjectKeyIdentifier' },
      { name: 'authorityKeyIdentifier', keyIdentifier: this.caCert.generateSubjectKeyIdentifier().getBytes() },
    ]);
    return signed(cert, this.caKey);
  }
}
