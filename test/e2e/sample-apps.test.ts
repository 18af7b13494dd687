/**
 * The sample apps (protocol/sample-apps.ts) over real sockets: each manifest's package is on the
 * name the network guide downloads it from (the custom app on the agent-downloads name, the Auto
 * App on the first Auto Apps name), with sha256s that match the package chunk by chunk.
 */
import { createHash } from 'node:crypto';
import { AGENT_MANIFEST_PATH } from '../../protocol/agent';
import { parseManifest, verifyAsset } from '../../protocol/manifest';
import { parsePlist } from '../../protocol/plist';
import { SAMPLE_APPS, type SampleAppKind } from '../../protocol/sample-apps';
import { validateManifest } from '../../protocol/schema';
import { tenantDomains } from '../../protocol/tenant';
import { startTestServer, type TestServer } from '../helpers/server';

let t: TestServer;

beforeAll(async () => {
  t = await startTestServer();
});
afterAll(() => t?.stop());

async function manifestOf(kind: SampleAppKind) {
  const r = await t.http.send('GET', SAMPLE_APPS[kind].manifestPath);
  expect(r.status).toBe(200);
  expect(r.headers['content-type']).toBe('application/xml');
  const value = parsePlist(r.body);
  expect(validateManifest(value as never).ok).toBe(true);
  const [item] = parseManifest(value);
  return item!;
}

describe('the sample apps', () => {
  it.each([
    ['custom-app', (d: ReturnType<typeof tenantDomains>) => d.agentDownloads],
    ['auto-app', (d: ReturnType<typeof tenantDomains>) => d.autoAppDownloads[0]!],
  ] as const)('serve the %s on its name, with sha256s that match its package', async (kind, nameOf) => {
    const app = SAMPLE_APPS[kind];
    const port = new URL(t.server.url).port;
    const host = nameOf(tenantDomains(t.server.tenant));
    // The URL the server hands out (ready line, DeviceUrls) is on that name.
    const manifestUrl = `https://${host}:${port}${app.manifestPath}`;
    expect(t.server.deviceUrls.sampleAppManifestUrl(kind)).toBe(manifestUrl);
    expect(t.server.info.deviceUrls[kind === 'custom-app' ? 'customAppManifest' : 'autoAppManifest']).toBe(manifestUrl);

    const item = await manifestOf(kind);
    expect(item).toMatchObject({ bundleIdentifier: app.bundleId, bundleVersion: app.version, title: app.title });
    const asset = item.assets[0]!;
    expect(asset.url).toBe(`https://${host}:${port}${app.packagePrefix}${app.packageName}`);

    const pkg = await t.http.send('GET', new URL(asset.url).pathname);
    expect(pkg.status).toBe(200);
    expect(pkg.headers['content-type']).toBe('application/octet-stream');
    expect(pkg.body.subarray(0, 4).toString('latin1')).toBe('xar!');
    // The manifest's sha256 of each 16 KiB chunk, computed here independently.
    const size = asset.sha256Size!;
    const own: string[] = [];
    for (let at = 0; at < pkg.body.length; at += size) own.push(createHash('sha256').update(pkg.body.subarray(at, at + size)).digest('hex'));
    expect(asset.sha256s).toEqual(own);
    expect(verifyAsset(asset, pkg.body)).toEqual({ ok: true, algorithm: 'sha256' });
  });

  it('are packages of their own, apart from the agent and from each other', async () => {
    const bodies = await Promise.all(
      [(await manifestOf('custom-app')).assets[0]!.url, (await manifestOf('auto-app')).assets[0]!.url].map(async (u) => (await t.http.send('GET', new URL(u).pathname)).body),
    );
    const agent = parseManifest(parsePlist((await t.http.send('GET', AGENT_MANIFEST_PATH)).body))[0]!.assets[0]!;
    const agentPkg = (await t.http.send('GET', new URL(agent.url).pathname)).body;
    expect(bodies[0]!.equals(bodies[1]!)).toBe(false);
    expect(bodies[0]!.equals(agentPkg)).toBe(false);
    expect(bodies[1]!.equals(agentPkg)).toBe(false);
  });

  it('answers HEAD with the headers of a GET, and 404 / 405 as problems', async () => {
    const head = await t.http.send('HEAD', SAMPLE_APPS['auto-app'].manifestPath);
    expect(head.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect(Number(head.headers['content-length'])).toBeGreaterThan(0);

    const missing = await t.http.send('GET', `${SAMPLE_APPS['custom-app'].packagePrefix}mdmsim-custom-app-0.0.1.pkg`);
    expect(missing.status).toBe(404);
    expect(JSON.parse(missing.body.toString('utf8')).error).toMatchObject({ code: 'unknown-package', expected: `${SAMPLE_APPS['custom-app'].manifestPath} or ${SAMPLE_APPS['auto-app'].manifestPath}` });

    const post = await t.http.send('POST', SAMPLE_APPS['custom-app'].manifestPath);
    expect(post.status).toBe(405);
    expect(post.headers.allow).toBe('GET, HEAD');
  });
});
