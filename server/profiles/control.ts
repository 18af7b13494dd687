/**
 * GET /sim/v1/devices/{udid}/profiles (bearer, like the rest of /sim/v1): the configuration
 * profiles a Mac has installed, as the server knows them (server/profiles/device-profiles.ts).
 * Mounted before the control API on the same prefix; anything else falls through.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ProblemError } from '../../protocol/problem';
import { requireApiToken } from '../http/control-api';
import { sendProblem } from '../http/respond';
import { deviceProfiles, type DeviceProfilesDeps } from './device-profiles';

export function createProfilesControl(options: DeviceProfilesDeps & { apiToken: string }): express.Router {
  const router = express.Router();
  router.get('/devices/:udid/profiles', requireApiToken(options.apiToken), (req, res) => {
    res.json(deviceProfiles(options, String(req.params.udid)));
  });
  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    if (error instanceof ProblemError) return sendProblem(res, error.problem, error.problem.status === 401 ? { 'www-authenticate': 'Bearer realm="mdmsim"' } : {});
    // Express's own 4xx (a :udid that does not percent-decode) is the client's, not a bug.
    const status = (error as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) return sendProblem(res, { status, code: 'bad-request', message: (error as Error).message });
    next(error);
  });
  return router;
}
