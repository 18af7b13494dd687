/**
 * Scenario files are checked completely at load: every mistake names the file, the line, the
 * field and the reason, before any device exists.
 */
import { parseScenario } from '../../lab/scenario-file';
import { scenarioFailure } from '../helpers/scenario-file';

const HEAD = `name: t
title: A test
description: What it shows.
fleet: { count: 3 }
duration: 10d
`;
const EXPECT = `expect:
  - events: agent.checkin
`;


describe('parseScenario: a good file', () => {
  it('compiles steps, expectations, the fleet filters and explanations', () => {
    const s = parseScenario(
      `${HEAD.replace('fleet: { count: 3 }', 'fleet: { count: 3, seed: s1, models: [MacBook Air], os: ["15"] }')}policy: { agentWindow: 3d, inventoryInterval: false }
explain:
  - { event: mdm.checkin, with: { messageType: TokenUpdate }, text: Tally 1 }
steps:
  - { at: day 2, mac: 2, fault: agent-uninstalled }
  - { at: 36h, macs: [1, 3], fault: { kind: offline, for: 1d } }
  - { at: 3d, macs: all, command: { RequestType: DeviceInformation, Queries: [OSVersion] } }
  - { at: 4d, note: Look at Mac 2 }
  - { at: 4d, advance: 1d }
  - { at: 6d, mac: 1, api: { method: post, path: "/sim/v1/devices/{udid}/push", status: 200 } }
expect:
  - { command: InstallEnterpriseApplication, status: Acknowledged, within: 1h }
  - { events: agent.reinstall.fired, mac: 2, from: 8d, to: 10d, count: 1 }
  - { agent: running, macs: [1, 3], checked-in-within: 15m }
`,
      'story.yaml',
    );
    expect(s.name).toBe('t');
    expect(s.devices).toBe(3);
    expect(s.duration).toBe(10 * 86_400_000);
    expect(s.lab).toEqual({ seed: 's1', models: ['MacBook Air'], os: ['15'], server: { agentPolicy: { agentWindow: 3 * 86_400_000, inventoryInterval: false } } });
    expect(s.explain).toEqual([{ event: 'mdm.checkin', with: { messageType: 'TokenUpdate' }, text: 'Tally 1' }]);
    expect(s.steps.map((x) => [x.at, x.describe])).toEqual([
      [2 * 86_400_000, "Mac 2: agent-uninstalled"],
      [36 * 3_600_000, 'Mac 1, Mac 3: offline'],
      [3 * 86_400_000, 'DeviceInformation to every Mac'],
      [4 * 86_400_000, 'Look at Mac 2'],
      [4 * 86_400_000, 'the clock jumps 1d'],
      [6 * 86_400_000, 'POST /sim/v1/devices/{udid}/push'],
    ]);
    expect(s.expectations.map((x) => x.describe)).toEqual([
      'InstallEnterpriseApplication answered Acknowledged by every Mac within 1h',
      'agent.reinstall.fired exactly 1 time for Mac 2 between 8d and 10d',
      'at the end, the agent of Macs 1, 3 is running and checked in within the last 15m',
    ]);
  });
});

describe('parseScenario: bad input names the file, line, field and reason', () => {
  it('an unknown step action', () => {
    const e = scenarioFailure(`${HEAD}steps:\n  - at: day 2\n    mac: 2\n    explode: true\n${EXPECT}`);
    expect(e.message).toBe('story.yaml:9:5: steps[0].explode: unknown field "explode"; expected one of: at, mac, macs, describe, note, enroll, reenroll, fault, clear-faults, command, install-app, push, api, advance, posture, posture-update, revoke-token, network');
    expect([e.file, e.line, e.field]).toEqual(['story.yaml', 9, 'steps[0].explode']);
  });

  it('a step with nothing to do, or two things', () => {
    expect(scenarioFailure(`${HEAD}steps:\n  - at: day 2\n${EXPECT}`).message).toMatch(/^story\.yaml:7:5: steps\[0\]: says nothing to do: give one of note, enroll/);
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 1, push: true, fault: agent-crashed }\n${EXPECT}`).message).toMatch(/^story\.yaml:7:5: steps\[0\]: does fault and push: one action per step$/);
  });

  it('a bad duration or time', () => {
    expect(scenarioFailure(HEAD.replace('duration: 10d', 'duration: ten days') + EXPECT).message).toBe('story.yaml:5:11: duration: "ten days" is not a duration: use 15m, 36h, 10d, 1d12h or ISO P2D');
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: next week, mac: 1, push: true }\n${EXPECT}`).message).toMatch(/^story\.yaml:7:11: steps\[0\]\.at: "next week" is not a duration/);
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: day 11, mac: 1, push: true }\n${EXPECT}`).message).toBe('story.yaml:7:11: steps[0].at: is after the story ends (duration 10d)');
  });

  it('a Mac the story does not have', () => {
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 4, push: true }\n${EXPECT}`).message).toBe('story.yaml:7:20: steps[0].mac: Mac 4 does not exist: the story has 3 Macs (fleet.count plus enroll steps)');
    // An enroll step adds Macs the story can name.
    expect(() => parseScenario(`${HEAD}steps:\n  - { at: 1d, enroll: 1 }\n  - { at: 2d, mac: 4, push: true }\n${EXPECT}`)).not.toThrow();
  });

  it('impossible expectations', () => {
    expect(scenarioFailure(`${HEAD}expect:\n  - { events: agent.checkin, min: 3, max: 1 }\n`).message).toBe('story.yaml:7:35: expect[0].min: min 3 is more than max 1: impossible expectation');
    expect(scenarioFailure(`${HEAD}expect:\n  - { events: agent.checkin, after: 11d, within: 1h }\n`).message).toMatch(/^story\.yaml:7:37: expect\[0\]: the window starts at 11d, after the story ends \(10d\): impossible expectation$/);
    expect(scenarioFailure(`${HEAD}expect:\n  - { agent: absent, checked-in-within: 1h }\n`).message).toMatch(/checked-in-within: an absent agent cannot have checked in recently: impossible expectation$/);
    expect(scenarioFailure(`${HEAD}expect:\n  - { events: agent.checkin, from: 5d, to: 2d }\n`).message).toMatch(/the window ends before it starts: impossible expectation$/);
    expect(scenarioFailure(`${HEAD}expect:\n  - { command: Frobnicate }\n`).message).toMatch(/^story\.yaml:7:16: expect\[0\]\.command: unknown RequestType "Frobnicate"; known: /);
    expect(scenarioFailure(`${HEAD}expect:\n  - { agent: sleepy }\n`).message).toMatch(/^story\.yaml:7:14: expect\[0\]\.agent: expected one of running, installed, absent/);
  });

  it('unknown faults, commands and filters', () => {
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 1, fault: gremlins }\n${EXPECT}`).message).toBe('story.yaml:7:30: steps[0].fault.kind: unknown fault kind "gremlins" (expected: agent-uninstalled, agent-crashed, agent-network-blocked, offline, notnow, package-download, allow-list, proxy, tls-inspection)');
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 1, command: { RequestType: Frobnicate } }\n${EXPECT}`).message).toMatch(/steps\[0\]\.command\.RequestType: unknown RequestType "Frobnicate"/);
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 1, install-app: photoshop }\n${EXPECT}`).message).toBe('story.yaml:7:36: steps[0].install-app: unknown sample app "photoshop"; known: custom-app, auto-app');
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, install-app: custom-app }\n${EXPECT}`).message).toMatch(/steps\[0\]/);
    expect(scenarioFailure(HEAD.replace('fleet: { count: 3 }', 'fleet: { count: 3, models: [ThinkPad] }') + EXPECT).message).toMatch(/^story\.yaml:4:28: fleet\.models: no Mac model matches "ThinkPad"; known: /);
  });

  it('posture steps: a rule that does not parse, an unknown permission, an update with no token', () => {
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 0, posture: { rules: ["kandji:agentInstalled ~ yes"] } }\n${EXPECT}`).message).toMatch(/^story\.yaml:7:32: steps\[0\]\.posture\.rules\[0\]: .*kandji:agentInstalled ~ yes/);
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 0, posture: { token: { name: t, permissions: [prism:everything] } } }\n${EXPECT}`).message).toMatch(/steps\[0\]\.posture\.token\.permissions\[0\]: unknown permission "prism:everything"; known: \*, devices:list/);
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, posture-update: {} }\n${EXPECT}`).message).toMatch(/steps\[0\]\.posture-update\.token: is required/);
    const ok = parseScenario(`${HEAD}steps:\n  - { at: 0, posture: { rules: ["kandji:agentInstalled == true"], token: { name: t } } }\n  - { at: 1d, revoke-token: t }\nexpect:\n  - { events: posture.access, with: { allowed: false }, mac: 2, count: 0 }\n`);
    expect(ok.steps.map((x) => x.describe)).toEqual(['a posture-sync integration is created with the token "t" and the rule "kandji:agentInstalled == true"', 'the API token "t" is revoked']);
    expect(ok.expectations[0]!.describe).toBe('posture.access with allowed=false never for Mac 2');
  });

  it('missing parts, wrong types and broken YAML', () => {
    expect(scenarioFailure(HEAD).message).toBe('story.yaml:1:1: expect: is required: a story checks at least one thing');
    expect(scenarioFailure(HEAD.replace('fleet: { count: 3 }', 'fleet: { count: three }') + EXPECT).message).toBe('story.yaml:4:17: fleet.count: expected a whole number ≥ 0, got "three"');
    expect(scenarioFailure(`${HEAD}expect:\n  - events: [oops\n`).message).toMatch(/^story\.yaml:\d+:\d+: not valid YAML: /);
    expect(scenarioFailure(`${HEAD}${EXPECT}surprise: 1\n`).message).toBe('story.yaml:8:1: surprise: unknown field "surprise"; expected one of: name, title, description, fleet, duration, policy, network, explain, steps, expect');
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, advance: 3d }\n  - { at: 2d, mac: 1, push: true }\n${EXPECT}`).message).toBe('story.yaml:8:11: steps[1].at: is before 4d, where an earlier advance step already took the clock');
  });
});
