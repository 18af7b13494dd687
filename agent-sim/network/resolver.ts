/**
 * A simulated Mac's own name resolver. Macs never ask the system's DNS: the names an MDM server
 * hands them (tenant device domains under a reserved test zone) exist only in the lab, and a lab
 * must not depend on, or leak to, the network it runs on. Every connection a Mac makes (MDM,
 * enrollment, manifest and package downloads, agent check-ins, the courier, the in-process proxy
 * and inspector acting for it) looks names up here; TLS still sends the name (SNI) and checks the
 * certificate against it.
 *
 * Entries map a name, or every name under a domain (`*.mdmsim.test`, as `--resolve` takes it), to
 * an IP address. Exact names win over wildcards and a longer wildcard over a shorter one; then a
 * function the caller gave (which may ask anything it likes, even the system's DNS); then the
 * zones the fleet learned from enrollment profiles (see learnProfileZone); then `localhost`, as
 * every Mac's /etc/hosts has it. IP literals are themselves. A name none of these knows fails as a
 * real NXDOMAIN does: an ENOTFOUND error from the lookup, so the request fails as a network error.
 */
import { isIP, type LookupFunction } from 'node:net';
import { hostMatches, isHostName, parseTenantHost } from '../../protocol/tenant';

/** What a fleet takes: `{ '*.mdmsim.test': '127.0.0.1', 'mdm.example.test': '::1' }`, or a function. */
export type ResolveMap = Readonly<Record<string, string>>;
/** An address for a name, or undefined when the name does not exist (NXDOMAIN). */
export type ResolveFunction = (host: string) => string | undefined | Promise<string | undefined>;
export type ResolveOption = ResolveMap | ResolveFunction;

interface Entry {
  pattern: string;
  address: string;
  /** Suffix length of a wildcard (longer wins); Infinity for an exact name. */
  weight: number;
}

/** A name, or `*.` and a name (protocol/tenant.ts's one host-name rule). */
const isPattern = (p: string): boolean => isHostName(p, { wildcard: true });

export class ResolveError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
    this.name = 'ResolveError';
  }
}

/** What a failed lookup throws: the shape of Node's own getaddrinfo ENOTFOUND. */
export interface NotFoundError extends Error {
  code: 'ENOTFOUND';
  errno: number;
  syscall: 'getaddrinfo';
  hostname: string;
}

export function notFound(host: string, why: string): NotFoundError {
  return Object.assign(new Error(`getaddrinfo ENOTFOUND ${host} (${why})`), { code: 'ENOTFOUND' as const, errno: -3008, syscall: 'getaddrinfo' as const, hostname: host });
}

/** Checks one entry; throws ResolveError naming `field`. Returns the normalised pattern and address. */
export function checkEntry(pattern: string, address: string, field = 'resolve'): { pattern: string; address: string } {
  const p = String(pattern).trim().toLowerCase().replace(/\.$/, '');
  if (!isPattern(p)) throw new ResolveError(field, `${field}: ${JSON.stringify(pattern)} is not a host name or *.domain (e.g. mdm.example.test or *.mdmsim.test)`);
  const a = String(address).trim().replace(/^\[(.*)\]$/, '$1');
  if (isIP(a) === 0) throw new ResolveError(`${field}[${JSON.stringify(p)}]`, `${field}: ${JSON.stringify(address)} for ${p} is not an IP address (the Macs resolve names to addresses, e.g. 127.0.0.1 or ::1)`);
  return { pattern: p, address: a };
}

/**
 * `HOST:ADDRESS` as curl's --resolve writes it, without the port (`*.mdmsim.test:127.0.0.1`,
 * `mdm.test:[::1]`; curl's `HOST:PORT:ADDRESS` is taken too, its port ignored: a name has one address
 * here whatever the port).
 */
export function parseResolveFlag(value: string, field = '--resolve'): { pattern: string; address: string } {
  const m = /^([^:\s]+):(?:(\d{1,5}):)?(\[[^\]]+\]|[^:\s]+|[0-9a-f:]+)$/i.exec(value.trim());
  if (!m) throw new ResolveError(field, `${field} ${JSON.stringify(value)}: expected HOST:ADDRESS, e.g. *.mdmsim.test:127.0.0.1 or mdm.example.test:[::1]`);
  return checkEntry(m[1]!, m[3]!, field);
}

export class Resolver {
  private entries: Entry[] = [];
  private readonly fn: ResolveFunction | undefined;
  /** Zones learned from enrollment profiles: `*.zone` → the address the profile came from. */
  private learned: Entry[] = [];
  /** Lookups answered so far (a test can see that the Macs asked here, not the system). */
  lookups = 0;
  /** `lookup` for net/tls/undici/ws options: asks this resolver, never DNS. */
  readonly lookup: LookupFunction;

  constructor(option?: ResolveOption) {
    if (typeof option === 'function') this.fn = option;
    else if (option !== undefined) {
      if (typeof option !== 'object' || option === null || Array.isArray(option)) throw new ResolveError('resolve', 'resolve: expected { "host or *.domain": "address" } or a function (host) => address');
      for (const [pattern, address] of Object.entries(option)) this.add(pattern, address);
    }
    this.lookup = ((hostname: string, options: unknown, callback?: unknown) => {
      const cb = (typeof options === 'function' ? options : callback) as (err: Error | null, address?: unknown, family?: number) => void;
      const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all === true;
      this.resolve(hostname).then(
        (address) => {
          const family = isIP(address);
          if (all) cb(null, [{ address, family }]);
          else cb(null, address, family);
        },
        (error: Error) => cb(error),
      );
    }) as LookupFunction;
  }

  /** Adds `pattern` → `address` (checked; an exact name or `*.domain`). */
  add(pattern: string, address: string): this {
    const e = checkEntry(pattern, address);
    this.entries = this.entries.filter((x) => x.pattern !== e.pattern);
    this.entries.push({ ...e, weight: weightOf(e.pattern) });
    this.entries.sort((a, b) => b.weight - a.weight);
    return this;
  }

  /** The entries given, most specific first (for a ready line or a log). */
  list(): Array<{ pattern: string; address: string }> {
    return [...this.entries, ...this.learned].map(({ pattern, address }) => ({ pattern, address }));
  }

  /** The address of `host` from the entries, the function, learned zones and localhost; undefined when none knows it. */
  async find(host: string): Promise<string | undefined> {
    const h = host.trim().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '').toLowerCase();
    if (isIP(h) !== 0) return h;
    const own = this.match(this.entries, h);
    if (own !== undefined) return own;
    if (this.fn) {
      const got = await this.fn(h);
      if (got !== undefined) {
        const a = String(got).replace(/^\[(.*)\]$/, '$1');
        if (isIP(a) === 0) throw new ResolveError('resolve', `the resolve function answered ${JSON.stringify(got)} for ${h}: not an IP address`);
        return a;
      }
    }
    const learned = this.match(this.learned, h);
    if (learned !== undefined) return learned;
    if (h === 'localhost' || h.endsWith('.localhost')) return '127.0.0.1';
    return undefined;
  }

  /** The address of `host`, or a rejected ENOTFOUND (the name does not exist for the Macs). */
  async resolve(host: string): Promise<string> {
    this.lookups++;
    const address = await this.find(host);
    if (address === undefined) throw notFound(host, "no entry in the simulated Macs' resolver: add one (resolve option, --resolve HOST:ADDRESS)");
    return address;
  }

  /**
   * After a Mac opened an enrollment profile downloaded from `profileUrl`: the names under the
   * zone its MDM URLs use resolve to the address the profile came from, unless something given
   * already says where they are. The zone is what precedes the tenant part of a device or
   * enrollment domain (`<id>.web-api.<zone>`, `<id>.devices.us-1.<zone>`, `<sub>.web-api.eu.<zone>`);
   * any other name is learned alone. Returns the pattern learned, if any.
   */
  async learnProfileZone(profileUrl: string, mdmUrls: readonly string[]): Promise<string | undefined> {
    let from: string | undefined;
    try {
      from = await this.find(new URL(profileUrl).hostname);
    } catch {
      return undefined;
    }
    if (from === undefined) return undefined;
    let learned: string | undefined;
    for (const raw of mdmUrls) {
      let host: string;
      try {
        host = new URL(raw).hostname.toLowerCase().replace(/\.$/, '');
      } catch {
        continue;
      }
      if (isIP(host.replace(/^\[(.*)\]$/, '$1')) !== 0) continue;
      if ((await this.find(host)) !== undefined) continue;
      const zone = zoneOf(host);
      const pattern = zone === undefined ? host : `*.${zone}`;
      if (!isPattern(pattern)) continue;
      this.learned.push({ pattern, address: from, weight: weightOf(pattern) });
      this.learned.sort((a, b) => b.weight - a.weight);
      learned ??= pattern;
    }
    return learned;
  }

  private match(list: readonly Entry[], host: string): string | undefined {
    for (const e of list) if (hostMatches(e.pattern, host)) return e.address;
    return undefined;
  }
}

function weightOf(pattern: string): number {
  return pattern.startsWith('*.') ? pattern.length : Number.POSITIVE_INFINITY;
}

/** The zone of a tenant-shaped host name (protocol/tenant.ts's shapes, read by its parser), else undefined. */
export function zoneOf(host: string): string | undefined {
  return parseTenantHost(host)?.zone;
}

/** A Resolver from Fleet.start's `resolve` option (a Resolver is taken as it is); a bad option throws a ResolveError naming it. */
export function toResolver(option: ResolveOption | Resolver | undefined): Resolver {
  return option instanceof Resolver ? option : new Resolver(option);
}
