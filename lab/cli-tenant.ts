/**
 * The tenant flags `mdmsim serve`, `mdmsim lab` and `mdmsim network requirements` share:
 * --tenant-id, --subdomain, --region, --zone, --device-domain. Each is checked as it is read,
 * with protocol/tenant's parseTenant, so a bad value fails naming the flag.
 */
import { randomUUID } from 'node:crypto';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { ProblemError } from '../protocol/problem';
import { DEFAULT_ZONE, parseTenant, REGIONS, type Tenant } from '../protocol/tenant';

export interface TenantFlags {
  tenantId?: string;
  subdomain?: string;
  region?: Tenant['region'];
  zone?: string;
  deviceDomain?: Tenant['deviceDomainStyle'];
}

/** One field checked alone (the others stand in with valid values); the value as the tenant keeps it. */
function checked<K extends keyof Tenant>(field: K) {
  return (value: string): Tenant[K] => {
    try {
      return parseTenant({ id: randomUUID(), subdomain: 'x', [field]: value })[field];
    } catch (error) {
      if (error instanceof ProblemError) throw new InvalidArgumentError(`${error.problem.message.replace(/^tenant\.\w+ /, '')}; expected ${error.problem.expected}`);
      throw error;
    }
  };
}

/** Adds the five flags, under a "Tenant" heading that says where their values go (`what`). */
export function addTenantOptions(command: Command, what: string): Command {
  return command
    .addOption(new Option('--tenant-id <uuid>', "the tenant's id: its device domains' first label").argParser(checked('id')).helpGroup(`Tenant (${what}):`))
    .addOption(new Option('--subdomain <name>', "the tenant's subdomain: its enrollment and web-app names").argParser(checked('subdomain')).helpGroup(`Tenant (${what}):`))
    .addOption(new Option('--region <region>', "us, or eu: the tenant's own names take their EU forms (<id>.web-api.eu.<zone>, prd-eu.s3.<zone>, …); Apple's and third-party hosts stay as they are").choices([...REGIONS]).helpGroup(`Tenant (${what}):`))
    .addOption(new Option('--zone <domain>', `the domain every tenant name is under (${DEFAULT_ZONE}, reserved for testing, by default)`).argParser(checked('zone')).helpGroup(`Tenant (${what}):`))
    .addOption(new Option('--device-domain <form>', 'the device domain enrollments use: web-api (<id>.web-api.<zone>) or devices (<id>.devices.us-1.<zone>)').choices(['web-api', 'devices']).helpGroup(`Tenant (${what}):`));
}

/** The flags given, as a partial tenant (nothing for flags left out). */
export function tenantFromFlags(flags: TenantFlags): Partial<Tenant> {
  const out: Partial<Tenant> = {};
  if (flags.tenantId !== undefined) out.id = flags.tenantId;
  if (flags.subdomain !== undefined) out.subdomain = flags.subdomain;
  if (flags.region !== undefined) out.region = flags.region;
  if (flags.zone !== undefined) out.zone = flags.zone;
  if (flags.deviceDomain !== undefined) out.deviceDomainStyle = flags.deviceDomain;
  return out;
}
