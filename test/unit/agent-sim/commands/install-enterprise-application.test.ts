import { AGENT_BUNDLE_ID, AGENT_CHECKIN_INTERVAL_MS, AGENT_CHECKIN_PATH, AGENT_TITLE } from '../../../../protocol/agent';
import { buildManifest } from '../../../../protocol/manifest';
import { buildPlistBuffer } from '../../../../protocol/plist';
import type { PlistDict } from '../../../../protocol/plist/types';
import { expectValid, mac, NOW, run, type TestMac } from './helpers';

const MANIFEST_URL = 'https://mdm.example.com/agent/manifest.plist';
const PKG_URL = 'https://cdn.example.com/agent/packages/mdmsim-agent-1.4.2.pkg';
const PKG = Buffer.alloc(300_000, 7);

function agentManifest(bytes = PKG, chunkSize?: number): PlistDict {
  return buildManifest({ url: PKG_URL, bytes, bundleIdentifier: AGENT_BUNDLE_ID, bundleVersion: '1.4.2', title: AGENT_TITLE, ...(chunkSize ? { chunkSize } : {}) });
}

function serve(m: TestMac, manifest: PlistDict = agentManifest(), pkg: Buffer = PKG): void {
  m.network.bodies.set(MANIFEST_URL, buildPlistBuffer(manifest));
  m.network.bodies.set(PKG_URL, pkg);
}

function chainOf(outcome: Awaited<ReturnType<typeof run>>) {
  if (outcome.status !== 'Error') throw new Error(`expected Error, got ${outcome.status}`);
  return outcome.errorChain;
}

describe('InstallEnterpriseApplication', () => {
  it.each(['catalina', 'monterey', 'sonoma', 'sequoia'] as const)('on %s: fetches, verifies, installs the agent and starts it', async (os) => {
    const m = mac(os);
    serve(m);
    const outcome = await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL });
    expect(outcome).toEqual({ status: 'Acknowledged', after: ['start-agent'] });
    expectValid(m, 'InstallEnterpriseApplication', outcome);
    expect(m.network.fetched).toEqual([
      { url: MANIFEST_URL, purpose: 'manifest' },
      { url: PKG_URL, purpose: 'package' },
    ]);
    expect(m.state.apps.get(AGENT_BUNDLE_ID)).toEqual({
      bundleId: AGENT_BUNDLE_ID,
      name: AGENT_TITLE,
      version: '1.4.2',
      shortVersion: '1.4.2',
      path: `/Applications/${AGENT_TITLE}.app`,
      sizeBytes: PKG.length,
      installedAt: NOW,
      managed: true,
    });
    expect(m.state.agent).toEqual({
      installed: true,
      version: '1.4.2',
      installedAt: NOW,
      checkinUrl: `https://mdm.example.com${AGENT_CHECKIN_PATH}`,
      intervalMs: AGENT_CHECKIN_INTERVAL_MS,
    });
  });

  it('checks every chunk (several sha256s)', async () => {
    const m = mac('sonoma');
    serve(m, agentManifest(PKG, 64 * 1024));
    expect((await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL })).status).toBe('Acknowledged');
  });

  it('takes the check-in URL and interval from Configuration (macOS 11+)', async () => {
    const m = mac('sonoma');
    serve(m);
    const Configuration = { AgentCheckinURL: 'https://agent.example.net/agent/v1/checkin', CheckinIntervalSeconds: 300 };
    await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL, Configuration });
    expect(m.state.agent).toMatchObject({ checkinUrl: 'https://agent.example.net/agent/v1/checkin', intervalMs: 300_000 });
  });

  it('takes the pin from Configuration.ServerPinSHA256', async () => {
    const m = mac('sonoma');
    serve(m);
    const pin = 'n7l2A6Y5kq4nS0sVv5wYx3r3g0m2v7cG4C3m0r9yT1E=';
    expect((await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL, Configuration: { ServerPinSHA256: pin } })).status).toBe('Acknowledged');
    expect(m.state.agent).toMatchObject({ installed: true, pin });
  });

  it.each([
    ['hex instead of base64', 'ab'.repeat(32)],
    ['cut short', 'n7l2A6Y5kq4nS0sVv5wYx3r3g0m2v7cG4C3m0r9y'],
    ['not a string', 42],
  ])('refuses a ServerPinSHA256 that is not a pin (%s) instead of installing an agent that pins nothing', async (_what, ServerPinSHA256) => {
    const m = mac('sonoma');
    serve(m);
    const outcome = await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL, Configuration: { ServerPinSHA256 } });
    expect(outcome.status).toBe('CommandFormatError');
    if (outcome.status !== 'CommandFormatError') return;
    const [first] = outcome.errorChain ?? [];
    expect(first).toMatchObject({ ErrorCode: 12008, ErrorDomain: 'MCMDMErrorDomain' });
    expect(first!.USEnglishDescription).toMatch(/Configuration\.ServerPinSHA256 must be the base64 SHA-256/);
    expect(m.state.apps.has(AGENT_BUNDLE_ID)).toBe(false);
    expect(m.state.agent.installed).toBe(false);
    expect(m.network.fetched).toEqual([{ url: MANIFEST_URL, purpose: 'manifest' }]);
  });

  it('ignores Configuration on macOS 10.15, which has no such key', async () => {
    const m = mac('catalina');
    serve(m);
    await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL, Configuration: { AgentCheckinURL: 'https://agent.example.net/x' } });
    expect(m.state.agent.checkinUrl).toBe(`https://mdm.example.com${AGENT_CHECKIN_PATH}`);
  });

  it('installs from an inline Manifest, the agent checking in at the package’s origin', async () => {
    const m = mac('sonoma');
    m.network.bodies.set(PKG_URL, PKG);
    const outcome = await run(m, 'InstallEnterpriseApplication', { Manifest: agentManifest() });
    expect(outcome.status).toBe('Acknowledged');
    expect(m.network.fetched).toEqual([{ url: PKG_URL, purpose: 'package' }]);
    expect(m.state.agent.checkinUrl).toBe(`https://cdn.example.com${AGENT_CHECKIN_PATH}`);
  });

  it('installs another app without starting the agent', async () => {
    const m = mac('sonoma');
    const manifest = buildManifest({ url: PKG_URL, bytes: PKG, bundleIdentifier: 'com.example.tool', bundleVersion: '2.0', title: 'Tool' });
    serve(m, manifest);
    expect(await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL })).toEqual({ status: 'Acknowledged' });
    expect(m.state.apps.get('com.example.tool')).toMatchObject({ name: 'Tool', version: '2.0', managed: true });
    expect(m.state.agent.installed).toBe(false);
  });

  it('answers a corrupted package with 12024 naming the chunk, and installs nothing', async () => {
    const m = mac('sonoma');
    const corrupt = Buffer.from(PKG);
    corrupt[1000] ^= 0xff;
    serve(m, agentManifest(), corrupt);
    const outcome = await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL });
    const chain = chainOf(outcome);
    expect(chain[0]).toMatchObject({ ErrorCode: 12024, ErrorDomain: 'MCMDMErrorDomain' });
    expect(chain[0]!.LocalizedDescription).toMatch(/sha256 of chunk 0 is [0-9a-f]{64}, the manifest says [0-9a-f]{64}/);
    expect(chain[0]!.LocalizedDescription).toContain(PKG_URL);
    expectValid(m, 'InstallEnterpriseApplication', outcome);
    expect(m.state.apps.has(AGENT_BUNDLE_ID)).toBe(false);
    expect(m.state.agent.installed).toBe(false);
  });

  it('checks md5s when the manifest has no sha256s (older manifests)', async () => {
    const m = mac('sonoma');
    const manifest = agentManifest();
    const asset = ((manifest.items as PlistDict[])[0]!.assets as PlistDict[])[0]!;
    delete asset.sha256s;
    delete asset['sha256-size'];
    const corrupt = Buffer.from(PKG);
    corrupt[0] ^= 1;
    serve(m, manifest, corrupt);
    const chain = chainOf(await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL }));
    expect(chain[0]!.LocalizedDescription).toMatch(/md5 of chunk 0/);
  });

  it('answers a failed package download with 12043 over the NSURLErrorDomain error', async () => {
    const m = mac('monterey');
    m.network.bodies.set(MANIFEST_URL, buildPlistBuffer(agentManifest()));
    const outcome = await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL });
    const chain = chainOf(outcome);
    expect(chain.map((e) => [e.ErrorDomain, e.ErrorCode])).toEqual([
      ['MCMDMErrorDomain', 12043],
      ['NSURLErrorDomain', -1011],
    ]);
    expect(chain[0]!.LocalizedDescription).toContain(PKG_URL);
    expect(chain[1]!.LocalizedDescription).toMatch(/HTTP 404/);
    expectValid(m, 'InstallEnterpriseApplication', outcome);
  });

  it('answers an unreachable manifest server with 12043 over NSURLErrorCannotConnectToHost', async () => {
    const m = mac('sonoma');
    m.network.unreachable.add(MANIFEST_URL);
    const chain = chainOf(await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL }));
    expect(chain.map((e) => [e.ErrorDomain, e.ErrorCode])).toEqual([
      ['MCMDMErrorDomain', 12043],
      ['NSURLErrorDomain', -1004],
    ]);
  });

  it.each([
    ['not a plist', Buffer.from('<html>nope</html>')],
    ['a plist that is no manifest', buildPlistBuffer({ items: [] })],
    ['a manifest without a package', buildPlistBuffer({ items: [{ assets: [{ kind: 'display-image', url: 'https://x/y.png' }], metadata: { 'bundle-identifier': 'a.b', kind: 'software', title: 'T' } }] })],
  ])('answers %s with 12033 Invalid manifest', async (_what, body) => {
    const m = mac('sonoma');
    m.network.bodies.set(MANIFEST_URL, body);
    const outcome = await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL });
    expect(chainOf(outcome)[0]).toMatchObject({ ErrorCode: 12033, ErrorDomain: 'MCMDMErrorDomain' });
    expectValid(m, 'InstallEnterpriseApplication', outcome);
  });

  it('answers two apps in one manifest with 12032', async () => {
    const m = mac('sonoma');
    const one = agentManifest().items as PlistDict[];
    serve(m, { items: [...one, ...one] });
    expect(chainOf(await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL }))[0]!.ErrorCode).toBe(12032);
  });

  it('refuses a ManifestURL that is not https (12034) or not a URL (12030), fetching nothing', async () => {
    const m = mac('sonoma');
    expect(chainOf(await run(m, 'InstallEnterpriseApplication', { ManifestURL: 'http://mdm.example.com/m.plist' }))[0]!.ErrorCode).toBe(12034);
    expect(chainOf(await run(m, 'InstallEnterpriseApplication', { ManifestURL: 'not a url' }))[0]!.ErrorCode).toBe(12030);
    expect(m.network.fetched).toEqual([]);
  });

  it('answers CommandFormatError when it has neither ManifestURL nor Manifest', async () => {
    const m = mac('sonoma');
    const outcome = await run(m, 'InstallEnterpriseApplication', { InstallAsManaged: true });
    expect(outcome.status).toBe('CommandFormatError');
    expectValid(m, 'InstallEnterpriseApplication', outcome);
  });

  it('reinstalls over an earlier copy, with the new install date and version', async () => {
    const m = mac('sonoma');
    serve(m);
    await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL });
    m.state.agent = { installed: false };
    m.state.apps.delete(AGENT_BUNDLE_ID);
    const newer = Buffer.alloc(1000, 9);
    const manifest = buildManifest({ url: PKG_URL, bytes: newer, bundleIdentifier: AGENT_BUNDLE_ID, bundleVersion: '1.5.0', title: AGENT_TITLE });
    serve(m, manifest, newer);
    expect((await run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL })).status).toBe('Acknowledged');
    expect(m.state.agent).toMatchObject({ installed: true, version: '1.5.0' });
    expect(m.state.apps.get(AGENT_BUNDLE_ID)?.sizeBytes).toBe(1000);
  });

  it('lets a bug in the network layer propagate (not the server’s fault)', async () => {
    const m = mac('sonoma');
    m.ctx.network = { get: async () => Promise.reject(new TypeError('bug')) };
    await expect(run(m, 'InstallEnterpriseApplication', { ManifestURL: MANIFEST_URL })).rejects.toThrow('bug');
  });
});
