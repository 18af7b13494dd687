/**
 * The two /sim/v1 routes the dashboard needs beyond the control API:
 *
 *   GET  /sim/v1/scenario                       the story a lab is playing ({"scenario": null} when none)
 *   POST /sim/v1/devices/{udid}/agent/reinstall queue the agent's InstallEnterpriseApplication now and push
 *
 * Mounted before the control API on the same prefix: each route checks the bearer token
 * itself, and anything else falls through to the control API untouched.
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { ProblemError, problem } from '../../protocol/problem';
import type { ScenarioState } from '../../protocol/scenario-state';
import { requireApiToken } from '../http/control-api';
import { sendProblem } from '../http/respond';
import type { AgentPolicy } from '../policy/agent-policy';
import type { PushService } from '../push';
import type { Storage } from '../storage/types';

export interface DashboardControlOptions {
  apiToken: string;
  store: Storage;
  agentPolicy: AgentPolicy;
  /** The server's push path (absent without APNs: the install is queued, nothing is pushed). */
  push: () => PushService | undefined;
  /** The story the lab is playing, if any (server.setScenarioSource). */
  scenario: () => ScenarioState | undefined;
}

export function createDashboardControl(options: DashboardControlOptions): express.Router {
  const router = express.Router();

  const requireToken = requireApiToken(options.apiToken);

  router.get('/scenario', requireToken, (_req, res) => {
    res.json({ scenario: options.scenario() ?? null });
  });

  // What Kandji's "reinstall agent" does, for one device by UDID: the same install the
  // 7-day rule would queue, without waiting for the rule, then a push so the Mac comes for it.
  router.post('/devices/:udid/agent/reinstall', requireToken, async (req, res) => {
    const udid = req.params.udid as string;
    const e = options.store.getEnrollment(udid);
    if (!e) throw problem(404, 'unknown-enrollment', `no enrollment ${udid}`, { hint: 'GET /sim/v1/devices lists them' });
    const outcome = options.agentPolicy.installOnRequest(e, 'operator reinstall');
    if (outcome === 'pending') {
      throw problem(409, 'install-pending', `an agent install is already queued for ${udid}`, {
        hint: 'the Mac installs it at its next connect: push it (POST /sim/v1/devices/{udid}/push)',
      });
    }
    if ('unsupported' in outcome) throw problem(409, 'agent-not-supported', `the agent cannot be installed on ${udid}: ${outcome.unsupported}`);
    const pusher = options.push();
    const push = pusher ? { requested: true, results: await pusher.push([udid], 'operator') } : { requested: false, reason: 'no APNs: nothing to push with' };
    res.status(201).json({ udid, CommandUUID: outcome.commandUUID, RequestType: 'InstallEnterpriseApplication', attempt: outcome.attempt, push });
  });

  router.use((error: unknown, _req: Request, res: Response, next: NextFunction) => {
    // Express's own 4xx (a path parameter that does not percent-decode) is the client's, not a bug.
    const status = (error as { status?: unknown })?.status;
    if (!(error instanceof ProblemError) && typeof status === 'number' && status >= 400 && status < 500) {
      return sendProblem(res, { status, code: 'bad-request', message: (error as Error).message });
    }
    if (!(error instanceof ProblemError)) return next(error);
    sendProblem(res, error.problem, error.problem.status === 401 ? { 'www-authenticate': 'Bearer realm="mdmsim"' } : {});
  });

  return router;
}
