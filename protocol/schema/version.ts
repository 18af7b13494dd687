/** OS version strings as Apple writes them ('10.13.6', '17.0', 'n/a'). */

export type Version = readonly number[];

const VERSION_RE = /^\d+(\.\d+)*$/;

/** Parses '14.2.1'; anything else (empty, 'n/a', '14.2b') → undefined. */
export function parseVersion(s: string | undefined): Version | undefined {
  if (s === undefined) return undefined;
  const t = s.trim();
  if (!VERSION_RE.test(t)) return undefined;
  return t.split('.').map(Number);
}

/** Missing components count as 0, so '10.15' == '10.15.0'. */
export function compareVersions(a: Version, b: Version): number {
  const n = Math.max(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const d = (a[i] ?? 0) - (b[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function isZero(v: Version): boolean {
  return v.every((x) => x === 0);
}

export function majorMinor(v: Version): string {
  return `${v[0] ?? 0}.${v[1] ?? 0}`;
}

/** A bound like 10.13.6 makes every 10.13.x distinct; 10.13 / 10.13.0 does not. */
export function hasPatch(v: Version): boolean {
  for (let i = 2; i < v.length; i++) if (v[i] !== 0) return true;
  return false;
}

export function formatVersion(v: Version): string {
  return v.join('.');
}
