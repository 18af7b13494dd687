import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePlist, type PlistDict } from '../../../protocol/plist';
import { validateCommandResponse, type ValidationResult } from '../../../protocol/schema';

// plist@5 is ESM-only: jest maps it (jest.config.js), but tsc (node16, CommonJS) cannot see
// its types, so it is required with the one signature used here.
const codes = (r: ValidationResult, which: 'errors' | 'warnings' = 'errors'): string[] =>
  r[which].map((i) => `${i.code}:${i.path}`);

const UDID = '66ADE930-5FDF-5EC4-8429-15640684C489';
const ack = (extra: PlistDict = {}): PlistDict => ({
  UDID,
  CommandUUID: '76eda240-5488-4989-8339-f2ae160113c4',
  Status: 'Acknowledged',
  ...extra,
});

describe('command responses', () => {
  it('the real DeviceInformation response (macOS 10.12.6) is valid, strict', () => {
    const xml = fs.readFileSync(
      path.join(__dirname, '../../../fixtures/captures/nanomdm/mdm_testdata_DeviceInformation.1.plist'),
      'utf8',
    );
    const response = parsePlist(xml) as PlistDict;
    for (const ctx of [{ platform: 'macOS' as const, osVersion: '10.12.6', strict: true }, { strict: true }]) {
      const r = validateCommandResponse('DeviceInformation', response, ctx);
      expect(r.errors).toEqual([]);
      expect(r.warnings).toEqual([]);
    }
    // The echoed RequestType is enough to find the schema.
    expect(validateCommandResponse(undefined, response, { strict: true }).ok).toBe(true);
  });

  it('checks QueryResponses against the schema', () => {
    const r = validateCommandResponse(
      'DeviceInformation',
      ack({ QueryResponses: { OSVersion: 14, HostName: 'x', BatteryLevel: 0.5, IsSupervised: 'yes' } }),
      { platform: 'iOS', osVersion: '17.0', strict: true },
    );
    expect(codes(r).sort()).toEqual([
      'not-applicable:QueryResponses.HostName',
      'type:QueryResponses.IsSupervised',
      'type:QueryResponses.OSVersion',
    ]);
    expect(r.errors.find((e) => e.path === 'QueryResponses.OSVersion')?.message).toBe(
      'DeviceInformation response: key QueryResponses.OSVersion must be <string>, got <integer>',
    );
  });

  it('requires the response keys only when Acknowledged', () => {
    expect(codes(validateCommandResponse('ProfileList', ack()))).toEqual(['missing:ProfileList']);
    expect(validateCommandResponse('ProfileList', ack({ Status: 'NotNow' })).ok).toBe(true);
    const list = ack({
      ProfileList: [
        { PayloadIdentifier: 'com.example.p', PayloadUUID: 'A', PayloadVersion: 1, IsManaged: true, PayloadContent: [] },
      ],
    });
    expect(validateCommandResponse('ProfileList', list, { platform: 'iOS', osVersion: '17.0', strict: true }).errors).toEqual([]);
    // IsManaged is not reported by macOS.
    expect(codes(validateCommandResponse('ProfileList', list, { platform: 'macOS', osVersion: '14.0', strict: true }))).toEqual([
      'not-applicable:ProfileList[0].IsManaged',
    ]);
  });

  it('accepts Status Error with an ErrorChain', () => {
    const r = validateCommandResponse(
      'InstallEnterpriseApplication',
      ack({
        Status: 'Error',
        ErrorChain: [
          {
            ErrorCode: 12021,
            ErrorDomain: 'MCMDMErrorDomain',
            LocalizedDescription: 'Could not download the manifest',
            USEnglishDescription: 'Could not download the manifest',
          },
          { ErrorCode: 1, ErrorDomain: 'NSURLErrorDomain', LocalizedDescription: 'timed out' },
        ],
      }),
      { platform: 'macOS', osVersion: '14.0', strict: true },
    );
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('checks the ErrorChain items and notes a missing ErrorChain', () => {
    const bad = validateCommandResponse('DeviceLock', ack({ Status: 'Error', ErrorChain: [{ ErrorCode: '12021', ErrorDomain: 'X' }] }));
    expect(codes(bad).sort()).toEqual(['missing:ErrorChain[0].LocalizedDescription', 'type:ErrorChain[0].ErrorCode']);
    const none = validateCommandResponse('DeviceLock', ack({ Status: 'CommandFormatError' }));
    expect(none.ok).toBe(true);
    expect(codes(none, 'warnings')).toEqual(['missing:ErrorChain']);
    const stray = validateCommandResponse('DeviceLock', ack({ ErrorChain: [] }), { strict: true });
    expect(codes(stray)).toEqual(['not-applicable:ErrorChain']);
  });

  it('rejects an invalid or missing Status', () => {
    const r = validateCommandResponse('ProfileList', ack({ Status: 'Done', ProfileList: [] }));
    expect(codes(r)).toEqual(['range:Status']);
    expect(r.errors[0]?.message).toContain('Acknowledged, Error, CommandFormatError, Idle, NotNow');
    const none = ack({ ProfileList: [] });
    delete none['Status'];
    expect(codes(validateCommandResponse('ProfileList', none))).toEqual(['missing:Status']);
  });

  it('requires CommandUUID unless Idle, and an identity', () => {
    expect(validateCommandResponse(undefined, { UDID, Status: 'Idle' }).ok).toBe(true);
    expect(codes(validateCommandResponse(undefined, { UDID, Status: 'NotNow' }))).toEqual(['missing:CommandUUID']);
    expect(codes(validateCommandResponse(undefined, { Status: 'Idle' }))).toEqual(['missing:UDID']);
    expect(codes(validateCommandResponse(undefined, { Status: 'Idle' }, { enrollment: 'user' }))).toEqual(['missing:EnrollmentID']);
    expect(validateCommandResponse(undefined, { EnrollmentID: 'E', Status: 'Idle' }, { enrollment: 'user', strict: true }).ok).toBe(true);
    expect(codes(validateCommandResponse(undefined, { UDID, Status: 'Idle' }, { enrollment: 'user', strict: true }))).toEqual([
      'not-applicable:UDID',
    ]);
  });

  it('user-channel identity keys are accepted on the user channel only', () => {
    const idle: PlistDict = { UDID, Status: 'Idle', UserID: 'G', UserShortName: 'ada', UserLongName: 'Ada', NotOnConsole: false };
    expect(validateCommandResponse(undefined, idle, { channel: 'user', strict: true }).ok).toBe(true);
    expect(validateCommandResponse(undefined, idle, { strict: true }).errors).toHaveLength(4);
  });

  it('a RequestType that contradicts the command is an error', () => {
    expect(codes(validateCommandResponse('ProfileList', ack({ RequestType: 'DeviceLock', ProfileList: [] })))).toEqual(['range:RequestType']);
  });

  it('extra keys: warnings for known commands, silence when the command is unknown', () => {
    const r = validateCommandResponse('InstallProfile', ack({ Surprise: 1 }));
    expect(r.ok).toBe(true);
    expect(codes(r, 'warnings')).toEqual(['unknown-key:Surprise']);
    expect(validateCommandResponse(undefined, ack({ Surprise: 1 })).warnings).toEqual([]);
    expect(codes(validateCommandResponse('MakeCoffee', ack({ Surprise: 1 })), 'warnings')).toEqual(['unknown-message:RequestType']);
  });

  it('SecurityInfo and UserList responses (schemas fetched from Apple)', () => {
    const sec = ack({
      SecurityInfo: {
        FDE_Enabled: true,
        SystemIntegrityProtectionEnabled: true,
        FirewallSettings: { FirewallEnabled: true, BlockAllIncoming: false, StealthMode: false, Applications: [] },
        SecureBoot: { SecureBootLevel: 'full', ExternalBootLevel: 'disallowed', ReducedSecurity: ['AllowsMDM'] },
        ManagementStatus: { EnrolledViaDEP: false, UserApprovedEnrollment: true, IsUserEnrollment: false },
        BootstrapTokenAllowedForAuthentication: 'allowed',
      },
    });
    expect(validateCommandResponse('SecurityInfo', sec, { platform: 'macOS', osVersion: '14.2', strict: true }).errors).toEqual([]);
    const bad = ack({ SecurityInfo: { SecureBoot: { SecureBootLevel: 'maximum' } } });
    expect(codes(validateCommandResponse('SecurityInfo', bad, { platform: 'macOS', osVersion: '14.2' }))).toEqual([
      'range:SecurityInfo.SecureBoot.SecureBootLevel',
    ]);

    const users = ack({
      Users: [{ UserName: 'ada', FullName: 'Ada', UID: 501, UserGUID: 'G', IsLoggedIn: true, MobileAccount: false, HasSecureToken: true }],
    });
    expect(validateCommandResponse('UserList', users, { platform: 'macOS', osVersion: '14.2', strict: true }).errors).toEqual([]);
    const partial = ack({ Users: [{ UserName: 'ada', IsLoggedIn: true }] });
    expect(codes(validateCommandResponse('UserList', partial, { platform: 'macOS', osVersion: '14.2' })).sort()).toEqual([
      'missing:Users[0].FullName',
      'missing:Users[0].HasSecureToken',
      'missing:Users[0].MobileAccount',
      'missing:Users[0].UID',
      'missing:Users[0].UserGUID',
    ]);
  });
});
