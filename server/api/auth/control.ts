/**
 * /sim/v1/api-tokens on the control API (bearer: the ready-line token): the runtime side of
 * `mdmsim token`. GET lists, POST {name?, permissions} issues (201, the secret shown once),
 * DELETE /{id} revokes (200 with the revoked token; 404 if unknown).
 */
import express, { type NextFunction, type Request, type Response } from 'express';
import { problem, ProblemError } from '../../../protocol/problem';
import { requireApiToken } from '../../http/control-api';
import { sendProblem } from '../../http/respond';
import type { ApiTokens } from './api-tokens';
import { ApiTokenError } from './token-store';

export const API_TOKENS_CONTROL_PATH = '/sim/v1/api-tokens';
const MAX_BODY_BYTES = 64 * 1024;

export function createApiTokensControl(options: { apiToken: string; tokens: ApiTokens }): express.Router {
  const { apiToken, tokens } = options;
  const router = express.Router();
  router.use(requireApiToken(apiToken));
  const json = express.json({ limit: MAX_BODY_BYTES, strict: true });

  router.get('/', (_req, res) => {
    res.json({ tokens: tokens.list() });
  });

  router.post('/', json, (req, res) => {
    const body = (req.body ?? {}) as { name?: unknown; permissions?: unknown };
    const permissions = body.permissions;
    const valid = typeof permissions === 'string' || (Array.isArray(permissions) && permissions.every((p) => typeof p === 'string'));
    if (!valid) {
      throw problem(400, 'missing-permissions', 'say which permissions the token carries', {
        field: 'permissions',
        expected: '{"name": "posture sync", "permissions": ["prism:device_information"]} (or "*" for all)',
      });
    }
    if (body.name !== undefined && typeof body.name !== 'string') throw problem(400, 'bad-name', 'name is a string', { field: 'name' });
    res.status(201).json(tokens.create({ name: body.name, permissions: permissions as string | string[] }));
  });

  router.get('/:id', (req, res) => {
    const found = tokens.get(String(req.params.id));
    if (!found) throw problem(404, 'unknown-api-token', `no API token with id ${String(req.params.id)}`, { hint: 'GET /sim/v1/api-tokens lists them' });
    res.json(found);
  });

  router.delete('/:id', (req, res) => {
    res.json(tokens.revoke(String(req.params.id)));
  });

  router.use((error: unknown, _req: Request, res: Response, _next: NextFunction) => {
    if (error instanceof ProblemError) return send(res, error.problem);
    if (error instanceof ApiTokenError) {
      const status = error.kind === 'invalid' ? 400 : error.kind === 'not-found' ? 404 : 500;
      const code = error.kind === 'invalid' ? 'bad-permissions' : error.kind === 'not-found' ? 'unknown-api-token' : 'tokens-file';
      return send(res, { status, code, message: error.message, ...(error.kind === 'invalid' ? { field: 'permissions' } : {}) });
    }
    const e = error as { type?: string; message?: string };
    if (e?.type === 'entity.parse.failed') return send(res, { status: 400, code: 'malformed-json', message: `the body is not valid JSON: ${e.message}` });
    if (e?.type === 'entity.too.large') return send(res, { status: 413, code: 'body-too-large', message: `the request body is larger than ${MAX_BODY_BYTES} bytes` });
    const status = (error as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) return send(res, { status, code: 'bad-request', message: e?.message ?? 'bad request' });
    throw error;
  });
  return router;
}

function send(res: Response, p: Parameters<typeof sendProblem>[1]): void {
  sendProblem(res, p, p.status === 401 ? { 'www-authenticate': 'Bearer realm="mdmsim"' } : {});
}
