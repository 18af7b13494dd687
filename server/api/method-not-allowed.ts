/**
 * Django REST's answer to a method a known path does not take: 405
 * `{"detail": "Method \"POST\" not allowed."}` with an `Allow` header naming the methods it does
 * take, in DRF's order (GET, POST, PUT, PATCH, DELETE, HEAD). As in DRF, the request has been
 * authenticated (401 first) and no device is looked up: a wrong method on an unknown device id
 * is still 405. OPTIONS is not listed: mdmsim does not answer DRF's OPTIONS metadata.
 *
 * Runs after the routers: a request that reaches it matched no route of its method.
 */
import type { RequestHandler } from 'express';
import { KANDJI_ACTIONS } from '../../protocol/kandji';
import { sendDetail } from './auth/drf';

const LISTS = ['details', 'commands', 'activity', 'apps', 'library-items', 'status', 'parameters'];

/** The API's paths (relative to /api/v1, trailing slash optional) and the methods each takes. */
const ROUTES: ReadonlyArray<[RegExp, string]> = [
  [/^\/devices\/?$/, 'GET, HEAD'],
  [/^\/devices\/[^/]+\/?$/, 'GET, DELETE, HEAD'],
  [new RegExp(`^/devices/[^/]+/(?:${LISTS.join('|')})/?$`), 'GET, HEAD'],
  [new RegExp(`^/devices/[^/]+/action/(?:${KANDJI_ACTIONS.join('|')})/?$`), 'POST'],
  [/^\/prism\/device_information\/?$/, 'GET, HEAD'],
];

export const methodNotAllowed: RequestHandler = (req, res, next) => {
  const route = ROUTES.find(([path]) => path.test(req.path));
  if (!route) return next();
  sendDetail(res, 405, `Method "${req.method}" not allowed.`, { allow: route[1] });
};
