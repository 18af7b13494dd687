/**
 * Bearer tokens, per-endpoint permissions and rate limits for /api/v1, in the order Kandji's
 * stack applies them: authenticate (401), count against the token's limits (429, and the
 * limit headers on every answer from then on), then each route's permission (403).
 *
 * Tokens: the ready-line token (`deps.apiToken`, every permission) and the tokens issued with
 * `mdmsim token create`, the control API or `server.apiTokens` (see token-store.ts).
 */
import { timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { ALL_PERMISSIONS } from '../../../protocol/kandji';
import type { Guard, KandjiApiDeps } from '../context';
import { DRF, sendDetail, throttledDetail } from './drf';
import { grants, type TokenPermissions } from './permissions';
import { DEFAULT_RATE_LIMITS, RateLimiter } from './rate-limit';
import { ApiTokenStore } from './token-store';

export { ApiTokens } from './api-tokens';
export { ApiTokenStore, ApiTokenError, API_TOKENS_FILE, type ApiTokenInfo, type IssuedApiToken, type CreateApiTokenInput } from './token-store';
export { DEFAULT_RATE_LIMITS, RateLimiter, type RateLimits } from './rate-limit';
export { parsePermissions, PermissionError, type TokenPermissions } from './permissions';
export { DRF, sendDetail, throttledDetail } from './drf';

export interface ApiAuth {
  authenticate: RequestHandler;
  guard: Guard;
  limiter: RateLimiter;
}

/** Who a request authenticated as: set on res.locals by authenticate. */
export interface ApiPrincipal {
  /** The issued token's id, or `ready-line`. */
  tokenId: string;
  permissions: TokenPermissions;
}

export const READY_LINE_TOKEN_ID = 'ready-line';

export function principalOf(res: Response): ApiPrincipal | undefined {
  return res.locals.kandjiPrincipal as ApiPrincipal | undefined;
}

export function createApiAuth(deps: KandjiApiDeps): ApiAuth {
  const tokens = deps.apiTokens ?? new ApiTokenStore(deps.dataDir);
  const limiter = new RateLimiter(
    { perSecond: deps.rateLimits?.perSecond ?? DEFAULT_RATE_LIMITS.perSecond, perHour: deps.rateLimits?.perHour ?? DEFAULT_RATE_LIMITS.perHour },
    { wallNow: Date.now, clockNow: () => deps.clock.now() });
  const readyLine = Buffer.from(deps.apiToken);

  const authenticate: RequestHandler = (req, res, next) => {
    const header = req.headers.authorization;
    const parts = header?.trim().split(/\s+/) ?? [];
    // DRF's TokenAuthentication: another scheme is "no credentials", not a bad token.
    if (parts.length === 0 || parts[0] === '' || parts[0]!.toLowerCase() !== 'bearer') return unauthorized(res, DRF.notAuthenticated);
    if (parts.length === 1) return unauthorized(res, DRF.noCredentials);
    if (parts.length > 2) return unauthorized(res, DRF.spaces);
    const secret = parts[1]!;

    let principal: ApiPrincipal;
    const presented = Buffer.from(secret);
    if (presented.length === readyLine.length && timingSafeEqual(presented, readyLine)) {
      principal = { tokenId: READY_LINE_TOKEN_ID, permissions: ALL_PERMISSIONS };
    } else {
      const issued = tokens.lookup(secret);
      if (!issued) return unauthorized(res, DRF.invalidToken);
      principal = { tokenId: issued.id, permissions: issued.permissions };
    }

    const decision = limiter.take(principal.tokenId);
    res.set(decision.headers);
    if (!decision.allowed) return sendDetail(res, 429, throttledDetail(decision.retryAfter ?? 1));
    res.locals.kandjiPrincipal = principal;
    next();
  };

  const guard: Guard = (permission) => (_req, res, next) => {
    const principal = principalOf(res);
    if (!principal) return unauthorized(res, DRF.notAuthenticated);
    if (!grants(principal.permissions, permission)) return sendDetail(res, 403, DRF.permissionDenied);
    next();
  };

  return { authenticate, guard, limiter };
}

function unauthorized(res: Response, detail: string): void {
  // DRF answers 401 (not 403) only because the authenticator names its scheme here.
  sendDetail(res, 401, detail, { 'www-authenticate': 'Bearer' });
}
