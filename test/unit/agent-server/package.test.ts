import { AGENT_VERSION } from '../../../protocol/agent';
import { parseManifest, verifyAsset } from '../../../protocol/manifest';
import { parsePlist } from '../../../protocol/plist';
import { AgentArtifacts, agentPackageBytes, DEFAULT_AGENT_CHUNK_BYTES, DEFAULT_AGENT_PACKAGE_BYTES } from '../../../server/agent/package';

describe('the agent package', () => {
  it('is a xar-looking header and seeded filler, the same bytes for the same version', () => {
    const a = agentPackageBytes('1.4.2', 4096);
    expect(a.subarray(0, 4).toString('latin1')).toBe('xar!');
    expect(a.readUInt16BE(4)).toBe(28);
    expect(a.readUInt16BE(6)).toBe(1);
    expect(agentPackageBytes('1.4.2', 4096).equals(a)).toBe(true);
    expect(agentPackageBytes('1.4.3', 4096).equals(a)).toBe(false);
    // Filler, not zeros: a flipped byte anywhere changes a chunk hash.
    const zeros = a.subarray(28).filter((b) => b === 0).length;
    expect(zeros).toBeLessThan(100);
    // Sizes that are not a multiple of 4 are filled to the end.
    const odd = agentPackageBytes('1.4.2', 1031);
    expect(odd.length).toBe(1031);
    expect(odd.subarray(0, 1028).equals(agentPackageBytes('1.4.2', 1028))).toBe(true);
  });

  it('refuses sizes it cannot make', () => {
    expect(() => agentPackageBytes('1', 10)).toThrow(/packageBytes/);
    expect(() => agentPackageBytes('1', 1.5 as number)).toThrow(/packageBytes/);
    expect(() => new AgentArtifacts({ chunkBytes: 0 })).toThrow(/chunkBytes/);
  });

  it('defaults to 64 KiB in 16 KiB chunks: four per-chunk hashes that match', () => {
    const art = new AgentArtifacts();
    expect(art.package.length).toBe(DEFAULT_AGENT_PACKAGE_BYTES);
    expect(art.packagePath).toBe(`/agent/packages/mdmsim-agent-${AGENT_VERSION}.pkg`);
    const manifest = art.manifest('https://mdm.test:8443');
    expect(art.manifest('https://mdm.test:8443')).toBe(manifest);
    const [item] = parseManifest(parsePlist(manifest));
    const asset = item!.assets[0]!;
    expect(asset).toMatchObject({ url: `https://mdm.test:8443${art.packagePath}`, sha256Size: DEFAULT_AGENT_CHUNK_BYTES, md5Size: DEFAULT_AGENT_CHUNK_BYTES });
    expect(asset.sha256s).toHaveLength(4);
    expect(verifyAsset(asset, art.package)).toEqual({ ok: true, algorithm: 'sha256' });
    expect(verifyAsset({ ...asset, sha256s: undefined }, art.package)).toEqual({ ok: true, algorithm: 'md5' });
  });
});
