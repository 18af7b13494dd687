/**
 * The Kandji-compatible device API, mounted at /api/v1 on the MDM host: authentication and
 * rate limits first (auth/), then the device routes (devices/) and Prism (prism/).
 */
import express from 'express';
import type { KandjiApiDeps } from './context';
import { createApiAuth } from './auth';
import { createDevicesRouter } from './devices';
import { methodNotAllowed } from './method-not-allowed';
import { createPrismRouter } from './prism';

export type { KandjiApiDeps } from './context';

export function createKandjiApi(deps: KandjiApiDeps): express.Router {
  const router = express.Router({ strict: false });
  const auth = createApiAuth(deps);
  router.use(auth.authenticate);
  router.use('/devices', createDevicesRouter(deps, auth.guard));
  router.use('/prism', createPrismRouter(deps, auth.guard));
  // A known path asked with a method it does not take: DRF's 405.
  router.use(methodNotAllowed);
  // Django REST's answer for an unknown path.
  router.use((_req, res) => {
    res.status(404).json({ detail: 'Not found.' });
  });
  // The client's mistakes caught before a route runs (body parsing, a path that is not
  // percent-decodable) answer in DRF's shape; anything else is a bug for the server's handler.
  router.use((error: unknown, _req: express.Request, res: express.Response, next: express.NextFunction) => {
    const e = error as { type?: unknown; status?: unknown; message?: unknown };
    if (typeof e?.status !== 'number' || e.status < 400 || e.status >= 500) return next(error);
    const detail =
      e.type === 'entity.parse.failed' ? `JSON parse error - ${String(e.message)}` : e.type === 'entity.too.large' ? 'Request body too large.' : e instanceof URIError ? 'Malformed request path.' : 'Malformed request.';
    res.status(e.status).json({ detail });
  });
  return router;
}
