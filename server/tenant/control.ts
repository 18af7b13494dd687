/**
 * The tenant on the control API (bearer token, like the rest of /sim/v1):
 *
 *   GET /sim/v1/tenant   the tenant, its domain names, the names the server certificate covers,
 *                        the device-facing URLs and which names devices are handed
 *
 * Mounted before the control API on the same prefix: each route checks the bearer token itself,
 * and anything else falls through untouched.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ProblemError } from '../../protocol/problem';
import { tenantCertificateNames } from '../../protocol/tenant';
import { requireApiToken } from '../http/control-api';
import { sendProblem } from '../http/respond';
import type { DeviceUrls } from './urls';

export interface TenantControlOptions {
  apiToken: string;
  deviceUrls: DeviceUrls;
}

export function createTenantControl(options: TenantControlOptions): express.Router {
  const router = express.Router();
  const requireToken = requireApiToken(options.apiToken);
  const { deviceUrls } = options;

  router.get('/tenant', requireToken, (_req, res) => {
    res.json({
      tenant: deviceUrls.tenant,
      domains: deviceUrls.domains,
      certificateNames: tenantCertificateNames(deviceUrls.tenant),
      deviceUrls: deviceUrls.tenantUrls(),
      deviceNames: deviceUrls.mode,
    });
  });

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof ProblemError) return sendProblem(res, error.problem, error.problem.status === 401 ? { 'www-authenticate': 'Bearer realm="mdmsim"' } : {});
    next(error);
  });
  return router;
}
