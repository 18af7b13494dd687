import { handleCommand, preloadCommandSchemas, SUPPORTED_REQUEST_TYPES } from '../../../../agent-sim/commands';
import { expectValid, mac, run } from './helpers';

describe('handleCommand: which commands a Mac takes', () => {
  it('lists the fourteen RequestTypes of issue 5', () => {
    expect([...SUPPORTED_REQUEST_TYPES].sort()).toEqual(
      [
        'AvailableOSUpdates',
        'CertificateList',
        'DeviceInformation',
        'DeviceLock',
        'EraseDevice',
        'InstallEnterpriseApplication',
        'InstallProfile',
        'InstalledApplicationList',
        'ProfileList',
        'RemoveProfile',
        'RestartDevice',
        'SecurityInfo',
        'ShutDownDevice',
        'UserList',
      ].sort(),
    );
  });

  it('can compile every supported command’s schema up front', () => {
    expect(() => preloadCommandSchemas()).not.toThrow();
  });

  it.each([
    ['an iOS-only command', 'ClearPasscode'],
    ['a command Apple does not have', 'MakeCoffee'],
    ['a macOS command mdmsim does not simulate', 'Settings'],
  ])('answers %s with Error 12021 in MCMDMErrorDomain', async (_what, requestType) => {
    const m = mac('sonoma');
    const outcome = await run(m, requestType);
    expect(outcome).toEqual({
      status: 'Error',
      errorChain: [
        {
          ErrorCode: 12021,
          ErrorDomain: 'MCMDMErrorDomain',
          LocalizedDescription: `“${requestType}” is not a valid request type.`,
          USEnglishDescription: `“${requestType}” is not a valid request type.`,
        },
      ],
    });
    expectValid(m, requestType, outcome);
  });

  it('answers 12021 for a command the Mac’s macOS predates (ShutDownDevice came with 10.13)', async () => {
    const m = mac('catalina', 'intelOld', { osVersion: '10.12.6', buildVersion: '16G29' });
    const outcome = await run(m, 'ShutDownDevice');
    expect(outcome.status).toBe('Error');
    expect(outcome.status === 'Error' && outcome.errorChain[0]!.ErrorCode).toBe(12021);
  });

  it('answers CommandFormatError, with the reason, for a wrong type', async () => {
    const m = mac('sonoma');
    const outcome = await run(m, 'DeviceInformation', { Queries: 'UDID' });
    expect(outcome.status).toBe('CommandFormatError');
    if (outcome.status !== 'CommandFormatError') return;
    expect(outcome.errorChain?.[0]).toMatchObject({ ErrorCode: 12008, ErrorDomain: 'MCMDMErrorDomain' });
    expect(outcome.errorChain?.[0]?.LocalizedDescription).toMatch(/Queries must be <array>/);
    expectValid(m, 'DeviceInformation', outcome);
  });

  it('answers CommandFormatError for a missing required key', async () => {
    const m = mac('monterey');
    const outcome = await run(m, 'RemoveProfile');
    expect(outcome.status).toBe('CommandFormatError');
    if (outcome.status === 'CommandFormatError') expect(outcome.errorChain?.[0]?.LocalizedDescription).toMatch(/Identifier is required/);
  });

  it('answers CommandFormatError for a value out of range', async () => {
    const outcome = await run(mac('sonoma'), 'InstallEnterpriseApplication', { ManifestURL: 'https://mdm.example.com/m.plist', ManagementFlags: 2 });
    expect(outcome.status).toBe('CommandFormatError');
  });

  it('ignores keys its macOS version does not know, even with a bad value', async () => {
    // ManagementFlags came with macOS 11: a 10.15 Mac has never heard of it.
    const m = mac('catalina');
    m.network.bodies.set('https://mdm.example.com/m.plist', Buffer.from('not a plist'));
    const outcome = await run(m, 'InstallEnterpriseApplication', { ManifestURL: 'https://mdm.example.com/m.plist', ManagementFlags: 2 });
    expect(outcome.status).toBe('Error'); // it went on to fetch the manifest
    expect(m.network.fetched).toHaveLength(1);
  });

  it('answers CommandFormatError for an envelope without a CommandUUID', async () => {
    const m = mac('sonoma');
    const outcome = await handleCommand({ Command: { RequestType: 'SecurityInfo' } } as never, m.ctx);
    expect(outcome.status).toBe('CommandFormatError');
  });

  it('takes the bare payload as the Mac’s state machine passes it', async () => {
    const m = mac('sonoma');
    const outcome = await handleCommand({ RequestType: 'DeviceInformation', Queries: ['SerialNumber'] }, m.ctx);
    expect(outcome).toEqual({ status: 'Acknowledged', response: { QueryResponses: { SerialNumber: m.state.identity.serialNumber } } });
  });

  it('never throws on garbage from the server', async () => {
    const m = mac('sonoma');
    for (const junk of [null, 42, 'x', [], {}, { Command: 'x' }, { Command: { RequestType: 7 } }]) {
      await expect(handleCommand(junk as never, m.ctx)).resolves.toMatchObject({ status: 'CommandFormatError' });
    }
  });
});
