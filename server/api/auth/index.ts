/**
 * Bearer tokens, per-endpoint permissions and rate limits for /api/v1.
 * PLACEHOLDER until the tokens work lands: only the ready-line token, holding every permission.
 */
import type { RequestHandler } from 'express';
import type { Guard, KandjiApiDeps } from '../context';

export interface ApiAuth {
  authenticate: RequestHandler;
  guard: Guard;
}

export function createApiAuth(deps: KandjiApiDeps): ApiAuth {
  const authenticate: RequestHandler = (req, res, next) => {
    const header = req.headers.authorization ?? '';
    const token = header.startsWith('Bearer ') ? header.slice(7).trim() : '';
    if (token !== deps.apiToken) {
      res.status(401).json({ detail: 'Authentication credentials were not provided.' });
      return;
    }
    next();
  };
  const guard: Guard = () => (_req, _res, next) => next();
  return { authenticate, guard };
}
