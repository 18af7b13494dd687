/**
 * Scenario files: a story as YAML (fixtures/scenarios/*.yaml), checked completely when it is
 * loaded — every error names the file, the line and the field, before any device exists — and
 * compiled to the same Scenario that playScenario plays.
 *
 *   name: agent-reinstall
 *   title: The 7-day agent-reinstall rule
 *   description: What the class will see.
 *   fleet: { count: 3, seed: mdmsim-lab, models: [MacBook Air], os: ["15"] }
 *   duration: 10d
 *   explain:                     # a line under the first event of a type on the timeline
 *     - { event: mdm.checkin.authenticate, text: The Mac introduces itself }
 *   steps:
 *     - { at: day 2, mac: 2, fault: agent-uninstalled }
 *   expect:
 *     - { command: InstallEnterpriseApplication, macs: all, within: 1h, status: Acknowledged }
 *
 * The schema is in the README ("Scenario files"). Times (`at`, `after`, `from`, `to`) are
 * from the story's start (after the fleet enrolled): `day 2`, `36h`, `2d12h`, ISO `P2D`.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { Agent as HttpAgent } from 'undici';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Node as YamlNode, type Pair, type YAMLMap } from 'yaml';
import { macChoices } from '../agent-sim/identity';
import { parseRule as parsePostureRule } from '../posture-sim/rules';
import { ALL_PERMISSIONS, KANDJI_PERMISSIONS } from '../protocol/kandji';
import { AGENT_BUNDLE_ID } from '../protocol/agent';
import { buildCommand, commands } from '../protocol/command';
import { SAMPLE_APP_KINDS, SAMPLE_APPS, type SampleAppKind } from '../protocol/sample-apps';
import { DurationError, formatDuration, parseDuration } from '../protocol/duration';
import { parseDeviceFaults, DEVICE_FAULT_KINDS, type DeviceFault, type DeviceFaultKind } from '../protocol/faults';
import type { PlistValue } from '../protocol/plist/types';
import { ProblemError } from '../protocol/problem';
import type { EventRecord } from '../server/storage/types';
import { parseHostPattern, parseHostPort } from '../protocol/network-policy';
import { LAB_NETWORK_NAMES } from '../agent-sim/network/names';
import { policyFaults, type NetworkPolicy } from '../agent-sim/network/policy';
import { describeNetwork } from '../protocol/describe-faults';
import type { Expectation, Scenario, ScenarioContext, ScenarioStep } from './scenario';

export class ScenarioFileError extends Error {
  constructor(
    readonly file: string,
    readonly line: number,
    readonly column: number,
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${file}${line > 0 ? `:${line}:${column}` : ''}: ${field ? `${field}: ` : ''}${reason}`);
    this.name = 'ScenarioFileError';
  }
}

/**
 * What an explain entry adds to the timeline: `text` under the first event of type `event` (or
 * a dotted prefix) whose data has the `with` values (e.g. `messageType: TokenUpdate`).
 */
export interface ScenarioExplanation {
  event: string;
  with?: Record<string, string | number | boolean>;
  text: string;
}

/** A Scenario from a file: also the fleet's filters and the timeline's explanations. */
export interface FileScenario extends Scenario {
  file: string;
  explain: ScenarioExplanation[];
}

const DAY = 86_400_000;
const NAME = /^[a-z0-9][a-z0-9-]*$/;
const HTTP_METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
const COMMAND_STATUSES = ['Acknowledged', 'Error', 'CommandFormatError', 'NotNow'] as const;
const AGENT_STATES = ['running', 'installed', 'absent'] as const;
type AgentExpectState = (typeof AGENT_STATES)[number];

/** Which Macs a step or expectation is about: numbers from 1, or every Mac of the story. */
type MacSet = number[] | 'all';

// ---- reading YAML with positions ----------------------------------------------------------

class Reader {
  constructor(
    readonly file: string,
    private readonly lines: LineCounter,
  ) {}

  fail(node: YamlNode | Pair | null | undefined, field: string, reason: string): never {
    const offset = nodeOffset(node);
    const { line, col } = offset === undefined ? { line: 1, col: 1 } : this.lines.linePos(offset);
    throw new ScenarioFileError(this.file, line, col, field, reason);
  }

  map(node: unknown, field: string, allowed: readonly string[], parent?: YamlNode): YAMLMap<unknown, unknown> {
    if (!isMap(node)) this.fail((node as YamlNode) ?? parent, field, `expected a mapping (key: value), got ${describe(node)}`);
    for (const pair of node.items) {
      const key = isScalar(pair.key) ? String(pair.key.value) : undefined;
      if (key === undefined || !allowed.includes(key)) {
        this.fail(pair.key as YamlNode, field ? `${field}.${key}` : String(key), `unknown field ${JSON.stringify(key)}; expected one of: ${allowed.join(', ')}`);
      }
    }
    return node;
  }

  get(map: YAMLMap<unknown, unknown>, key: string): YamlNode | undefined {
    return map.get(key, true) as YamlNode | undefined;
  }

  string(node: YamlNode | undefined, field: string, parent: YamlNode, required = true): string | undefined {
    if (node === undefined) {
      if (required) this.fail(parent, field, 'is required');
      return undefined;
    }
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) this.fail(node, field, `expected text, got ${describe(node)}`);
    const text = String(node.value).trim();
    if (text === '') this.fail(node, field, 'must not be empty');
    return text;
  }

  integer(node: YamlNode | undefined, field: string, parent: YamlNode, min: number): number | undefined {
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'number' || !Number.isInteger(node.value) || node.value < min) {
      this.fail(node ?? parent, field, `expected a whole number ≥ ${min}, got ${describe(node)}`);
    }
    return node.value;
  }

  boolean(node: YamlNode | undefined, field: string): boolean | undefined {
    if (node === undefined) return undefined;
    if (!isScalar(node) || typeof node.value !== 'boolean') this.fail(node, field, `expected true or false, got ${describe(node)}`);
    return node.value;
  }

  strings(node: YamlNode | undefined, field: string): string[] | undefined {
    if (node === undefined) return undefined;
    const items = isSeq(node) ? node.items : [node];
    return items.map((item, i) => this.string(item as YamlNode, isSeq(node) ? `${field}[${i}]` : field, node)!);
  }

  /** A time from the story's start: `day 2`, `36h`, `2d12h`, `P2D`, 0. */
  time(node: YamlNode | undefined, field: string, parent: YamlNode, required = true): number | undefined {
    if (node === undefined) {
      if (required) this.fail(parent, field, 'is required (a time from the start: day 2, 36h, 2d12h)');
      return undefined;
    }
    if (!isScalar(node)) this.fail(node, field, `expected a time such as day 2 or 36h, got ${describe(node)}`);
    if (node.value === 0) return 0;
    const text = String(node.value).trim();
    const day = /^day\s+(\d+)$/i.exec(text);
    if (day) return Number(day[1]) * DAY;
    return this.duration(node, field, parent, { allowZero: true })!;
  }

  duration(node: YamlNode | undefined, field: string, parent: YamlNode, options: { required?: boolean; allowZero?: boolean } = {}): number | undefined {
    if (node === undefined) {
      if (options.required) this.fail(parent, field, 'is required (a duration such as 10d, 36h, 15m)');
      return undefined;
    }
    if (!isScalar(node) || (typeof node.value !== 'string' && typeof node.value !== 'number')) this.fail(node, field, `expected a duration such as 10d, 36h or 15m, got ${describe(node)}`);
    let ms: number;
    try {
      ms = parseDuration(typeof node.value === 'number' ? `${node.value}ms` : node.value);
    } catch (error) {
      if (error instanceof DurationError) this.fail(node, field, `${JSON.stringify(node.value)} is not a duration: use 15m, 36h, 10d, 1d12h or ISO P2D`);
      throw error;
    }
    if (ms === 0 && !options.allowZero) this.fail(node, field, 'must be longer than zero');
    return ms;
  }

  /** `mac: 2`, `macs: [1, 3]`, `macs: all`. */
  macs(map: YAMLMap<unknown, unknown>, field: string, count: number, required: boolean): MacSet | undefined {
    const one = this.get(map, 'mac');
    const many = this.get(map, 'macs');
    if (one !== undefined && many !== undefined) this.fail(many, `${field}.macs`, 'give mac or macs, not both');
    const node = one ?? many;
    const name = one !== undefined ? 'mac' : 'macs';
    if (node === undefined) {
      if (required) this.fail(map, field, 'needs mac: N or macs: [N, …] (or macs: all)');
      return undefined;
    }
    if (isScalar(node) && node.value === 'all') return 'all';
    const items = isSeq(node) ? node.items : [node];
    if (items.length === 0) this.fail(node, `${field}.${name}`, 'lists no Mac');
    return items.map((item, i) => {
      const at = isSeq(node) ? `${field}.${name}[${i}]` : `${field}.${name}`;
      if (!isScalar(item) || typeof item.value !== 'number' || !Number.isInteger(item.value) || item.value < 1) this.fail(item as YamlNode, at, `expected a Mac number from 1, or all; got ${describe(item)}`);
      if (item.value > count) this.fail(item as YamlNode, at, `Mac ${item.value} does not exist: the story has ${count} Mac${count === 1 ? '' : 's'} (fleet.count plus enroll steps)`);
      return item.value;
    });
  }
}

function nodeOffset(node: unknown): number | undefined {
  if (node && typeof node === 'object') {
    const range = (node as { range?: [number, number, number] }).range;
    if (range) return range[0];
    const key = (node as Pair).key as { range?: [number, number, number] } | undefined;
    if (key?.range) return key.range[0];
  }
  return undefined;
}

function describe(node: unknown): string {
  if (node === undefined || node === null) return 'nothing';
  if (isMap(node)) return 'a mapping';
  if (isSeq(node)) return 'a list';
  if (isScalar(node)) return JSON.stringify(node.value);
  return typeof node;
}

// ---- loading ------------------------------------------------------------------------------

/** Loads and checks a scenario file; throws ScenarioFileError naming the line and field at fault. */
export function loadScenarioFile(path: string): FileScenario {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new ScenarioFileError(path, 0, 0, '', `cannot read the file: ${(error as Error).message}`);
  }
  return parseScenario(text, path);
}

const TOP = ['name', 'title', 'description', 'fleet', 'duration', 'policy', 'network', 'explain', 'steps', 'expect'] as const;
const STEP_ACTIONS = ['note', 'enroll', 'reenroll', 'fault', 'clear-faults', 'command', 'install-app', 'push', 'api', 'advance', 'posture', 'posture-update', 'revoke-token', 'network'] as const;
type StepAction = (typeof STEP_ACTIONS)[number];

/** Parses scenario YAML (`file` names it in errors). */
export function parseScenario(text: string, file = 'scenario.yaml'): FileScenario {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true });
  const r: Reader = new Reader(file, lines);
  if (doc.errors.length > 0) {
    const e = doc.errors[0]!;
    const { line, col } = lines.linePos(e.pos[0]);
    throw new ScenarioFileError(file, line, col, '', `not valid YAML: ${e.message.split('\n')[0]}`);
  }
  const root = r.map(doc.contents, '', TOP);
  const name = r.string(r.get(root, 'name'), 'name', root)!;
  if (!NAME.test(name)) r.fail(r.get(root, 'name'), 'name', 'use lower-case letters, digits and dashes (it is what --scenario takes)');
  const title = r.string(r.get(root, 'title'), 'title', root)!;
  const description = r.string(r.get(root, 'description'), 'description', root)!;

  const fleetNode = r.get(root, 'fleet');
  if (fleetNode === undefined) r.fail(root, 'fleet', 'is required (fleet: { count: 3 })');
  const fleet = r.map(fleetNode, 'fleet', ['count', 'seed', 'models', 'os']);
  const count = r.integer(r.get(fleet, 'count'), 'fleet.count', fleet, 0);
  if (count === undefined) r.fail(fleet, 'fleet.count', 'is required (how many Macs enroll before the story starts)');
  const seed = r.string(r.get(fleet, 'seed'), 'fleet.seed', fleet, false);
  const models = r.strings(r.get(fleet, 'models'), 'fleet.models');
  const os = r.strings(r.get(fleet, 'os'), 'fleet.os');
  try {
    // Checked now, with the same rules the fleet applies: a bad filter fails before any Mac exists.
    macChoices({ models, os });
  } catch (error) {
    const field = /^os:/.test((error as Error).message) ? 'os' : 'models';
    r.fail(r.get(fleet, field) ?? fleet, `fleet.${field}`, (error as Error).message.replace(/^(models|os): /, ''));
  }

  const duration = r.duration(r.get(root, 'duration'), 'duration', root, { required: true })!;
  const policy = readPolicy(r, r.get(root, 'policy'));
  const networkNode = r.get(root, 'network');
  const network = networkNode === undefined ? undefined : readNetwork(r, networkNode, 'network', root, false);

  const explain: ScenarioExplanation[] = [];
  const explainNode = r.get(root, 'explain');
  if (explainNode !== undefined) {
    if (!isSeq(explainNode)) r.fail(explainNode, 'explain', 'expected a list of { event, text }');
    explainNode.items.forEach((item, i) => {
      const m = r.map(item, `explain[${i}]`, ['event', 'with', 'text'], explainNode);
      const entry: ScenarioExplanation = { event: r.string(r.get(m, 'event'), `explain[${i}].event`, m)!, text: r.string(r.get(m, 'text'), `explain[${i}].text`, m)! };
      const wanted = readWith(r, r.get(m, 'with'), `explain[${i}].with`);
      if (wanted) entry.with = wanted;
      explain.push(entry);
    });
  }

  // Macs a story can name: the fleet plus every enroll step's.
  const stepsNode = r.get(root, 'steps');
  if (stepsNode !== undefined && !isSeq(stepsNode)) r.fail(stepsNode, 'steps', 'expected a list of steps');
  const stepItems = stepsNode && isSeq(stepsNode) ? stepsNode.items : [];
  let total = count;
  for (const item of stepItems) {
    if (isMap(item)) {
      const n = item.get('enroll', true) as YamlNode | undefined;
      if (n !== undefined && isScalar(n) && typeof n.value === 'number') total += n.value;
    }
  }

  const steps: ScenarioStep[] = [];
  let jumpedTo = 0;
  stepItems.forEach((item, i) => {
    const field = `steps[${i}]`;
    const m = r.map(item, field, ['at', 'mac', 'macs', 'describe', ...STEP_ACTIONS], stepsNode as YamlNode);
    const at = r.time(r.get(m, 'at'), `${field}.at`, m)!;
    if (at > duration) r.fail(r.get(m, 'at'), `${field}.at`, `is after the story ends (duration ${formatDuration(duration)})`);
    if (at < jumpedTo) r.fail(r.get(m, 'at'), `${field}.at`, `is before ${formatDuration(jumpedTo)}, where an earlier advance step already took the clock`);
    const actions = STEP_ACTIONS.filter((a) => m.has(a));
    if (actions.length !== 1) r.fail(m, field, actions.length === 0 ? `says nothing to do: give one of ${STEP_ACTIONS.join(', ')}` : `does ${actions.join(' and ')}: one action per step`);
    const step = readStep(r, m, field, actions[0]!, at, total, duration);
    if (actions[0] === 'advance') {
      jumpedTo = at + (step as ScenarioStep & { jump: number }).jump;
      if (jumpedTo > duration) r.fail(r.get(m, 'advance'), `${field}.advance`, `takes the clock to ${formatDuration(jumpedTo)}, after the story ends (duration ${formatDuration(duration)})`);
    }
    steps.push(step);
  });

  const expectNode = r.get(root, 'expect');
  if (expectNode === undefined) r.fail(root, 'expect', 'is required: a story checks at least one thing');
  if (!isSeq(expectNode) || expectNode.items.length === 0) r.fail(expectNode, 'expect', 'expected a non-empty list of expectations');
  const expectations = expectNode.items.map((item, i) => readExpectation(r, item, `expect[${i}]`, expectNode, total, duration));

  return {
    name,
    title,
    description,
    devices: count,
    duration,
    steps,
    expectations,
    explain,
    file,
    lab: { seed, models, os, ...(network ? { network } : {}), ...(policy ? { server: { agentPolicy: policy } } : {}) },
  };
}

const POLICY_KEYS = ['installOnEnrollment', 'reinstall', 'mdmWindow', 'agentWindow', 'retryInterval', 'sweepInterval', 'inventoryInterval'] as const;

function readPolicy(r: Reader, node: YamlNode | undefined): Record<string, unknown> | undefined {
  if (node === undefined) return undefined;
  const m = r.map(node, 'policy', POLICY_KEYS);
  const out: Record<string, unknown> = {};
  for (const key of POLICY_KEYS) {
    const v = r.get(m, key);
    if (v === undefined) continue;
    if (key === 'installOnEnrollment' || key === 'reinstall') out[key] = r.boolean(v, `policy.${key}`);
    else if (key === 'inventoryInterval' && isScalar(v) && v.value === false) out[key] = false;
    else out[key] = r.duration(v, `policy.${key}`, m);
  }
  return out;
}

// ---- steps --------------------------------------------------------------------------------

function macNumbers(set: MacSet, ctx: ScenarioContext): number[] {
  return set === 'all' ? ctx.lab.macs.map((_, i) => i + 1) : set;
}

function readStep(r: Reader, m: YAMLMap<unknown, unknown>, field: string, action: StepAction, at: number, total: number, duration: number): ScenarioStep {
  const node = r.get(m, action)!;
  const own = r.string(r.get(m, 'describe'), `${field}.describe`, m, false);
  const needsMacs = action === 'fault' || action === 'clear-faults' || action === 'command' || action === 'install-app' || action === 'push' || action === 'reenroll';
  const macs = r.macs(m, field, total, needsMacs);
  if (!needsMacs && action !== 'api' && action !== 'network' && macs !== undefined) r.fail(r.get(m, 'mac') ?? r.get(m, 'macs'), field, `a ${action} step is not about particular Macs`);
  const who = macs === undefined ? '' : macs === 'all' ? 'every Mac' : macs.map((n) => `Mac ${n}`).join(', ');
  switch (action) {
    case 'note': {
      const text = r.string(node, `${field}.note`, m)!;
      return { at, describe: own ?? text, run: async (ctx) => ctx.lab.record({ type: 'scenario.note', from: 'operator', to: 'operator', summary: text }) };
    }
    case 'enroll': {
      const n = r.integer(node, `${field}.enroll`, m, 1)!;
      return { at, describe: own ?? `${n} Mac${n === 1 ? '' : 's'} enroll`, run: (ctx) => ctx.lab.enroll(n) };
    }
    case 'fault': {
      let faults: DeviceFault[];
      const value = isScalar(node) ? { kind: node.value } : node.toJSON();
      try {
        faults = parseDeviceFaults(value);
      } catch (error) {
        // The fault parser names its own field (`for`, `connects`…) and what it expects.
        const p = error instanceof ProblemError ? error.problem : undefined;
        const sub = p?.field?.replace(/^(faults\[\d+\]|fault)\.?/, '') ?? '';
        const at = sub ? `${field}.fault.${sub}` : `${field}.fault`;
        const expected = p?.expected ? ` (expected: ${p.expected})` : !p ? ` (kinds: ${DEVICE_FAULT_KINDS.join(', ')})` : '';
        // A message that starts with its own field (the network entries' do) says it once.
        const message = p?.field ? (error as Error).message.replace(`${p.field}: `, '') : (error as Error).message;
        r.fail(node, at, `${message}${expected}`);
      }
      faults.forEach((f, i) => checkNetworkNames(r, node, `${field}.fault`, f, faults.length > 1 ? i : undefined));
      const text = faults.map((f) => f.kind).join(', ');
      return {
        at,
        describe: own ?? `${who}: ${text}`,
        run: async (ctx) => {
          for (const n of macNumbers(macs!, ctx)) await ctx.lab.fault(ctx.mac(n).udid, ...faults);
        },
      };
    }
    case 'clear-faults': {
      let kind: DeviceFaultKind | undefined;
      if (!(isScalar(node) && node.value === true)) {
        const k = r.string(node, `${field}.clear-faults`, m)!;
        if (!(DEVICE_FAULT_KINDS as readonly string[]).includes(k)) r.fail(node, `${field}.clear-faults`, `unknown fault kind ${JSON.stringify(k)}; use true (all) or one of ${DEVICE_FAULT_KINDS.join(', ')}`);
        kind = k as DeviceFaultKind;
      }
      return {
        at,
        describe: own ?? `${who}: faults cleared${kind ? ` (${kind})` : ''}`,
        run: async (ctx) => {
          for (const n of macNumbers(macs!, ctx)) await ctx.lab.clearFaults(ctx.mac(n).udid, kind);
        },
      };
    }
    case 'command': {
      const value = isScalar(node) ? { RequestType: node.value } : isMap(node) ? (node.toJSON() as Record<string, unknown>) : r.fail(node, `${field}.command`, 'expected a RequestType, or { RequestType, …payload }');
      const requestType = value.RequestType;
      if (typeof requestType !== 'string' || !(requestType in commands)) {
        r.fail(node, `${field}.command.RequestType`, `unknown RequestType ${JSON.stringify(requestType)}; known: ${Object.keys(commands).join(', ')}`);
      }
      const { RequestType: _omit, ...payload } = value;
      return {
        at,
        describe: own ?? `${requestType} to ${who}`,
        run: (ctx) => ctx.lab.command(macNumbers(macs!, ctx).map((n) => ctx.mac(n).udid), buildCommand(requestType, payload as Record<string, PlistValue>)),
      };
    }
    case 'install-app': {
      // The sample apps' manifests are on tenant names only the running server knows: the step names the app, the server its URL.
      const kind = r.string(node, `${field}.install-app`, m)!;
      if (!(SAMPLE_APP_KINDS as readonly string[]).includes(kind)) r.fail(node, `${field}.install-app`, `unknown sample app ${JSON.stringify(kind)}; known: ${SAMPLE_APP_KINDS.join(', ')}`);
      const app = SAMPLE_APPS[kind as SampleAppKind];
      return {
        at,
        describe: own ?? `InstallEnterpriseApplication of ${app.title} to ${who}`,
        run: (ctx) =>
          ctx.lab.command(
            macNumbers(macs!, ctx).map((n) => ctx.mac(n).udid),
            buildCommand('InstallEnterpriseApplication', { ManifestURL: ctx.lab.server.deviceUrls.sampleAppManifestUrl(app.kind) }),
          ),
      };
    }
    case 'reenroll': {
      if (!(isScalar(node) && node.value === true)) r.fail(node, `${field}.reenroll`, 'write reenroll: true (the Mac installs its enrollment profile again, as a user would after an erase)');
      return {
        at,
        describe: own ?? `${who} enroll${macs === 'all' || macs!.length > 1 ? '' : 's'} again`,
        run: async (ctx) => {
          for (const n of macNumbers(macs!, ctx)) await ctx.mac(n).enroll();
          await ctx.lab.settle();
        },
      };
    }
    case 'push': {
      if (!(isScalar(node) && node.value === true)) r.fail(node, `${field}.push`, 'write push: true');
      return { at, describe: own ?? `push ${who}`, run: (ctx) => ctx.lab.push(macNumbers(macs!, ctx).map((n) => ctx.mac(n).udid)) };
    }
    case 'advance': {
      const jump = r.duration(node, `${field}.advance`, m, { required: true })!;
      const step: ScenarioStep & { jump: number } = { at, jump, describe: own ?? `the clock jumps ${formatDuration(jump)}`, run: (ctx) => ctx.lab.advance(jump) };
      return step;
    }
    case 'api':
      return readApiStep(r, node, m, field, at, own, macs);
    case 'network': {
      const policy = readNetwork(r, node, `${field}.network`, m, true);
      const what = policy ? describeNetworkPolicy(policy) : 'open';
      return {
        at,
        describe: own ?? (macs === undefined ? `the fleet's network: ${what}` : `${who}'s network: ${what}`),
        run: async (ctx) => {
          if (macs === undefined) return ctx.lab.setNetworkPolicy(policy);
          for (const n of macNumbers(macs, ctx)) await ctx.lab.setNetworkPolicy(policy, ctx.mac(n).udid);
        },
      };
    }
    case 'posture': {
      const p = r.map(node, `${field}.posture`, ['rules', 'token'], m);
      const rules = r.strings(r.get(p, 'rules'), `${field}.posture.rules`) ?? [];
      for (const [i, rule] of rules.entries()) {
        try {
          parsePostureRule(rule);
        } catch (error) {
          r.fail(r.get(p, 'rules'), `${field}.posture.rules[${i}]`, (error as Error).message);
        }
      }
      const token = readTokenSpec(r, r.get(p, 'token'), `${field}.posture.token`, p);
      return {
        at,
        describe: own ?? `a posture-sync integration is created${token ? ` with the token "${token.name}"` : ''}${rules.length ? ` and the rule${rules.length === 1 ? '' : 's'} ${rules.map((x) => `"${x}"`).join(', ')}` : ''}`,
        async run(ctx) {
          const secret = token ? ctx.lab.server.apiTokens.create(token).token : undefined;
          await ctx.lab.postureSync({ ...(secret ? { token: secret } : {}), rules });
        },
      };
    }
    case 'posture-update': {
      const p = r.map(node, `${field}.posture-update`, ['token'], m);
      const token = readTokenSpec(r, r.get(p, 'token'), `${field}.posture-update.token`, p);
      if (!token) r.fail(p, `${field}.posture-update.token`, 'is required: { name, permissions }');
      return {
        at,
        describe: own ?? `the posture integration is updated with a new token "${token.name}"`,
        async run(ctx) {
          const sync = ctx.lab.postureIntegrations[0];
          if (!sync) throw new Error(`${field}: no posture integration to update (a posture step must come first)`);
          await sync.update({ token: ctx.lab.server.apiTokens.create(token).token });
        },
      };
    }
    case 'revoke-token': {
      const name = r.string(node, `${field}.revoke-token`, m)!;
      return {
        at,
        describe: own ?? `the API token "${name}" is revoked`,
        async run(ctx) {
          const live = ctx.lab.server.apiTokens.list().filter((t) => t.name === name && t.revokedAt === null);
          if (live.length === 0) throw new Error(`${field}: no live API token named "${name}"`);
          for (const t of live) ctx.lab.server.apiTokens.revoke(t.id);
        },
      };
    }
  }
}

const NETWORK_KEYS = ['allow-list', 'proxy', 'tls-inspection'] as const;

/**
 * A network (the story's from the start, or a `network` step's): `allow-list: [host:port]`,
 * `proxy: true`, `tls-inspection: true | { exempt: [host] }`; a step may say `open`. Entries are
 * checked as the fault parser checks them, and `{name}` placeholders against the names a lab knows.
 */
function readNetwork(r: Reader, node: YamlNode, field: string, parent: YamlNode, openAllowed: boolean): NetworkPolicy | undefined {
  if (openAllowed && isScalar(node) && node.value === 'open') return undefined;
  const m = r.map(node, field, NETWORK_KEYS, parent);
  const policy: { allowList?: string[]; proxy?: boolean; tlsInspection?: true | { exempt: string[] } } = {};
  const allowNode = r.get(m, 'allow-list');
  if (allowNode !== undefined) {
    if (!isSeq(allowNode) || allowNode.items.length === 0) r.fail(allowNode, `${field}.allow-list`, 'expected a non-empty list of host:port pairs, e.g. ["{device}:{port}", "*.iot.{zone}:{port}"]');
    policy.allowList = allowNode.items.map((item, i) => {
      const text = r.string(item as YamlNode, `${field}.allow-list[${i}]`, allowNode)!;
      const f = `${field}.allow-list[${i}]`;
      try {
        parseHostPort(text, f);
      } catch (error) {
        r.fail(item as YamlNode, f, (error as Error).message.replace(`${f}: `, ''));
      }
      checkPlaceholders(r, item as YamlNode, f, text);
      return text;
    });
  }
  const proxy = r.boolean(r.get(m, 'proxy'), `${field}.proxy`);
  if (proxy) policy.proxy = true;
  const ti = r.get(m, 'tls-inspection');
  if (ti !== undefined) {
    if (isScalar(ti) && ti.value === true) policy.tlsInspection = true;
    else if (!(isScalar(ti) && ti.value === false)) {
      const tm = r.map(ti, `${field}.tls-inspection`, ['exempt'], m);
      const exempt = r.strings(r.get(tm, 'exempt'), `${field}.tls-inspection.exempt`) ?? [];
      exempt.forEach((host, i) => {
        const f = `${field}.tls-inspection.exempt[${i}]`;
        const at = (r.get(tm, 'exempt') as YamlNode | undefined) ?? tm;
        try {
          parseHostPattern(host, f);
        } catch (error) {
          r.fail(at, f, (error as Error).message.replace(`${f}: `, ''));
        }
        checkPlaceholders(r, at, f, host);
      });
      policy.tlsInspection = { exempt };
    }
  }
  if (policy.allowList === undefined && policy.proxy === undefined && policy.tlsInspection === undefined) r.fail(m, field, `says nothing: give ${NETWORK_KEYS.join(', ')}${openAllowed ? ', or write open' : ''}`);
  return policy;
}

/** Every `{name}` in `text` is one a lab fills in. */
function checkPlaceholders(r: Reader, node: YamlNode, field: string, text: string): void {
  for (const [, name] of text.matchAll(/\{([a-z][a-z0-9-]*)\}/g)) {
    if (!LAB_NETWORK_NAMES.includes(name!)) r.fail(node, field, `{${name}} is not a name the lab fills in; known: ${LAB_NETWORK_NAMES.map((n) => `{${n}}`).join(', ')}`);
  }
}

/** The placeholders of a network fault, checked as the story is loaded. */
function checkNetworkNames(r: Reader, node: YamlNode, field: string, f: DeviceFault, index: number | undefined): void {
  const at = index === undefined ? field : `${field}.faults[${index}]`;
  if (f.kind === 'allow-list') f.allow.forEach((x, i) => checkPlaceholders(r, node, `${at}.allow[${i}]`, x));
  if (f.kind === 'tls-inspection') f.exempt.forEach((x, i) => checkPlaceholders(r, node, `${at}.exempt[${i}]`, x));
}

function describeNetworkPolicy(p: NetworkPolicy): string {
  return describeNetwork(policyFaults(p));
}

/** `{ name, permissions }` of an API token a step creates; permissions default to Prism's. */
function readTokenSpec(r: Reader, node: YamlNode | undefined, field: string, parent: YamlNode): { name: string; permissions: string[] } | undefined {
  if (node === undefined) return undefined;
  const m = r.map(node, field, ['name', 'permissions'], parent);
  const name = r.string(r.get(m, 'name'), `${field}.name`, m)!;
  const permissions = r.strings(r.get(m, 'permissions'), `${field}.permissions`) ?? ['prism:device_information'];
  for (const [i, p] of permissions.entries()) {
    if (p !== ALL_PERMISSIONS && !(KANDJI_PERMISSIONS as readonly string[]).includes(p)) {
      r.fail(r.get(m, 'permissions'), `${field}.permissions[${i}]`, `unknown permission ${JSON.stringify(p)}; known: ${ALL_PERMISSIONS}, ${KANDJI_PERMISSIONS.join(', ')}`);
    }
  }
  return { name, permissions };
}

/**
 * An HTTP call to the lab's own server, over HTTPS with its API token, as a user's tool would
 * make it. `{udid}`, `{serial}` and `{device_id}` in the path (and in string values of the
 * body) are the step's Mac's.
 */
function readApiStep(r: Reader, node: YamlNode, m: YAMLMap<unknown, unknown>, field: string, at: number, own: string | undefined, macs: MacSet | undefined): ScenarioStep {
  const api = r.map(node, `${field}.api`, ['method', 'path', 'body', 'status'], m);
  const method = (r.string(r.get(api, 'method'), `${field}.api.method`, api, false) ?? 'GET').toUpperCase();
  if (!(HTTP_METHODS as readonly string[]).includes(method)) r.fail(r.get(api, 'method'), `${field}.api.method`, `expected one of ${HTTP_METHODS.join(', ')}`);
  const path = r.string(r.get(api, 'path'), `${field}.api.path`, api)!;
  if (!path.startsWith('/')) r.fail(r.get(api, 'path'), `${field}.api.path`, 'a path on the lab server, starting with / (e.g. /sim/v1/devices/{udid}/push)');
  const status = r.integer(r.get(api, 'status'), `${field}.api.status`, api, 100);
  const bodyNode = r.get(api, 'body');
  const body: unknown = bodyNode === undefined ? undefined : bodyNode.toJSON();
  const placeholders = /\{(udid|serial|device_id)\}/.test(path) || (body !== undefined && /\{(udid|serial|device_id)\}/.test(JSON.stringify(body)));
  if (placeholders && (macs === undefined || macs === 'all' || macs.length !== 1)) r.fail(api, `${field}`, '{udid}, {serial} and {device_id} need the step to name one Mac (mac: N)');
  return {
    at,
    describe: own ?? `${method} ${path}`,
    async run(ctx) {
      const mac = macs !== undefined && macs !== 'all' && macs.length === 1 ? ctx.mac(macs[0]!) : undefined;
      const http = new HttpAgent({ connect: { ca: readFileSync(ctx.lab.server.info.caCert) } });
      const call = async (p: string, b?: unknown) => {
        const res = await http.request({
          origin: ctx.lab.server.url,
          path: p,
          method: method as 'GET',
          headers: { authorization: `Bearer ${ctx.lab.server.apiToken}`, ...(b === undefined ? {} : { 'content-type': 'application/json' }) },
          body: b === undefined ? undefined : JSON.stringify(b),
        });
        return { status: res.statusCode, text: await res.body.text() };
      };
      try {
        let deviceId: string | undefined;
        if (mac && /\{device_id\}/.test(path + JSON.stringify(body ?? ''))) {
          const res = await http.request({ origin: ctx.lab.server.url, path: `/api/v1/devices?serial_number=${encodeURIComponent(mac.identity.serialNumber)}`, method: 'GET', headers: { authorization: `Bearer ${ctx.lab.server.apiToken}` } });
          const list = (await res.body.json()) as Array<{ device_id?: string; serial_number?: string }>;
          deviceId = Array.isArray(list) ? list.find((d) => d.serial_number === mac.identity.serialNumber)?.device_id : undefined;
          if (!deviceId) throw new Error(`${field}: {device_id}: the Kandji API does not list Mac ${macs} (serial ${mac.identity.serialNumber}); answer ${res.statusCode}`);
        }
        const fill = (s: string) => (mac ? s.replaceAll('{udid}', mac.udid).replaceAll('{serial}', mac.identity.serialNumber).replaceAll('{device_id}', deviceId ?? '{device_id}') : s);
        const filledBody = body === undefined ? undefined : JSON.parse(fill(JSON.stringify(body)));
        const res = await call(fill(path), filledBody);
        const ok = status === undefined ? res.status >= 200 && res.status < 300 : res.status === status;
        ctx.lab.record({
          type: 'scenario.api',
          udid: mac?.udid,
          from: 'operator',
          to: 'mdm',
          summary: `${method} ${fill(path)} → ${res.status}${ok ? '' : ` (expected ${status ?? '2xx'})`}`,
          data: { method, path: fill(path), status: res.status },
        });
        if (!ok) throw new Error(`${field}: ${method} ${fill(path)} answered ${res.status}, expected ${status ?? '2xx'}: ${res.text.slice(0, 300)}`);
      } finally {
        await http.close();
      }
    },
  };
}

// ---- expectations -------------------------------------------------------------------------

const EXPECTATION_KINDS = ['command', 'agent', 'events'] as const;

function readExpectation(r: Reader, item: unknown, field: string, parent: YamlNode, total: number, duration: number): Expectation {
  if (!isMap(item)) r.fail((item as YamlNode) ?? parent, field, 'expected a mapping with one of: command, agent, events');
  const kinds = EXPECTATION_KINDS.filter((k) => item.has(k));
  if (kinds.length !== 1) r.fail(item, field, kinds.length === 0 ? `checks nothing: give one of ${EXPECTATION_KINDS.join(', ')}` : `mixes ${kinds.join(' and ')}: one check per expectation`);
  const kind = kinds[0]!;
  const common = ['describe', 'mac', 'macs'];
  const own = (m: YAMLMap<unknown, unknown>) => r.string(r.get(m, 'describe'), `${field}.describe`, m, false);
  switch (kind) {
    case 'command': {
      const m = r.map(item, field, [...common, 'command', 'after', 'within', 'from', 'to', 'status', 'count', 'min', 'max'], parent);
      const requestType = r.string(r.get(m, 'command'), `${field}.command`, m)!;
      if (!(requestType in commands)) r.fail(r.get(m, 'command'), `${field}.command`, `unknown RequestType ${JSON.stringify(requestType)}; known: ${Object.keys(commands).join(', ')}`);
      const macs = r.macs(m, field, total, false) ?? 'all';
      const window = readWindow(r, m, field, duration);
      const statusNode = r.get(m, 'status');
      const status = r.string(statusNode, `${field}.status`, m, false);
      if (status !== undefined && !(COMMAND_STATUSES as readonly string[]).includes(status)) r.fail(statusNode, `${field}.status`, `expected one of ${COMMAND_STATUSES.join(', ')}`);
      const bounds = readCount(r, m, field, { min: 1 });
      const what = `${requestType} ${status ? `answered ${status} by` : 'reaches'} ${describeMacs(macs)}${describeWindow(window)}${describeCount(bounds, true)}`;
      return {
        describe: own(m) ?? what,
        decidedBy: window.to,
        check(ctx) {
          const type = status ? 'mdm.command.result' : 'mdm.command.delivered';
          const matching = inWindow(ctx, ctx.events(type), window).filter((e) => dataOf(e).requestType === requestType && (status === undefined || dataOf(e).status === status));
          return perMac(ctx, macs, matching, bounds, `${requestType}${status ? ` ${status}` : ' deliveries'}`, window);
        },
      };
    }
    case 'events': {
      const m = r.map(item, field, [...common, 'events', 'with', 'after', 'within', 'from', 'to', 'count', 'min', 'max'], parent);
      const type = r.string(r.get(m, 'events'), `${field}.events`, m)!;
      const wanted = readWith(r, r.get(m, 'with'), `${field}.with`);
      if (!/^[a-z][a-z0-9-]*(\.[a-z0-9-]+)*$/.test(type)) r.fail(r.get(m, 'events'), `${field}.events`, 'an event type or dotted prefix such as agent.reinstall.fired or mdm.command');
      const macs = r.macs(m, field, total, false);
      const window = readWindow(r, m, field, duration);
      const bounds = readCount(r, m, field, { min: 1 });
      const what = `${type}${wanted ? ` with ${Object.entries(wanted).map(([k, v]) => `${k}=${String(v)}`).join(', ')}` : ''} ${describeCount(bounds, false)}${macs ? ` for ${describeMacs(macs)}` : ''}${describeWindow(window)}`;
      return {
        describe: own(m) ?? what,
        decidedBy: window.to,
        check(ctx) {
          const matching = inWindow(ctx, ctx.events(type), window).filter((e) => wanted === undefined || Object.entries(wanted).every(([k, v]) => dataOf(e)[k] === v));
          if (macs !== undefined) return perMac(ctx, macs, matching, bounds, type, window);
          return countFailures(matching.length, bounds, `${type}${describeWindow(window)}`);
        },
      };
    }
    case 'agent': {
      const m = r.map(item, field, [...common, 'agent', 'checked-in-within'], parent);
      const stateNode = r.get(m, 'agent');
      const state = r.string(stateNode, `${field}.agent`, m)! as AgentExpectState;
      if (!(AGENT_STATES as readonly string[]).includes(state)) r.fail(stateNode, `${field}.agent`, `expected one of ${AGENT_STATES.join(', ')} (running: installed and checking in; installed: present, maybe not running; absent: not installed)`);
      const recent = r.duration(r.get(m, 'checked-in-within'), `${field}.checked-in-within`, m);
      if (recent !== undefined && state === 'absent') r.fail(r.get(m, 'checked-in-within'), `${field}.checked-in-within`, 'an absent agent cannot have checked in recently: impossible expectation');
      const macs = r.macs(m, field, total, false) ?? 'all';
      const what = `at the end, the agent of ${describeMacs(macs)} is ${state}${recent !== undefined ? ` and checked in within the last ${formatDuration(recent)}` : ''}`;
      return {
        describe: own(m) ?? what,
        check(ctx) {
          const failures: string[] = [];
          for (const n of macNumbers(macs, ctx)) {
            const mac = ctx.mac(n);
            const installed = mac.state.apps.has(AGENT_BUNDLE_ID) && mac.state.agent.installed;
            const running = installed && mac.agentRuntime !== undefined;
            const actual: AgentExpectState = running ? 'running' : installed ? 'installed' : 'absent';
            if (actual !== state && !(state === 'installed' && actual === 'running')) failures.push(`Mac ${n}: its agent is ${actual}`);
            if (recent !== undefined) {
              const last = ctx.lab.device(mac.udid)?.agentLastCheckinAt;
              if (last === undefined || last < ctx.lab.now() - recent) failures.push(`Mac ${n}: the server's last agent check-in is ${last === undefined ? 'never' : new Date(last).toISOString()}, not within ${formatDuration(recent)}`);
            }
          }
          return failures;
        },
      };
    }
  }
}

/** `with: { field: value }`: plain values the event's data must have. */
function readWith(r: Reader, node: YamlNode | undefined, field: string): Record<string, string | number | boolean> | undefined {
  if (node === undefined) return undefined;
  if (!isMap(node)) r.fail(node, field, 'expected a mapping of event data fields to values, e.g. { messageType: TokenUpdate }');
  const out: Record<string, string | number | boolean> = {};
  for (const pair of node.items) {
    const key = isScalar(pair.key) ? String(pair.key.value) : '';
    const v = pair.value;
    if (!isScalar(v) || !['string', 'number', 'boolean'].includes(typeof v.value)) r.fail((v as YamlNode) ?? node, `${field}.${key}`, 'expected a plain value');
    out[key] = v.value as string | number | boolean;
  }
  return out;
}

interface Window {
  from: number;
  to: number;
  /** The whole story (no window given). */
  whole: boolean;
}

/** `after` + `within`, or `from` / `to`; default: the whole story. */
function readWindow(r: Reader, m: YAMLMap<unknown, unknown>, field: string, duration: number): Window {
  const after = r.time(r.get(m, 'after'), `${field}.after`, m, false);
  const within = r.duration(r.get(m, 'within'), `${field}.within`, m);
  const fromNode = r.get(m, 'from');
  const from = m.has('from') ? r.time(fromNode, `${field}.from`, m) : undefined;
  const to = m.has('to') ? r.time(r.get(m, 'to'), `${field}.to`, m) : undefined;
  if ((after !== undefined || within !== undefined) && (from !== undefined || to !== undefined)) r.fail(fromNode ?? r.get(m, 'to'), field, 'give after/within or from/to, not both');
  const whole = after === undefined && within === undefined && from === undefined && to === undefined;
  const w: Window = { from: after ?? from ?? 0, to: within !== undefined ? (after ?? 0) + within : (to ?? duration), whole };
  if (w.from > duration) r.fail(r.get(m, 'after') ?? fromNode, field, `the window starts at ${formatDuration(w.from)}, after the story ends (${formatDuration(duration)}): impossible expectation`);
  if (w.to < w.from) r.fail(r.get(m, 'to') ?? m, field, 'the window ends before it starts: impossible expectation');
  return w;
}

interface Bounds {
  min: number;
  max: number;
}

function readCount(r: Reader, m: YAMLMap<unknown, unknown>, field: string, defaults: { min: number }): Bounds {
  const count = r.integer(r.get(m, 'count'), `${field}.count`, m, 0);
  const min = r.integer(r.get(m, 'min'), `${field}.min`, m, 0);
  const max = r.integer(r.get(m, 'max'), `${field}.max`, m, 0);
  if (count !== undefined && (min !== undefined || max !== undefined)) r.fail(r.get(m, 'count'), `${field}.count`, 'give count, or min/max, not both');
  if (count !== undefined) return { min: count, max: count };
  const b = { min: min ?? (max === 0 ? 0 : defaults.min), max: max ?? Number.POSITIVE_INFINITY };
  if (b.min > b.max) r.fail(r.get(m, 'min'), `${field}.min`, `min ${b.min} is more than max ${b.max}: impossible expectation`);
  return b;
}

const dataOf = (e: EventRecord) => (e.data ?? {}) as Record<string, unknown>;

function inWindow(ctx: ScenarioContext, events: EventRecord[], w: Window): EventRecord[] {
  return events.filter((e) => e.at >= ctx.start + w.from && e.at <= ctx.start + w.to);
}

function perMac(ctx: ScenarioContext, macs: MacSet, events: EventRecord[], bounds: Bounds, what: string, w: Window): string[] {
  const failures: string[] = [];
  for (const n of macNumbers(macs, ctx)) {
    const udid = ctx.mac(n).udid;
    failures.push(...countFailures(events.filter((e) => e.udid === udid).length, bounds, `Mac ${n}: ${what}${describeWindow(w)}`));
  }
  return failures;
}

function countFailures(n: number, b: Bounds, what: string): string[] {
  if (n >= b.min && n <= b.max) return [];
  const expected = b.min === b.max ? `${b.min}` : b.max === Number.POSITIVE_INFINITY ? `at least ${b.min}` : `${b.min} to ${b.max}`;
  return [`${what}: ${n}, expected ${expected}`];
}

function describeMacs(macs: MacSet): string {
  if (macs === 'all') return 'every Mac';
  return macs.length === 1 ? `Mac ${macs[0]}` : `Macs ${macs.join(', ')}`;
}

function describeWindow(w: Window): string {
  if (w.whole) return '';
  if (w.from === 0) return ` within ${formatDuration(w.to)}`;
  return ` between ${formatDuration(w.from)} and ${formatDuration(w.to)}`;
}

function describeCount(b: Bounds, perMacWording: boolean): string {
  if (b.min === 1 && b.max === Number.POSITIVE_INFINITY) return perMacWording ? '' : 'at least once';
  if (b.min === 0 && b.max === 0) return perMacWording ? ' never' : 'never';
  if (b.min === b.max) return `${perMacWording ? ' ' : ''}exactly ${b.min} time${b.min === 1 ? '' : 's'}`;
  if (b.max === Number.POSITIVE_INFINITY) return `${perMacWording ? ' ' : ''}at least ${b.min} times`;
  return `${perMacWording ? ' ' : ''}${b.min} to ${b.max} times`;
}

/** The file's base name without .yaml: what `--scenario` matches besides the `name` field. */
export function scenarioFileStem(path: string): string {
  return basename(path).replace(/\.ya?ml$/i, '');
}
