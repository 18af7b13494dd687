/**
 * GET/PUT /sim/v1/network for a lab: the server forwards the fleet's network here (it runs no
 * Macs and must not import the simulator), and the lab applies it as `lab.setNetworkPolicy`
 * does, so the HTTP form and the programmatic one check, record (`sim.network`) and settle alike.
 */
import type { NetworkPolicy } from '../agent-sim/network/policy';
import type { FleetNetworkHandler, FleetNetworkJson } from '../server/http/control-api';
import type { FleetLab } from './fleet-lab';

export function fleetNetworkHandler(lab: FleetLab): FleetNetworkHandler {
  const current = (): FleetNetworkJson => policyJson(lab.fleet.network.fleetPolicyJson());
  return {
    get: async () => current(),
    set: async (policy) => {
      // An empty policy is an open network; the fleet checks the rest (a 400 naming network.<field>).
      await lab.setNetworkPolicy(Object.keys(policy).length === 0 ? undefined : (policy as NetworkPolicy));
      return current();
    },
  };
}

/** The fleet's network faults (filled in) in the policy's form, the one PUT takes. */
function policyJson(faults: ReadonlyArray<Record<string, unknown>>): FleetNetworkJson {
  const out: FleetNetworkJson = {};
  for (const f of faults) {
    if (f.kind === 'allow-list') out.allowList = [...(f.allow as string[])];
    else if (f.kind === 'proxy') out.proxy = true;
    else if (f.kind === 'tls-inspection') out.tlsInspection = { exempt: [...(f.exempt as string[])] };
  }
  return out;
}
