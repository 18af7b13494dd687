/**
 * What the Kandji-compatible API (/api/v1) is built from: the server's parts, and the guard
 * that checks a route's permission on the token that authenticated the request.
 */
import type { RequestHandler } from 'express';
import type { Clock } from '../../protocol/clock';
import type { KandjiPermission } from '../../protocol/kandji';
import type { AgentPolicy } from '../policy/agent-policy';
import type { PushService } from '../push';
import type { EventLog } from '../service/event-log';
import type { MdmService } from '../service/mdm-service';
import type { Storage } from '../storage/types';
import type { ApiTokenStore } from './auth/token-store';
import type { RateLimits } from './auth/rate-limit';

export interface KandjiApiDeps {
  store: Storage;
  clock: Clock;
  events: EventLog;
  service: MdmService;
  push: () => PushService | undefined;
  agentPolicy: AgentPolicy;
  /** The token of `mdmsim serve`'s ready line: it holds every permission. */
  apiToken: string;
  /** Where issued API tokens are kept (`mdmsim token create` writes there too). */
  dataDir: string;
  /** https://host:port of the MDM host. */
  baseUrl: () => string;
  /** A freshly issued, signed enrollment profile (DER), for the renewmdmprofile action. */
  issueEnrollmentProfile?: () => Promise<Buffer>;
  /** Issued tokens (the server's own store, shared with the control API); default: one on dataDir. */
  apiTokens?: ApiTokenStore;
  /** Per-token limits; 0 = unlimited. Default 50 a second (wall time), 10,000 an hour (server clock). */
  rateLimits?: Partial<RateLimits>;
}

/** A route's permission check: 403 in Kandji's shape when the request's token lacks it. */
export type Guard = (permission: KandjiPermission) => RequestHandler;
