/**
 * The app manifest of InstallEnterpriseApplication (Apple's "ManifestURL" plist):
 * `items` → `assets` (`kind: software-package`, `url`, per-chunk `sha256s`/`md5s`) and
 * `metadata` (`bundle-identifier`, `bundle-version`, `kind: software`, `title`). The server
 * builds one for the agent's package; a Mac reads it, downloads each package and checks
 * every chunk's hash before installing.
 */
import { createHash } from 'node:crypto';
import type { PlistDict, PlistValue } from './plist/types';
import { problem } from './problem';

export const SOFTWARE_PACKAGE = 'software-package';

/** An app a server serves with a manifest: who it is, and where its manifest and package are. */
export interface ServedApp {
  bundleId: string;
  title: string;
  version: string;
  manifestPath: string;
  /** Where its package is: this + packageName. */
  packagePrefix: string;
  packageName: string;
}

export interface ManifestAsset {
  kind: string;
  url: string;
  /** Bytes per hashed chunk; the whole file is one chunk when absent. */
  sha256Size?: number;
  sha256s?: string[];
  md5Size?: number;
  md5s?: string[];
}

export interface ManifestItem {
  assets: ManifestAsset[];
  bundleIdentifier: string;
  bundleVersion?: string;
  title: string;
  subtitle?: string;
}

export interface PackageDescription {
  url: string;
  bytes: Buffer;
  bundleIdentifier: string;
  bundleVersion: string;
  title: string;
  subtitle?: string;
  /** Chunk size for sha256s and md5s (default 10 MiB, as Apple's tools use). */
  chunkSize?: number;
  /** Also list md5s (default true: older macOS reads only those). */
  md5?: boolean;
}

export const DEFAULT_CHUNK_SIZE = 10 * 1024 * 1024;

function chunkHashes(bytes: Buffer, size: number, algorithm: 'sha256' | 'md5'): string[] {
  const out: string[] = [];
  for (let at = 0; at < bytes.length || (at === 0 && out.length === 0); at += size) {
    out.push(createHash(algorithm).update(bytes.subarray(at, at + size)).digest('hex'));
  }
  return out;
}

/** A one-item manifest for a package. */
export function buildManifest(p: PackageDescription): PlistDict {
  const size = p.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const asset: PlistDict = {
    kind: SOFTWARE_PACKAGE,
    'sha256-size': size,
    sha256s: chunkHashes(p.bytes, size, 'sha256'),
    url: p.url,
  };
  if (p.md5 !== false) {
    asset['md5-size'] = size;
    asset.md5s = chunkHashes(p.bytes, size, 'md5');
  }
  const metadata: PlistDict = {
    'bundle-identifier': p.bundleIdentifier,
    'bundle-version': p.bundleVersion,
    kind: 'software',
    title: p.title,
  };
  if (p.subtitle !== undefined) metadata.subtitle = p.subtitle;
  return { items: [{ assets: [asset], metadata }] };
}

function fail(field: string, message: string, expected?: string): never {
  throw problem(400, 'bad-manifest', `manifest ${field}: ${message}`, { field, ...(expected ? { expected } : {}) });
}

function isDict(v: PlistValue | undefined): v is PlistDict {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !Buffer.isBuffer(v) && !(v instanceof Date);
}

function hashList(v: PlistValue | undefined, field: string, hexLength: number): string[] | undefined {
  if (v === undefined) return undefined;
  if (!Array.isArray(v) || v.length === 0) fail(field, 'must be a non-empty array of hex strings');
  return v.map((h, i) => {
    if (typeof h !== 'string' || h.length !== hexLength || !/^[0-9a-fA-F]+$/.test(h)) fail(`${field}[${i}]`, `must be ${hexLength} hex digits`);
    return h.toLowerCase();
  });
}

function chunkSize(v: PlistValue | undefined, field: string): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) fail(field, 'must be a positive integer');
  return v;
}

/** Reads a manifest; throws a ProblemError naming the key at fault. */
export function parseManifest(value: PlistValue): ManifestItem[] {
  if (!isDict(value)) fail('(root)', 'must be a dictionary with an items array');
  const items = value.items;
  if (!Array.isArray(items) || items.length === 0) fail('items', 'must be a non-empty array');
  return items.map((item, i) => {
    const at = `items[${i}]`;
    if (!isDict(item)) fail(at, 'must be a dictionary');
    const metadata = item.metadata;
    if (!isDict(metadata)) fail(`${at}.metadata`, 'must be a dictionary');
    const bundleIdentifier = metadata['bundle-identifier'];
    if (typeof bundleIdentifier !== 'string' || bundleIdentifier.length < 2) fail(`${at}.metadata.bundle-identifier`, 'must be a string of two or more characters');
    const title = metadata.title;
    if (typeof title !== 'string' || title === '') fail(`${at}.metadata.title`, 'must be a non-empty string');
    const bundleVersion = metadata['bundle-version'];
    if (bundleVersion !== undefined && typeof bundleVersion !== 'string') fail(`${at}.metadata.bundle-version`, 'must be a string');
    const subtitle = metadata.subtitle;
    if (!Array.isArray(item.assets) || item.assets.length === 0) fail(`${at}.assets`, 'must be a non-empty array');
    const assets = item.assets.map((a, j) => {
      const aat = `${at}.assets[${j}]`;
      if (!isDict(a)) fail(aat, 'must be a dictionary');
      if (typeof a.kind !== 'string') fail(`${aat}.kind`, 'must be a string', SOFTWARE_PACKAGE);
      if (typeof a.url !== 'string') fail(`${aat}.url`, 'must be a string');
      const asset: ManifestAsset = { kind: a.kind, url: a.url };
      const s = chunkSize(a['sha256-size'], `${aat}.sha256-size`);
      const shas = hashList(a.sha256s, `${aat}.sha256s`, 64);
      const m = chunkSize(a['md5-size'], `${aat}.md5-size`);
      const md5s = hashList(a.md5s, `${aat}.md5s`, 32);
      if (s !== undefined) asset.sha256Size = s;
      if (shas) asset.sha256s = shas;
      if (m !== undefined) asset.md5Size = m;
      if (md5s) asset.md5s = md5s;
      return asset;
    });
    const out: ManifestItem = { assets, bundleIdentifier, title };
    if (bundleVersion !== undefined) out.bundleVersion = bundleVersion;
    if (typeof subtitle === 'string') out.subtitle = subtitle;
    return out;
  });
}

export type ChunkCheck =
  | { ok: true; algorithm: 'sha256' | 'md5' }
  | { ok: false; algorithm: 'sha256' | 'md5' | 'none'; chunk: number; expected: string; actual: string; message: string };

/**
 * Checks downloaded bytes against an asset's per-chunk hashes: sha256s when present (the
 * stronger), else md5s. An asset with neither fails: a Mac will not install unverified bytes.
 */
export function verifyAsset(asset: ManifestAsset, bytes: Buffer): ChunkCheck {
  const algorithm = asset.sha256s ? 'sha256' : asset.md5s ? 'md5' : undefined;
  if (!algorithm) return { ok: false, algorithm: 'none', chunk: 0, expected: 'sha256s or md5s', actual: 'neither', message: 'the asset lists no sha256s or md5s' };
  const expected = (algorithm === 'sha256' ? asset.sha256s : asset.md5s)!;
  const size = (algorithm === 'sha256' ? asset.sha256Size : asset.md5Size) ?? Math.max(bytes.length, 1);
  const actual = chunkHashes(bytes, size, algorithm);
  if (actual.length !== expected.length) {
    return {
      ok: false,
      algorithm,
      chunk: Math.min(actual.length, expected.length),
      expected: `${expected.length} chunks`,
      actual: `${actual.length} chunks`,
      message: `the download has ${bytes.length} bytes: ${actual.length} chunks of ${size}, the manifest lists ${expected.length}`,
    };
  }
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      return { ok: false, algorithm, chunk: i, expected: expected[i]!, actual: actual[i]!, message: `${algorithm} of chunk ${i} is ${actual[i]}, the manifest says ${expected[i]}` };
    }
  }
  return { ok: true, algorithm };
}
