import type { Scenario } from '../scenario';
import { agentReinstall } from './agent-reinstall';
import { agentPosture } from './agent-posture';

/** The scenarios shipped with mdmsim, by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = {
  [agentReinstall.name]: agentReinstall,
  [agentPosture.name]: agentPosture,
};

export function scenarioNamed(name: string): Scenario | undefined {
  return Object.prototype.hasOwnProperty.call(SCENARIOS, name) ? SCENARIOS[name] : undefined;
}

export { agentReinstall, agentPosture };
