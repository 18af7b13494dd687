/**
 * Facts about the simulated Mac that several handlers need: which OS version it runs (to
 * decide which keys it knows), and what its hardware can do. Everything is derived from the
 * MacIdentity, so a Mac answers the same way for its whole life.
 */
import { createHash } from 'node:crypto';
import { compareVersions, parseVersion, type Version } from '../../protocol/schema/version';
import type { MacIdentity, MacState } from '../state';

const versions = new Map<string, Version>();

function versionOf(os: string): Version {
  let v = versions.get(os);
  if (!v) {
    // An unreadable version counts as "new": the Mac then knows every key, as the schema
    // validator does when it has no version.
    v = parseVersion(os) ?? [999];
    versions.set(os, v);
  }
  return v;
}

/** The Mac runs `min` or later (`'10.15'`, `'11.5'`, ...). */
export function osAtLeast(mac: MacState | MacIdentity, min: string): boolean {
  const identity = 'identity' in mac ? mac.identity : mac;
  return compareVersions(versionOf(identity.osVersion), versionOf(min)) >= 0;
}

/** The major version as macOS counts it: 10 for 10.15.7, 14 for 14.6. */
export function osMajor(identity: MacIdentity): number {
  return versionOf(identity.osVersion)[0] ?? 0;
}

export function osMinor(identity: MacIdentity): number {
  return versionOf(identity.osVersion)[1] ?? 0;
}

/**
 * Intel Macs with the Apple T2 Security Chip, by model identifier. The list is Apple's
 * "Mac models with the Apple T2 Security Chip" (support.apple.com/HT208862, linked from the
 * EraseDevice schema's ObliterationBehavior text): iMac Pro, Mac Pro (2019), Mac mini (2018),
 * MacBook Air (2018-2020, Intel), MacBook Pro (2018-2020, Intel), iMac (Retina 5K, 27-inch, 2020).
 */
const T2_MODELS = /^(iMacPro1,1|MacPro7,1|Macmini8,1|MacBookAir(8,[12]|9,1)|MacBookPro(15,[1-4]|16,[1-4])|iMac20,[12])$/;

export function hasT2(identity: MacIdentity): boolean {
  return !identity.appleSilicon && T2_MODELS.test(identity.model);
}

/**
 * A T2 or Apple silicon Mac: Activation Lock, Erase All Content and Settings and Secure Boot
 * exist only there (Apple Platform Security, "Activation Lock security"; the EraseDevice
 * schema's ObliterationBehavior text).
 */
export function hasSecureEnclave(identity: MacIdentity): boolean {
  return identity.appleSilicon || hasT2(identity);
}

/**
 * Laptops have a battery; desktops (iMac, Mac mini, Mac Pro, Mac Studio) do not. By the
 * family name: recent laptops have identifiers such as Mac14,2 that do not say MacBook.
 */
export function hasBattery(identity: MacIdentity): boolean {
  return identity.modelName.startsWith('MacBook');
}

/**
 * The EraseDevice PIN locks the firmware of Intel Macs without a T2 chip; T2 and Apple
 * silicon Macs rely on Activation Lock and ignore it (JumpCloud, "Understand Erase Device
 * Command for Macs"; Hexnode forum on the Find My Mac PIN). DeviceInformation's
 * PINRequiredForEraseDevice says the same.
 */
export function pinRequiredForErase(identity: MacIdentity): boolean {
  return !hasSecureEnclave(identity);
}

/**
 * DeviceLock on a Mac locks it with the six-digit Find My PIN (MDM vendors' docs: Addigy,
 * Scalefusion, Miradore all ask for one for every Mac). Apple silicon before macOS 11.5 is the
 * exception: Apple's Device Lock documentation says the command deactivates such a Mac
 * instead, and it is re-activated by an administrator, so there is no PIN to ask for.
 */
export function pinRequiredForLock(identity: MacIdentity): boolean {
  return !identity.appleSilicon || osAtLeast(identity, '11.5');
}

/** A stable number in [0, 1) from the Mac's UDID and a label, for values that only need to look real. */
export function stableFraction(identity: MacIdentity, label: string): number {
  const h = createHash('sha256').update(identity.udid).update('\0').update(label).digest();
  return h.readUInt32BE(0) / 2 ** 32;
}

/** A stable UUID (upper case) from the Mac's UDID and a label. */
export function stableUuid(identity: MacIdentity, label: string): string {
  const h = createHash('sha256').update(identity.udid).update('\0').update(label).digest('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}
