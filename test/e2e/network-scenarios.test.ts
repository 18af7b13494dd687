/**
 * The two network scenarios end to end on the virtual clock (every shipped scenario also plays in
 * scenarios.test.ts): here, that their timelines teach what they claim, and that their
 * expectations depend on the network change they show. Without the exemption the inspected agent
 * never comes back; without allowing the download domain the admin's reinstall fails too, and the
 * sample apps install only once their own names are allowed.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { startLab } from '../../lab/lab';
import { playScenario } from '../../lab/scenario';
import { parseScenario } from '../../lab/scenario-file';
import { SCENARIOS, SCENARIO_DIR } from '../../lab/scenarios';
import { SAMPLE_APPS } from '../../protocol/sample-apps';
import { tenantDomains } from '../../protocol/tenant';

jest.setTimeout(120_000);

function withoutStep(file: string, ...describes: string[]): string {
  let lines = readFileSync(join(SCENARIO_DIR, file), 'utf8').split('\n');
  for (const describe of describes) {
    // The step is the list item whose describe line is this one: drop it, up to the next item.
    const at = lines.findIndex((l) => l.trim() === `describe: ${describe}`);
    if (at < 0) throw new Error(`no step "${describe}" in ${file}`);
    let start = at;
    while (!lines[start]!.startsWith('  - at:')) start--;
    let end = at + 1;
    while (end < lines.length && lines[end]!.startsWith('    ')) end++;
    lines = [...lines.slice(0, start), ...lines.slice(end)];
  }
  return lines.join('\n');
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
  it('refuses the agent, the custom app and the Auto App at their own names, and installs each once its name is allowed', async () => {
    const story = SCENARIOS['enrollment-only-network']!;
    const lab = await startLab({ ...story.lab, devices: story.devices });
    try {
      const report = await playScenario(story, { lab });
      expect(report.expectations.filter((x) => !x.ok)).toEqual([]);
      const d = tenantDomains(lab.server.tenant);
      const start = lab.events({ type: 'scenario.started' })[0]!.at;
      const HOUR = 3_600_000;
      // Which names were refused in an hour of the story, Mac by Mac.
      const blockedIn = (fromHour: number) =>
        lab.macs.map((m) => [...new Set(lab.events({ type: 'network.blocked', udid: m.udid, since: start + fromHour * HOUR, until: start + fromHour * HOUR + 60_000 }).map((e) => e.data?.host))]);
      expect(blockedIn(2)).toEqual([[d.agentDownloads], [d.agentDownloads]]);
      expect(blockedIn(3)).toEqual([[d.autoAppDownloads[0]], [d.autoAppDownloads[0]]]);
      // Allowing the agent-downloads name opened nothing else.
      expect(blockedIn(27)).toEqual([[d.autoAppDownloads[0]], [d.autoAppDownloads[0]]]);
      expect(blockedIn(29)).toEqual([[], []]);
      // Both apps installed on both Macs, as apps: the agent came from its own installs only.
      for (const mac of lab.macs) {
        expect(mac.state.apps.get(SAMPLE_APPS['custom-app'].bundleId)).toMatchObject({ version: SAMPLE_APPS['custom-app'].version, managed: true });
        expect(mac.state.apps.get(SAMPLE_APPS['auto-app'].bundleId)).toMatchObject({ version: SAMPLE_APPS['auto-app'].version, managed: true });
      }
      const text = report.timeline.join('\n');
      expect(text).toMatch(/step: the admin deploys a custom app to every Mac\n +↳ The custom app's manifest and package are on the agent-downloads domain/);
      expect(text).toMatch(/step: the admin deploys the Auto App again\n +↳ Allowing the agent-downloads domain did not open the Auto Apps names/);
    } finally {
      await lab.stop();
    }
  });

  it('without allowing the download domain, the admin reinstall fails as the first install did, and no app installs', async () => {
    const story = parseScenario(
      withoutStep('enrollment-only-network.yaml', 'the network admin allows the agent-downloads domain', 'the network admin allows the Auto Apps names'),
      'still-blocked.yaml',
    );
    const report = await playScenario(story);
    const failed = report.expectations.filter((x) => !x.ok).map((x) => x.describe);
    expect(failed).toEqual([
      'once allowed and reinstalled by the admin, Mac 1 installs the agent',
      "and Mac 1's agent checks in at once",
      'once the agent-downloads domain is allowed, every Mac installs the custom app',
      'once the Auto Apps names are allowed, every Mac installs the Auto App',
      // The rule still fires for Mac 2 on day 7; its download fails like every other.
      'the rule never fires for Mac 1, whose agent checks in',
      'Mac 2 installs the agent from the rule\'s command',
      'at the end both agents run and checked in within 15 minutes',
    ]);
  });

  it('without allowing the Auto Apps names, only the Auto App stays out', async () => {
    const story = parseScenario(withoutStep('enrollment-only-network.yaml', 'the network admin allows the Auto Apps names'), 'auto-apps-blocked.yaml');
    const report = await playScenario(story);
    expect(report.expectations.filter((x) => !x.ok).map((x) => x.describe)).toEqual(['once the Auto Apps names are allowed, every Mac installs the Auto App']);
  });
});
