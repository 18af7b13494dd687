/**
 * Device identities: the certificate and key an enrollment profile hands a Mac, which then
 * signs every MDM request with it (Mdm-Signature). One is issued per profile download.
 */
import * as crypto from 'node:crypto';
import { promisify } from 'node:util';
import type { Ca } from './ca';

const generateKeyPair = promisify(crypto.generateKeyPair);

/** RSA 2048 is what real MDM servers issue; EC P-256 is ~1000x cheaper to generate, for large fleets. */
export type IdentityKeyType = 'rsa' | 'ec';
export const IDENTITY_KEY_TYPES: readonly IdentityKeyType[] = ['rsa', 'ec'];

/** A year, like the identities commercial MDM servers issue; dated by the lab clock. */
export const IDENTITY_VALIDITY_DAYS = 365;
/** Tolerates a device clock slightly behind the server's. */
const BACKDATE_MS = 5 * 60 * 1000;

export interface DeviceIdentity {
  certDer: Buffer;
  certPem: string;
  privateKey: crypto.KeyObject;
  keyType: IdentityKeyType;
  /** SHA-256 of certDer, lower-case hex: what an enrollment is bound to. */
  sha256: string;
}

export interface IssueIdentityOptions {
  keyType: IdentityKeyType;
  /** Clock time the identity is issued at (ms): validity follows the lab's clock, not the host's. */
  now: number;
  days?: number;
}

export async function issueDeviceIdentity(ca: Ca, options: IssueIdentityOptions): Promise<DeviceIdentity> {
  const { keyType } = options;
  // EC generation takes ~50 µs, less than a trip through the thread pool; RSA takes tens of
  // milliseconds and must not block the event loop.
  const { privateKey, publicKey } =
    keyType === 'ec' ? crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' }) : await generateKeyPair('rsa', { modulusLength: 2048 });
  const { certDer, certPem } = ca.issue({
    subject: [
      { name: 'commonName', value: `mdmsim device identity ${crypto.randomUUID().toUpperCase()}` },
      { name: 'organizationName', value: 'mdmsim' },
    ],
    publicKey,
    notBefore: new Date(options.now - BACKDATE_MS),
    days: options.days ?? IDENTITY_VALIDITY_DAYS,
    extensions: [
      { name: 'basicConstraints', cA: false, critical: true },
      // What a Mac's MDM identity is used for: signing messages and TLS client authentication.
      { name: 'keyUsage', digitalSignature: true, keyEncipherment: keyType === 'rsa', critical: true },
      { name: 'extKeyUsage', clientAuth: true },
    ],
  });
  return { certDer, certPem, privateKey, keyType, sha256: crypto.createHash('sha256').update(certDer).digest('hex') };
}
