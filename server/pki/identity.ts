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
  /** The certificate's subject CN (`mdmsim device identity <UUID>`). */
  commonName: string;
}

export interface IssueIdentityOptions {
  keyType: IdentityKeyType;
  /** Clock time the identity is issued at (ms): validity follows the lab's clock, not the host's. */
  now: number;
  days?: number;
  /** Take the key pair from this pool instead of generating one (see KeyPool). */
  keyPool?: KeyPool;
}

/**
 * Opt-in key reuse, as mockttp offers for its certificates: the first `size` identities get
 * fresh key pairs, later ones reuse them in turn. Every identity still has its own
 * certificate, and enrollments are bound to certificates, so devices stay distinct; but two
 * devices sharing a key could sign for each other, which no real fleet allows. It exists
 * because an RSA 2048 key costs tens of milliseconds to generate.
 */
export class KeyPool {
  private readonly keys: crypto.KeyPairKeyObjectResult[] = [];
  private next = 0;

  constructor(
    readonly keyType: IdentityKeyType,
    readonly size: number,
  ) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`a key pool holds at least one key pair; got ${size}`);
  }

  async take(): Promise<crypto.KeyPairKeyObjectResult> {
    if (this.keys.length < this.size) {
      const pair = await generateIdentityKey(this.keyType);
      // Another take() may have filled the pool while this one waited on the thread pool.
      if (this.keys.length < this.size) this.keys.push(pair);
      return pair;
    }
    const pair = this.keys[this.next];
    this.next = (this.next + 1) % this.size;
    return pair;
  }
}

/**
 * EC generation takes ~50 µs, less than a trip through the thread pool; RSA takes tens of
 * milliseconds and must not block the event loop.
 */
function generateIdentityKey(keyType: IdentityKeyType): Promise<crypto.KeyPairKeyObjectResult> {
  return keyType === 'ec' ? Promise.resolve(crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' })) : generateKeyPair('rsa', { modulusLength: 2048 });
}

export async function issueDeviceIdentity(ca: Ca, options: IssueIdentityOptions): Promise<DeviceIdentity> {
  const { keyType, keyPool } = options;
  if (keyPool && keyPool.keyType !== keyType) throw new Error(`the key pool holds ${keyPool.keyType} keys, not ${keyType}`);
  const { privateKey, publicKey } = keyPool ? await keyPool.take() : await generateIdentityKey(keyType);
  const commonName = `mdmsim device identity ${crypto.randomUUID().toUpperCase()}`;
  const { certDer, certPem } = ca.issue({
    subject: [
      { name: 'commonName', value: commonName },
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
  return { certDer, certPem, privateKey, keyType, sha256: crypto.createHash('sha256').update(certDer).digest('hex'), commonName };
}
