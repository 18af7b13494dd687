/**
 * The dashboard at `/` on the MDM host: a page and its ES modules, served from
 * server/dashboard/static with nothing from a CDN (the lab machine may have no internet).
 * The page talks to /sim/v1 like any client, with the API token (see static/api.js for how
 * it gets it), and listens on the events WebSocket.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import express from 'express';

export { createDashboardControl, type DashboardControlOptions } from './control';

/** Where the page's files are served from (under the MDM host). */
export const DASHBOARD_ASSETS_PATH = '/dashboard';

// Only this origin's own scripts and styles, and only this origin's API and WebSocket.
const SECURITY_HEADERS: Record<string, string> = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
  // The token travels in the address bar's fragment on first load: never in a Referer.
  'referrer-policy': 'no-referrer',
  'x-content-type-options': 'nosniff',
  // A newer mdmsim serves a newer page: never a stale module mixed with fresh ones.
  'cache-control': 'no-store',
};

/**
 * The files live beside this module in the source tree (jest, ts-node) and in the package
 * (server/dashboard/static is in package.json "files") when this runs compiled from dist/.
 */
export function dashboardStaticDir(): string {
  const candidates = [join(__dirname, 'static'), join(__dirname, '..', '..', '..', 'server', 'dashboard', 'static')];
  const found = candidates.find((dir) => existsSync(join(dir, 'index.html')));
  if (!found) throw new Error(`the dashboard's files are missing: looked for index.html in ${candidates.join(' and ')}`);
  return found;
}

export function createDashboard(): express.Router {
  const dir = dashboardStaticDir();
  const router = express.Router();
  const setHeaders = (res: express.Response) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) res.setHeader(name, value);
  };
  router.get('/', (_req, res) => {
    setHeaders(res);
    res.sendFile(join(dir, 'index.html'));
  });
  router.use(
    DASHBOARD_ASSETS_PATH,
    express.static(dir, {
      index: false,
      etag: false,
      lastModified: false,
      dotfiles: 'ignore',
      setHeaders: (res) => setHeaders(res as express.Response),
    }),
  );
  return router;
}
