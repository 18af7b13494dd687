/**
 * What the dashboard's scenario panel shows: the story a lab is playing, its steps and its
 * expectations as they turn green or red. The lab builds it (server.setScenarioSource) and
 * `GET /sim/v1/scenario` answers it as JSON; `scenario.*` events on the stream tell the page
 * to fetch it again. No I/O here, so the lab and the server can both import it.
 */

/** `pending` until the story is far enough along to judge; then `held` or `failed`. */
export type ScenarioExpectationStatus = 'pending' | 'held' | 'failed';

export const SCENARIO_EXPECTATION_STATUSES: readonly ScenarioExpectationStatus[] = ['pending', 'held', 'failed'];

export interface ScenarioStepState {
  /** When the step runs, as the scenario says it (`"day 2"`, `"36h"`). */
  at: string;
  describe: string;
  done: boolean;
}

export interface ScenarioExpectationState {
  describe: string;
  status: ScenarioExpectationStatus;
  /** Why it failed, one line each (empty unless `failed`). */
  failures: string[];
}

export interface ScenarioState {
  name: string;
  title: string;
  description: string;
  /** Virtual time (ISO) the story began. */
  startedAt: string;
  /** Virtual time (ISO) the story ends. */
  endsAt: string;
  state: 'playing' | 'done';
  steps: ScenarioStepState[];
  expectations: ScenarioExpectationState[];
}

/** What the lab hands the server: called on each GET /sim/v1/scenario; undefined = no story playing. */
export type ScenarioSource = () => ScenarioState | undefined;

/** Event types the lab records as the story moves; the dashboard refreshes its panel on each. */
export const SCENARIO_EVENT_TYPES = ['scenario.started', 'scenario.step', 'scenario.expectation'] as const;
export type ScenarioEventType = (typeof SCENARIO_EVENT_TYPES)[number];
