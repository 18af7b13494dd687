/**
 * The MDM endpoints on a bare Node handler: this is the hot path of every device, so no
 * framework, one body read, one plist parse, and a pre-serialized command as the answer.
 *
 *   PUT|POST /mdm/checkin  application/x-apple-aspen-mdm-checkin  → check-in
 *   PUT|POST /mdm/connect  application/x-apple-aspen-mdm          → report + next command
 *   PUT|POST /mdm          either, dispatched by Content-Type
 *
 * Failures answer 4xx with a JSON reason, never 401: a real device unenrolls on 401.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { CHECKIN_CONTENT_TYPE } from '../../protocol/checkin';
import { COMMAND_CONTENT_TYPE } from '../../protocol/command';
import { parsePlist, PlistError } from '../../protocol/plist';
import { isPlistDict, type PlistValue } from '../../protocol/plist/types';
import { ProblemError, problem, type Problem } from '../../protocol/problem';
import type { EventLog } from '../service/event-log';
import type { MdmResponse, MdmService } from '../service/mdm-service';
import { MDM_SIGNATURE_HEADER, type MdmSignatureVerifier, type VerifiedSigner } from '../auth/mdm-signature';
import { readBody } from './body';
import { mediaType, sendProblem } from './respond';

/**
 * After answering a request whose body we did not read (413, 405, 415), drain what the
 * client is still sending for a moment before closing: closing a socket with unread data
 * sends a TCP reset, which can destroy our answer before the client reads it. A body that
 * ends within the allowance leaves the keep-alive connection usable.
 */
export function lingerThenClose(req: IncomingMessage, allowanceBytes: number, allowanceMs = 1000): void {
  if (req.complete) return;
  let drained = 0;
  const close = () => {
    clearTimeout(timer);
    if (!req.complete) req.socket.destroy();
  };
  const timer = setTimeout(close, allowanceMs);
  timer.unref();
  req.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > allowanceBytes) close();
  });
  req.on('end', () => clearTimeout(timer));
  req.resume();
}

/**
 * The body of a refused request, read only so the refusal's event can name the device that
 * sent it; nothing else uses it.
 */
function udidForLog(body: Buffer): PlistValue | undefined {
  try {
    return parsePlist(body);
  } catch {
    return undefined;
  }
}

export const MDM_PATHS = new Set(['/mdm', '/mdm/checkin', '/mdm/connect']);

type Endpoint = 'checkin' | 'connect';

export interface MdmHandlerOptions {
  service: MdmService;
  /** Checks Mdm-Signature on every request; absent with `--auth none`. */
  verifier?: MdmSignatureVerifier;
  events: EventLog;
  maxBodyBytes: number;
  onError?: (error: unknown) => void;
}

export function createMdmHandler(options: MdmHandlerOptions) {
  const { service, events, maxBodyBytes, verifier } = options;

  function endpointFor(path: string, contentType: string): Endpoint {
    const wanted = path === '/mdm/checkin' ? 'checkin' : path === '/mdm/connect' ? 'connect' : undefined;
    const got = contentType === CHECKIN_CONTENT_TYPE ? 'checkin' : contentType === COMMAND_CONTENT_TYPE ? 'connect' : undefined;
    if (got !== undefined && (wanted === undefined || wanted === got)) return got;
    const expected = wanted === 'checkin' ? CHECKIN_CONTENT_TYPE : wanted === 'connect' ? COMMAND_CONTENT_TYPE : `${CHECKIN_CONTENT_TYPE} or ${COMMAND_CONTENT_TYPE}`;
    throw problem(415, 'bad-content-type', `${path} expects Content-Type ${expected}; got ${contentType || 'none'}`, {
      field: 'Content-Type',
      expected,
      hint: 'check-in messages (MessageType) go to /mdm/checkin, command reports (Status) to /mdm/connect',
    });
  }

  function answer(res: ServerResponse, r: MdmResponse): void {
    if (r.body === undefined || r.body.length === 0) {
      res.writeHead(r.status, { 'content-length': 0 });
      res.end();
      return;
    }
    res.writeHead(r.status, { 'content-type': r.contentType ?? 'application/xml', 'content-length': r.body.length });
    res.end(r.body);
  }

  function reject(req: IncomingMessage, res: ServerResponse, path: string, p: Problem, parsed: PlistValue | undefined): void {
    const udid = isPlistDict(parsed) && typeof parsed.UDID === 'string' ? parsed.UDID : undefined;
    events.record({
      type: 'mdm.rejected',
      udid,
      from: 'mdm',
      to: 'device',
      summary: `${req.method} ${path} → ${p.status} ${p.code}: ${p.message}`,
      data: { path, status: p.status, code: p.code, field: p.field },
    });
    sendProblem(res, p);
    if (!req.complete) res.on('finish', () => lingerThenClose(req, maxBodyBytes));
  }

  function handle(req: IncomingMessage, res: ServerResponse, path: string, endpoint: Endpoint, body: Buffer): void {
    let parsed: PlistValue | undefined;
    try {
      if (body.length === 0) {
        throw problem(400, 'empty-body', `${path} needs a plist body`, { expected: 'an XML or binary property list' });
      }
      let signer: VerifiedSigner | undefined;
      if (verifier) {
        try {
          // Before the body is interpreted: an unsigned or foreign request changes nothing.
          signer = verifier.verify(req.headers[MDM_SIGNATURE_HEADER], body);
        } catch (error) {
          parsed = udidForLog(body);
          throw error;
        }
      }
      try {
        parsed = parsePlist(body);
      } catch (error) {
        if (!(error instanceof PlistError)) throw error;
        throw problem(400, 'malformed-plist', `the body is not a readable property list: ${error.message}`, {
          expected: 'an XML (or binary) property list whose root is a <dict>',
        });
      }
      answer(res, endpoint === 'checkin' ? service.checkin(parsed, signer) : service.connect(parsed, body, signer));
    } catch (error) {
      fail(req, res, path, error, parsed);
    }
  }

  function fail(req: IncomingMessage, res: ServerResponse, path: string, error: unknown, parsed?: PlistValue): void {
    if (error instanceof ProblemError) return reject(req, res, path, error.problem, parsed);
    options.onError?.(error);
    reject(req, res, path, { status: 500, code: 'internal-error', message: 'mdmsim failed to handle this request; see its log' }, parsed);
  }

  return function handleMdm(req: IncomingMessage, res: ServerResponse, path: string): void {
    let endpoint: Endpoint;
    try {
      if (req.method !== 'PUT' && req.method !== 'POST') {
        res.setHeader('allow', 'PUT, POST');
        throw problem(405, 'method-not-allowed', `${req.method} is not allowed on ${path}`, { expected: 'PUT (or POST)' });
      }
      endpoint = endpointFor(path, mediaType(req.headers['content-type']));
    } catch (error) {
      return fail(req, res, path, error);
    }
    readBody(req, maxBodyBytes, (error, body) => {
      if (error) return fail(req, res, path, error);
      handle(req, res, path, endpoint, body!);
    });
  };
}
