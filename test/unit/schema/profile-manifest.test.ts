import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePlist, type PlistDict } from '../../../protocol/plist';
import { validateManifest, validateProfilePayload, type ValidationResult } from '../../../protocol/schema';

// plist@5 is ESM-only: jest maps it (jest.config.js), but tsc (node16, CommonJS) cannot see
// its types, so it is required with the one signature used here.
const codes = (r: ValidationResult, which: 'errors' | 'warnings' = 'errors'): string[] =>
  r[which].map((i) => `${i.code}:${i.path}`);

/** The com.apple.mdm payload of NanoMDM's sample enrollment profile, with a CheckInURL. */
function mdmPayload(): PlistDict {
  const xml = fs.readFileSync(
    path.join(__dirname, '../../../fixtures/captures/nanomdm/docs_enroll.mobileconfig'),
    'utf8',
  );
  const profile = parsePlist(xml) as PlistDict;
  const payloads = profile['PayloadContent'] as PlistDict[];
  const mdm = payloads.find((p) => p['PayloadType'] === 'com.apple.mdm');
  if (!mdm) throw new Error('fixture has no com.apple.mdm payload');
  return { ...mdm, CheckInURL: 'https://mdm.example.org/mdm/checkin' };
}

describe('com.apple.mdm profile payload', () => {
  const mac14 = { platform: 'macOS' as const, osVersion: '14.4', strict: true };

  it('accepts the NanoMDM sample payload with a CheckInURL', () => {
    const r = validateProfilePayload('com.apple.mdm', mdmPayload(), mac14);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(validateProfilePayload('com.apple.mdm', mdmPayload(), { platform: 'iOS', osVersion: '17.0', strict: true }).ok).toBe(true);
    expect(validateProfilePayload('com.apple.mdm', mdmPayload()).ok).toBe(true);
  });

  it('rejects a payload without ServerURL', () => {
    const p = mdmPayload();
    delete p['ServerURL'];
    const r = validateProfilePayload('com.apple.mdm', p, mac14);
    expect(codes(r)).toEqual(['missing:ServerURL']);
    expect(r.errors[0]?.message).toBe('com.apple.mdm: key ServerURL is required (type <string>) on macOS 14.4 device channel');
  });

  it('checks formats, common payload keys and ranges', () => {
    const r = validateProfilePayload(
      'com.apple.mdm',
      {
        ...mdmPayload(),
        ServerURL: 'http://mdm.example.org/mdm',
        PayloadType: 'com.apple.security.scep',
        PayloadVersion: 2,
        ServerCapabilities: ['com.apple.mdm.per-user-connections', 'com.apple.mdm.teleport'],
        AccessRights: '8191',
      },
      mac14,
    );
    expect(codes(r).sort()).toEqual([
      'range:PayloadType',
      'range:PayloadVersion',
      'range:ServerCapabilities[1]',
      'range:ServerURL',
      'type:AccessRights',
    ]);
    const noUuid = mdmPayload();
    delete noUuid['PayloadUUID'];
    expect(codes(validateProfilePayload('com.apple.mdm', noUuid, mac14))).toEqual(['missing:PayloadUUID']);
  });

  it('ManagedAppleID: user enrollment only, removed in macOS 15', () => {
    const p = { ...mdmPayload(), ManagedAppleID: 'ada@example.org' };
    expect(validateProfilePayload('com.apple.mdm', p, { ...mac14, enrollment: 'user' }).ok).toBe(true);
    expect(codes(validateProfilePayload('com.apple.mdm', p, mac14))).toEqual(['not-applicable:ManagedAppleID']);
    const r = validateProfilePayload('com.apple.mdm', p, { platform: 'macOS', osVersion: '15.0', enrollment: 'user', strict: true });
    expect(codes(r)).toEqual(['not-applicable:ManagedAppleID']);
    expect(r.errors[0]?.message).toContain('removed in macOS 15.0');
  });
});

describe('ManifestURL manifest', () => {
  const pkgManifest = (): PlistDict => ({
    items: [
      {
        assets: [
          {
            kind: 'software-package',
            url: 'https://mdm.example.test/agent/agent-1.2.3.pkg',
            'sha256-size': 10485760,
            sha256s: [
              '9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08',
              '60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752',
            ],
          },
        ],
        metadata: {
          'bundle-identifier': 'com.example.agent',
          'bundle-version': '1.2.3',
          kind: 'software',
          title: 'Example Agent',
          subtitle: 'Example Inc.',
        },
      },
    ],
  });

  it('accepts a software-package manifest with sha256s (errata)', () => {
    const r = validateManifest(pkgManifest(), { platform: 'macOS', osVersion: '14.2', strict: true });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(validateManifest(pkgManifest()).ok).toBe(true);
  });

  it('still accepts the iOS asset kinds and rejects an unknown kind', () => {
    const m = pkgManifest();
    const asset = ((m['items'] as PlistDict[])[0]?.['assets'] as PlistDict[])[0] as PlistDict;
    asset['kind'] = 'display-image';
    expect(validateManifest(m).ok).toBe(true);
    asset['kind'] = 'software-pkg';
    const r = validateManifest(m);
    expect(codes(r)).toEqual(['range:items[0].assets[0].kind']);
    expect(r.errors[0]?.expected).toContain('software-package');
  });

  it('requires url, metadata and its bundle-identifier/kind/title', () => {
    const m = pkgManifest();
    const item = (m['items'] as PlistDict[])[0] as PlistDict;
    delete ((item['assets'] as PlistDict[])[0] as PlistDict)['url'];
    delete (item['metadata'] as PlistDict)['title'];
    expect(codes(validateManifest(m)).sort()).toEqual(['missing:items[0].assets[0].url', 'missing:items[0].metadata.title']);
    expect(codes(validateManifest({}))).toEqual(['missing:items']);
    expect(codes(validateManifest({ items: [{}] })).sort()).toEqual(['missing:items[0].assets', 'missing:items[0].metadata']);
  });

  it('keys Apple marks removed are not applicable', () => {
    const m = pkgManifest();
    ((m['items'] as PlistDict[])[0]?.['metadata'] as PlistDict)['sizeInBytes'] = 1234;
    const r = validateManifest(m, { platform: 'macOS' });
    expect(r.ok).toBe(true);
    expect(codes(r, 'warnings')).toEqual(['not-applicable:items[0].metadata.sizeInBytes']);
    expect(codes(validateManifest(m, { platform: 'macOS', strict: true }))).toEqual(['not-applicable:items[0].metadata.sizeInBytes']);
  });
});
