/**
 * Issues enrollment profiles: a fresh device identity per download, wrapped in a PKCS#12 with
 * a random password, placed in the profile, and the whole profile CMS-signed.
 */
import { randomBytes } from 'node:crypto';
import { signAttached } from '../../protocol/cms';
import type { Clock } from '../../protocol/clock';
import { buildPlistBuffer } from '../../protocol/plist';
import { buildPkcs12 } from '../../protocol/pkcs12';
import { issueDeviceIdentity, KeyPool, type Ca, type DeviceIdentity, type IdentityKeyType, type ProfileSigner } from '../pki';
import type { EventLog } from '../service/event-log';
import type { IssuedProfiles } from './issued-profiles';
import { buildEnrollmentProfile } from './profile';

export interface EnrollmentServiceOptions {
  ca: Ca;
  signer: ProfileSigner;
  topic: string;
  clock: Clock;
  events: EventLog;
  /** Key type of identities when the request does not ask for one (default rsa). */
  identityKeyType?: IdentityKeyType;
  /** Opt-in: reuse this many key pairs per key type across identities (see KeyPool). */
  identityKeyPool?: number;
  /** Remembers which profile carried which identity (what a Mac installed). */
  issued?: IssuedProfiles;
}

export interface IssuedProfile {
  /** The signed profile (DER CMS SignedData), as served. */
  der: Buffer;
  identity: DeviceIdentity;
}

export class EnrollmentService {
  readonly defaultKeyType: IdentityKeyType;
  private readonly pools?: Record<IdentityKeyType, KeyPool>;

  constructor(private readonly options: EnrollmentServiceOptions) {
    this.defaultKeyType = options.identityKeyType ?? 'rsa';
    const size = options.identityKeyPool;
    if (size !== undefined) this.pools = { rsa: new KeyPool('rsa', size), ec: new KeyPool('ec', size) };
  }

  get topic(): string {
    return this.options.topic;
  }

  async issueProfile(baseUrl: string, keyType: IdentityKeyType = this.defaultKeyType): Promise<IssuedProfile> {
    const { ca, signer, clock, events } = this.options;
    const now = clock.now();
    const identity = await issueDeviceIdentity(ca, { keyType, now, keyPool: this.pools?.[keyType] });
    // The password travels in the same payload, so it protects nothing; it exists because
    // macOS will not import a PKCS#12 payload without one.
    const password = randomBytes(12).toString('base64url');
    const pkcs12 = buildPkcs12({ certDer: identity.certDer, privateKey: identity.privateKey }, { password, friendlyName: 'MDM device identity' });
    const { profile, mdmPayload, uuids } = buildEnrollmentProfile({ baseUrl, topic: this.options.topic, caCertDer: ca.certDer, pkcs12, password });
    const der = signAttached(buildPlistBuffer(profile), { certDer: signer.certDer, privateKey: signer.privateKey }, { signingTime: new Date(now) });
    events.record({
      type: 'enroll.profile',
      from: 'mdm',
      to: 'device',
      summary: `enrollment profile issued: ${keyType === 'ec' ? 'EC P-256' : 'RSA 2048'} identity ${identity.sha256.slice(0, 12)}…`,
      // Enough to rebuild what the Mac will show for this profile (IssuedProfiles), the secrets aside.
      data: {
        keyType,
        identityCertSha256: identity.sha256,
        identityCommonName: identity.commonName,
        serverURL: mdmPayload.ServerURL,
        checkInURL: mdmPayload.CheckInURL,
        topic: this.options.topic,
        payloadUUIDs: { ...uuids },
      },
    });
    this.options.issued?.remember({
      identityCertSha256: identity.sha256,
      identityCommonName: identity.commonName,
      issuedAt: now,
      serverURL: mdmPayload.ServerURL as string,
      checkInURL: mdmPayload.CheckInURL as string,
      topic: this.options.topic,
      uuids,
    });
    return { der, identity };
  }
}
