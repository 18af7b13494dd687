/**
 * The server's tenant, kept in the data dir as tenant.json: made once (a fresh UUID), so a
 * restart keeps the same id and the device URLs already handed to Macs stay valid. Values given
 * to startServer (flags) win over the file and are written back, so the data dir always says
 * which tenant its devices were enrolled under.
 */
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { ProblemError } from '../../protocol/problem';
import { DEFAULT_ZONE, parseTenant, type Tenant } from '../../protocol/tenant';
import { createExclusive, DataDirError, ensureDir, inDataDir, PUBLIC_FILE_MODE, readIfExists, replaceFile } from '../data-dir';

export const TENANT_FILE = 'tenant.json';

/** What a new tenant gets for what was not given. */
export const DEFAULT_SUBDOMAIN = 'mdmsim';

/** The tenant file of a data dir is wrong; the message names the file and the field. */
export class TenantFileError extends DataDirError {
  constructor(
    message: string,
    file: string,
    /** The field at fault (e.g. `region`), when one is. */
    readonly field?: string,
  ) {
    super(message, file);
    this.name = 'TenantFileError';
  }
}

export interface TenantLoad {
  tenant: Tenant;
  /** What happened to the file: made now, read as it was, or rewritten with given values. */
  file: 'created' | 'read' | 'updated';
  path: string;
}

/**
 * Reads the data dir's tenant, or makes one; `given` values (checked with parseTenant, so a bad
 * one is a ProblemError naming `tenant.<field>`) replace the file's and are saved.
 */
export async function loadOrCreateTenant(dataDir: string, given: Partial<Tenant> = {}): Promise<TenantLoad> {
  const path = join(dataDir, TENANT_FILE);
  // A bad flag fails before anything is read or written.
  const defined = definedFields(given);
  if (Object.keys(defined).length > 0) parseTenant({ id: randomUUID(), subdomain: DEFAULT_SUBDOMAIN, ...defined });
  return inDataDir(
    dataDir,
    async () => {
      await ensureDir(dataDir);
      const text = await readIfExists(path);
      if (text === undefined) {
        const fresh = parseTenant({ id: randomUUID(), subdomain: DEFAULT_SUBDOMAIN, region: 'us', zone: DEFAULT_ZONE, deviceDomainStyle: 'web-api', ...defined });
        // Another process starting on the same data dir may win; then its tenant is the one.
        if (await createExclusive(path, serialize(fresh), PUBLIC_FILE_MODE)) return { tenant: fresh, file: 'created' as const, path };
        return loadOrCreateTenant(dataDir, given);
      }
      const stored = parseTenantFile(text, path);
      if (Object.keys(defined).length === 0) return { tenant: stored, file: 'read' as const, path };
      const merged = parseTenant({ ...stored, ...defined });
      if (sameTenant(merged, stored)) return { tenant: stored, file: 'read' as const, path };
      await replaceFile(path, serialize(merged), PUBLIC_FILE_MODE);
      return { tenant: merged, file: 'updated' as const, path };
    },
    'the tenant',
  );
}

/** The tenant in a data dir, without creating one (for commands that only read it). */
export async function readTenantFile(dataDir: string): Promise<Tenant | undefined> {
  const path = join(dataDir, TENANT_FILE);
  const text = await readIfExists(path);
  return text === undefined ? undefined : parseTenantFile(text, path);
}

/** A tenant file's text, checked: errors name the file, the field and what to do. */
export function parseTenantFile(text: string, path: string): Tenant {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new TenantFileError(`${path} is not valid JSON (${(error as Error).message}); fix it, or delete it to have a new tenant made (devices enrolled under the old one would then need to enroll again)`, path);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TenantFileError(`${path} must hold a JSON object like {"id": "<uuid>", "subdomain": "acme", "region": "us", "zone": "${DEFAULT_ZONE}", "deviceDomainStyle": "web-api"}`, path);
  }
  const v = value as Record<string, unknown>;
  for (const required of ['id', 'subdomain'] as const) {
    if (v[required] === undefined) throw new TenantFileError(`${path}: "${required}" is missing; every tenant has an id (a UUID) and a subdomain`, path, required);
  }
  try {
    return parseTenant({ id: v.id, subdomain: v.subdomain, region: v.region, zone: v.zone, deviceDomainStyle: v.deviceDomainStyle }, 'tenant');
  } catch (error) {
    if (!(error instanceof ProblemError)) throw error;
    const field = error.problem.field?.replace(/^tenant\./, '');
    throw new TenantFileError(`${path}: ${error.problem.message.replace(/^tenant\./, '')} (expected ${error.problem.expected ?? 'a valid value'}); fix the file or pass the flag`, path, field);
  }
}

function definedFields(given: Partial<Tenant>): Partial<Tenant> {
  return Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as Partial<Tenant>;
}

function sameTenant(a: Tenant, b: Tenant): boolean {
  return a.id === b.id && a.subdomain === b.subdomain && a.region === b.region && a.zone === b.zone && a.deviceDomainStyle === b.deviceDomainStyle;
}

function serialize(t: Tenant): string {
  const { id, subdomain, region, zone, deviceDomainStyle } = t;
  return `${JSON.stringify({ id, subdomain, region, zone, deviceDomainStyle }, null, 2)}\n`;
}
