/**
 * What the provider API needs to know about a client certificate: its topic (subject UID) and
 * which APNs environments Apple's extensions allow it. Read once per connection.
 */
import type { X509Certificate } from 'node:crypto';
import { childrenOf, oidString, readRoot } from '../../protocol/asn1';
import { OID } from '../../protocol/asn1/oids';

export type ApnsEnvironment = 'production' | 'development';

export interface ClientCertificate {
  /** Chained to a trusted CA and in its validity period (checked by OpenSSL during the handshake). */
  trusted: boolean;
  /** Why not, in OpenSSL's words. */
  untrustedBecause?: string;
  topic?: string;
  environments: Set<ApnsEnvironment>;
  subject: string;
}

export function readClientCertificate(x509: X509Certificate, authorized: boolean, authorizationError: string | undefined): ClientCertificate {
  const uid = x509.subject
    .split('\n')
    .find((line) => line.startsWith('UID='))
    ?.slice(4);
  return {
    trusted: authorized,
    untrustedBecause: authorized ? undefined : (authorizationError ?? 'not trusted'),
    topic: uid || undefined,
    environments: environmentsOf(x509.raw),
    subject: x509.subject.replace(/\n/g, ', '),
  };
}

/** The APNs environment extensions (1.2.840.113635.100.6.3.1 development, .2 production). */
export function environmentsOf(certDer: Buffer): Set<ApnsEnvironment> {
  const found = new Set<ApnsEnvironment>();
  try {
    const tbs = childrenOf(readRoot(certDer))[0]!;
    const extensions = childrenOf(tbs).find((el) => el.tag === 0xa3);
    if (!extensions) return found;
    for (const ext of childrenOf(childrenOf(extensions)[0]!)) {
      const id = oidString(childrenOf(ext)[0]!);
      if (id === OID.appleApnsDevelopment) found.add('development');
      else if (id === OID.appleApnsProduction) found.add('production');
    }
  } catch {
    // An unreadable certificate has no environments; the check that needs one says so.
  }
  return found;
}
