/**
 * GET /mdm/enroll: a signed enrollment profile with a fresh identity. `?key=ec` asks for an
 * EC P-256 identity (cheap, for big fleets), `?key=rsa` for RSA 2048 (what real servers issue).
 */
import type { Request, Response } from 'express';
import { problem } from '../../protocol/problem';
import { ENROLL_CONTENT_TYPE } from '../enroll/profile';
import type { EnrollmentService } from '../enroll/enrollment-service';
import { IDENTITY_KEY_TYPES, type IdentityKeyType } from '../pki';
import { sendProblem } from './respond';

export const ENROLL_PATH = '/mdm/enroll';

/** host[:port] as a Host header may carry it: a DNS name or IPv4, or a bracketed IPv6. */
const HOST_HEADER = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]*[A-Za-z0-9])?)(?::\d{1,5})?$/;

export function createEnrollHandler(enrollment: EnrollmentService, baseUrl: () => string) {
  return async (req: Request, res: Response): Promise<void> => {
    const key = req.query.key;
    if (key !== undefined && !IDENTITY_KEY_TYPES.includes(key as IdentityKeyType)) {
      sendProblem(res, problem(400, 'bad-key-type', `unknown identity key type ${JSON.stringify(key)}`, { field: 'key', expected: IDENTITY_KEY_TYPES.join(' or ') }).problem);
      return;
    }
    const issued = await enrollment.issueProfile(deviceFacingBaseUrl(req, baseUrl()), key as IdentityKeyType | undefined);
    res.status(200).set({
      'content-type': ENROLL_CONTENT_TYPE,
      'content-disposition': 'attachment; filename="mdmsim-enroll.mobileconfig"',
      'cache-control': 'no-store',
    });
    res.end(issued.der);
  };
}

/**
 * The URL the device used to reach us is the one it can reach the MDM endpoints at (a server
 * on 0.0.0.0 does not know its own name); a malformed Host falls back to the listening address.
 */
function deviceFacingBaseUrl(req: Request, fallback: string): string {
  const host = req.headers.host;
  return host && HOST_HEADER.test(host) ? `https://${host}` : fallback;
}
