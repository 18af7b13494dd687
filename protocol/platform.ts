/**
 * Which Apple platform a device runs, read from what it says about itself at Authenticate.
 * The schema's per-OS rules (required, forbidden, introduced) hang on this.
 */
import type { Authenticate } from './checkin';

export type Platform = 'macOS' | 'iOS' | 'tvOS' | 'visionOS' | 'watchOS';
export const PLATFORMS: readonly Platform[] = ['macOS', 'iOS', 'tvOS', 'visionOS', 'watchOS'];

const PREFIXES: Array<[RegExp, Platform]> = [
  [/^(Mac|iMac|MacBook|Macmini|MacPro|VirtualMac|Xserve)/, 'macOS'],
  [/^(iPhone|iPad|iPod)/, 'iOS'],
  [/^AppleTV/, 'tvOS'],
  [/^Watch/, 'watchOS'],
  [/^RealityDevice/, 'visionOS'],
];

/** From a model identifier such as `MacBookPro18,3`, `iPad2,5` or `AppleTV6,2`. */
export function platformFromModel(model: string | undefined): Platform | undefined {
  if (!model) return undefined;
  for (const [re, platform] of PREFIXES) if (re.test(model)) return platform;
  return undefined;
}

/**
 * macOS is the only platform whose Authenticate carries Model/ModelName/DeviceName
 * (Apple's schema marks them n/a elsewhere), so their presence alone says macOS.
 */
export function platformFromAuthenticate(m: Pick<Authenticate, 'ProductName' | 'Model' | 'ModelName' | 'DeviceName'>): Platform | undefined {
  return (
    platformFromModel(m.ProductName) ??
    platformFromModel(m.Model) ??
    (m.Model !== undefined || m.ModelName !== undefined || m.DeviceName !== undefined ? 'macOS' : undefined)
  );
}
