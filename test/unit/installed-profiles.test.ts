/**
 * Installed profiles as JSON and as system_profiler prints them (protocol/installed-profiles.ts):
 * secrets left out, data and dates tagged, the old-style plist text and its quoting.
 */
import { createHash } from 'node:crypto';
import { formatSystemProfiler, payloadJson, profileJson, type DeviceProfilesJson } from '../../protocol/installed-profiles';
import type { PlistDict } from '../../protocol/plist/types';

const profile: PlistDict = {
  PayloadType: 'Configuration',
  PayloadVersion: 1,
  PayloadIdentifier: 'com.example.wifi',
  PayloadUUID: 'A1',
  PayloadDisplayName: 'Office Wi-Fi',
  PayloadRemovalDisallowed: true,
  PayloadContent: [
    {
      PayloadType: 'com.apple.security.pkcs12',
      PayloadVersion: 1,
      PayloadIdentifier: 'com.example.wifi.id',
      PayloadUUID: 'B2',
      Password: 'secret',
      PayloadContent: Buffer.from('p12'),
    },
    {
      PayloadType: 'com.apple.wifi.managed',
      PayloadVersion: 1,
      PayloadIdentifier: 'com.example.wifi.net',
      PayloadUUID: 'C3',
      SSID_STR: 'Office "5G"',
      AutoJoin: false,
      Ports: [443, 5223],
      EAPClientConfiguration: { AcceptEAPTypes: [13], UserName: 'ada' },
      Since: new Date('2026-01-05T09:00:00Z'),
    },
  ],
};

describe('profileJson', () => {
  it('keeps each payload\'s own settings, never a Password, data as length and SHA-256, dates tagged', () => {
    const json = profileJson(profile, { installedAt: '2026-01-05T09:00:00.000Z', installedBy: 'InstallProfile', commandUUID: 'X', verificationState: 'Unsigned' });
    expect(json).toMatchObject({ identifier: 'com.example.wifi', uuid: 'A1', displayName: 'Office Wi-Fi', removalDisallowed: true, version: 1, commandUUID: 'X' });
    expect(json.payloads[0]!.data).toEqual({ PayloadContent: { $data: { length: 3, sha256: createHash('sha256').update('p12').digest('hex') } } });
    expect(json.payloads[1]!.data).toEqual({
      SSID_STR: 'Office "5G"',
      AutoJoin: false,
      Ports: [443, 5223],
      EAPClientConfiguration: { AcceptEAPTypes: [13], UserName: 'ada' },
      Since: { $date: '2026-01-05T09:00:00.000Z' },
    });
    expect(payloadJson((profile.PayloadContent as PlistDict[])[1]!)).toEqual(json.payloads[1]);
  });
});

describe('formatSystemProfiler', () => {
  const device: DeviceProfilesJson = {
    udid: 'U',
    mdm: null,
    notes: [],
    profiles: [profileJson(profile, { installedAt: '2026-01-05T09:00:00.000Z', installedBy: 'InstallProfile', verificationState: 'Unsigned' })],
  };

  it('lays out the device section, the profile\'s attributes and each payload\'s settings as an old-style plist', () => {
    const text = formatSystemProfiler(device);
    expect(text).toContain(
      [
        '        Office Wi-Fi:',
        '',
        '          Installation Date: 2026-01-05 09:00:00 +0000',
        '          Verification State: Unsigned',
        '          Identifier: com.example.wifi',
        '          UUID: A1',
        '          Removal Disallowed: Yes',
        '          Version: 1',
        '',
      ].join('\n'),
    );
    expect(text).toContain(
      [
        '          com.apple.wifi.managed:',
        '',
        '              Payload Data:',
        '                  SSID_STR = "Office \\"5G\\"";',
        '                  AutoJoin = 0;',
        '                  Ports = (',
        '                      443,',
        '                      5223',
        '                  );',
        '                  EAPClientConfiguration = {',
        '                      AcceptEAPTypes = (',
        '                          13',
        '                      );',
        '                      UserName = ada;',
        '                  };',
        '                  Since = "2026-01-05 09:00:00 +0000";',
        '              Payload Identifier: com.example.wifi.net',
      ].join('\n'),
    );
    expect(text).not.toContain('secret');
    expect(text).toMatch(/PayloadContent = \{length = 3, sha256 = [0-9a-f]{64}\};/);
  });

  it('prints only the heading for a Mac with no profiles', () => {
    expect(formatSystemProfiler({ udid: 'U', profiles: [], mdm: null, notes: [] })).toBe('Configuration Profiles:\n\n');
  });
});
