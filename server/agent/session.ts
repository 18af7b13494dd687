/**
 * Agent session tokens: what a signed agent check-in earns so that the next ones need no
 * Mdm-Signature (protocol/agent.ts has the flow). Stateless: the token carries its claims and
 * an HMAC-SHA256 over them with a random key made when the server starts (so a restart ends
 * every session, and the agent simply signs again). Nothing is stored per token.
 *
 *   v1.<expiry, ms since epoch, base36>.<first 16 hex of the identity's SHA-256>.<udid>.<mac, base64url>
 *
 * The udid sits last but one and may hold dots; the MAC after the last dot covers everything
 * before it. Tokens are issued only for UDIDs made of token68 characters (every real UDID is),
 * so the token is a valid `Authorization: Bearer` credential as it stands.
 *
 * Verification runs on the check-in hot path: a few index scans, one HMAC and a constant-time
 * compare against a scratch buffer; no per-request buffers besides the digest.
 */
import * as crypto from 'node:crypto';
import { problem, type ProblemError } from '../../protocol/problem';

/** Default lifetime of a session token, on the server's clock. */
export const AGENT_SESSION_TTL_MS = 24 * 3_600_000;

/** How many hex digits of the identity certificate's SHA-256 a token names. */
export const SESSION_CERT_PREFIX_LENGTH = 16;

const VERSION = 'v1.';
const MAC_BYTES = 32;
/** base64url of 32 bytes, no padding. */
const MAC_CHARS = 43;
/** 43 base64url characters, the last carrying 4 bits (its 2 low bits 0): one spelling per MAC. Sticky: tested at the MAC's offset. */
const MAC_SPELLING = /[A-Za-z0-9_-]{42}[AEIMQUYcgkosw048]$/y;
/** token68 without `=` (padding only at its end): what a UDID in a token may be made of. */
const UDID_SAFE = /^[A-Za-z0-9\-._~+/]+$/;
const SIGN_HINT = "sign this check-in with the Mac's MDM identity (Mdm-Signature header, as MDM requests are signed) instead: a signed check-in that succeeds answers a new session_token";

/** What a verified token says; the service checks it against the body and the enrollment. */
export interface AgentSessionClaim {
  udid: string;
  /** The first SESSION_CERT_PREFIX_LENGTH hex digits of the identity certificate's SHA-256. */
  certPrefix: string;
  expiresAt: number;
}

export interface AgentSessionsOptions {
  /** Token lifetime (default AGENT_SESSION_TTL_MS). */
  ttlMs?: number;
  /** The HMAC key (default: 32 random bytes). Tests only. */
  secret?: Buffer;
}

export class AgentSessions {
  readonly ttlMs: number;
  private readonly key: crypto.KeyObject;
  private readonly scratch = Buffer.alloc(MAC_BYTES);

  constructor(options: AgentSessionsOptions = {}) {
    this.ttlMs = options.ttlMs ?? AGENT_SESSION_TTL_MS;
    this.key = crypto.createSecretKey(options.secret ?? crypto.randomBytes(32));
  }

  /** A token for `udid` bound to the identity `certSha256` (hex), valid until now + ttl; undefined if the UDID cannot travel in one. */
  issue(udid: string, certSha256: string, now: number): { token: string; expiresAt: number } | undefined {
    if (!UDID_SAFE.test(udid) || certSha256.length < SESSION_CERT_PREFIX_LENGTH) return undefined;
    const expiresAt = now + this.ttlMs;
    const claims = `${VERSION}${expiresAt.toString(36)}.${certSha256.slice(0, SESSION_CERT_PREFIX_LENGTH).toLowerCase()}.${udid}`;
    const mac = crypto.createHmac('sha256', this.key).update(claims).digest('base64url');
    return { token: `${claims}.${mac}`, expiresAt };
  }

  /**
   * Checks an `Authorization` header value (`Bearer <token>`): format, MAC (constant time),
   * then expiry at `now`. Returns the claims or throws a 401 ProblemError that says to sign.
   */
  verify(authorization: string, now: number): AgentSessionClaim {
    const token = bearerToken(authorization);
    const macAt = token === undefined ? -1 : token.lastIndexOf('.') + 1;
    if (token === undefined || macAt === 0 || token.length - macAt !== MAC_CHARS || !token.startsWith(VERSION)) throw badToken('the session token is not one this server issues');
    const expiryEnd = token.indexOf('.', VERSION.length);
    const prefixEnd = expiryEnd + 1 + SESSION_CERT_PREFIX_LENGTH;
    if (expiryEnd < 0 || token.charCodeAt(prefixEnd) !== 0x2e /* . */ || prefixEnd + 1 >= macAt - 1) throw badToken('the session token is not one this server issues');
    MAC_SPELLING.lastIndex = macAt;
    if (!MAC_SPELLING.test(token) || this.scratch.write(token.slice(macAt), 'base64url') !== MAC_BYTES) throw badToken('the session token is not one this server issues');
    const digest = crypto.createHmac('sha256', this.key).update(token.slice(0, macAt - 1)).digest();
    if (!crypto.timingSafeEqual(digest, this.scratch)) {
      throw badToken('the session token was not issued by this server (or not since it started), or was altered');
    }
    const expiresAt = parseInt(token.slice(VERSION.length, expiryEnd), 36);
    if (!(now < expiresAt)) {
      throw problem(401, 'session-expired', `the session token expired at ${Number.isFinite(expiresAt) ? new Date(expiresAt).toISOString() : '?'} (server time ${new Date(now).toISOString()})`, {
        field: 'Authorization',
        hint: SIGN_HINT,
      });
    }
    return { udid: token.slice(prefixEnd + 1, macAt - 1), certPrefix: token.slice(expiryEnd + 1, prefixEnd), expiresAt };
  }
}

/** The token of `Bearer <token>` (scheme case-insensitive), or undefined. */
export function bearerToken(authorization: string): string | undefined {
  if (authorization.length < 8 || authorization.charCodeAt(6) !== 0x20 || authorization.slice(0, 6).toLowerCase() !== 'bearer') return undefined;
  const token = authorization.slice(7).trim();
  return token === '' ? undefined : token;
}

/** True when an Authorization header offers a Bearer credential. */
export function isBearer(authorization: string | undefined): authorization is string {
  return authorization !== undefined && authorization.length > 7 && authorization.charCodeAt(6) === 0x20 && authorization.slice(0, 6).toLowerCase() === 'bearer';
}

/** A 401 refusal of a session token: the agent drops it and signs. */
export function sessionRefusal(code: string, message: string): ProblemError {
  return problem(401, code, message, { field: 'Authorization', hint: SIGN_HINT });
}

function badToken(message: string): ProblemError {
  return sessionRefusal('bad-session-token', message);
}
