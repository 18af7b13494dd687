import type { PlistDict } from '../../../protocol/plist/types';
import { validateCommand } from '../../../protocol/schema';
import { INVENTORY_QUERIES, PolicyCommands } from '../../../server/policy/commands';
import type { EnrollmentRecord } from '../../../server/storage/types';

const urls = { manifestUrl: 'https://mdm.example/agent/manifest.plist', checkinUrl: 'https://mdm.example/agent/v1/checkin' };

function mac(osVersion: string | undefined, over: Partial<EnrollmentRecord> = {}): EnrollmentRecord {
  return { id: 'U', udid: 'U', platform: 'macOS', osVersion, topic: 't', enabled: true, tokenUpdateTally: 1, authenticatedAt: 0, lastSeenAt: 0, agentInstallAttempts: 0, ...over };
}

describe('the agent install command', () => {
  const c = new PolicyCommands(() => urls);

  it.each(['11.0', '12.7.4', '13.6', '14.4.1', '15.1'])('macOS %s: ManifestURL, Configuration, InstallAsManaged + ManagementFlags; strictly valid', (v) => {
    const cmd = c.agentInstall(mac(v));
    if ('unsupported' in cmd) throw new Error(cmd.unsupported);
    expect(cmd.Command).toEqual({
      RequestType: 'InstallEnterpriseApplication',
      ManifestURL: urls.manifestUrl,
      Configuration: { AgentCheckinURL: urls.checkinUrl, CheckinIntervalSeconds: 900 },
      InstallAsManaged: true,
      ManagementFlags: 1,
    });
    expect(validateCommand(cmd as unknown as PlistDict, { platform: 'macOS', osVersion: v, strict: true })).toMatchObject({ ok: true, warnings: [] });
  });

  it("carries the server key's pin in the Configuration when the server gives one (the agent pins it)", () => {
    const pinned = new PolicyCommands(() => ({ ...urls, pin: 'n7l2A6Y5kq4nS0sVv5wYx3r3g0m2v7cG4C3m0r9yT1E=' }));
    const cmd = pinned.agentInstall(mac('14.4.1'));
    if ('unsupported' in cmd) throw new Error(cmd.unsupported);
    expect(cmd.Command.Configuration).toEqual({ AgentCheckinURL: urls.checkinUrl, CheckinIntervalSeconds: 900, ServerPinSHA256: 'n7l2A6Y5kq4nS0sVv5wYx3r3g0m2v7cG4C3m0r9yT1E=' });
    expect(validateCommand(cmd as unknown as PlistDict, { platform: 'macOS', osVersion: '14.4.1', strict: true })).toMatchObject({ ok: true, warnings: [] });
  });

  it.each(['10.13.6', '10.14.6', '10.15.7'])('macOS %s: ManifestURL only; strictly valid', (v) => {
    const cmd = c.agentInstall(mac(v));
    if ('unsupported' in cmd) throw new Error(cmd.unsupported);
    expect(cmd.Command).toEqual({ RequestType: 'InstallEnterpriseApplication', ManifestURL: urls.manifestUrl });
    expect(validateCommand(cmd as unknown as PlistDict, { platform: 'macOS', osVersion: v, strict: true }).ok).toBe(true);
  });

  it('a User Enrollment gets the Configuration but not ManagementFlags (forbidden there)', () => {
    const e = mac('14.4.1', { udid: undefined, enrollmentId: 'E1' });
    const cmd = c.agentInstall(e);
    if ('unsupported' in cmd) throw new Error(cmd.unsupported);
    expect(cmd.Command.ManagementFlags).toBeUndefined();
    expect(cmd.Command.InstallAsManaged).toBeUndefined();
    expect(cmd.Command.Configuration).toBeDefined();
    expect(validateCommand(cmd as unknown as PlistDict, { platform: 'macOS', osVersion: '14.4.1', enrollment: 'user', strict: true }).ok).toBe(true);
  });

  it('is unsupported before macOS 10.13.6, and a fresh CommandUUID every time', () => {
    expect(c.installSupported(mac('10.13.5'))).toMatchObject({ unsupported: expect.stringMatching(/InstallEnterpriseApplication|RequestType/) });
    expect(c.installSupported(mac('10.12.6'))).toBeDefined();
    expect(c.installSupported(mac('14.0'))).toBeUndefined();
    const a = c.agentInstall(mac('14.0'));
    const b = c.agentInstall(mac('14.0'));
    expect('CommandUUID' in a && 'CommandUUID' in b && a.CommandUUID !== b.CommandUUID).toBe(true);
  });
});

describe('the inventory command', () => {
  const c = new PolicyCommands(() => urls);

  it.each(['10.13.6', '10.15.7', '11.7', '12.7', '13.6', '14.4.1'])('macOS %s: only the queries that OS knows; strictly valid', (v) => {
    const cmd = c.inventory(mac(v));
    const queries = cmd.Command.Queries as string[];
    expect(queries.length).toBeGreaterThanOrEqual(15);
    expect(queries).toEqual(INVENTORY_QUERIES.filter((q) => queries.includes(q)));
    expect(validateCommand(cmd as unknown as PlistDict, { platform: 'macOS', osVersion: v, strict: true }).ok).toBe(true);
  });

  it('asks a macOS 14 Mac everything in the list, a 10.15 one less', () => {
    expect(c.inventory(mac('14.4.1')).Command.Queries).toEqual(INVENTORY_QUERIES);
    expect(c.inventory(mac('10.15.7')).Command.Queries).not.toContain('IsAppleSilicon');
  });
});
