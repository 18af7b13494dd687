/**
 * Every shipped scenario plays on the virtual clock against a real server and real simulated
 * Macs, and every expectation holds; a scenario whose expectation does not hold says which and why.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { playScenario } from '../../lab/scenario';
import { parseScenario } from '../../lab/scenario-file';
import { SCENARIOS, resolveScenario } from '../../lab/scenarios';
import { startLab } from '../../lab/lab';
import { HttpsClient } from '../helpers/mdm-client';

jest.setTimeout(60_000);

describe('the shipped scenarios', () => {
  it('ship at least enrollment, agent-reinstall, device-offline, notnow, erase-and-reenroll and agent-posture', () => {
    expect(Object.keys(SCENARIOS)).toEqual(expect.arrayContaining(['enrollment', 'agent-reinstall', 'device-offline', 'notnow', 'erase-and-reenroll', 'agent-posture']));
  });

  it.each(Object.keys(SCENARIOS))('%s: every expectation holds', async (name) => {
    const report = await playScenario(SCENARIOS[name]!);
    expect(report.expectations.filter((x) => !x.ok)).toEqual([]);
    expect(report.passed).toBe(true);
    expect(report.timeline.length).toBeGreaterThan(10);
  });

  it('enrollment explains each exchange under its first line', async () => {
    const report = await playScenario(SCENARIOS.enrollment!);
    const i = report.timeline.findIndex((l) => / TokenUpdate tally 1/.test(l));
    expect(report.timeline[i + 1]).toMatch(/^ +↳ TokenUpdate: the push token and PushMagic/);
    expect(report.timeline.filter((l) => l.includes('↳')).length).toBeGreaterThanOrEqual(10);
  });
});

describe('the scenario panel (GET /sim/v1/scenario)', () => {
  it('shows the story, ticks its steps and judges each expectation as soon as its window closes', async () => {
    const lab = await startLab({ devices: 0 });
    const http = HttpsClient.for(lab.server);
    try {
      expect((await http.api('GET', '/sim/v1/scenario', lab.server.apiToken)).json).toEqual({ scenario: null });
      const story = SCENARIOS['agent-reinstall']!;
      const report = await playScenario(story, { lab });
      expect(report.passed).toBe(true);
      const { scenario } = (await http.api('GET', '/sim/v1/scenario', lab.server.apiToken)).json;
      expect(scenario).toMatchObject({ name: 'agent-reinstall', state: 'done', steps: [{ at: '2d', describe: "Mac 2's agent is uninstalled", done: true }] });
      expect(scenario.expectations.map((x: { status: string }) => x.status)).toEqual(story.expectations.map(() => 'held'));
      // Judged when its one-hour window closed, not at the end of the ten days.
      const start = Date.parse(scenario.startedAt);
      const judged = lab.events({ type: 'scenario.expectation' });
      const first = judged.find((e) => (e.data as { describe: string }).describe.startsWith('every Mac installs the agent'))!;
      expect(first.at).toBe(start + 3_600_000);
      expect(judged).toHaveLength(story.expectations.length);
      expect(lab.events({ type: 'scenario.step' })).toHaveLength(1);
      expect(lab.events({ type: 'scenario.started' })).toHaveLength(1);
    } finally {
      http.close();
      await lab.stop();
    }
  });
});

describe('a scenario file whose expectation does not hold', () => {
  it('reports the expectation and what was seen instead', async () => {
    const story = parseScenario(
      `name: wrong
title: An expectation that cannot hold
description: Mac 2's agent is uninstalled, and the file claims the rule fires for Mac 1.
fleet: { count: 2 }
duration: 9d12h
steps:
  - { at: day 1, mac: 2, fault: agent-uninstalled }
expect:
  - { events: agent.reinstall.fired, mac: 1, count: 1 }
  - { events: agent.reinstall.fired, mac: 2, count: 1 }
  - { agent: running, mac: 2 }
`,
      'wrong.yaml',
    );
    const report = await playScenario(story);
    expect(report.passed).toBe(false);
    expect(report.expectations.map((x) => [x.ok, x.failures])).toEqual([
      [false, ['Mac 1: agent.reinstall.fired: 0, expected 1']],
      [true, []],
      [true, []],
    ]);
  });

  it('is found by path as well as by name', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdmsim-scenario-'));
    try {
      const file = join(dir, 'mine.yaml');
      writeFileSync(file, 'name: mine\ntitle: t\ndescription: d\nfleet: { count: 1 }\nduration: 1h\nexpect:\n  - { events: agent.checkin }\n');
      expect(resolveScenario(file)?.name).toBe('mine');
      expect(resolveScenario('agent-reinstall')).toBe(SCENARIOS['agent-reinstall']);
      expect(resolveScenario('no-such-thing')).toBeUndefined();
      expect(() => resolveScenario(join(dir, 'missing.yaml'))).toThrow(/missing\.yaml: cannot read the file: ENOENT/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
