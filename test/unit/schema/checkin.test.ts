import * as fs from 'node:fs';
import * as path from 'node:path';
import { parsePlist, type PlistDict } from '../../../protocol/plist';
import { checkinMessageTypes, validateCheckin, type ValidationResult } from '../../../protocol/schema';

// plist@5 is ESM-only: jest maps it (jest.config.js), but tsc (node16, CommonJS) cannot see
// its types, so it is required with the one signature used here.
const CAPTURES = path.join(__dirname, '../../../fixtures/captures/nanomdm');

function capture(name: string): PlistDict {
  const xml = fs.readFileSync(path.join(CAPTURES, name), 'utf8');
  return parsePlist(xml) as PlistDict;
}

const codes = (r: ValidationResult, which: 'errors' | 'warnings' = 'errors'): string[] =>
  r[which].map((i) => `${i.code}:${i.path}`);

const macAuth = (): PlistDict => ({
  MessageType: 'Authenticate',
  Topic: 'com.apple.mgmt.External.0b5c1e4e-1f17-4c8e-8a63-dd17d3dd35d9',
  UDID: '66ADE930-5FDF-5EC4-8429-15640684C489',
  DeviceName: 'Fruit',
  Model: 'Mac14,2',
  ModelName: 'MacBook Air',
  OSVersion: '14.2.1',
  BuildVersion: '23C71',
  SerialNumber: 'C02XYZ',
});

const macTokenUpdate = (): PlistDict => ({
  MessageType: 'TokenUpdate',
  Topic: 'com.apple.mgmt.External.0b5c1e4e-1f17-4c8e-8a63-dd17d3dd35d9',
  UDID: '66ADE930-5FDF-5EC4-8429-15640684C489',
  Token: Buffer.alloc(32, 7),
  PushMagic: '888CEB39-BFFA-40F6-89FA-B60752EB63C2',
  AwaitingConfiguration: false,
});

describe('real captures (NanoMDM testdata)', () => {
  it('iOS 9.3.5 iPad Authenticate is valid in strict mode (DeviceName/Model are n/a on iOS)', () => {
    const r = validateCheckin(capture('mdm_testdata_Authenticate.1.plist'), {
      platform: 'iOS',
      osVersion: '9.3.5',
      strict: true,
    });
    expect(r.errors).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.warnings).toEqual([]);
  });

  it('macOS 10.12.6 iMac Authenticate is valid in strict mode; Challenge is only an unknown-key warning', () => {
    const r = validateCheckin(capture('mdm_testdata_Authenticate.2.plist'), {
      platform: 'macOS',
      osVersion: '10.12.6',
      strict: true,
    });
    expect(r.errors).toEqual([]);
    expect(codes(r, 'warnings')).toEqual(['unknown-key:Challenge']);
  });

  it('iOS TokenUpdate is valid in strict mode', () => {
    const r = validateCheckin(capture('mdm_testdata_TokenUpdate.1.plist'), {
      platform: 'iOS',
      osVersion: '9.3.5',
      strict: true,
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('macOS TokenUpdate is valid in strict mode (no EnrollmentID, NotOnConsole, UserLongName on the device channel)', () => {
    const r = validateCheckin(capture('mdm_testdata_TokenUpdate.2.plist'), {
      platform: 'macOS',
      osVersion: '10.12.6',
      strict: true,
    });
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
  });

  it('all four captures are also valid with no context at all', () => {
    for (const f of ['Authenticate.1', 'Authenticate.2', 'TokenUpdate.1', 'TokenUpdate.2']) {
      const r = validateCheckin(capture(`mdm_testdata_${f}.plist`), { strict: true });
      expect({ f, errors: r.errors }).toEqual({ f, errors: [] });
    }
  });
});

describe('required keys', () => {
  it('rejects a macOS Authenticate without DeviceName, naming the key and the context', () => {
    const msg = macAuth();
    delete msg['DeviceName'];
    const r = validateCheckin(msg, { platform: 'macOS', osVersion: '14.2.1' });
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual(['missing:DeviceName']);
    expect(r.errors[0]?.message).toBe(
      'Authenticate: key DeviceName is required (type <string>) on macOS 14.2.1 device channel',
    );
    expect(r.errors[0]?.expected).toBe('<string>');
  });

  it('does not require DeviceName on iOS', () => {
    const msg = macAuth();
    delete msg['DeviceName'];
    delete msg['Model'];
    delete msg['ModelName'];
    expect(validateCheckin(msg, { platform: 'iOS', osVersion: '17.1' }).ok).toBe(true);
  });

  it('with no platform, only keys required everywhere are required', () => {
    const msg = macAuth();
    delete msg['DeviceName'];
    expect(validateCheckin(msg).ok).toBe(true);
    delete msg['Topic'];
    expect(codes(validateCheckin(msg))).toEqual(['missing:Topic']);
    expect(validateCheckin(msg).errors[0]?.message).toContain('on every platform, device channel');
  });

  it('rejects a TokenUpdate without Token and PushMagic', () => {
    const msg = macTokenUpdate();
    delete msg['Token'];
    delete msg['PushMagic'];
    const r = validateCheckin(msg, { platform: 'macOS', osVersion: '14.2' });
    expect(codes(r).sort()).toEqual(['missing:PushMagic', 'missing:Token']);
    expect(r.errors.find((e) => e.path === 'Token')?.message).toBe(
      'TokenUpdate: key Token is required (type <data>) on macOS 14.2 device channel',
    );
  });

  it('requires EnrollmentID for user enrollment only, where UDID is not applicable', () => {
    const device = macTokenUpdate();
    expect(validateCheckin(device, { platform: 'macOS', osVersion: '14.0', strict: true }).ok).toBe(true);

    const r = validateCheckin(device, { platform: 'macOS', osVersion: '14.0', enrollment: 'user', strict: true });
    expect(codes(r).sort()).toEqual(['missing:EnrollmentID', 'not-applicable:UDID']);
    expect(r.errors.find((e) => e.code === 'missing')?.message).toContain('user enrollment');

    const ue: PlistDict = { ...device, EnrollmentID: 'ABCD-1234' };
    delete ue['UDID'];
    expect(validateCheckin(ue, { platform: 'macOS', osVersion: '14.0', enrollment: 'user', strict: true }).errors).toEqual([]);
  });

  it('an EnrollmentID sent under device enrollment is not applicable', () => {
    const msg = { ...macTokenUpdate(), EnrollmentID: 'X' };
    const r = validateCheckin(msg, { platform: 'macOS', osVersion: '14.0' });
    expect(r.ok).toBe(true);
    expect(codes(r, 'warnings')).toEqual(['not-applicable:EnrollmentID']);
    expect(r.warnings[0]?.message).toContain('only used under user enrollment');
  });

  it('Authenticate under user enrollment needs EnrollmentID (errata) and must not carry UDID', () => {
    const msg = macAuth();
    const r = validateCheckin(msg, { platform: 'iOS', osVersion: '17.0', enrollment: 'user', strict: true });
    expect(codes(r).sort()).toEqual(['missing:EnrollmentID', 'not-applicable:DeviceName', 'not-applicable:Model', 'not-applicable:ModelName', 'not-applicable:SerialNumber', 'not-applicable:UDID']);
  });

  it('NotOnConsole and UserLongName are not required on the macOS device channel, but are on the user channel', () => {
    expect(validateCheckin(macTokenUpdate(), { platform: 'macOS', osVersion: '13.5' }).ok).toBe(true);
    const r = validateCheckin(macTokenUpdate(), { platform: 'macOS', osVersion: '13.5', channel: 'user' });
    expect(codes(r).sort()).toEqual(['missing:NotOnConsole', 'missing:UserLongName']);
    const user: PlistDict = { ...macTokenUpdate(), NotOnConsole: false, UserLongName: 'Ada Lovelace', UserShortName: 'ada', UserID: 'F00' };
    // AwaitingConfiguration belongs to the device channel (macOS `userchannel: false`).
    delete user['AwaitingConfiguration'];
    expect(validateCheckin(user, { platform: 'macOS', osVersion: '13.5', channel: 'user', strict: true }).errors).toEqual([]);
  });

  it('NotOnConsole sent on the device channel is flagged as not applicable', () => {
    const r = validateCheckin({ ...macTokenUpdate(), NotOnConsole: true }, { platform: 'macOS', osVersion: '13.5', strict: true });
    expect(codes(r)).toEqual(['not-applicable:NotOnConsole']);
    expect(r.errors[0]?.message).toContain('not used on the device channel');
  });
});

describe('types, ranges and versions', () => {
  it('rejects a wrong type', () => {
    const r = validateCheckin({ ...macTokenUpdate(), Token: 'R+juwGLC9yns' }, { platform: 'macOS' });
    expect(codes(r)).toEqual(['type:Token']);
    expect(r.errors[0]?.message).toBe('TokenUpdate: key Token must be <data>, got <string>');
  });

  it('rejects a boolean given as a string', () => {
    const r = validateCheckin({ ...macTokenUpdate(), AwaitingConfiguration: 'false' }, { platform: 'macOS' });
    expect(codes(r)).toEqual(['type:AwaitingConfiguration']);
  });

  it('rejects a value outside the rangelist (GetToken TokenServiceType)', () => {
    const msg: PlistDict = {
      MessageType: 'GetToken',
      UDID: 'X',
      TokenServiceType: 'com.example.nope',
    };
    const r = validateCheckin(msg, { platform: 'macOS', osVersion: '14.1' });
    expect(codes(r)).toEqual(['range:TokenServiceType']);
    expect(r.errors[0]?.message).toContain('com.apple.maid, com.apple.watch.pairing');
    expect(validateCheckin({ ...msg, TokenServiceType: 'com.apple.maid' }, { platform: 'macOS', osVersion: '14.1' }).ok).toBe(true);
  });

  it('a key introduced after the context version is not applicable: warning normally, error in strict mode', () => {
    const msg: PlistDict = { MessageType: 'TokenUpdate', Topic: 't', UDID: 'u', Token: Buffer.from('x'), PushMagic: 'p', AwaitingConfiguration: true };
    // AwaitingConfiguration arrived in macOS 10.11.
    const lax = validateCheckin(msg, { platform: 'macOS', osVersion: '10.10.5' });
    expect(lax.ok).toBe(true);
    expect(codes(lax, 'warnings')).toEqual(['not-applicable:AwaitingConfiguration']);
    expect(lax.warnings[0]?.message).toContain('introduced in macOS 10.11');
    const strict = validateCheckin(msg, { platform: 'macOS', osVersion: '10.10.5', strict: true });
    expect(codes(strict)).toEqual(['not-applicable:AwaitingConfiguration']);
    expect(validateCheckin(msg, { platform: 'macOS', osVersion: '10.11', strict: true }).ok).toBe(true);
  });

  it('an unparseable version is treated as unknown', () => {
    const msg: PlistDict = { ...macTokenUpdate(), AwaitingConfiguration: true };
    expect(validateCheckin(msg, { platform: 'macOS', osVersion: 'banana', strict: true }).ok).toBe(true);
  });
});

describe('dispatch on MessageType', () => {
  it('lists every check-in message type', () => {
    expect(checkinMessageTypes()).toEqual([
      'Authenticate',
      'CheckOut',
      'DeclarativeManagement',
      'GetBootstrapToken',
      'GetToken',
      'SetBootstrapToken',
      'TokenUpdate',
      'UserAuthenticate',
    ]);
  });

  it('rejects an unknown MessageType', () => {
    const r = validateCheckin({ MessageType: 'Hello', UDID: 'x' });
    expect(codes(r)).toEqual(['unknown-message:MessageType']);
    expect(r.errors[0]?.message).toContain("unknown MessageType 'Hello'");
  });

  it('rejects a missing or non-string MessageType', () => {
    expect(codes(validateCheckin({ UDID: 'x' }))).toEqual(['missing:MessageType']);
    expect(codes(validateCheckin({ MessageType: 3 }))).toEqual(['type:MessageType']);
  });

  it('rejects a message that does not exist on the platform or channel', () => {
    const r = validateCheckin({ MessageType: 'GetBootstrapToken' }, { platform: 'iOS' });
    expect(codes(r)).toEqual(['unsupported:MessageType']);
    expect(r.errors[0]?.message).toContain('not available on iOS');
    expect(codes(validateCheckin(macAuth(), { platform: 'macOS', channel: 'user' }))).toEqual(['unsupported:MessageType']);
    expect(validateCheckin({ MessageType: 'GetBootstrapToken' }, { platform: 'macOS', osVersion: '12.0' }).ok).toBe(true);
  });

  it('CheckOut from a user-enrolled Mac does not need a UDID (errata)', () => {
    const r = validateCheckin({ MessageType: 'CheckOut', Topic: 't', EnrollmentID: 'E' }, { platform: 'macOS', osVersion: '14.0', enrollment: 'user', strict: true });
    expect(r.errors).toEqual([]);
  });

  it('Shared iPad user channel TokenUpdate requires nothing extra, and UnlockToken is forbidden there', () => {
    const msg: PlistDict = {
      MessageType: 'TokenUpdate',
      Topic: 't',
      UDID: 'u',
      Token: Buffer.from('x'),
      PushMagic: 'p',
      UserShortName: 'ada@example.com',
      UserID: 'FFFFFFFF-FFFF-FFFF-FFFF-FFFFFFFFFFFF',
      UnlockToken: Buffer.from('u'),
    };
    const r = validateCheckin(msg, { platform: 'iOS', osVersion: '17.0', sharedIPad: true, channel: 'user', strict: true });
    expect(codes(r)).toEqual(['not-applicable:UnlockToken']);
    // The same keys on an ordinary iPhone: the Shared iPad user keys do not apply.
    const phone = validateCheckin(msg, { platform: 'iOS', osVersion: '17.0' });
    expect(codes(phone, 'warnings').sort()).toEqual(['not-applicable:UserID', 'not-applicable:UserShortName']);
  });
});
