/**
 * /sim/v1/apns: the APNs mock's controls. Faults (forced reasons, latency, drops, provider
 * down), provider-token signing keys, and tokens registered without a courier. Mounted inside
 * the control API, behind its bearer token.
 */
import express, { type Request, type Response } from 'express';
import { isTokenHex, isTopic } from '../../protocol/apns';
import { MIN_SECRET_BYTES, MAX_SECRET_BYTES } from '../../protocol/apns/token';
import { problem } from '../../protocol/problem';
import { keyJson, type ApnsMock } from '../apns';
import { noFaults, parseFaultPatch } from '../apns/faults';
import type { EventLog } from '../service/event-log';

type Handler = (req: Request, res: Response) => unknown;

export function createApnsApi(apns: ApnsMock | undefined, events: EventLog, json: express.RequestHandler): express.Router {
  const router = express.Router();
  router.use((_req, _res, next) => {
    if (!apns) return next(problem(404, 'apns-disabled', 'this server runs no APNs mock', { hint: 'start it without --no-apns' }));
    next();
  });
  const mock = () => apns!;

  router.get('/', (_req, res) => {
    const m = mock();
    res.json({
      provider: m.providerUrl,
      courier: m.courierUrl,
      tokens: m.hub.tokenCount,
      providerConnections: m.provider.connectionCount,
      courierConnections: m.courier.connectionCount,
      keys: m.keys.list().length,
      faults: m.faults.current,
    });
  });

  // ---- faults --------------------------------------------------------------------------
  const recordFaults = (what: string, state: object) =>
    events.record({ type: 'apns.faults', from: 'operator', to: 'apns', summary: `APNs faults ${what}: ${JSON.stringify(state)}`, data: { faults: state } });
  router.get('/faults', (_req, res) => res.json(mock().faults.current));
  const merge: Handler = async (req, res) => {
    const state = await mock().updateFaults(req.body);
    recordFaults('changed', state);
    res.json(state);
  };
  router.patch('/faults', json, merge);
  router.post('/faults', json, merge);
  router.put('/faults', json, (async (req, res) => {
    // Replace: validate first so a bad body leaves the current faults alone.
    const m = mock();
    parseFaultPatch(req.body, noFaults());
    await m.resetFaults();
    const state = await m.updateFaults(req.body);
    recordFaults('set', state);
    res.json(state);
  }) as Handler);
  router.delete('/faults', (async (_req, res) => {
    const state = await mock().resetFaults();
    recordFaults('cleared', state);
    res.json(state);
  }) as Handler);

  // ---- provider-token keys -------------------------------------------------------------
  router.get('/keys', (_req, res) => res.json(mock().keys.list().map(keyJson)));
  router.post('/keys', json, (req, res) => {
    const { key, privateKey } = mock().keys.add(req.body);
    res.status(201).json({ ...keyJson(key), ...(privateKey ? { privateKey } : {}) });
  });
  router.delete('/keys/:keyId', (req, res) => {
    if (!mock().keys.remove(req.params.keyId as string)) throw problem(404, 'unknown-key', `no signing key ${req.params.keyId}`, { hint: 'GET /sim/v1/apns/keys lists them' });
    res.status(204).end();
  });

  // ---- tokens --------------------------------------------------------------------------
  router.post('/tokens', json, (req, res) => {
    const body = (req.body ?? {}) as { topic?: unknown; secret?: unknown };
    if (!isTopic(body.topic)) {
      throw problem(400, 'bad-topic', 'name the topic the token is for', { field: 'topic', expected: 'com.apple.mgmt.External.<uuid> for MDM, or a bundle id' });
    }
    let secret: Buffer | undefined;
    if (body.secret !== undefined) {
      secret = typeof body.secret === 'string' && /^[A-Za-z0-9_-]+$/.test(body.secret) ? Buffer.from(body.secret, 'base64url') : Buffer.alloc(0);
      if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
        throw problem(400, 'bad-secret', `secret is base64url of ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes`, { field: 'secret', hint: 'omit it to have one made' });
      }
    }
    const made = mock().hub.register(body.topic, secret);
    res.status(201).json({ ...made, topic: body.topic });
  });
  const tokenParam = (req: Request): string => {
    const token = String(req.params.token).toLowerCase();
    if (!isTokenHex(token)) throw problem(400, 'bad-token', 'a device token is 64 hex characters', { field: 'token' });
    return token;
  };
  router.get('/tokens/:token', (req, res) => {
    const state = mock().hub.tokenState(tokenParam(req));
    if (!state) throw problem(404, 'unknown-token', `no device has token ${req.params.token}`);
    res.json(state);
  });
  router.delete('/tokens/:token', (req, res) => {
    if (!mock().hub.unregisterToken(tokenParam(req))) throw problem(404, 'unknown-token', `no device has token ${req.params.token}`);
    res.json(mock().hub.tokenState(tokenParam(req)));
  });

  return router;
}
