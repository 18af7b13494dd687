/**
 * Two sample apps the MDM host serves besides the agent, so the network guide's download rows
 * can be practised with a real install (InstallEnterpriseApplication of their manifest):
 *
 *   custom-app  a Custom App, on the agent-downloads name (the guide's "the Kandji Agent & Custom
 *               Apps" row, `prd.s3.<zone>`):
 *               /apps/custom/manifest.plist, /apps/custom/packages/mdmsim-custom-app-<v>.pkg
 *   auto-app    an Auto App, on the first Auto Apps name (`prd-managed-library-items.s3.<zone>`):
 *               /apps/auto/manifest.plist, /apps/auto/packages/mdmsim-auto-app-<v>.pkg
 *
 * Their packages are built as the agent's is (server/agent/package.ts): deterministic bytes with
 * per-chunk hashes in the manifest. A Mac installs them as any app (no configuration, no agent).
 * Which name a manifest is on is the server's DeviceUrls (server/tenant/urls.ts). No I/O here.
 */
import type { ServedApp } from './manifest';

export type SampleAppKind = 'custom-app' | 'auto-app';
export const SAMPLE_APP_KINDS: readonly SampleAppKind[] = ['custom-app', 'auto-app'];

export interface SampleApp extends ServedApp {
  kind: SampleAppKind;
}

/** Every sample app's path starts with this. */
export const SAMPLE_APPS_PREFIX = '/apps/';

function app(kind: SampleAppKind, dir: string, bundleId: string, title: string, version: string): SampleApp {
  return {
    kind,
    bundleId,
    title,
    version,
    manifestPath: `${SAMPLE_APPS_PREFIX}${dir}/manifest.plist`,
    packagePrefix: `${SAMPLE_APPS_PREFIX}${dir}/packages/`,
    packageName: `mdmsim-${kind}-${version}.pkg`,
  };
}

export const SAMPLE_APPS: Readonly<Record<SampleAppKind, SampleApp>> = {
  'custom-app': app('custom-app', 'custom', 'io.mdmsim.sample.custom-app', 'mdmsim Custom App', '2.0.1'),
  'auto-app': app('auto-app', 'auto', 'io.mdmsim.sample.auto-app', 'mdmsim Auto App', '1.3.0'),
};
