import { createMacState } from '../../../../agent-sim/baseline';
import { identity, NOW } from './helpers';

describe('createMacState: a Mac out of Setup Assistant', () => {
  it('has Apple’s apps, Safari in /Applications and the rest on the system volume (10.15+)', () => {
    const state = createMacState(identity('sonoma'), NOW);
    const safari = state.apps.get('com.apple.Safari')!;
    expect(safari).toEqual({ bundleId: 'com.apple.Safari', name: 'Safari', version: '17.6', shortVersion: '17.6', path: '/Applications/Safari.app', sizeBytes: expect.any(Number), installedAt: NOW, managed: false });
    expect(state.apps.get('com.apple.mail')?.path).toBe('/System/Applications/Mail.app');
    expect(state.apps.get('com.apple.Terminal')?.path).toBe('/System/Applications/Utilities/Terminal.app');
    expect(state.apps.get('com.apple.systempreferences')?.name).toBe('System Settings');
    expect([...state.apps.values()].every((a) => !a.managed && a.sizeBytes > 0)).toBe(true);
  });

  it('ships the versions of its macOS', () => {
    const version = (os: Parameters<typeof identity>[0], id: string) => createMacState(identity(os), NOW).apps.get(id)?.shortVersion;
    expect(version('catalina', 'com.apple.Safari')).toBe('14.0');
    expect(version('monterey', 'com.apple.Safari')).toBe('15.6');
    expect(version('sequoia', 'com.apple.Safari')).toBe('18.1');
    expect(version('sonoma', 'com.apple.Photos')).toBe('9.0');
    expect(version('sequoia', 'com.apple.Photos')).toBe('10.0');
    expect(version('monterey', 'com.apple.systempreferences')).toBe('15.0');
    expect(createMacState(identity('monterey'), NOW).apps.get('com.apple.systempreferences')?.name).toBe('System Preferences');
  });

  it('puts apps in /Applications and has no Music before macOS 10.15', () => {
    const state = createMacState({ ...identity('catalina', 'intelOld'), osVersion: '10.14.6', buildVersion: '18G103' }, NOW);
    expect(state.apps.get('com.apple.mail')?.path).toBe('/Applications/Mail.app');
    expect(state.apps.has('com.apple.Music')).toBe(false);
  });

  it('has one logged-in local administrator, named after the Mac’s owner', () => {
    const state = createMacState(identity('sonoma'), NOW);
    expect(state.users).toEqual([{ UserShortName: 'jane', UserLongName: 'Jane', UserGUID: expect.stringMatching(/^[0-9A-F]{8}-[0-9A-F]{4}-4[0-9A-F]{3}-8[0-9A-F]{3}-[0-9A-F]{12}$/), UID: 501, IsLoggedIn: true, HasSecureToken: true }]);
    // The same Mac gets the same user GUID every time.
    expect(createMacState(identity('sonoma'), NOW + 1).users[0]!.UserGUID).toBe(state.users[0]!.UserGUID);
  });

  it('has no profiles, certificates or agent, and a new Mac’s security settings', () => {
    const state = createMacState(identity('sequoia'), NOW);
    expect(state.profiles.size).toBe(0);
    expect(state.certificates).toEqual([]);
    expect(state.agent).toEqual({ installed: false });
    expect(state.lockedWithPin).toBeUndefined();
    expect(state.security).toEqual({ fileVaultEnabled: false, sipEnabled: true, firewallEnabled: false, remoteDesktopEnabled: false });
  });
});
