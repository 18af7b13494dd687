/**
 * A scenario is a story a lab plays on its virtual clock: a fleet, timed steps (faults,
 * actions), and expectations checked against what happened (the event log and the server's
 * records). Scenarios are data plus small functions here; scenario files (YAML) compile to
 * the same shape.
 */
import { formatDuration, parseDuration } from '../protocol/duration';
import type { SimulatedMac } from '../agent-sim';
import type { EventRecord } from '../server/storage/types';
import { startLab, type Lab, type LabOptions } from './lab';
import { formatTimeline } from './timeline';

export interface ScenarioContext {
  lab: Lab;
  /** Virtual time at which the story began (after the fleet enrolled). */
  start: number;
  /** Mac n of the story, counted from 1 as a story tells it. */
  mac(n: number): SimulatedMac;
  /** `Mac 2` for a UDID of the fleet. */
  labelOf(udid: string): string;
  events(type?: string | string[], n?: number): EventRecord[];
}

export interface ScenarioStep {
  /** Time from the start: `"2d"`, `"36h"`, or ms. */
  at: string | number;
  describe: string;
  run(ctx: ScenarioContext): Promise<unknown>;
}

export interface Expectation {
  describe: string;
  /** What did not hold (empty: it held). */
  check(ctx: ScenarioContext): string[];
}

export interface Scenario {
  name: string;
  /** Explanations printed under the first event of each type on the timeline (scenario files' `explain`). */
  explain?: Array<{ event: string; with?: Record<string, string | number | boolean>; text: string }>;
  title: string;
  /** What the story shows, for the instructor. */
  description: string;
  devices: number;
  /** How long the story runs after enrollment. */
  duration: string | number;
  steps: ScenarioStep[];
  expectations: Expectation[];
  lab?: Omit<LabOptions, 'devices' | 'onEvent'>;
}

export interface ExpectationResult {
  describe: string;
  ok: boolean;
  failures: string[];
}

export interface ScenarioReport {
  name: string;
  passed: boolean;
  expectations: ExpectationResult[];
  /** Virtual time the story covered. */
  virtualMs: number;
  wallMs: number;
  timeline: string[];
}

export interface PlayOptions {
  /** Play in this lab (default: a new one, stopped at the end). */
  lab?: Lab;
  labOptions?: Omit<LabOptions, 'devices'>;
  /** Colour the timeline (for a TTY). */
  color?: boolean;
  /** Told before each step runs. */
  onStep?: (step: ScenarioStep, at: number) => void;
}

export function scenarioContext(lab: Lab, start: number): ScenarioContext {
  const index = new Map<string, number>();
  lab.macs.forEach((m, i) => index.set(m.udid, i + 1));
  return {
    lab,
    start,
    mac: (n) => {
      if (!Number.isInteger(n) || n < 1 || n > lab.macs.length) throw new RangeError(`the story has Macs 1 to ${lab.macs.length}; there is no Mac ${n}`);
      return lab.macs[n - 1]!;
    },
    labelOf: (udid) => {
      const n = index.get(udid) ?? lab.macs.findIndex((m) => m.udid === udid) + 1;
      if (n > 0) index.set(udid, n);
      return n > 0 ? `Mac ${n}` : udid.slice(0, 8);
    },
    events: (type) => lab.events(type === undefined ? {} : { type }),
  };
}

/**
 * Each explanation once, under the first event whose type is (or starts with `event.`) its event
 * and whose data has its `with` values.
 */
function explainer(explain: Scenario['explain']): ((e: EventRecord) => string | undefined) | undefined {
  if (!explain || explain.length === 0) return undefined;
  const pending = [...explain];
  const matches = (x: NonNullable<Scenario['explain']>[number], e: EventRecord) =>
    (e.type === x.event || e.type.startsWith(`${x.event}.`)) && Object.entries(x.with ?? {}).every(([k, v]) => (e.data as Record<string, unknown> | undefined)?.[k] === v);
  return (e) => {
    const i = pending.findIndex((x) => matches(x, e));
    return i < 0 ? undefined : pending.splice(i, 1)[0]!.text;
  };
}

/** Plays a scenario to its end and checks its expectations. */
export async function playScenario(scenario: Scenario, options: PlayOptions = {}): Promise<ScenarioReport> {
  const wallStart = performance.now();
  const steps = scenario.steps.map((s) => ({ step: s, offset: parseDuration(s.at) })).sort((a, b) => a.offset - b.offset);
  const duration = parseDuration(scenario.duration);
  for (const { step, offset } of steps) {
    if (offset > duration) throw new RangeError(`step "${step.describe}" is at ${formatDuration(offset)}, after the story ends (${formatDuration(duration)})`);
  }
  const lab = options.lab ?? (await startLab({ ...scenario.lab, ...options.labOptions, devices: scenario.devices }));
  try {
    if (lab.macs.length < scenario.devices) await lab.enroll(scenario.devices - lab.macs.length);
    const start = lab.now();
    const ctx = scenarioContext(lab, start);
    for (const { step, offset } of steps) {
      await lab.advanceTo(start + offset);
      options.onStep?.(step, lab.now());
      await step.run(ctx);
      await lab.settle();
    }
    await lab.advanceTo(start + duration);
    const expectations = scenario.expectations.map((x) => {
      let failures: string[];
      try {
        failures = x.check(ctx);
      } catch (error) {
        failures = [`the check itself failed: ${(error as Error).message}`];
      }
      return { describe: x.describe, ok: failures.length === 0, failures };
    });
    const timeline = formatTimeline(lab.events(), { start: lab.server.events.query({ limit: 1 })[0]?.at ?? start, labelOf: ctx.labelOf, color: options.color, annotate: explainer(scenario.explain) });
    return {
      name: scenario.name,
      passed: expectations.every((x) => x.ok),
      expectations,
      virtualMs: lab.now() - start,
      wallMs: Math.round(performance.now() - wallStart),
      timeline,
    };
  } finally {
    if (!options.lab) await lab.stop();
  }
}
