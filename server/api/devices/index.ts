/**
 * /api/v1/devices: the device list, one device, its details and per-device lists, the actions
 * and DELETE. Every device fact comes from ../device-view.ts (shared with Prism). Unknown
 * device ids answer 404 `{"detail": "Not found."}`; unknown query parameters are ignored.
 */
import express, { type Request, type Response } from 'express';
import { KANDJI_ACTIONS, type KandjiAction, type KandjiPermission } from '../../../protocol/kandji';
import type { EnrollmentRecord } from '../../storage/types';
import type { Guard, KandjiApiDeps } from '../context';
import { apiDeviceOf, apiDevices, findApiDevice, viewSettingsOf, type ApiDevice } from '../device-view';
import { DeviceActions } from './actions';
import { detailsJson } from './details';
import { activityOf, appsOf, commandsOf, libraryItemsOf, page } from './history';
import { deviceJson, filtersOf, orderingOf, paging, type KandjiDeviceJson } from './list';
import { apiDeviceIdsInStorageOrder } from './list-order';

const NOT_FOUND = { detail: 'Not found.' };

export function createDevicesRouter(deps: KandjiApiDeps, guard: Guard): express.Router {
  const router = express.Router({ strict: false });
  const actions = new DeviceActions(deps);
  // The agent of a deleted device has been told to uninstall: MDM removal may be pushed now.
  deps.events.subscribe((event) => {
    if (event.type === 'agent.uninstall.requested' && event.udid !== undefined) actions.onUninstallRequested(event.udid);
  });
  const view = (e: Readonly<EnrollmentRecord>): ApiDevice => apiDeviceOf(e, deps.clock.now(), viewSettingsOf(deps.agentPolicy), deps.store);
  const urlOf = (req: Request): string => `${deps.baseUrl()}${req.originalUrl}`;

  router.get('/', guard('devices:list'), (req, res) => {
    const q = req.query as Record<string, unknown>;
    const { limit, offset } = paging(q);
    const filters = filtersOf(q);
    const order = orderingOf(q);
    if (filters.length === 0 && !order) {
      // The common case (a client paging the whole fleet): only this page's records are built.
      const ids = apiDeviceIdsInStorageOrder(deps.store);
      res.set('x-total-count', String(ids.length));
      res.set('x-total-pages', String(Math.ceil(ids.length / limit)));
      const now = deps.clock.now();
      const settings = viewSettingsOf(deps.agentPolicy);
      const out: KandjiDeviceJson[] = [];
      for (const id of ids.slice(offset, offset + limit)) {
        const e = deps.store.getEnrollment(id);
        if (e) out.push(deviceJson(apiDeviceOf(e, now, settings, deps.store)));
      }
      res.json(out);
      return;
    }
    let devices = apiDevices(deps.store, deps.clock.now(), viewSettingsOf(deps.agentPolicy));
    if (filters.length > 0) devices = devices.filter((d) => filters.every((f) => f(d)));
    if (order) devices.sort(order);
    const total = devices.length;
    res.set('x-total-count', String(total));
    res.set('x-total-pages', String(Math.ceil(total / limit)));
    res.json(devices.slice(offset, offset + limit).map(deviceJson));
  });

  /** The device the path names, or a 404 already sent. */
  const device = (req: Request, res: Response): Readonly<EnrollmentRecord> | undefined => {
    const e = findApiDevice(deps.store, String(req.params.deviceId));
    if (!e) res.status(404).json(NOT_FOUND);
    return e;
  };
  const read = (permission: KandjiPermission, path: string, answer: (e: Readonly<EnrollmentRecord>, req: Request) => unknown): void => {
    router.get(path, guard(permission), (req, res) => {
      const e = device(req, res);
      if (e) res.json(answer(e, req));
    });
  };

  read('devices:read', '/:deviceId', (e) => deviceJson(view(e)));
  read('devices:details', '/:deviceId/details', (e) => detailsJson(deps.store, e, view(e)));
  read('devices:commands', '/:deviceId/commands', (e, req) => {
    const { limit, offset } = paging(req.query as Record<string, unknown>, 10_000, 300);
    return { commands: page(commandsOf(deps.store, e.id), limit, offset, urlOf(req)), device_id: view(e).deviceId };
  });
  read('devices:activity', '/:deviceId/activity', (e, req) => {
    const { limit, offset } = paging(req.query as Record<string, unknown>, 10_000, 300);
    return { activity: page(activityOf(deps.store, e.id), limit, offset, urlOf(req)), device_id: view(e).deviceId };
  });
  read('devices:apps', '/:deviceId/apps', (e) => ({ device_id: view(e).deviceId, apps: appsOf(deps.store, e) }));
  read('devices:library-items', '/:deviceId/library-items', (e) => {
    const d = view(e);
    return { library_items: libraryItemsOf(e, d), device_id: d.deviceId };
  });
  read('devices:status', '/:deviceId/status', (e) => {
    const d = view(e);
    return { device_id: d.deviceId, library_items: libraryItemsOf(e, d), parameters: [] };
  });
  // mdmsim runs no Kandji parameters (compliance checks): the list exists, empty.
  read('devices:parameters', '/:deviceId/parameters', (e) => ({ device_id: view(e).deviceId, parameters: [] }));

  for (const action of KANDJI_ACTIONS) {
    router.post(`/:deviceId/action/${action}`, guard(`devices:action:${action}` as KandjiPermission), express.json({ limit: '64kb' }), async (req, res, next) => {
      try {
        const e = device(req, res);
        if (!e) return;
        const answer = await actions.run(action as KandjiAction, e, req.body);
        if (answer.body === undefined) res.status(answer.status).end();
        else res.status(answer.status).json(answer.body);
      } catch (error) {
        next(error);
      }
    });
  }

  router.delete('/:deviceId', guard('devices:delete'), async (req, res, next) => {
    try {
      const e = device(req, res);
      if (!e) return;
      await actions.remove(e);
      res.status(204).end();
    } catch (error) {
      next(error);
    }
  });

  return router;
}
