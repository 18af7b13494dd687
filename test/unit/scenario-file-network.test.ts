/**
 * Networks in scenario files: the story's network from the start (`network:`), `network` steps
 * (the fleet's, or some Macs'), and network faults, all checked at load with the line and field of
 * a mistake, placeholders included.
 */
import { parseScenario } from '../../lab/scenario-file';
import { scenarioFailure } from '../helpers/scenario-file';

const HEAD = `name: t
title: A test
description: What it shows.
fleet: { count: 2 }
duration: 3d
`;
const EXPECT = `expect:
  - events: agent.checkin
`;


describe('a network in a scenario file', () => {
  it('the story network becomes the lab fleet network; steps change the fleet or some Macs', () => {
    const s = parseScenario(
      `${HEAD}network:
  allow-list: ["{enrollment}:{port}", "{device}:{port}", "{apns}:{apns-port}"]
  proxy: true
steps:
  - { at: day 1, network: { allow-list: ["*.{zone}:{port}"] } }
  - { at: 1d1h, mac: 2, network: { tls-inspection: { exempt: ["{device-web-api}", "{device-devices}"] } } }
  - { at: 1d2h, mac: 2, network: open }
  - { at: 2d, mac: 1, fault: { kind: tls-inspection, exempt: ["{device}"] } }
${EXPECT}`,
      'story.yaml',
    );
    expect(s.lab?.network).toEqual({ allowList: ['{enrollment}:{port}', '{device}:{port}', '{apns}:{apns-port}'], proxy: true });
    expect(s.steps.map((x) => x.describe)).toEqual([
      "the fleet's network: only *.{zone}:{port} reachable",
      "Mac 2's network: TLS inspection except {device-web-api}, {device-devices}",
      "Mac 2's network: open",
      'Mac 1: tls-inspection',
    ]);
  });

  it('tls-inspection: true inspects everything', () => {
    const s = parseScenario(`${HEAD}network: { tls-inspection: true }\n${EXPECT}`, 'story.yaml');
    expect(s.lab?.network).toEqual({ tlsInspection: true });
  });

  it.each([
    [`network: { allow-list: ["{device}:443", "mdm.test"] }\n`, /^story\.yaml:6:41: network\.allow-list\[1\]: "mdm\.test" is not host:port/],
    [`network: { allow-list: ["{devise}:{port}"] }\n`, /^story\.yaml:6:25: network\.allow-list\[0\]: \{devise\} is not a name the lab fills in; known: \{server\}, \{port\}/],
    [`network: { allow-list: [] }\n`, /network\.allow-list: expected a non-empty list of host:port pairs/],
    [`network: { firewall: true }\n`, /network\.firewall: unknown field "firewall"; expected one of: allow-list, proxy, tls-inspection/],
    [`network: { proxy: yes please }\n`, /network\.proxy: expected true or false/],
    [`network: { tls-inspection: { exempt: ["https://x.test/"] } }\n`, /network\.tls-inspection\.exempt\[0\]: "https:\/\/x\.test\/" is not a host name/],
    [`network: open\n`, /network: expected a mapping/],
    [`network: { proxy: false }\n`, /network: says nothing: give allow-list, proxy, tls-inspection$/],
  ])('refuses %s', (yaml, message) => {
    expect(scenarioFailure(`${HEAD}${yaml}${EXPECT}`).message).toMatch(message);
  });

  it('checks the placeholders of network faults in fault steps too', () => {
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 1, fault: { kind: allow-list, allow: ["{tenant}:{port}"] } }\n${EXPECT}`).message).toMatch(
      /^story\.yaml:7:30: steps\[0\]\.fault\.allow\[0\]: \{tenant\} is not a name the lab fills in/,
    );
    expect(scenarioFailure(`${HEAD}steps:\n  - { at: 1d, mac: 1, fault: { kind: allow-list, allow: ["x.test"] } }\n${EXPECT}`).message).toMatch(/steps\[0\]\.fault\.allow\[0\]: "x\.test" is not host:port \(expected: host:port, like/);
  });
});
