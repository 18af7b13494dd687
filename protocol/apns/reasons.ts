/**
 * Apple's APNs provider API error vocabulary: every reason with the status it comes with.
 * Source: ../shared/reference/apns.md (Apple's "Handling notification responses from APNs").
 */

export const REASON_STATUS = {
  BadCollapseId: 400,
  BadDeviceToken: 400,
  BadExpirationDate: 400,
  BadMessageId: 400,
  BadPriority: 400,
  BadTopic: 400,
  DeviceTokenNotForTopic: 400,
  DuplicateHeaders: 400,
  IdleTimeout: 400,
  InvalidPushType: 400,
  MissingDeviceToken: 400,
  MissingTopic: 400,
  PayloadEmpty: 400,
  TopicDisallowed: 400,
  BadCertificate: 403,
  BadCertificateEnvironment: 403,
  ExpiredProviderToken: 403,
  Forbidden: 403,
  InvalidProviderToken: 403,
  MissingProviderToken: 403,
  BadPath: 404,
  MethodNotAllowed: 405,
  Unregistered: 410,
  ExpiredToken: 410,
  PayloadTooLarge: 413,
  TooManyProviderTokenUpdates: 429,
  TooManyRequests: 429,
  InternalServerError: 500,
  ServiceUnavailable: 503,
  Shutdown: 503,
  /**
   * Not Apple's: Apple documents no reason for a body that is not a JSON object. mdmsim answers
   * 400 with this word so a client's error path still runs (see the README).
   */
  BadPayload: 400,
} as const;

export type ApnsReason = keyof typeof REASON_STATUS;

export const APNS_REASONS = Object.keys(REASON_STATUS) as ApnsReason[];

export function isApnsReason(value: unknown): value is ApnsReason {
  return typeof value === 'string' && Object.prototype.hasOwnProperty.call(REASON_STATUS, value);
}

/** Reasons Apple sends as a 410: the body then also carries `timestamp` (ms since the epoch). */
export function isGoneReason(reason: ApnsReason): boolean {
  return REASON_STATUS[reason] === 410;
}

/** What APNs answers to a refused notification. */
export interface ApnsRejection {
  status: number;
  reason: ApnsReason;
  /** 410 only: when APNs learned the token stopped being valid, ms since the epoch. */
  timestamp?: number;
  /** For people, not clients: why mdmsim refused (sent as the `mdmsim-detail` header, never in the body). */
  detail: string;
}

export function rejection(reason: ApnsReason, detail: string, timestamp?: number): ApnsRejection {
  const r: ApnsRejection = { status: REASON_STATUS[reason], reason, detail };
  if (timestamp !== undefined) r.timestamp = timestamp;
  return r;
}

/** The JSON body of an error response, exactly as Apple shapes it. */
export function rejectionBody(r: ApnsRejection): string {
  return r.timestamp !== undefined ? JSON.stringify({ reason: r.reason, timestamp: r.timestamp }) : JSON.stringify({ reason: r.reason });
}
