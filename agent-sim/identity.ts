/**
 * Who a simulated Mac is, deterministically from a seed: the same (seed, index, shard) always
 * gives the same Mac, on any machine. A shard `{index: i, of: n}` holds the Macs whose fleet
 * number is `index * n + i`, so the shards of a fleet are disjoint and together are exactly
 * the unsharded fleet (shard 1/2's Mac 0 is the unsharded Mac 1).
 *
 * Randomness is SHA-256 in counter mode over (seed, fleet number): no Math.random. Models and
 * OS releases come from fixtures/macs (see SOURCE.md there); a Mac only ever runs a release
 * that supports its model.
 */
import { createHash } from 'node:crypto';
import modelsFile from '../fixtures/macs/models.json';
import osFile from '../fixtures/macs/os.json';
import type { MacIdentity } from './state';

export interface MacModel {
  model: string;
  modelName: string;
  marketingName: string;
  modelNumber: string;
  appleSilicon: boolean;
  form: 'laptop' | 'desktop';
  storageGB: number[];
}

export interface OsRelease {
  version: string;
  build: string;
  name: string;
  released: string;
  models: string[];
}

export const MAC_MODELS: readonly MacModel[] = modelsFile.models as MacModel[];
export const OS_RELEASES: readonly OsRelease[] = osFile.releases;

/** Releases that support each model, oldest first. */
const RELEASES_BY_MODEL = new Map<string, OsRelease[]>(MAC_MODELS.map((m) => [m.model, OS_RELEASES.filter((r) => r.models.includes(m.model))]));

export function releasesFor(model: string): readonly OsRelease[] {
  return RELEASES_BY_MODEL.get(model) ?? [];
}

export interface Shard {
  index: number;
  of: number;
}

export interface MacIdentityOptions {
  seed: string;
  /** The Mac's number within its shard (or fleet), from 0. */
  index: number;
  shard?: Shard;
  /** Only these models and releases (see macChoices); default: every model and release. */
  choices?: MacChoices;
}

/** The models and macOS releases a fleet draws from, after its `models` and `os` filters. */
export interface MacChoices {
  models: readonly MacModel[];
  releases: ReadonlyMap<string, readonly OsRelease[]>;
}

export interface MacFilters {
  /**
   * Model identifiers (`Mac14,2`) or the start of a model or marketing name (`MacBook Air`,
   * `MacBook Pro (14-inch`), case-insensitive.
   */
  models?: readonly string[];
  /** macOS versions or their prefixes: `15` (any 15.x), `14.7`, `15.5`. */
  os?: readonly string[];
}

const ALL_CHOICES: MacChoices = { models: MAC_MODELS, releases: RELEASES_BY_MODEL };

/**
 * The models and releases left by a fleet's filters: a model stays if it matches a `models`
 * entry and runs at least one release matching an `os` entry. Throws, naming the filter and
 * what is available, when nothing is left.
 */
export function macChoices(filters: MacFilters = {}): MacChoices {
  const models = filters.models?.map((m) => m.trim()).filter(Boolean) ?? [];
  const os = filters.os?.map((v) => v.trim()).filter(Boolean) ?? [];
  if (models.length === 0 && os.length === 0) return ALL_CHOICES;
  const modelIs = (m: MacModel, f: string) => {
    const lf = f.toLowerCase();
    return m.model.toLowerCase() === lf || m.modelName.toLowerCase().startsWith(lf) || m.marketingName.toLowerCase().startsWith(lf);
  };
  const releaseIs = (r: OsRelease, v: string) => r.version === v || r.version.startsWith(`${v}.`);
  for (const f of models) {
    if (!MAC_MODELS.some((m) => modelIs(m, f))) {
      throw new RangeError(`models: no Mac model matches ${JSON.stringify(f)}; known: ${[...new Set(MAC_MODELS.map((m) => m.modelName))].join(', ')}, or an identifier such as ${MAC_MODELS[0]!.model}`);
    }
  }
  for (const v of os) {
    if (!OS_RELEASES.some((r) => releaseIs(r, v))) throw new RangeError(`os: no macOS release matches ${JSON.stringify(v)}; known: ${OS_RELEASES.map((r) => r.version).join(', ')}`);
  }
  const releases = new Map<string, OsRelease[]>();
  const kept: MacModel[] = [];
  for (const m of MAC_MODELS) {
    if (models.length > 0 && !models.some((f) => modelIs(m, f))) continue;
    const rs = releasesFor(m.model).filter((r) => os.length === 0 || os.some((v) => releaseIs(r, v)));
    if (rs.length === 0) continue;
    kept.push(m);
    releases.set(m.model, rs);
  }
  if (kept.length === 0) throw new RangeError(`models ${JSON.stringify(models)} with os ${JSON.stringify(os)}: none of those models runs any of those releases`);
  return { models: kept, releases };
}

export function checkShard(shard: Shard | undefined): Shard {
  const s = shard ?? { index: 0, of: 1 };
  if (!Number.isInteger(s.of) || s.of < 1 || !Number.isInteger(s.index) || s.index < 0 || s.index >= s.of) {
    throw new RangeError(`a shard is {index, of} with 0 <= index < of; got ${JSON.stringify(shard)}`);
  }
  return s;
}

/** The Mac's number in the whole (unsharded) fleet. */
export function fleetNumber(index: number, shard?: Shard): number {
  const s = checkShard(shard);
  if (!Number.isSafeInteger(index) || index < 0) throw new RangeError(`a Mac index is a whole number >= 0; got ${index}`);
  return index * s.of + s.index;
}

/** A deterministic byte stream: SHA-256(key ‖ counter), 32 bytes a block. */
export class SeededRandom {
  private block = Buffer.alloc(0);
  private at = 0;
  private counter = 0;

  constructor(private readonly key: string) {}

  bytes(n: number): Buffer {
    const out = Buffer.allocUnsafe(n);
    for (let i = 0; i < n; i++) {
      if (this.at >= this.block.length) {
        this.block = createHash('sha256').update(this.key).update('\0').update(String(this.counter++)).digest();
        this.at = 0;
      }
      out[i] = this.block[this.at++]!;
    }
    return out;
  }

  /** A uniform integer in [0, n), n ≤ 2^32 (rejection sampling: no modulo bias). */
  int(n: number): number {
    if (!(n >= 1 && n <= 2 ** 32)) throw new RangeError(`int(n) needs 1 <= n <= 2^32; got ${n}`);
    const limit = Math.floor(2 ** 32 / n) * n;
    for (;;) {
      const v = this.bytes(4).readUInt32BE(0);
      if (v < limit) return v % n;
    }
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }
}

/** Apple's serial alphabet: digits and capitals, without O and I (they read as 0 and 1). */
export const SERIAL_ALPHABET = '0123456789ABCDEFGHJKLMNPQRSTUVWXYZ';
const SERIAL_TAIL = 8;
const SERIAL_SPACE = SERIAL_ALPHABET.length ** SERIAL_TAIL; // 34^8 ≈ 1.8e12

const FIRST_NAMES = [
  'Alex', 'Sam', 'Jordan', 'Taylor', 'Morgan', 'Casey', 'Riley', 'Jamie', 'Avery', 'Quinn',
  'Maria', 'Wei', 'Priya', 'Lena', 'Omar', 'Sofia', 'Kenji', 'Amara', 'Lucas', 'Noor',
  'Elena', 'Mateo', 'Hana', 'Ivan', 'Zoe', 'Femi', 'Ines', 'Tomas', 'Yara', 'Ben',
];

function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}

/** (a·x + b) mod m without losing precision past 2^53. */
function affine(a: number, x: number, b: number, m: number): number {
  return Number((BigInt(a) * BigInt(x) + BigInt(b)) % BigInt(m));
}

/** Per-seed constants of the serial permutation (a bijection of [0, 34^8)). */
const serialKeys = new Map<string, { a: number; b: number }>();

function serialKey(seed: string): { a: number; b: number } {
  let k = serialKeys.get(seed);
  if (!k) {
    const r = new SeededRandom(`mdmsim-serial\0${seed}`);
    let a = r.bytes(6).readUIntBE(0, 6) % SERIAL_SPACE;
    while (gcd(a, SERIAL_SPACE) !== 1) a = (a + 1) % SERIAL_SPACE;
    k = { a, b: Number(r.bytes(6).readUIntBE(0, 6) % SERIAL_SPACE) };
    serialKeys.set(seed, k);
  }
  return k;
}

/**
 * 12 characters: four from the Mac's own randomness, then eight that are a bijection of its
 * fleet number under the seed, so no two Macs of one seed ever share a serial.
 */
function serialNumber(seed: string, n: number, r: SeededRandom): string {
  const { a, b } = serialKey(seed);
  let v = affine(a, n % SERIAL_SPACE, b, SERIAL_SPACE);
  let tail = '';
  for (let i = 0; i < SERIAL_TAIL; i++) {
    tail = SERIAL_ALPHABET[v % 34] + tail;
    v = Math.floor(v / 34);
  }
  let head = '';
  for (let i = 0; i < 12 - SERIAL_TAIL; i++) head += SERIAL_ALPHABET[r.int(34)];
  return head + tail;
}

/** UUID form (upper case, version-4 layout) of 16 bytes. */
export function uuidFromBytes(bytes: Buffer): string {
  const b = Buffer.from(bytes.subarray(0, 16));
  b[6] = (b[6]! & 0x0f) | 0x40; // version 4 layout
  b[8] = (b[8]! & 0x3f) | 0x80; // RFC 4122 variant
  const h = b.toString('hex').toUpperCase();
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
}

/** A locally administered unicast MAC address (never a real vendor's). */
function macAddress(r: SeededRandom): string {
  const b = r.bytes(6);
  b[0] = (b[0]! & 0xfc) | 0x02;
  return [...b].map((x) => x.toString(16).padStart(2, '0')).join(':');
}

function hostLabel(owner: string, modelName: string): string {
  return `${owner}s-${modelName}`.replace(/[^A-Za-z0-9]+/g, '-');
}

export function macIdentity(options: MacIdentityOptions): MacIdentity {
  const n = fleetNumber(options.index, options.shard);
  const r = new SeededRandom(`mdmsim-mac\0${options.seed}\0${n}`);
  const udid = uuidFromBytes(r.bytes(16));
  const serial = serialNumber(options.seed, n, r);
  const choices = options.choices ?? ALL_CHOICES;
  const model = r.pick(choices.models);
  const release = r.pick(choices.releases.get(model.model) ?? releasesFor(model.model));
  const owner = r.pick(FIRST_NAMES);
  const label = hostLabel(owner, model.modelName);
  const gb = r.pick(model.storageGB);
  const capacity = gb * 1_000_000_000;
  // Between 15 % and 80 % free, in whole MB.
  const free = Math.round((capacity * (15 + r.int(66))) / 100 / 1_000_000) * 1_000_000;
  return {
    udid,
    serialNumber: serial,
    model: model.model,
    modelName: model.modelName,
    marketingName: model.marketingName,
    modelNumber: model.modelNumber,
    appleSilicon: model.appleSilicon,
    osVersion: release.version,
    buildVersion: release.build,
    deviceName: `${owner}’s ${model.modelName}`,
    hostName: `${label}.local`,
    localHostName: label,
    wifiMac: macAddress(r),
    bluetoothMac: macAddress(r),
    ethernetMacs: model.form === 'desktop' ? [macAddress(r)] : [],
    storageCapacityBytes: capacity,
    storageAvailableBytes: free,
  };
}

/**
 * A Mac's private randomness for things that are not its identity (its courier secret, its
 * agent's check-in phase), from the same seed and fleet number.
 */
export function macSecret(seed: string, fleetNo: number, purpose: string, bytes = 32): Buffer {
  return new SeededRandom(`mdmsim-${purpose}\0${seed}\0${fleetNo}`).bytes(bytes);
}
