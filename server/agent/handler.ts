/**
 * The agent's endpoints on the MDM host, on a bare Node handler like the MDM paths: the
 * check-in is the hottest path of a fleet (every Mac, every 15 minutes).
 *
 *   GET|HEAD /agent/manifest.plist                 app manifest (application/xml)
 *   GET|HEAD /agent/packages/mdmsim-agent-<v>.pkg  the package (application/octet-stream)
 *   POST     /agent/v1/checkin                     JSON check-in, signed like MDM requests,
 *                                                  or with `Authorization: Bearer <session_token>`
 *
 * Unlike MDM requests (where 401 makes a real Mac unenroll), a check-in with a missing or bad
 * signature or session token answers 401: the agent is ours, and 401 is what it means. No
 * WWW-Authenticate header: the only way to a credential is a signed check-in, and the body says
 * so. With both headers the signature is checked and the token ignored. With auth `none`
 * neither is checked.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AGENT_CHECKIN_CONTENT_TYPE, AGENT_CHECKIN_PATH, AGENT_MANIFEST_PATH, AGENT_PACKAGE_PREFIX } from '../../protocol/agent';
import { ProblemError, problem, type Problem } from '../../protocol/problem';
import { MDM_SIGNATURE_HEADER, type MdmSignatureVerifier, type VerifiedSigner } from '../auth/mdm-signature';
import { readBody } from '../http/body';
import { lingerThenClose } from '../http/mdm-handler';
import { mediaType, sendProblem } from '../http/respond';
import type { EventLog } from '../service/event-log';
import type { AgentService } from './agent-service';
import type { AgentArtifacts } from './package';
import { isBearer, type AgentSessionClaim } from './session';

/** A check-in with a full app inventory fits many times over. */
export const AGENT_MAX_BODY_BYTES = 1024 * 1024;

export function isAgentPath(path: string): boolean {
  return path === AGENT_CHECKIN_PATH || path === AGENT_MANIFEST_PATH || path.startsWith(AGENT_PACKAGE_PREFIX);
}

export interface AgentHandlerOptions {
  service: AgentService;
  artifacts: AgentArtifacts;
  /** https://host:port the manifest's package URL is on. */
  baseUrl: () => string;
  /** Checks Mdm-Signature on check-ins; absent with auth `none`. */
  verifier?: MdmSignatureVerifier;
  events: EventLog;
  maxBodyBytes?: number;
  onError?: (error: unknown) => void;
}

const JSON_TYPE = 'application/json; charset=utf-8';

export function createAgentHandler(options: AgentHandlerOptions) {
  const { service, artifacts, verifier, events } = options;
  const maxBodyBytes = options.maxBodyBytes ?? AGENT_MAX_BODY_BYTES;

  function reject(req: IncomingMessage, res: ServerResponse, path: string, p: Problem, udid?: string): void {
    events.record({
      type: 'agent.rejected',
      udid,
      from: 'mdm',
      to: 'agent',
      summary: `${req.method} ${path} → ${p.status} ${p.code}: ${p.message}`,
      data: { path, status: p.status, code: p.code, field: p.field },
    });
    sendProblem(res, p, p.status === 405 ? { allow: path === AGENT_CHECKIN_PATH ? 'POST' : 'GET, HEAD' } : {});
    if (!req.complete) res.on('finish', () => lingerThenClose(req, maxBodyBytes));
  }

  function fail(req: IncomingMessage, res: ServerResponse, path: string, error: unknown, udid?: string): void {
    if (error instanceof ProblemError) return reject(req, res, path, error.problem, udid);
    options.onError?.(error);
    reject(req, res, path, { status: 500, code: 'internal-error', message: 'mdmsim failed to handle this request; see its log' }, udid);
  }

  function sendBytes(req: IncomingMessage, res: ServerResponse, contentType: string, body: Buffer): void {
    res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
    // HEAD: the headers of a GET, no body.
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  function checkin(req: IncomingMessage, res: ServerResponse, path: string, body: Buffer): void {
    let udid: string | undefined;
    try {
      let signer: VerifiedSigner | undefined;
      let session: AgentSessionClaim | undefined;
      const authorization = req.headers.authorization;
      if (verifier && service.sessions && req.headers[MDM_SIGNATURE_HEADER] === undefined && isBearer(authorization)) {
        try {
          // MAC and expiry before the body is interpreted; the service matches the claims to it.
          session = service.verifySession(authorization);
        } catch (error) {
          udid = udidForLog(body);
          throw error;
        }
      } else if (verifier) {
        try {
          // Before the body is interpreted: an unsigned or foreign request changes nothing.
          signer = verifier.verify(req.headers[MDM_SIGNATURE_HEADER], body);
        } catch (error) {
          udid = udidForLog(body);
          if (!(error instanceof ProblemError)) throw error;
          throw unauthorized(error.problem);
        }
      }
      let value: unknown;
      try {
        value = JSON.parse(body.toString('utf8'));
      } catch (error) {
        throw problem(400, 'malformed-json', `the body is not valid JSON: ${(error as Error).message}`, {
          expected: '{"udid": "...", "serial_number": "...", "agent_version": "...", "kind": "recurring", "installed_at": ISO, "sent_at": ISO}',
        });
      }
      if (typeof value === 'object' && value !== null && typeof (value as { udid?: unknown }).udid === 'string') udid = (value as { udid: string }).udid;
      const answer = service.checkin(value, signer, session);
      res.writeHead(200, { 'content-type': JSON_TYPE, 'content-length': Buffer.byteLength(answer) });
      res.end(answer);
    } catch (error) {
      fail(req, res, path, error, udid);
    }
  }

  return function handleAgent(req: IncomingMessage, res: ServerResponse, path: string): void {
    try {
      if (path === AGENT_CHECKIN_PATH) {
        if (req.method !== 'POST') throw problem(405, 'method-not-allowed', `${req.method} is not allowed on ${path}`, { expected: 'POST' });
        const type = mediaType(req.headers['content-type']);
        if (type !== '' && type !== AGENT_CHECKIN_CONTENT_TYPE) {
          throw problem(415, 'bad-content-type', `${path} takes JSON; got Content-Type ${type}`, {
            field: 'Content-Type',
            expected: AGENT_CHECKIN_CONTENT_TYPE,
            hint: "curl's -d sends application/x-www-form-urlencoded: add -H 'content-type: application/json'",
          });
        }
        readBody(req, maxBodyBytes, (error, body) => {
          if (error) return fail(req, res, path, error);
          if (body!.length === 0) return fail(req, res, path, problem(400, 'empty-body', `${path} needs a JSON body`, { expected: 'a JSON object' }));
          checkin(req, res, path, body!);
        });
        return;
      }
      if (req.method !== 'GET' && req.method !== 'HEAD') throw problem(405, 'method-not-allowed', `${req.method} is not allowed on ${path}`, { expected: 'GET or HEAD' });
      if (path === AGENT_MANIFEST_PATH) return sendBytes(req, res, 'application/xml', artifacts.manifest(options.baseUrl()));
      const name = path.slice(AGENT_PACKAGE_PREFIX.length);
      if (name === artifacts.packageName) return sendBytes(req, res, 'application/octet-stream', artifacts.package);
      throw problem(404, 'unknown-package', `no package ${JSON.stringify(decodeSafely(name))} here`, {
        expected: artifacts.packagePath,
        hint: `this path serves the agent ${artifacts.version} only; its manifest is ${AGENT_MANIFEST_PATH} (the sample apps are under /apps/)`,
      });
    } catch (error) {
      fail(req, res, path, error);
    }
  };
}

/** The verifier's refusals are 400s (right for MDM, where 401 unenrolls a Mac); the agent's are 401s. */
function unauthorized(p: Problem): ProblemError {
  return new ProblemError({
    ...p,
    status: 401,
    hint: `${p.hint ? `${p.hint}. ` : ''}The agent signs the exact body bytes with the Mac's MDM identity (from its enrollment profile) and sends the base64 detached CMS as the Mdm-Signature header, as MDM requests are signed`,
  });
}

/** The UDID a refused body names, for the event only. */
function udidForLog(body: Buffer): string | undefined {
  try {
    const v = JSON.parse(body.toString('utf8')) as { udid?: unknown };
    return typeof v?.udid === 'string' ? v.udid : undefined;
  } catch {
    return undefined;
  }
}

function decodeSafely(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}
