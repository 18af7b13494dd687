/**
 * The Kandji-compatible device API, mounted at /api/v1 on the MDM host: authentication and
 * rate limits first (auth/), then the device routes (devices/) and Prism (prism/).
 */
import express from 'express';
import type { KandjiApiDeps } from './context';
import { createApiAuth } from './auth';
import { createDevicesRouter } from './devices';
import { createPrismRouter } from './prism';

export type { KandjiApiDeps } from './context';

export function createKandjiApi(deps: KandjiApiDeps): express.Router {
  const router = express.Router({ strict: false });
  const auth = createApiAuth(deps);
  router.use(auth.authenticate);
  router.use('/devices', createDevicesRouter(deps, auth.guard));
  router.use('/prism', createPrismRouter(deps, auth.guard));
  // Django REST's answer for an unknown path.
  router.use((_req, res) => {
    res.status(404).json({ detail: 'Not found.' });
  });
  return router;
}
