/**
 * What a Mac has when it leaves Setup Assistant, before any MDM: Apple's bundled apps (in
 * the versions its macOS ships), one local administrator, and the security defaults.
 *
 * App versions: CFBundleShortVersionString of the bundled apps tracks the macOS release
 * (Safari 17.x ships with macOS 14.x, 18.x with 15.x; Photos 9 with macOS 14, 10 with 15;
 * Mail 16 from macOS 13). Safari's minor version follows the macOS minor; the others are
 * per major release. CFBundleVersion is given the same value: a build number such as
 * Safari's "19618.1.15.11.14" changes with every update and nothing in mdmsim reads it.
 * These are approximations of Apple's releases, good enough for an inventory to look right.
 *
 * Locations: from macOS 10.15 the bundled apps live on the read-only system volume in
 * /System/Applications; Safari stays in /Applications (it updates apart from macOS).
 */
import { osAtLeast, osMajor, osMinor, stableUuid } from './commands/facts';
import type { InstalledApp, MacIdentity, MacState, MacUser } from './state';

interface BundledApp {
  bundleId: string;
  /** Display name by macOS major (System Preferences became System Settings in 13). */
  name: string | ((major: number) => string);
  /** Under /System/Applications from 10.15 (or /Applications before); `Utilities/` included. */
  file: string | ((major: number) => string);
  /** Short version for this macOS. */
  version(major: number, minor: number): string;
  sizeBytes: number;
  /** First macOS version that bundles it (Music replaced iTunes in 10.15). */
  since?: string;
  /** Not in /System/Applications even on 10.15+. */
  inApplications?: boolean;
}

/** macOS 10.15 is major 10 here; 11+ are their own majors; 26 follows 15. */
function byMajor(table: Record<number, string>, major: number): string {
  const keys = Object.keys(table).map(Number).sort((a, b) => a - b);
  let pick = keys[0]!;
  for (const k of keys) if (k <= major) pick = k;
  return table[pick]!;
}

const MB = 1024 * 1024;

const BUNDLED_APPS: readonly BundledApp[] = [
  {
    bundleId: 'com.apple.Safari',
    name: 'Safari',
    file: 'Safari.app',
    inApplications: true,
    // macOS 10.15.7 shipped Safari 14.0; macOS 11-15 ship Safari (major + 3); macOS 26, Safari 26.
    version: (major, minor) => {
      if (major === 10) return '14.0';
      if (major >= 26) return `26.${Math.min(minor, 6)}`;
      return `${major + 3}.${Math.min(minor, 6)}`;
    },
    sizeBytes: Math.round(13.6 * MB),
  },
  {
    bundleId: 'com.apple.mail',
    name: 'Mail',
    file: 'Mail.app',
    version: (major) => byMajor({ 10: '13.4', 11: '14.0', 12: '15.0', 13: '16.0' }, major),
    sizeBytes: Math.round(27.4 * MB),
  },
  {
    bundleId: 'com.apple.iCal',
    name: 'Calendar',
    file: 'Calendar.app',
    version: (major) => byMajor({ 10: '11.0', 14: '14.0', 15: '15.0', 26: '16.0' }, major),
    sizeBytes: Math.round(17.9 * MB),
  },
  {
    bundleId: 'com.apple.Photos',
    name: 'Photos',
    file: 'Photos.app',
    version: (major) => (major === 10 ? '5.0' : major >= 26 ? '11.0' : `${major - 5}.0`),
    sizeBytes: Math.round(41.2 * MB),
  },
  {
    bundleId: 'com.apple.Music',
    name: 'Music',
    file: 'Music.app',
    since: '10.15',
    version: (major) => (major === 10 ? '1.0' : major >= 26 ? '1.6' : `1.${major - 10}`),
    sizeBytes: Math.round(104.5 * MB),
  },
  {
    bundleId: 'com.apple.Notes',
    name: 'Notes',
    file: 'Notes.app',
    version: (major) => byMajor({ 10: '4.7', 11: '4.8', 12: '4.9', 13: '4.10', 14: '4.11', 15: '4.12', 26: '4.13' }, major),
    sizeBytes: Math.round(18.6 * MB),
  },
  {
    bundleId: 'com.apple.Preview',
    name: 'Preview',
    file: 'Preview.app',
    version: () => '11.0',
    sizeBytes: Math.round(10.3 * MB),
  },
  {
    bundleId: 'com.apple.TextEdit',
    name: 'TextEdit',
    file: 'TextEdit.app',
    version: (major) => byMajor({ 10: '1.15', 11: '1.16', 12: '1.17', 14: '1.19', 15: '1.20', 26: '1.21' }, major),
    sizeBytes: Math.round(2.6 * MB),
  },
  {
    bundleId: 'com.apple.Terminal',
    name: 'Terminal',
    file: 'Utilities/Terminal.app',
    version: (major) => byMajor({ 10: '2.10', 11: '2.11', 12: '2.12', 13: '2.13', 14: '2.14', 26: '2.15' }, major),
    sizeBytes: Math.round(10.9 * MB),
  },
  {
    bundleId: 'com.apple.AppStore',
    name: 'App Store',
    file: 'App Store.app',
    version: () => '3.0',
    sizeBytes: Math.round(8.4 * MB),
  },
  {
    bundleId: 'com.apple.systempreferences',
    name: (major) => (major >= 13 ? 'System Settings' : 'System Preferences'),
    file: (major) => (major >= 13 ? 'System Settings.app' : 'System Preferences.app'),
    version: (major) => (major === 10 ? '14.0' : major >= 26 ? '15.0' : `${Math.min(major + 3, 15)}.0`),
    sizeBytes: Math.round(5.2 * MB),
  },
];

function bundledApps(identity: MacIdentity, now: number): Map<string, InstalledApp> {
  const major = osMajor(identity);
  const minor = osMinor(identity);
  const systemVolume = osAtLeast(identity, '10.15');
  const apps = new Map<string, InstalledApp>();
  for (const spec of BUNDLED_APPS) {
    if (spec.since !== undefined && !osAtLeast(identity, spec.since)) continue;
    const name = typeof spec.name === 'string' ? spec.name : spec.name(major);
    const file = typeof spec.file === 'string' ? spec.file : spec.file(major);
    const dir = systemVolume && !spec.inApplications ? '/System/Applications' : '/Applications';
    const version = spec.version(major, minor);
    apps.set(spec.bundleId, {
      bundleId: spec.bundleId,
      name,
      version,
      shortVersion: version,
      path: `${dir}/${file}`,
      sizeBytes: spec.sizeBytes,
      installedAt: now,
      managed: false,
    });
  }
  return apps;
}

/**
 * The account created in Setup Assistant: an administrator, UID 501 (the first local user's
 * ID on macOS), logged in, with a secure token (the first account created on an APFS Mac
 * gets one). Its names come from the device name ("Jane’s MacBook Pro" → jane / Jane).
 */
function firstUser(identity: MacIdentity): MacUser {
  const owner = /^([A-Za-z][A-Za-z-]*)[’']s\b/.exec(identity.deviceName)?.[1];
  const longName = owner ?? 'Administrator';
  const shortName = owner ? owner.toLowerCase() : 'admin';
  return {
    UserShortName: shortName,
    UserLongName: longName,
    UserGUID: stableUuid(identity, 'user-501'),
    UID: 501,
    IsLoggedIn: true,
    HasSecureToken: true,
  };
}

/**
 * A fresh Mac: bundled apps, one admin, no profiles, no certificates of MDM's, no agent.
 * Security defaults of a new Mac: SIP on, the application firewall off (its macOS default),
 * Remote Management off; FileVault off until a user or a profile turns it on.
 */
export function createMacState(identity: MacIdentity, now: number): MacState {
  return {
    identity,
    apps: bundledApps(identity, now),
    profiles: new Map(),
    certificates: [],
    users: [firstUser(identity)],
    agent: { installed: false },
    security: { fileVaultEnabled: false, sipEnabled: true, firewallEnabled: false, remoteDesktopEnabled: false },
  };
}
