/**
 * `mdmsim network requirements`: the domains and ports a network must allow for this tenant
 * (protocol/network-requirements.ts), as an aligned table, RFC 4180 CSV or a JSON array. The
 * tenant is the data dir's (tenant.json, as `mdmsim serve` keeps it), with flags on top; flags
 * alone do when there is no data dir. Reads only: nothing is created.
 */
import { resolve } from 'node:path';
import { Option, type Command } from 'commander';
import { formatRequirements, networkRequirements, REQUIREMENTS_FORMATS, type RequirementsFormat } from '../protocol/network-requirements';
import { parseTenant, type Tenant } from '../protocol/tenant';
import { ProblemError } from '../protocol/problem';
import { DEFAULT_SUBDOMAIN, readTenantFile, TENANT_FILE } from '../server/tenant/tenant-file';
import { networkCommand, tcpPort } from './cli-args';
import { addTenantOptions, tenantFromFlags, type TenantFlags } from './cli-tenant';

interface RequirementsCliOptions extends TenantFlags {
  dataDir: string;
  format: RequirementsFormat;
  port: number;
}

/** The data dir's tenant with the flags on top; without a tenant file, the flags must name the tenant. */
export async function requirementsTenant(dataDir: string, flags: Partial<Tenant>): Promise<Tenant> {
  const stored = await readTenantFile(dataDir);
  if (stored === undefined && flags.id === undefined) {
    throw new Error(`no tenant in ${resolve(dataDir, TENANT_FILE)}: point --data-dir at an mdmsim data dir (mdmsim serve makes its tenant there), or name one with --tenant-id (and --subdomain)`);
  }
  try {
    return parseTenant({ subdomain: DEFAULT_SUBDOMAIN, ...stored, ...flags });
  } catch (error) {
    // Flags were checked as they were read; what is left is the file's, which readTenantFile names.
    if (error instanceof ProblemError) throw new Error(error.message);
    throw error;
  }
}

export function registerNetworkRequirementsCommand(program: Command): void {
  const command = networkCommand(program)
    .command('requirements')
    .description("the domains, ports and protocols a network must allow for this tenant (the vendor network guide's table, with this tenant's names), and Apple's push hosts")
    .addOption(new Option('--format <format>', 'table (aligned text), csv (RFC 4180) or json (an array of objects)').choices([...REQUIREMENTS_FORMATS]).default('table'))
    .option('--data-dir <dir>', "the data dir whose tenant.json names the tenant (as mdmsim serve's)", './.mdmsim')
    .option('--port <port>', "the port of the tenant's names: 443 as in production, or your mdmsim server's --port", tcpPort, 443);
  addTenantOptions(command, "over the data dir's; --region eu gives the EU table").action(async (opts: RequirementsCliOptions) => {
    const tenant = await requirementsTenant(opts.dataDir, tenantFromFlags(opts));
    process.stdout.write(formatRequirements(networkRequirements(tenant, { port: opts.port }), opts.format));
  });
}
