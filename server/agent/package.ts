/**
 * The agent's installer package and its app manifest, as the MDM host serves them (and, built the
 * same way by PackageArtifacts, the sample apps': server/apps/sample-apps.ts).
 *
 * The package is not a real installer: it is deterministic bytes that look like one at first
 * glance (a flat pkg is a xar archive, so it starts with the `xar!` header) followed by seeded
 * pseudo-random filler. What matters to the simulation is that a Mac can download it and check
 * every chunk against the manifest's hashes, and that a corrupted download fails that check.
 * The same version always yields the same bytes, so hashes are stable across restarts.
 */
import { AGENT_BUNDLE_ID, AGENT_MANIFEST_PATH, AGENT_PACKAGE_PREFIX, AGENT_TITLE, AGENT_VERSION, agentPackageName } from '../../protocol/agent';
import { buildManifest, type ServedApp } from '../../protocol/manifest';
import { buildPlistBuffer } from '../../protocol/plist';

export const DEFAULT_AGENT_PACKAGE_BYTES = 64 * 1024;
/** Small enough that the default package has four chunks, so per-chunk checks are exercised. */
export const DEFAULT_AGENT_CHUNK_BYTES = 16 * 1024;
/** The xar header a flat package starts with: magic, header size, version, TOC lengths, checksum. */
const XAR_HEADER_BYTES = 28;
const MAX_PACKAGE_BYTES = 512 * 1024 * 1024;

export interface AgentPackageOptions {
  /** Size of the package (default 64 KiB; at least the 28-byte xar header). */
  packageBytes?: number;
  /** Chunk size of the manifest's sha256s/md5s (default 16 KiB). */
  chunkBytes?: number;
  /** Version served (default AGENT_VERSION). */
  version?: string;
}

/** Deterministic package bytes for a version: `xar!` header, then seeded filler. */
export function agentPackageBytes(version: string, size: number): Buffer {
  return packageBytes(`mdmsim-agent-${version}`, size, 'agent');
}

/**
 * Deterministic package bytes for a seed (the agent's is `mdmsim-agent-<version>`; the sample
 * apps' their own): `xar!` header, then filler. `field` names the settings in an error.
 */
export function packageBytes(seed: string, size: number, field: string): Buffer {
  if (!Number.isInteger(size) || size < XAR_HEADER_BYTES || size > MAX_PACKAGE_BYTES) {
    throw new RangeError(`${field}.packageBytes must be a whole number from ${XAR_HEADER_BYTES} to ${MAX_PACKAGE_BYTES}; got ${size}`);
  }
  const out = Buffer.alloc(size);
  out.write('xar!', 0, 'latin1');
  out.writeUInt16BE(XAR_HEADER_BYTES, 4);
  out.writeUInt16BE(1, 6); // xar format version 1
  // TOC lengths stay 0 (there is no TOC): an unpacker fails at once rather than reading noise.
  out.writeUInt32BE(1, 24); // checksum algorithm: SHA-1, as pkgbuild writes
  // xorshift32 seeded from the seed: cheap, and the same bytes every time.
  let x = fnv1a(seed) || 0x9e3779b9;
  let at = XAR_HEADER_BYTES;
  for (; at + 4 <= size; at += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out.writeUInt32LE(x >>> 0, at);
  }
  for (; at < size; at++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[at] = x & 0xff;
  }
  return out;
}

function fnv1a(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What a served package is: its app's identity, where it is, and its bytes' seed and sizes. */
export interface PackageSpec extends ServedApp {
  /** Seeds the bytes (packageBytes). */
  seed: string;
  /** Names the settings in errors (`agent`). */
  field: string;
  packageBytes?: number;
  chunkBytes?: number;
}

/** A package and its manifest, each built once and served from memory. */
export class PackageArtifacts {
  readonly version: string;
  readonly packageName: string;
  readonly packagePath: string;
  readonly manifestPath: string;
  readonly bundleId: string;
  readonly title: string;
  readonly chunkBytes: number;
  readonly package: Buffer;
  private manifestBody?: Buffer;
  private manifestBase?: string;

  constructor(spec: PackageSpec) {
    this.version = spec.version;
    this.bundleId = spec.bundleId;
    this.title = spec.title;
    this.chunkBytes = spec.chunkBytes ?? DEFAULT_AGENT_CHUNK_BYTES;
    if (!Number.isInteger(this.chunkBytes) || this.chunkBytes < 1) {
      throw new RangeError(`${spec.field}.chunkBytes must be a whole number ≥ 1; got ${this.chunkBytes}`);
    }
    this.packageName = spec.packageName;
    this.packagePath = `${spec.packagePrefix}${this.packageName}`;
    this.manifestPath = spec.manifestPath;
    this.package = packageBytes(spec.seed, spec.packageBytes ?? DEFAULT_AGENT_PACKAGE_BYTES, spec.field);
  }

  /** The manifest plist for a server base URL (https://host:port), built on first use. */
  manifest(baseUrl: string): Buffer {
    if (this.manifestBody === undefined || this.manifestBase !== baseUrl) {
      this.manifestBase = baseUrl;
      this.manifestBody = buildPlistBuffer(
        buildManifest({
          url: `${baseUrl}${this.packagePath}`,
          bytes: this.package,
          bundleIdentifier: this.bundleId,
          bundleVersion: this.version,
          title: this.title,
          chunkSize: this.chunkBytes,
        }),
      );
    }
    return this.manifestBody;
  }

  manifestUrl(baseUrl: string): string {
    return `${baseUrl}${this.manifestPath}`;
  }
}

/** The agent's package and manifest. */
export class AgentArtifacts extends PackageArtifacts {
  constructor(options: AgentPackageOptions = {}) {
    const version = options.version ?? AGENT_VERSION;
    super({
      bundleId: AGENT_BUNDLE_ID,
      title: AGENT_TITLE,
      version,
      manifestPath: AGENT_MANIFEST_PATH,
      packagePrefix: AGENT_PACKAGE_PREFIX,
      packageName: agentPackageName(version),
      seed: `mdmsim-agent-${version}`,
      field: 'agent',
      packageBytes: options.packageBytes,
      chunkBytes: options.chunkBytes,
    });
  }
}
