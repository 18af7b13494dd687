/**
 * /api/v1/prism: `GET /device_information` (permission `prism:device_information`), the device
 * records posture integrations read. Devices come from the shared device view
 * (../device-view), so Prism and /devices always agree.
 */
import express from 'express';
import type { Guard, KandjiApiDeps } from '../context';
import { sendDetail } from '../auth/drf';
import { viewSettingsOf } from '../device-view';
import { parsePrismQuery, prismPage, PrismQueryError } from './page';

export { parsePrismQuery, prismPage, PrismQueryError, type PrismPage, type PrismQuery } from './page';
export { PRISM_FIELDS, PRISM_FIELD_NAMES, prismRecordOf, type PrismDeviceRecord } from './fields';

export function createPrismRouter(deps: KandjiApiDeps, guard: Guard): express.Router {
  const router = express.Router({ strict: false });
  router.get('/device_information', guard('prism:device_information'), (req, res) => {
    let query;
    try {
      query = parsePrismQuery(firstValues(req.query as Record<string, unknown>));
    } catch (error) {
      if (error instanceof PrismQueryError) return sendDetail(res, 400, error.message);
      throw error;
    }
    const page = prismPage(deps.store, deps.clock.now(), viewSettingsOf(deps.agentPolicy), query);
    res.type('application/json').send(JSON.stringify(page));
  });
  return router;
}

/** `?a=1&a=2` → the first; nested objects (qs-style brackets) are not Prism parameters. */
function firstValues(query: Record<string, unknown>): Record<string, string | undefined> {
  const out: Record<string, string | undefined> = {};
  for (const [k, v] of Object.entries(query)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (typeof first === 'string') out[k] = first;
  }
  return out;
}
