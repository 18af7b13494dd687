/**
 * Simulated Macs against a test server that hands out its tenant's names: they enroll at the
 * enrollment name, resolve every name under the tenant's zone to loopback themselves, and take
 * faults (network policies included) through the server's control API.
 */
import { readFileSync } from 'node:fs';
import { Fleet, type MacEvent } from '../../agent-sim';
import { tenantNames } from '../../agent-sim/network/names';
import type { TestServer } from './server';

export async function startTenantFleet(
  t: TestServer,
  options: { seed: string; count: number; onEvent: (e: MacEvent) => void; onError: (e: unknown) => void },
): Promise<Fleet> {
  const fleet = await Fleet.start({
    server: new URL(t.server.info.deviceUrls.enroll).origin,
    resolve: { [`*.${t.server.tenant.zone}`]: '127.0.0.1' },
    networkNames: tenantNames(t.server.tenant),
    ca: readFileSync(t.server.info.caCert),
    courier: t.server.info.courier!,
    clock: t.clock,
    keyType: 'ec',
    os: ['14'],
    ...options,
  });
  t.server.setDeviceFaultHandler(fleet.faults);
  return fleet;
}

/** Until the fleet and the server have nothing left to do (work started by work included). */
export async function settleTenantFleet(t: TestServer, fleet: Fleet): Promise<void> {
  for (let i = 0; i < 3; i++) {
    await fleet.settled();
    await t.server.settled();
    await new Promise((r) => setTimeout(r, 2));
  }
  await fleet.settled();
}
