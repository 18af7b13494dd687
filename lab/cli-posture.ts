/**
 * `mdmsim posture-sync`: the posture-sync simulator against any Kandji-compatible API (mdmsim
 * serve, a lab, or Kandji itself), on real time. It prints a line per sync, per attribute
 * change and per access decision that changed; `--once` syncs once, prints the node table and
 * exits 0 if the sync succeeded, 1 if it did not.
 */
import { readFileSync } from 'node:fs';
import { Command, InvalidArgumentError } from 'commander';
import { DurationError, parseDuration } from '../protocol/duration';
import { RealClock } from '../protocol/clock';
import { NodeListError, parseNodeList, type PostureNodeInput } from '../posture-sim/nodes';
import { parseRule, PostureRuleError } from '../posture-sim/rules';
import { startPostureSync, type PostureEvent, type PostureNodeState, type PostureSync } from '../posture-sim/integration';

interface PostureCliOptions {
  api: string;
  token?: string;
  ca?: string;
  nodes: string;
  rule: string[];
  interval: string;
  pause: string;
  once?: boolean;
  json?: boolean;
}

/** A duration longer than zero: a zero interval or pause would sync (or retry a refused token) without end. */
function positiveDuration(value: string): string {
  let ms: number;
  try {
    ms = parseDuration(value);
  } catch (error) {
    if (error instanceof DurationError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  if (ms <= 0) throw new InvalidArgumentError(`expected a duration longer than zero, e.g. 15m or 24h`);
  return value;
}

function collectRule(value: string, previous: string[]): string[] {
  try {
    parseRule(value);
  } catch (error) {
    if (error instanceof PostureRuleError) throw new InvalidArgumentError(error.message);
    throw error;
  }
  return [...previous, value];
}

const show = (v: unknown) => (v === null || v === undefined ? '(unset)' : String(v));
const iso = (t: number) => new Date(t).toISOString();

/** One human line for an event (or none: audit events of the integration itself are shown by their effect). */
export function describePostureEvent(e: PostureEvent): string | undefined {
  switch (e.type) {
    case 'sync': {
      const r = e.report;
      if (r.skipped) return undefined;
      if (!r.ok) return `${iso(r.at)} sync (${r.trigger}) failed: ${r.error!.message}`;
      return `${iso(r.at)} sync (${r.trigger}): ${r.devices} device${r.devices === 1 ? '' : 's'} in ${r.pages} page${r.pages === 1 ? '' : 's'}, ${r.matched} of ${r.matched + r.unmatched} nodes matched, ${r.changes.length} attribute${r.changes.length === 1 ? '' : 's'} changed`;
    }
    case 'audit':
      return e.event.target === 'Node' ? `${iso(e.event.at)}   ${e.event.nodeName}: ${e.event.attribute} ${show(e.event.old)} → ${show(e.event.new)}` : `${iso(e.event.at)} ${e.event.summary}`;
    case 'access':
      return `${iso(e.at)}   ${e.nodeName}: ${e.allowed ? 'allowed' : `denied (fails ${e.failing.join(', ')})`}`;
    case 'paused':
      return `${iso(e.at)} paused until ${iso(e.until)} (${e.error.status ?? e.error.kind}); a new token or URL resumes it at once`;
    case 'resumed':
      return `${iso(e.at)} resumed (${e.trigger === 'update' ? 'configuration updated' : 'the pause ended'})`;
  }
}

/** The node table `--once` prints. */
export function formatNodeTable(nodes: readonly PostureNodeState[], hasRules: boolean): string[] {
  const rows = nodes.map((n) => [
    n.id,
    n.name,
    n.serialNumbers.map((s) => s.trim()).join(',') || '-',
    n.deviceId ?? '-',
    show(n.attributes['kandji:mdmEnabled']),
    show(n.attributes['kandji:agentInstalled']),
    hasRules ? (n.allowed ? 'allow' : `deny (${n.failing.join(', ')})`) : '-',
  ]);
  const head = ['NODE', 'NAME', 'SERIAL', 'KANDJI DEVICE', 'kandji:mdmEnabled', 'kandji:agentInstalled', 'POSTURE'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [head, ...rows].map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd());
}

function readNodes(file: string): PostureNodeInput[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new Error(`--nodes ${file}: ${(error as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new Error(`--nodes ${file}: not JSON (${(error as Error).message})`);
  }
  try {
    return parseNodeList(json, `--nodes ${file}`);
  } catch (error) {
    if (error instanceof NodeListError) throw new Error(`${error.message} (the shape is in fixtures/posture/nodes.json)`);
    throw error;
  }
}

async function runPostureSync(opts: PostureCliOptions): Promise<void> {
  const token = opts.token ?? process.env.KANDJI_API_TOKEN;
  if (!token) throw new Error('no API token: pass --token or set KANDJI_API_TOKEN (mdmsim token create --permissions prism:device_information issues one)');
  const nodes = readNodes(opts.nodes);
  let ca: Buffer | undefined;
  if (opts.ca !== undefined) {
    try {
      ca = readFileSync(opts.ca);
    } catch (error) {
      throw new Error(`--ca ${opts.ca}: ${(error as Error).message} (mdmsim serve prints the CA's path as caCert in its ready line)`);
    }
  }
  const out = (line: string | undefined) => {
    if (line !== undefined) process.stdout.write(`${line}\n`);
  };
  const sync: PostureSync = await startPostureSync({
    apiUrl: opts.api,
    token,
    ca,
    clock: new RealClock((error) => process.stderr.write(`mdmsim posture-sync: ${(error as Error)?.message ?? String(error)}\n`)),
    nodes,
    rules: opts.rule,
    intervalMs: opts.interval,
    pauseOnAuthErrorMs: opts.pause,
    onEvent: (e) => {
      if (opts.json) {
        if (!(opts.once && e.type === 'audit' && e.event.action === 'Removed posture integration')) out(JSON.stringify(e));
      } else if (!(e.type === 'audit' && e.event.target === 'Integration' && opts.once)) {
        out(describePostureEvent(e));
      }
    },
  });
  if (opts.once) {
    const status = sync.status();
    if (!opts.json) {
      out('');
      for (const line of formatNodeTable(sync.nodes(), opts.rule.length > 0)) out(line);
    } else {
      out(JSON.stringify({ type: 'nodes', nodes: sync.nodes(), status }));
    }
    await sync.stop();
    if (status.error) process.stderr.write(`mdmsim posture-sync: ${status.error.message}\n`);
    process.exit(status.error ? 1 : 0);
  }
  let stopping = false;
  const stop = () => {
    if (stopping) process.exit(130);
    stopping = true;
    sync.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  // RealClock timers are unref'd: keep the process alive while the integration runs.
  setInterval(() => undefined, 1 << 30);
}

/** Adds `mdmsim posture-sync` to the program. */
export function addPostureSyncCommand(program: Command): void {
  program
    .command('posture-sync')
    .description('sync Kandji device posture (kandji:mdmEnabled, kandji:agentInstalled) onto network nodes, as Tailscale\'s integration does')
    .requiredOption('--api <url>', 'the Kandji API URL (mdmsim: the server URL, e.g. https://127.0.0.1:8443)')
    .option('--token <token>', 'API token with the Prism Device Information permission (default: $KANDJI_API_TOKEN)')
    .option('--ca <file>', 'PEM trusted for HTTPS (mdmsim: the ready line\'s caCert)')
    .requiredOption('--nodes <file>', 'the network\'s nodes as JSON (shape: fixtures/posture/nodes.json)')
    .option('--rule <rule>', 'a posture rule, e.g. "kandji:agentInstalled == true"; repeatable (a node must hold them all)', collectRule, [])
    .option('--interval <duration>', 'between scheduled syncs', positiveDuration, '15m')
    .option('--pause <duration>', 'how long an authentication error (401/403) pauses the syncs', positiveDuration, '24h')
    .option('--once', 'sync once, print the node table, exit 0 if the sync succeeded, 1 if not')
    .option('--json', 'print every event (and with --once the nodes) as JSON lines')
    .action((opts: PostureCliOptions) => runPostureSync(opts));
}
