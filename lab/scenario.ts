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
import type { ScenarioState } from '../protocol/scenario-state';

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
  /**
   * Time from the start after which nothing can change the outcome (its window has closed): the
   * dashboard shows it green or red from then on. Default: the story's end.
   */
  decidedBy?: number;
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
    const panel = new ScenarioPanel(scenario, lab, ctx, start, duration, steps);
    lab.server.setScenarioSource(() => panel.state());
    panel.started();
    // Checkpoints: each step's time, and each expectation's decision time (the panel turns it
    // green or red as soon as its window has closed).
    let next = 0;
    // Never back: an advance step, or someone at the dashboard, may have moved the clock on.
    const reach = (t: number) => (t > lab.now() ? lab.advanceTo(t) : Promise.resolve());
    for (const checkpoint of panel.checkpoints()) {
      await reach(start + checkpoint);
      while (next < steps.length && steps[next]!.offset === checkpoint) {
        const { step } = steps[next]!;
        options.onStep?.(step, lab.now());
        await step.run(ctx);
        await lab.settle();
        panel.stepDone(next);
        next++;
      }
      panel.decide(checkpoint);
    }
    await reach(start + duration);
    panel.decide(duration);
    panel.done();
    const expectations = panel.results();
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
    if (!options.lab) {
      lab.server.setScenarioSource(undefined);
      await lab.stop();
    }
  }
}

/**
 * The story as the dashboard's scenario panel shows it (GET /sim/v1/scenario): steps ticked as
 * they run, expectations pending until their window closes, then held or failed, each change a
 * `scenario.*` event so a watching page refreshes.
 */
class ScenarioPanel {
  private readonly stepsDone: boolean[];
  private readonly outcomes: Array<ExpectationResult | undefined>;
  private finished = false;

  constructor(
    private readonly scenario: Scenario,
    private readonly lab: Lab,
    private readonly ctx: ScenarioContext,
    private readonly start: number,
    private readonly duration: number,
    private readonly steps: Array<{ step: ScenarioStep; offset: number }>,
  ) {
    this.stepsDone = steps.map(() => false);
    this.outcomes = scenario.expectations.map(() => undefined);
  }

  private decidedBy(x: Expectation): number {
    return Math.min(x.decidedBy ?? this.duration, this.duration);
  }

  /** Step times and decision times, ascending, without repeats. */
  checkpoints(): number[] {
    const times = new Set<number>([...this.steps.map((s) => s.offset), ...this.scenario.expectations.map((x) => this.decidedBy(x))]);
    return [...times].filter((t) => t <= this.duration).sort((a, b) => a - b);
  }

  started(): void {
    this.record('scenario.started', `scenario ${this.scenario.name} started: ${this.scenario.title}`, { name: this.scenario.name });
  }

  stepDone(i: number): void {
    this.stepsDone[i] = true;
    this.record('scenario.step', `step: ${this.steps[i]!.step.describe}`, { index: i, describe: this.steps[i]!.step.describe });
  }

  /** Judges every expectation whose window has closed by `offset`. */
  decide(offset: number): void {
    this.scenario.expectations.forEach((x, i) => {
      if (this.outcomes[i] !== undefined || this.decidedBy(x) > offset) return;
      let failures: string[];
      try {
        failures = x.check(this.ctx);
      } catch (error) {
        failures = [`the check itself failed: ${(error as Error).message}`];
      }
      const result = { describe: x.describe, ok: failures.length === 0, failures };
      this.outcomes[i] = result;
      this.record('scenario.expectation', `${result.ok ? '✓' : '✗'} ${x.describe}${result.ok ? '' : `: ${failures.join('; ')}`}`, { describe: x.describe, status: result.ok ? 'held' : 'failed', failures });
    });
  }

  done(): void {
    this.finished = true;
  }

  results(): ExpectationResult[] {
    return this.outcomes.map((r, i) => r ?? { describe: this.scenario.expectations[i]!.describe, ok: false, failures: ['never judged'] });
  }

  state(): ScenarioState {
    return {
      name: this.scenario.name,
      title: this.scenario.title,
      description: this.scenario.description,
      startedAt: new Date(this.start).toISOString(),
      endsAt: new Date(this.start + this.duration).toISOString(),
      state: this.finished ? 'done' : 'playing',
      steps: this.steps.map(({ step, offset }, i) => ({ at: typeof step.at === 'string' ? step.at : formatDuration(offset), describe: step.describe, done: this.stepsDone[i]! })),
      expectations: this.scenario.expectations.map((x, i) => {
        const r = this.outcomes[i];
        return { describe: x.describe, status: r === undefined ? 'pending' : r.ok ? 'held' : 'failed', failures: r?.failures ?? [] };
      }),
    };
  }

  private record(type: string, summary: string, data: Record<string, unknown>): void {
    this.lab.record({ type, from: 'operator', to: 'operator', summary, data });
  }
}
