/**
 * Kandji's API is Django REST framework behind a gateway: its auth and throttle errors are
 * DRF's `{"detail": "..."}` with DRF's own wording (rest_framework/exceptions.py and
 * authentication.py), reproduced here word for word because clients match on them.
 */
import type { Response } from 'express';

export const DRF = {
  /** NotAuthenticated: no Authorization header, or not a Bearer one. */
  notAuthenticated: 'Authentication credentials were not provided.',
  /** TokenAuthentication: `Bearer` with nothing after it. */
  noCredentials: 'Invalid token header. No credentials provided.',
  /** TokenAuthentication: `Bearer a b`. */
  spaces: 'Invalid token header. Token string should not contain spaces.',
  /** TokenAuthentication: unknown or revoked token. */
  invalidToken: 'Invalid token.',
  /** PermissionDenied. */
  permissionDenied: 'You do not have permission to perform this action.',
  /** NotFound. */
  notFound: 'Not found.',
} as const;

/** Throttled: "Request was throttled. Expected available in N second(s)." (N rounded up). */
export function throttledDetail(waitSeconds: number): string {
  const wait = Math.ceil(waitSeconds);
  return `Request was throttled. Expected available in ${wait} second${wait === 1 ? '' : 's'}.`;
}

export function sendDetail(res: Response, status: number, detail: string, headers: Record<string, string> = {}): void {
  res.set(headers).status(status).json({ detail });
}
