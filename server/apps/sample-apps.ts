/**
 * The sample apps (protocol/sample-apps.ts) as the MDM host serves them, next to the agent's
 * package and built the same way (server/agent/package.ts):
 *
 *   GET|HEAD /apps/custom/manifest.plist, /apps/custom/packages/mdmsim-custom-app-<v>.pkg
 *   GET|HEAD /apps/auto/manifest.plist,   /apps/auto/packages/mdmsim-auto-app-<v>.pkg
 *
 * Each manifest's package URL is on the name its app is downloaded from (DeviceUrls: the custom
 * app on the agent-downloads name, the Auto App on the first Auto Apps name), so a network that
 * does not allow that name refuses the download as it would a real one.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { problem, ProblemError, type Problem } from '../../protocol/problem';
import { SAMPLE_APP_KINDS, SAMPLE_APPS, SAMPLE_APPS_PREFIX, type SampleAppKind } from '../../protocol/sample-apps';
import { PackageArtifacts } from '../agent/package';
import { sendProblem } from '../http/respond';

export function isSampleAppPath(path: string): boolean {
  return path.startsWith(SAMPLE_APPS_PREFIX);
}

/** Both apps' packages and manifests, built once. */
export class SampleApps {
  readonly apps: Readonly<Record<SampleAppKind, PackageArtifacts>>;

  constructor() {
    const build = (kind: SampleAppKind) => {
      const a = SAMPLE_APPS[kind];
      return new PackageArtifacts({ ...a, seed: `mdmsim-${kind}-${a.version}`, field: kind });
    };
    this.apps = { 'custom-app': build('custom-app'), 'auto-app': build('auto-app') };
  }
}

export interface SampleAppHandlerOptions {
  apps: SampleApps;
  /** https://host:port an app's manifest and package are on. */
  baseUrl: (kind: SampleAppKind) => string;
  onError?: (error: unknown) => void;
}

export function createSampleAppHandler(options: SampleAppHandlerOptions) {
  const { apps } = options;

  function send(req: IncomingMessage, res: ServerResponse, contentType: string, body: Buffer): void {
    res.writeHead(200, { 'content-type': contentType, 'content-length': body.length });
    res.end(req.method === 'HEAD' ? undefined : body);
  }

  return function handleSampleApp(req: IncomingMessage, res: ServerResponse, path: string): void {
    try {
      if (req.method !== 'GET' && req.method !== 'HEAD') throw problem(405, 'method-not-allowed', `${req.method} is not allowed on ${path}`, { expected: 'GET or HEAD' });
      for (const kind of SAMPLE_APP_KINDS) {
        const a = apps.apps[kind];
        if (path === a.manifestPath) return send(req, res, 'application/xml', a.manifest(options.baseUrl(kind)));
        if (path === a.packagePath) return send(req, res, 'application/octet-stream', a.package);
      }
      throw problem(404, 'unknown-package', `no app manifest or package at ${path}`, {
        expected: SAMPLE_APP_KINDS.map((k) => apps.apps[k].manifestPath).join(' or '),
        hint: `this server serves two sample apps besides the agent: ${SAMPLE_APP_KINDS.map((k) => `${k} ${apps.apps[k].version}`).join(', ')}`,
      });
    } catch (error) {
      let p: Problem;
      if (error instanceof ProblemError) p = error.problem;
      else {
        options.onError?.(error);
        p = { status: 500, code: 'internal-error', message: 'mdmsim failed to handle this request; see its log' };
      }
      sendProblem(res, p, p.status === 405 ? { allow: 'GET, HEAD' } : {});
    }
  };
}
