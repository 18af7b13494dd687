import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import type { PlistDict, PlistValue } from '../../../protocol/plist/types';
import {
  validateCheckin,
  validateCommand,
  validateCommandResponse,
  validateManifest,
  validateProfilePayload,
  type ValidationResult,
} from '../../../protocol/schema';
import { compileSchema } from '../../../protocol/schema/compile';
import { ERRATA, locate, type RawSchema } from '../../../protocol/schema/errata';
import { listSchemaFiles, parseSchemaYaml, readCommandsIndex, readSchemaYaml, schemaDir } from '../../../protocol/schema/load';
import { checkinSchema, commandSchema } from '../../../protocol/schema/registry';
import { normalizeContext, resolveSchema } from '../../../protocol/schema/resolve';
import { compareVersions, parseVersion } from '../../../protocol/schema/version';

describe('schema files', () => {
  it('finds protocol/schema/apple by walking up from the module', () => {
    expect(schemaDir()).toBe(path.resolve(__dirname, '../../../protocol/schema/apple'));
  });

  it('compiles every vendored YAML file', () => {
    const files = listSchemaFiles('');
    expect(files.length).toBeGreaterThanOrEqual(29);
    for (const f of files) expect(() => compileSchema(f, readSchemaYaml(f))).not.toThrow();
  });

  it('has a YAML file for every command mdmsim handles', () => {
    const handled = [
      'InstallEnterpriseApplication',
      'InstallApplication',
      'InstalledApplicationList',
      'ManagedApplicationList',
      'RemoveApplication',
      'DeviceInformation',
      'SecurityInfo',
      'CertificateList',
      'ProfileList',
      'InstallProfile',
      'RemoveProfile',
      'DeviceLock',
      'EraseDevice',
      'RestartDevice',
      'ShutDownDevice',
      'AvailableOSUpdates',
      'UserList',
    ];
    for (const rt of handled) expect({ rt, fromYaml: commandSchema(rt)?.fromYaml }).toEqual({ rt, fromYaml: true });
  });

  it('agrees with commands-index.tsv on every YAML-backed command', () => {
    for (const row of readCommandsIndex()) {
      const s = commandSchema(row.requestType);
      if (!s?.fromYaml) continue;
      expect({ rt: row.requestType, keys: (s.payload.fields ?? []).map((k) => k.key) }).toEqual({
        rt: row.requestType,
        keys: row.payloadKeys,
      });
      expect(s.payload.supportedOS?.macOS?.introduced ?? 'n/a').toBe(row.macOSIntroduced);
    }
  });

  it('records the added files in SOURCE.txt', () => {
    const source = fs.readFileSync(path.join(schemaDir(), 'SOURCE.txt'), 'utf8');
    for (const f of [
      'mdm_commands_certificate.list.yaml',
      'mdm_commands_information.security.yaml',
      'mdm_commands_system.update.available.yaml',
      'mdm_commands_user.list.yaml',
      'mdm_commands_device.restart.yaml',
      'mdm_commands_device.shutdown.yaml',
      'mdm_profiles_CommonPayloadKeys.yaml',
    ]) {
      expect(source).toContain(f);
    }
  });

  it('every erratum still finds its target in the YAML', () => {
    for (const e of ERRATA) {
      const raw = readSchemaYaml(e.file) as RawSchema;
      expect({ file: e.file, path: e.path, found: locate(raw, e) !== undefined }).toEqual({
        file: e.file,
        path: e.path,
        found: true,
      });
      expect(e.reason.length).toBeGreaterThan(40);
    }
  });

  it('reads unquoted versions as text (10.10 is not 10.1)', () => {
    const raw = parseSchemaYaml(
      'payload:\n  requesttype: X\n  supportedOS:\n    macOS:\n      introduced: 10.10\npayloadkeys: []\n',
    );
    const s = compileSchema('mdm_commands_x.yaml', raw);
    expect(s.payload.supportedOS?.macOS?.introduced).toBe('10.10');
  });
});

describe('versions', () => {
  it('compares component-wise with missing parts as zero', () => {
    const v = (s: string) => parseVersion(s) ?? [];
    expect(compareVersions(v('10.10'), v('10.9'))).toBe(1);
    expect(compareVersions(v('10.13.6'), v('10.13.6.0'))).toBe(0);
    expect(compareVersions(v('14'), v('14.0.1'))).toBe(-1);
    expect(parseVersion('n/a')).toBeUndefined();
    expect(parseVersion('17.0 beta')).toBeUndefined();
  });
});

describe('resolution cache', () => {
  it('shares one resolution per major.minor unless a bound has a patch level there', () => {
    const tu = checkinSchema('TokenUpdate');
    if (!tu) throw new Error('no TokenUpdate');
    const at = (v: string) => resolveSchema(tu, 'payload', normalizeContext({ platform: 'macOS', osVersion: v }));
    expect(at('14.2.1')).toBe(at('14.2'));
    expect(at('14.2.1')).not.toBe(at('14.3'));

    const iea = commandSchema('InstallEnterpriseApplication');
    if (!iea) throw new Error('no InstallEnterpriseApplication');
    const at2 = (v: string) => resolveSchema(iea, 'payload', normalizeContext({ platform: 'macOS', osVersion: v }));
    expect(at2('10.13.5')).not.toBe(at2('10.13.6'));
    expect(at2('10.13.5')?.supported).toBe(false);
    expect(at2('10.13.6')?.supported).toBe(true);
    expect(at2('14.1.1')).toBe(at2('14.1.2'));
  });

  it('separates channel, enrollment and Shared iPad', () => {
    const tu = checkinSchema('TokenUpdate');
    if (!tu) throw new Error('no TokenUpdate');
    const base = { platform: 'iOS' as const, osVersion: '17.0' };
    const a = resolveSchema(tu, 'payload', normalizeContext(base));
    expect(resolveSchema(tu, 'payload', normalizeContext({ ...base, channel: 'user' }))).not.toBe(a);
    expect(resolveSchema(tu, 'payload', normalizeContext({ ...base, enrollment: 'user' }))).not.toBe(a);
    expect(resolveSchema(tu, 'payload', normalizeContext({ ...base, sharedIPad: true }))).not.toBe(a);
    expect(resolveSchema(tu, 'payload', normalizeContext({ ...base, strict: true }))).toBe(a);
  });
});

describe('robustness', () => {
  const value: fc.Arbitrary<PlistValue> = fc.letrec<{ v: PlistValue }>((tie) => ({
    v: fc.oneof(
      { depthSize: 'small' },
      fc.string(),
      fc.integer(),
      fc.double({ noNaN: true }),
      fc.boolean(),
      fc.bigInt(),
      fc.date({ noInvalidDate: true }),
      fc.uint8Array({ maxLength: 8 }).map((a) => Buffer.from(a)),
      fc.array(tie('v'), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 6 }), tie('v'), { maxKeys: 4 }),
    ),
  })).v;
  const keys = fc.constantFrom(
    'MessageType', 'UDID', 'Topic', 'Token', 'PushMagic', 'Status', 'CommandUUID', 'ErrorChain',
    'Command', 'RequestType', 'Queries', 'QueryResponses', 'items', 'assets', 'ServerURL', 'x',
  );
  const messageTypes = fc.constantFrom('Authenticate', 'TokenUpdate', 'CheckOut', 'GetToken', 'DeviceInformation', 'Nope');
  const dict: fc.Arbitrary<PlistDict> = fc
    .tuple(fc.dictionary(keys, value, { maxKeys: 6 }), messageTypes)
    .map(([d, mt]) => ({ MessageType: mt, ...d }));
  const ctx = fc.record(
    {
      platform: fc.constantFrom('macOS' as const, 'iOS' as const, 'tvOS' as const),
      osVersion: fc.constantFrom('10.12.6', '14.2.1', '17.0', 'x'),
      channel: fc.constantFrom('device' as const, 'user' as const),
      enrollment: fc.constantFrom('device' as const, 'user' as const),
      sharedIPad: fc.boolean(),
      strict: fc.boolean(),
    },
    { requiredKeys: [] },
  );
  const consistent = (r: ValidationResult): boolean => r.ok === (r.errors.length === 0);

  it('never throws and keeps ok consistent with errors, whatever the input', () => {
    fc.assert(
      fc.property(dict, ctx, fc.constantFrom('DeviceInformation', 'ProfileList', undefined), (d, c, rt) => {
        expect(consistent(validateCheckin(d, c))).toBe(true);
        expect(consistent(validateCommand({ CommandUUID: 'u', Command: { ...d, RequestType: rt ?? 'DeviceLock' } }, c))).toBe(true);
        expect(consistent(validateCommand(d, c))).toBe(true);
        expect(consistent(validateCommandResponse(rt, d, c))).toBe(true);
        expect(consistent(validateManifest(d, c))).toBe(true);
        expect(consistent(validateProfilePayload('com.apple.mdm', d, c))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });
});
