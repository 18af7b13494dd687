/**
 * The two network scenarios end to end on the virtual clock (every shipped scenario also plays in
 * scenarios.test.ts): here, that their timelines teach what they claim, and that their
 * expectations depend on the network change they show. Without the exemption the inspected agent
 * never comes back; without allowing the download domain the admin's reinstall fails too.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { playScenario } from '../../lab/scenario';
import { parseScenario } from '../../lab/scenario-file';
import { SCENARIOS, SCENARIO_DIR } from '../../lab/scenarios';

jest.setTimeout(120_000);

function withoutStep(file: string, describe: string): string {
  const text = readFileSync(join(SCENARIO_DIR, file), 'utf8');
  // The step is the list item whose describe line is this one: drop it, up to the next item.
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.trim() === `describe: ${describe}`);
  if (at < 0) throw new Error(`no step "${describe}" in ${file}`);
  let start = at;
  while (!lines[start]!.startsWith('  - at:')) start--;
  let end = at + 1;
  while (end < lines.length && lines[end]!.startsWith('    ')) end++;
  return [...lines.slice(0, start), ...lines.slice(end)].join('\n');
}

describe('tls-inspection', () => {
  it('is shipped, and its timeline shows the pin refusals and explains them', async () => {
    const report = await playScenario(SCENARIOS['tls-inspection']!);
    expect(report.expectations.filter((x) => !x.ok)).toEqual([]);
    const text = report.timeline.join('\n');
    expect(text).toMatch(/Mac 1 +agent → MDM +\d+ agent connections refused for the pin \(the first: agent \w+ check-in refused by the agent: [0-9a-f-]+\.web-api\.mdmsim\.test presented key \S+ \(issuer mdmsim TLS Inspection CA\), not the pinned \S+\)/);
    expect(text).toMatch(/agent install check-in refused by the agent[^\n]*\n +↳ The reinstalled agent comes with the same pin/);
    expect(text).toMatch(/fault tls-inspection: TLS inspection except [0-9a-f-]+\.web-api\.mdmsim\.test, [0-9a-f-]+\.devices\.us-1\.mdmsim\.test/);
    // The server's own line tells switching inspection on from the exemption.
    expect(text).toMatch(/fault: TLS inspection of every connection/);
    expect(text).toMatch(/fault: TLS inspection except \{device-web-api\}, \{device-devices\}/);
  });

  it('without the exemption, the agent never comes back: the reinstall alone changes nothing', async () => {
    const story = parseScenario(withoutStep('tls-inspection.yaml', 'the network admin exempts the tenant\'s two device domains from inspection'), 'no-exemption.yaml');
    const report = await playScenario(story);
    const failed = report.expectations.filter((x) => !x.ok).map((x) => x.describe);
    expect(failed).toEqual([
      // A day after the first reinstall the rule tries again, with the same result.
      "the 7-day rule reinstalls Mac 1's agent, once",
      "with the device domains exempt, Mac 1's agent checks in again within 15 minutes",
      'and the proxy tunnels the device domain untouched',
      'no pin failure after the exemption',
      'at the end every agent runs and checked in within 15 minutes',
    ]);
  });
});

describe('enrollment-only-network', () => {
  it('without allowing the download domain, the admin reinstall fails as the first install did', async () => {
    const story = parseScenario(withoutStep('enrollment-only-network.yaml', 'the network admin allows the agent-downloads domain'), 'still-blocked.yaml');
    const report = await playScenario(story);
    const failed = report.expectations.filter((x) => !x.ok).map((x) => x.describe);
    expect(failed).toEqual([
      'once allowed and reinstalled by the admin, Mac 1 installs the agent',
      "and Mac 1's agent checks in at once",
      // The rule still fires for Mac 2 on day 7; its download fails like every other.
      'the rule never fires for Mac 1, whose agent checks in',
      'Mac 2 installs the agent from the rule\'s command',
      'at the end both agents run and checked in within 15 minutes',
    ]);
  });
});
