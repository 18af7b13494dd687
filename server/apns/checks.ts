/**
 * How the provider API judges a request: one explicit, ordered list of checks, the first
 * failure wins. The order is pushy's MockApnsServer's (see reference/apns.md): apns-id →
 * method → topic → collapse-id → priority → push-type → token format → expired token (410)
 * → token not for topic → authentication → empty payload → size; mdmsim's extra checks
 * (duplicate headers, path, expiration, forced faults, unknown token, JSON) sit where they
 * first can.
 */
import {
  isGoneReason,
  MAX_PAYLOAD_BYTES,
  readApnsId,
  readCollapseId,
  readDeviceToken,
  readExpiration,
  readPriority,
  readPushType,
  readTopic,
  rejection,
  SINGLE_HEADERS,
  tokenOfPath,
  type ApnsRejection,
  type PushType,
} from '../../protocol/apns';
import { decodeProviderToken, ProviderTokenError, verifyProviderToken } from '../../protocol/apns/jwt';
import type { ApnsEnvironment, ClientCertificate } from './certificate';
import type { ApnsFaults } from './faults';
import type { ApnsHub } from './hub';
import type { ProviderKeys } from './keys';

/** A provider token older than this is ExpiredProviderToken. */
export const PROVIDER_TOKEN_LIFETIME_S = 60 * 60;
/** A connection may switch to a new token for the same key at most this often. */
export const PROVIDER_TOKEN_MIN_REFRESH_S = 20 * 60;
/** An iat this far ahead of the mock's clock is not a token minted now. */
const PROVIDER_TOKEN_FUTURE_SKEW_S = 5 * 60;

/** Per connection: its certificate, and the provider tokens it has used. */
export interface ConnectionAuth {
  certificate?: ClientCertificate;
  /** Token strings already verified on this connection (a client sends the same one for ~an hour). */
  verified: Map<string, { kid: string; iat: number }>;
  /** Newest iat seen per key id: how TooManyProviderTokenUpdates is judged. */
  newestIat: Map<string, number>;
}

export function newConnectionAuth(certificate?: ClientCertificate): ConnectionAuth {
  return { certificate, verified: new Map(), newestIat: new Map() };
}

export interface PushRequest {
  method: string;
  path: string;
  /** Lower-case header names, first value of each. */
  header: (name: string) => string | undefined;
  /** How often each header name occurs. */
  counts: ReadonlyMap<string, number>;
  now: number;
  auth: ConnectionAuth;
  // Filled in by the checks as they read the request:
  apnsId?: string;
  topic?: string;
  priority?: number;
  pushType?: PushType;
  expiration?: number;
  collapseId?: string;
  token?: string;
  body?: Buffer;
  /** Parsed body, once the JSON check passed. */
  payload?: unknown;
}

export interface CheckDeps {
  hub: ApnsHub;
  keys: ProviderKeys;
  faults: ApnsFaults;
  environment: ApnsEnvironment;
}

export interface Check {
  name: string;
  /** `headers` checks run as the request opens; `body` checks once the body has arrived. */
  phase: 'headers' | 'body';
  run(req: PushRequest, deps: CheckDeps): ApnsRejection | undefined;
}

export const CHECKS: readonly Check[] = [
  {
    name: 'duplicate headers',
    phase: 'headers',
    run(req) {
      const dup = SINGLE_HEADERS.find((h) => (req.counts.get(h) ?? 0) > 1);
      return dup ? rejection('DuplicateHeaders', `the ${dup} header appears ${req.counts.get(dup)} times`) : undefined;
    },
  },
  {
    name: 'apns-id',
    phase: 'headers',
    run(req) {
      const r = readApnsId(req.header('apns-id'));
      if ('error' in r) return r.error;
      req.apnsId = r.value;
      return undefined;
    },
  },
  {
    name: 'method',
    phase: 'headers',
    run(req) {
      return req.method === 'POST' ? undefined : rejection('MethodNotAllowed', `the provider API takes POST; got ${req.method}`);
    },
  },
  {
    name: 'path',
    phase: 'headers',
    run(req) {
      const token = tokenOfPath(req.path);
      if (token === undefined) return rejection('BadPath', `no such path ${JSON.stringify(req.path.slice(0, 100))}: notifications go to POST /3/device/<device token>`);
      req.token = token;
      return undefined;
    },
  },
  {
    name: 'topic',
    phase: 'headers',
    run(req) {
      const r = readTopic(req.header('apns-topic'));
      if ('error' in r) return r.error;
      // With a certificate the topic defaults to its UID, as Apple does for MDM servers.
      req.topic = r.value ?? req.auth.certificate?.topic;
      if (req.topic !== undefined) return undefined;
      return rejection(
        'MissingTopic',
        req.auth.certificate ? 'the client certificate has no UID topic and the request has no apns-topic' : 'token-authenticated requests must name apns-topic',
      );
    },
  },
  {
    name: 'apns-collapse-id',
    phase: 'headers',
    run(req) {
      const r = readCollapseId(req.header('apns-collapse-id'));
      if ('error' in r) return r.error;
      req.collapseId = r.value;
      return undefined;
    },
  },
  {
    name: 'apns-priority',
    phase: 'headers',
    run(req) {
      const r = readPriority(req.header('apns-priority'));
      if ('error' in r) return r.error;
      req.priority = r.value;
      return undefined;
    },
  },
  {
    name: 'apns-push-type',
    phase: 'headers',
    run(req) {
      const r = readPushType(req.header('apns-push-type'));
      if ('error' in r) return r.error;
      req.pushType = r.value;
      return undefined;
    },
  },
  {
    name: 'apns-expiration',
    phase: 'headers',
    run(req) {
      const r = readExpiration(req.header('apns-expiration'));
      if ('error' in r) return r.error;
      req.expiration = r.value;
      return undefined;
    },
  },
  {
    name: 'device token format',
    phase: 'headers',
    run(req) {
      const r = readDeviceToken(req.token!);
      if ('error' in r) return r.error;
      req.token = r.value;
      return undefined;
    },
  },
  {
    name: 'forced fault',
    phase: 'headers',
    run(req, { faults, hub }) {
      const reason = faults.reasonFor(req.token!);
      if (reason === undefined) return undefined;
      const timestamp = isGoneReason(reason) ? (hub.unregisteredAt(req.token!) ?? req.now) : undefined;
      return rejection(reason, `forced by a fault (PUT /sim/v1/apns/faults); clear it with DELETE /sim/v1/apns/faults`, timestamp);
    },
  },
  {
    name: 'expired token',
    phase: 'headers',
    run(req, { hub }) {
      const at = hub.unregisteredAt(req.token!);
      return at === undefined ? undefined : rejection('Unregistered', `the device unregistered this token at ${new Date(at).toISOString()}`, at);
    },
  },
  {
    name: 'known token',
    phase: 'headers',
    run(req, { hub }) {
      return hub.topicOf(req.token!) !== undefined
        ? undefined
        : rejection('BadDeviceToken', 'no device has this token: tokens exist once a device subscribes them on the courier (or POST /sim/v1/apns/tokens)');
    },
  },
  {
    name: 'token not for topic',
    phase: 'headers',
    run(req, { hub }) {
      const topic = hub.topicOf(req.token!)!;
      return topic === req.topic ? undefined : rejection('DeviceTokenNotForTopic', `this token belongs to topic ${topic}, not ${req.topic}`);
    },
  },
  {
    name: 'authentication',
    phase: 'headers',
    run(req, deps) {
      return req.auth.certificate ? certificateAuth(req, req.auth.certificate, deps.environment) : providerTokenAuth(req, deps);
    },
  },
  {
    name: 'payload empty',
    phase: 'body',
    run(req) {
      return req.body === undefined || req.body.length === 0 ? rejection('PayloadEmpty', 'the request has no body; an MDM push is {"mdm":"<PushMagic>"}') : undefined;
    },
  },
  {
    name: 'payload size',
    phase: 'body',
    run(req) {
      return req.body!.length > MAX_PAYLOAD_BYTES ? rejection('PayloadTooLarge', `the payload is ${req.body!.length} bytes; the limit is ${MAX_PAYLOAD_BYTES}`) : undefined;
    },
  },
  {
    name: 'payload JSON',
    phase: 'body',
    run(req) {
      let value: unknown;
      try {
        value = JSON.parse(req.body!.toString('utf8'));
      } catch (error) {
        return rejection('BadPayload', `the payload is not JSON: ${(error as Error).message}`);
      }
      if (value === null || typeof value !== 'object' || Array.isArray(value)) return rejection('BadPayload', 'the payload must be a JSON object, e.g. {"mdm":"<PushMagic>"}');
      req.payload = value;
      return undefined;
    },
  },
];

/** The size check must be able to stop a body early: past this many bytes nothing more is kept. */
export const BODY_LIMIT = MAX_PAYLOAD_BYTES + 1;

export function runChecks(phase: 'headers' | 'body', req: PushRequest, deps: CheckDeps): ApnsRejection | undefined {
  for (const check of CHECKS) {
    if (check.phase !== phase) continue;
    const failed = check.run(req, deps);
    if (failed) return failed;
  }
  return undefined;
}

function certificateAuth(req: PushRequest, cert: ClientCertificate, environment: ApnsEnvironment): ApnsRejection | undefined {
  if (!cert.trusted) return rejection('BadCertificate', `the client certificate (${cert.subject}) is not trusted: ${cert.untrustedBecause}; use push.pem from the data dir or a certificate the mdmsim CA issued`);
  if (cert.topic === undefined) return rejection('BadCertificate', `the client certificate (${cert.subject}) has no subject UID, so it names no topic`);
  if (!cert.environments.has(environment)) {
    return rejection('BadCertificateEnvironment', `the client certificate has no APNs ${environment} extension (1.2.840.113635.100.6.3.${environment === 'development' ? 1 : 2}); this mock is the ${environment} environment`);
  }
  if (req.topic !== cert.topic) return rejection('TopicDisallowed', `the client certificate may push to ${cert.topic} only, not ${req.topic}`);
  return undefined;
}

function providerTokenAuth(req: PushRequest, { keys }: CheckDeps): ApnsRejection | undefined {
  const header = req.header('authorization');
  if (header === undefined) return rejection('MissingProviderToken', 'no client certificate and no authorization: bearer <provider token>');
  const m = /^bearer\s+(\S+)$/i.exec(header.trim());
  if (!m) return rejection('InvalidProviderToken', 'authorization must be "bearer <ES256 JWT>"');
  const jwt = m[1]!;
  let claims = req.auth.verified.get(jwt);
  if (!claims) {
    let decoded;
    try {
      decoded = decodeProviderToken(jwt);
    } catch (error) {
      if (error instanceof ProviderTokenError) return rejection('InvalidProviderToken', error.message);
      throw error;
    }
    const key = keys.get(decoded.header.kid);
    if (!key) return rejection('InvalidProviderToken', `no signing key with kid ${JSON.stringify(decoded.header.kid)} is registered: POST /sim/v1/apns/keys`);
    if (key.teamId !== decoded.claims.iss) return rejection('InvalidProviderToken', `key ${key.keyId} belongs to team ${key.teamId}, but the token's iss is ${JSON.stringify(decoded.claims.iss)}`);
    if (!verifyProviderToken(decoded, key.publicKey)) return rejection('InvalidProviderToken', `the token's ES256 signature does not verify with key ${key.keyId}`);
    claims = { kid: key.keyId, iat: decoded.claims.iat };
    // Keep a handful: a client uses one token at a time and renews it hourly.
    if (req.auth.verified.size >= 8) req.auth.verified.clear();
    req.auth.verified.set(jwt, claims);
  }
  const key = keys.get(claims.kid);
  if (!key) return rejection('InvalidProviderToken', `the signing key ${claims.kid} has been removed`);
  const nowS = Math.floor(req.now / 1000);
  if (claims.iat > nowS + PROVIDER_TOKEN_FUTURE_SKEW_S) {
    return rejection('InvalidProviderToken', `the token's iat (${new Date(claims.iat * 1000).toISOString()}) is in the future of the mock's clock (${new Date(req.now).toISOString()}); mint tokens with the clock's time`);
  }
  if (nowS - claims.iat > PROVIDER_TOKEN_LIFETIME_S) {
    return rejection('ExpiredProviderToken', `the token was issued at ${new Date(claims.iat * 1000).toISOString()}, more than an hour before ${new Date(req.now).toISOString()}: mint a new one`);
  }
  const newest = req.auth.newestIat.get(claims.kid);
  if (newest === undefined || claims.iat > newest) {
    if (newest !== undefined && claims.iat - newest < PROVIDER_TOKEN_MIN_REFRESH_S) {
      return rejection('TooManyProviderTokenUpdates', `this connection switched to a new token for key ${claims.kid} ${claims.iat - newest} s after the last one; renew at most every 20 minutes`);
    }
    req.auth.newestIat.set(claims.kid, claims.iat);
  }
  if (key.topics && !key.topics.includes(req.topic!)) return rejection('TopicDisallowed', `key ${key.keyId} may push to ${key.topics.join(', ')} only, not ${req.topic}`);
  return undefined;
}
