/**
 * APNs provider tokens: ES256 JWTs, header {alg: "ES256", kid}, claims {iss: teamId, iat}.
 * Both signature encodings are read: JOSE's raw r‖s (64 bytes) and the DER that some
 * clients send.
 */
import { createPrivateKey, sign, verify, type KeyObject } from 'node:crypto';

export interface ProviderTokenHeader {
  alg: string;
  kid: string;
  typ?: string;
}

export interface ProviderTokenClaims {
  iss: string;
  /** Seconds since the epoch. */
  iat: number;
}

export interface DecodedProviderToken {
  header: ProviderTokenHeader;
  claims: ProviderTokenClaims;
  /** `base64url(header).base64url(claims)`: what the signature covers. */
  signingInput: string;
  signature: Buffer;
}

export class ProviderTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProviderTokenError';
  }
}

/** Reads the token's parts; throws ProviderTokenError naming what is wrong. Checks no signature. */
export function decodeProviderToken(token: string): DecodedProviderToken {
  const parts = token.split('.');
  if (parts.length !== 3) throw new ProviderTokenError(`a JWT has three dot-separated parts; this one has ${parts.length}`);
  const header = jsonPart(parts[0]!, 'header') as Partial<ProviderTokenHeader>;
  const claims = jsonPart(parts[1]!, 'claims') as Partial<ProviderTokenClaims>;
  if (header.alg !== 'ES256') throw new ProviderTokenError(`the JWT header's alg must be "ES256"; got ${JSON.stringify(header.alg)}`);
  if (typeof header.kid !== 'string' || header.kid === '') throw new ProviderTokenError('the JWT header has no kid (the 10-character key id)');
  if (typeof claims.iss !== 'string' || claims.iss === '') throw new ProviderTokenError('the JWT claims have no iss (the team id)');
  if (typeof claims.iat !== 'number' || !Number.isFinite(claims.iat)) throw new ProviderTokenError('the JWT claims have no numeric iat (issue time, epoch seconds)');
  const signature = Buffer.from(parts[2]!, 'base64url');
  if (signature.length === 0) throw new ProviderTokenError('the JWT has an empty signature');
  return { header: header as ProviderTokenHeader, claims: claims as ProviderTokenClaims, signingInput: `${parts[0]}.${parts[1]}`, signature };
}

/** ES256 over the signing input, with the signature as raw r‖s (JOSE) or DER. */
export function verifyProviderToken(decoded: DecodedProviderToken, publicKey: KeyObject): boolean {
  const data = Buffer.from(decoded.signingInput);
  const dsaEncoding = decoded.signature.length === 64 ? 'ieee-p1363' : 'der';
  try {
    return verify('sha256', data, { key: publicKey, dsaEncoding }, decoded.signature);
  } catch {
    return false;
  }
}

export interface SignProviderTokenOptions {
  teamId: string;
  keyId: string;
  /** The .p8 key (PKCS#8 PEM) or a KeyObject. */
  privateKey: string | KeyObject;
  /** Seconds since the epoch; default now. */
  iat?: number;
  /** `raw` (JOSE, the default) or `der`, as some clients send. */
  signatureEncoding?: 'raw' | 'der';
}

/** Mints a provider token, as an APNs client library does. */
export function signProviderToken(options: SignProviderTokenOptions): string {
  const key = typeof options.privateKey === 'string' ? createPrivateKey(options.privateKey) : options.privateKey;
  const header = Buffer.from(JSON.stringify({ alg: 'ES256', kid: options.keyId })).toString('base64url');
  const claims = Buffer.from(JSON.stringify({ iss: options.teamId, iat: options.iat ?? Math.floor(Date.now() / 1000) })).toString('base64url');
  const input = `${header}.${claims}`;
  const dsaEncoding = options.signatureEncoding === 'der' ? 'der' : 'ieee-p1363';
  const signature = sign('sha256', Buffer.from(input), { key, dsaEncoding });
  return `${input}.${signature.toString('base64url')}`;
}

function jsonPart(part: string, what: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
  } catch {
    throw new ProviderTokenError(`the JWT ${what} is not base64url-encoded JSON`);
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ProviderTokenError(`the JWT ${what} is not a JSON object`);
  return value as Record<string, unknown>;
}
