/**
 * Test-local Macs for the command handlers: identities (Intel and Apple silicon, several
 * macOS versions), a fake network, a fixed clock, and the strict schema check every report
 * must pass.
 */
import { buildCommand, type Command } from '../../../../protocol/command';
import type { Clock } from '../../../../protocol/clock';
import type { PlistDict, PlistValue } from '../../../../protocol/plist/types';
import { reports } from '../../../../protocol/result';
import { validateCommandResponse, type ValidationResult } from '../../../../protocol/schema';
import { createMacState } from '../../../../agent-sim/baseline';
import { handleCommand } from '../../../../agent-sim/commands';
import { NetworkError, type CommandContext, type HandlerOutcome, type MacIdentity, type MacNetwork, type MacState } from '../../../../agent-sim/state';

export const NOW = Date.UTC(2026, 10, 23, 10, 0, 0);

/** Builds of real releases (Apple's), paired with a model that runs them. */
export const OS = {
  catalina: { osVersion: '10.15.7', buildVersion: '19H2' },
  bigSur: { osVersion: '11.7.10', buildVersion: '20G1427' },
  monterey: { osVersion: '12.7.6', buildVersion: '21H1320' },
  sonoma: { osVersion: '14.6', buildVersion: '23G80' },
  sequoia: { osVersion: '15.1', buildVersion: '24B83' },
} as const;

export type OsName = keyof typeof OS;
export const ALL_OS: OsName[] = ['catalina', 'bigSur', 'monterey', 'sonoma', 'sequoia'];

const APPLE_SILICON: Omit<MacIdentity, 'osVersion' | 'buildVersion'> = {
  udid: '5A1B2C3D-4E5F-5061-8273-8495A6B7C8D9',
  serialNumber: 'C02ZX1ABMD6T',
  model: 'MacBookPro18,3',
  modelName: 'MacBook Pro',
  marketingName: 'MacBook Pro (14-inch, 2021)',
  modelNumber: 'MKGP3LL/A',
  appleSilicon: true,
  deviceName: 'Jane’s MacBook Pro',
  hostName: 'janes-macbook-pro.example.com',
  localHostName: 'Janes-MacBook-Pro',
  wifiMac: '3c:22:fb:01:02:03',
  bluetoothMac: '3c:22:fb:01:02:04',
  ethernetMacs: [],
  storageCapacityBytes: 512e9,
  storageAvailableBytes: 301.25e9,
};

/** An iMac (Retina 5K, 27-inch, 2020): Intel with a T2 chip, a desktop with Ethernet. */
const INTEL_T2: Omit<MacIdentity, 'osVersion' | 'buildVersion'> = {
  udid: '0F1E2D3C-4B5A-5968-8776-A5B4C3D2E1F0',
  serialNumber: 'C02DK0ABPN5T',
  model: 'iMac20,1',
  modelName: 'iMac',
  marketingName: 'iMac (Retina 5K, 27-inch, 2020)',
  modelNumber: 'MXWT2LL/A',
  appleSilicon: false,
  deviceName: 'Front Desk iMac',
  hostName: 'front-desk-imac.example.com',
  localHostName: 'Front-Desk-iMac',
  wifiMac: 'a4:83:e7:10:20:30',
  bluetoothMac: 'a4:83:e7:10:20:31',
  ethernetMacs: ['a4:83:e7:10:20:32'],
  storageCapacityBytes: 1000e9,
  storageAvailableBytes: 640.5e9,
};

/** A 2017 iMac: Intel without T2 (firmware-PIN erase). */
const INTEL_OLD: Omit<MacIdentity, 'osVersion' | 'buildVersion'> = {
  ...INTEL_T2,
  udid: '11111111-2222-4333-8444-555555555555',
  serialNumber: 'C02VQ1ABJ1GJ',
  model: 'iMac18,3',
  marketingName: 'iMac (Retina 5K, 27-inch, 2017)',
  modelNumber: 'MNEA2LL/A',
};

export type Hardware = 'appleSilicon' | 'intelT2' | 'intelOld';
const HARDWARE = { appleSilicon: APPLE_SILICON, intelT2: INTEL_T2, intelOld: INTEL_OLD };

export function identity(os: OsName, hardware: Hardware = os === 'catalina' ? 'intelT2' : 'appleSilicon'): MacIdentity {
  return { ...HARDWARE[hardware], ...OS[os] };
}

export const clock: Clock = {
  mode: 'virtual',
  now: () => NOW,
  setTimer: () => {
    throw new Error('handlers do not set timers');
  },
};

/** Serves fixed bodies by URL; anything else is a 404. Records what was fetched. */
export class FakeNetwork implements MacNetwork {
  readonly fetched: Array<{ url: string; purpose: 'manifest' | 'package' }> = [];
  readonly bodies = new Map<string, Buffer>();
  /** URLs that fail as a refused connection. */
  readonly unreachable = new Set<string>();

  async get(url: string, purpose: 'manifest' | 'package'): Promise<Buffer> {
    this.fetched.push({ url, purpose });
    if (this.unreachable.has(url)) throw new NetworkError(`connect ECONNREFUSED for ${url}`, url);
    const body = this.bodies.get(url);
    if (!body) throw new NetworkError(`GET ${url}: 404 Not Found`, url, 404);
    return body;
  }
}

export interface TestMac {
  state: MacState;
  network: FakeNetwork;
  ctx: CommandContext;
}

export function mac(os: OsName, hardware?: Hardware, overrides: Partial<MacIdentity> = {}): TestMac {
  const state = createMacState({ ...identity(os, hardware), ...overrides }, NOW - 86_400_000);
  const network = new FakeNetwork();
  return { state, network, ctx: { mac: state, clock, network, anchors: [] } };
}

export function command(requestType: string, payload: Record<string, PlistValue | undefined> = {}): Command {
  return buildCommand(requestType, payload, { CommandUUID: 'B9E4F0C8-41A5-4B1E-9C39-7A1C0F2E5D11' });
}

export async function run(m: TestMac, requestType: string, payload: Record<string, PlistValue | undefined> = {}): Promise<HandlerOutcome> {
  return handleCommand(command(requestType, payload), m.ctx);
}

/** The report the Mac would send for an outcome. */
export function reportOf(m: TestMac, outcome: HandlerOutcome): PlistDict {
  const ids = { UDID: m.state.identity.udid };
  const uuid = 'B9E4F0C8-41A5-4B1E-9C39-7A1C0F2E5D11';
  const r =
    outcome.status === 'Acknowledged'
      ? reports.Acknowledged(ids, uuid, outcome.response ?? {})
      : outcome.status === 'Error'
        ? reports.Error(ids, uuid, outcome.errorChain)
        : reports.CommandFormatError(ids, uuid, outcome.errorChain);
  return r as PlistDict;
}

/** Apple's schema, strictly, for this Mac's macOS. */
export function validate(m: TestMac, requestType: string, outcome: HandlerOutcome): ValidationResult {
  return validateCommandResponse(requestType, reportOf(m, outcome), { platform: 'macOS', osVersion: m.state.identity.osVersion, strict: true });
}

/** Fails with the schema's own words when a report does not validate. */
export function expectValid(m: TestMac, requestType: string, outcome: HandlerOutcome): void {
  const result = validate(m, requestType, outcome);
  expect(result.errors.map((e) => e.message)).toEqual([]);
}

export function acknowledged(outcome: HandlerOutcome): PlistDict {
  if (outcome.status !== 'Acknowledged') throw new Error(`expected Acknowledged, got ${outcome.status}: ${JSON.stringify(outcome.errorChain)}`);
  return outcome.response ?? {};
}
