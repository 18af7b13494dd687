/**
 * GET /mdm/enroll: a signed enrollment profile with a fresh identity. `?key=ec` asks for an
 * EC P-256 identity (cheap, for big fleets), `?key=rsa` for RSA 2048 (what real servers issue).
 * Served for any Host (the tenant's enrollment name included); where the profile points the
 * device is DeviceUrls' choice (server/tenant/urls.ts).
 */
import type { Request, Response } from 'express';
import { problem } from '../../protocol/problem';
import { ENROLL_CONTENT_TYPE } from '../enroll/profile';
import type { EnrollmentService } from '../enroll/enrollment-service';
import { IDENTITY_KEY_TYPES, type IdentityKeyType } from '../pki';
import { sendProblem } from './respond';

export const ENROLL_PATH = '/mdm/enroll';

/** `profileBase(host)`: https://host:port the profile's ServerURL and CheckInURL hang off, given the request's Host header. */
export function createEnrollHandler(enrollment: EnrollmentService, profileBase: (hostHeader: string | undefined) => string) {
  return async (req: Request, res: Response): Promise<void> => {
    const key = req.query.key;
    if (key !== undefined && !IDENTITY_KEY_TYPES.includes(key as IdentityKeyType)) {
      sendProblem(res, problem(400, 'bad-key-type', `unknown identity key type ${JSON.stringify(key)}`, { field: 'key', expected: IDENTITY_KEY_TYPES.join(' or ') }).problem);
      return;
    }
    const issued = await enrollment.issueProfile(profileBase(req.headers.host), key as IdentityKeyType | undefined);
    res.status(200).set({
      'content-type': ENROLL_CONTENT_TYPE,
      'content-disposition': 'attachment; filename="mdmsim-enroll.mobileconfig"',
      'cache-control': 'no-store',
    });
    res.end(issued.der);
  };
}
