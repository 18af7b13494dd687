/**
 * The agent's certificate pinning: a connection counts only when the server's certificate carries
 * the key the agent was configured with (AgentConfiguration.ServerPinSHA256), checked on every TLS
 * connection after the usual chain and name checks. A TLS-inspecting proxy presents its own key,
 * so the agent refuses it even when the inspection CA is trusted.
 */
import { checkServerIdentity, type PeerCertificate } from 'node:tls';
import { publicKeyPin } from '../../protocol/agent';
import { NetworkError } from '../state';

/** The TLS-level refusal (what checkServerIdentity returns). */
export class PinMismatch extends Error {
  readonly code = 'ERR_PIN_MISMATCH';
  constructor(
    readonly host: string,
    readonly expected: string,
    readonly presented: string,
    readonly issuer: string,
  ) {
    super(`certificate pin mismatch for ${host}: the server presented key ${presented} (issued by ${issuer}), the agent pins ${expected}`);
    this.name = 'PinMismatch';
  }
}

/** A request the agent refused for its pin: nothing was sent. */
export class PinFailureError extends NetworkError {
  constructor(
    message: string,
    url: string,
    readonly host: string,
    readonly expected: string,
    readonly presented: string,
    readonly issuer: string,
  ) {
    super(message, url, undefined, 'ERR_PIN_MISMATCH');
    this.name = 'PinFailureError';
  }
}

/** checkServerIdentity for a pinned connection: the name first (as always), then the key. */
export function pinnedIdentityCheck(pin: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (host, cert) => {
    const nameError = checkServerIdentity(host, cert);
    if (nameError) return nameError;
    const presented = publicKeyPin(cert.raw);
    if (presented === pin) return undefined;
    const issuer = cert.issuer?.CN ?? cert.issuer?.O ?? 'an unknown issuer';
    return new PinMismatch(host, pin, presented, String(issuer));
  };
}

/** The PinMismatch behind a failed request, if that is why it failed. */
export function pinMismatchIn(error: unknown): PinMismatch | undefined {
  for (let e = error as { cause?: unknown } | undefined, depth = 0; e && depth < 5; e = e.cause as typeof e, depth++) {
    if (e instanceof PinMismatch) return e;
  }
  return undefined;
}
