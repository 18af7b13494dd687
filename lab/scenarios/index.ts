/** The scenarios shipped with mdmsim: every scenario file in fixtures/scenarios (YAML). */
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Scenario } from '../scenario';
import { loadScenarioFile } from '../scenario-file';

/** fixtures/scenarios of the package, from the sources (lab/scenarios) or the build (dist/lab/scenarios). */
function shippedScenarioDir(): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    const candidate = join(dir, 'fixtures', 'scenarios');
    if (existsSync(candidate) && existsSync(join(dir, 'package.json'))) return candidate;
    if (dirname(dir) === dir) throw new Error(`fixtures/scenarios not found above ${__dirname}: the package is incomplete`);
  }
}

export const SCENARIO_DIR = shippedScenarioDir();

function loadShipped(): Record<string, Scenario> {
  const out: Record<string, Scenario> = {};
  for (const file of readdirSync(SCENARIO_DIR).filter((f) => /\.ya?ml$/.test(f)).sort()) {
    const scenario = loadScenarioFile(join(SCENARIO_DIR, file));
    out[scenario.name] = scenario;
  }
  return out;
}

/** The scenarios shipped with mdmsim, by name. */
export const SCENARIOS: Readonly<Record<string, Scenario>> = Object.fromEntries(Object.entries(loadShipped()).sort(([a], [b]) => a.localeCompare(b)));

export function scenarioNamed(name: string): Scenario | undefined {
  return Object.prototype.hasOwnProperty.call(SCENARIOS, name) ? SCENARIOS[name] : undefined;
}

/**
 * What `--scenario` names: a shipped scenario, or a scenario file (a path ending in .yaml/.yml,
 * or one that exists). A file's errors (ScenarioFileError: file, line, field) propagate.
 */
export function resolveScenario(nameOrFile: string): Scenario | undefined {
  const shipped = scenarioNamed(nameOrFile);
  if (shipped) return shipped;
  if (/\.ya?ml$/i.test(nameOrFile) || existsSync(nameOrFile)) return loadScenarioFile(nameOrFile);
  return undefined;
}

export const agentReinstall: Scenario = SCENARIOS['agent-reinstall']!;
export const agentPosture: Scenario = SCENARIOS['agent-posture']!;
