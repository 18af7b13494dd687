/**
 * `mdmsim posture-sync` as a user runs it (a child process against a real server over HTTPS),
 * and `mdmsim lab --scenario agent-posture --exit`.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { agentCheckin, freshId, POLICIES_OFF } from '../helpers/agent';
import { TestMac } from '../helpers/mdm-client';
import { startTestServer, type TestServer } from '../helpers/server';

jest.setTimeout(90_000);

const root = join(__dirname, '../..');
const bin = join(root, 'bin/mdmsim.js');

function run(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KANDJI_API_TOKEN: '', ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  // Never leave a child behind: one still running when the suite's time is up is ended.
  const guard = setTimeout(() => child.kill('SIGKILL'), 80_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(guard);
      resolve({ code, stdout, stderr });
    }),
  );
}

describe('mdmsim posture-sync --once', () => {
  let t: TestServer;
  let dir: string;
  let nodesFile: string;
  let token: string;
  let macs: TestMac[];

  beforeAll(async () => {
    if (!existsSync(join(root, 'dist/lab/cli-posture.js'))) throw new Error('dist/ is missing or stale: npm test builds it first (npm run build)');
    t = await startTestServer(POLICIES_OFF);
    macs = [];
    for (const n of [1, 2]) {
      const mac = new TestMac(t.http, freshId(n, { serial: `C02CLIP0000${n}` }));
      await mac.enroll();
      macs.push(mac);
    }
    expect((await agentCheckin(macs[0]!, 'install')).status).toBe(200);
    dir = mkdtempSync(join(tmpdir(), 'mdmsim-posture-cli-'));
    nodesFile = join(dir, 'nodes.json');
    writeFileSync(
      nodesFile,
      JSON.stringify({
        nodes: [
          { id: 'nA', name: 'with-agent', serialNumbers: [' c02clip00001 '] },
          { id: 'nB', name: 'without-agent', serialNumbers: ['C02CLIP00002'] },
          { id: 'nC', name: 'stranger', serialNumbers: ['C02DT4XQMD6R'] },
        ],
      }),
    );
    token = t.server.apiTokens.create({ name: 'cli', permissions: ['prism:device_information'] }).token;
  });

  afterAll(async () => {
    await t.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  // --once: the command ends after one sync (without it, it runs on the real clock until stopped).
  const args = (...extra: string[]) => ['posture-sync', '--api', t.server.url, '--ca', t.server.info.caCert, '--nodes', nodesFile, '--once', ...extra];

  it('syncs once, prints the sync, each attribute written and the node table with allow/deny, and exits 0', async () => {
    const { code, stdout, stderr } = await run(args('--token', token, '--rule', 'kandji:agentInstalled == true'));
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect(stdout).toMatch(/^\S+Z sync \(create\): 2 devices in 1 page, 2 of 3 nodes matched, 4 attributes changed$/m);
    expect(stdout).toMatch(/^\S+Z {3}with-agent: kandji:agentInstalled \(unset\) → true$/m);
    expect(stdout).toMatch(/^\S+Z {3}without-agent: kandji:agentInstalled \(unset\) → false$/m);
    const table = stdout.slice(stdout.indexOf('NODE'));
    expect(table.split('\n')[0]).toMatch(/^NODE +NAME +SERIAL +KANDJI DEVICE +kandji:mdmEnabled +kandji:agentInstalled +POSTURE$/);
    expect(table).toMatch(/^nA +with-agent +C02CLIP00001 +[0-9a-f-]{36} +true +true +allow$/im);
    expect(table).toMatch(/^nB +without-agent +C02CLIP00002 +[0-9a-f-]{36} +true +false +deny \(kandji:agentInstalled == true\)$/im);
    expect(table).toMatch(/^nC +stranger +C02DT4XQMD6R +- +\(unset\) +\(unset\) +deny \(kandji:agentInstalled == true\)$/m);
  });

  it('takes the token from $KANDJI_API_TOKEN, and --json prints events and the nodes as JSON lines', async () => {
    const { code, stdout } = await run(args('--json'), { KANDJI_API_TOKEN: token });
    expect(code).toBe(0);
    const lines = stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string; nodes?: Array<{ id: string; attributes: Record<string, unknown> }> });
    expect(lines[0]).toMatchObject({ type: 'audit', event: { action: 'Create posture integration' } });
    expect(lines.at(-1)!.type).toBe('nodes');
    expect(lines.at(-1)!.nodes!.find((n) => n.id === 'nB')!.attributes).toEqual({ 'kandji:mdmEnabled': true, 'kandji:agentInstalled': false });
  });

  it('exits 1 with Kandji\'s reason when the token is refused', async () => {
    const { code, stderr } = await run(args('--token', '3f1c2f7e-0000-4000-8000-000000000000'));
    expect(code).toBe(1);
    expect(stderr).toMatch(/mdmsim posture-sync: 401 from Prism: .+ \(the API token is missing, unknown or revoked\)/);
  });

  it('refuses a bad rule, a bad node list and a missing token before syncing, saying what to fix', async () => {
    const badRule = await run(args('--token', token, '--rule', 'kandji:agentInstalled = true'));
    expect(badRule.code).toBe(1);
    expect(badRule.stderr).toMatch(/posture rule "kandji:agentInstalled = true": the operator must be == or !=/);
    const badNodes = join(dir, 'bad.json');
    writeFileSync(badNodes, JSON.stringify({ nodes: [{ id: 'x', name: 'x', serialNumbers: 'C02' }] }));
    const nodes = await run(['posture-sync', '--api', t.server.url, '--token', token, '--nodes', badNodes, '--once']);
    expect(nodes.code).toBe(1);
    expect(nodes.stderr).toMatch(/nodes\[0\]\.serialNumbers: expected an array of strings/);
    const noToken = await run(args());
    expect(noToken.code).toBe(1);
    expect(noToken.stderr).toMatch(/no API token: pass --token or set KANDJI_API_TOKEN/);
    for (const option of ['--pause', '--interval']) {
      const zero = await run(args('--token', token, option, '0'));
      expect([option, zero.code]).toEqual([option, 1]);
      expect(zero.stderr).toMatch(new RegExp(`option '${option} <duration>' argument '0' is invalid\\. expected a duration longer than zero`));
      expect(zero.stdout).toBe('');
    }
  });
});

describe('mdmsim lab --scenario agent-posture --exit', () => {
  it('plays the story, prints the posture lines in virtual time, and exits 0 because every expectation held', async () => {
    const { code, stdout, stderr } = await run(['lab', '--scenario', 'agent-posture', '--exit', '--no-color']);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^day {2}2 .*Mac 2 .*access denied \(fails kandji:agentInstalled == true\)$/m);
    expect(stdout).toMatch(/^day {2}3 09:15:00 .*posture sync paused until day 4 09:15:00 after 401$/m);
    expect(stdout).toMatch(/✓ the first sync after the revocation fails \(401\) and pauses the integration/);
    expect(stdout).not.toMatch(/✗/);
    expect(stdout).toMatch(/agent-posture: every expectation held/);
  });
});
