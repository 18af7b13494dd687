/**
 * `mdmsim lab` and `mdmsim fleet` as a user runs them: child processes, real sockets.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HttpsClient } from '../helpers/mdm-client';
import { firstJsonLine, runCli } from '../helpers/cli';

jest.setTimeout(90_000);

const root = join(__dirname, '../..');
const bin = join(root, 'bin/mdmsim.js');

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lab/cli.js'))) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
});

describe('mdmsim lab --scenario agent-reinstall --exit', () => {
  it('plays the story, prints its timeline in virtual time, and exits 0 because every expectation held', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdmsim-mermaid-'));
    const mmd = join(dir, 'run.mmd');
    const { code, stdout, stderr } = await runCli(['lab', '--scenario', 'agent-reinstall', '--exit', '--no-color', '--mermaid', mmd]);
    expect(stderr).not.toMatch(/error/i);
    expect(code).toBe(0);
    expect(stdout).toMatch(/^day {2}0 09:00:00 {2}Mac 1 /m);
    expect(stdout).toMatch(/^day {2}9 .*Mac 2 .*reinstall/im);
    expect(stdout).toMatch(/✓ the rule fires for Mac 2, once\n✓ Macs 1 and 3 see no reinstall/);
    expect(stdout).not.toMatch(/✗/);
    expect(stdout).toMatch(/agent-reinstall: every expectation held/);
    // No colour codes when stdout is not a terminal.
    expect(stdout).not.toMatch(/\x1b\[/);
    // --mermaid: the same run as a sequence diagram, Macs named as on the timeline.
    expect(stdout).toContain(`Mermaid sequence diagram: ${mmd}`);
    const diagram = readFileSync(mmd, 'utf8');
    rmSync(dir, { recursive: true, force: true });
    expect(diagram.startsWith('sequenceDiagram\n')).toBe(true);
    for (const n of [1, 2, 3]) expect(diagram).toContain(`participant Mac${n} as Mac ${n}`);
    expect(diagram).toMatch(/^ {4}Note over MDM: policy: day 9 .*InstallEnterpriseApplication/m);
    expect(diagram).toMatch(/^ {4}Agent2->>MDM: day 9 .*install check-in/m);
  });

  it('plays a scenario file; a bad one fails before any device exists, naming file, line and field', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'mdmsim-story-'));
    try {
      const wrong = join(dir, 'wrong.yaml');
      writeFileSync(wrong, 'name: wrong\ntitle: t\ndescription: d\nfleet: { count: 1 }\nduration: 2h\nexpect:\n  - { events: agent.reinstall.fired, mac: 1, describe: the rule fires at once }\n');
      const failed = await runCli(['lab', '--scenario', wrong, '--exit', '--no-color']);
      expect(failed.code).toBe(1);
      expect(failed.stdout).toMatch(/^✗ the rule fires at once\n {4}Mac 1: agent\.reinstall\.fired: 0, expected at least 1$/m);
      expect(failed.stdout).toMatch(/wrong: 1 expectation\(s\) failed/);

      const bad = join(dir, 'bad.yaml');
      writeFileSync(bad, 'name: bad\ntitle: t\ndescription: d\nfleet: { count: 1 }\nduration: 2h\nsteps:\n  - { at: 1h, mac: 1, fault: { kind: offline, for: a while } }\nexpect:\n  - { events: agent.checkin }\n');
      const refused = await runCli(['lab', '--scenario', bad, '--exit']);
      expect(refused.code).toBe(1);
      expect(refused.stderr).toBe(`mdmsim: ${bad}:7:30: steps[0].fault.for: expected a duration like "15m", "36h", "8d", "1d12h" or ISO-8601 "P8D"/"PT36H"; got "a while" (cannot read "a while")\n`);
      expect(refused.stdout).toBe('');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses an unknown scenario and --exit without one, saying what to do', async () => {
    const unknown = await runCli(['lab', '--scenario', 'nope', '--exit']);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/no such scenario or file; shipped: agent-posture, agent-reinstall, device-offline, enrollment, enrollment-only-network, erase-and-reenroll, notnow, tls-inspection/);
    const bare = await runCli(['lab', '--exit']);
    expect(bare.code).toBe(1);
    expect(bare.stderr).toMatch(/--scenario/);
  });
});

describe('mdmsim fleet against mdmsim serve', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-cli-fleet-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('enrolls Macs over the wire (signatures on), reports on stdout, keeps them running until SIGTERM: their agents check in', async () => {
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--api-token', 'fleet-test', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let serverErr = '';
    server.stderr!.on('data', (d) => (serverErr += d));
    try {
      const ready = await firstJsonLine(server, () => serverErr);
      const origin = new URL(ready.mdm).origin;
      const fleet = spawn(process.execPath, [bin, 'fleet', '--server', origin, '--ca', ready.caCert, '--courier', ready.courier, '--count', '3', '--seed', 'cli', '--key', 'ec'], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let fleetErr = '';
      fleet.stderr!.on('data', (d) => (fleetErr += d));
      const http = new HttpsClient(origin, ready.caCert);
      try {
        const summary = await firstJsonLine(fleet, () => fleetErr);
        expect(summary).toMatchObject({ enrolled: 3, failed: 0 });
        // The fleet keeps running: each Mac is pushed, installs the agent, and its agent checks in.
        let list: any[] = [];
        for (let i = 0; i < 100; i++) {
          const devices = await http.send('GET', '/sim/v1/devices', undefined, { authorization: 'Bearer fleet-test' });
          list = JSON.parse(devices.body.toString());
          if (list.length === 3 && list.every((d) => d.agent?.lastCheckinAt)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(list).toHaveLength(3);
        for (const d of list) {
          expect(d.identityCertSha256).toMatch(/^[0-9a-f]{64}$/);
          expect(d.serialNumber).toMatch(/^[0-9A-Z]{12}$/);
          expect(d.agent).toMatchObject({ installed: true, version: '1.4.2' });
        }
        const stopped = new Promise((resolve) => fleet.once('exit', (code) => resolve(code)));
        fleet.kill('SIGTERM');
        expect(await stopped).toBe(0);
      } finally {
        http.close();
        fleet.kill('SIGKILL');
      }
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('says what is wrong with bad flags', async () => {
    const r = await runCli(['fleet', '--server', 'http://x', '--ca', '/nonexistent', '--count', '0']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/https|whole number/);
    const shard = await runCli(['fleet', '--server', 'https://127.0.0.1:1', '--ca', '/nonexistent', '--count', '1', '--shard', '3/2']);
    expect(shard.code).toBe(1);
    expect(shard.stderr).toMatch(/i\/n/);
    const ca = await runCli(['fleet', '--server', 'https://127.0.0.1:1', '--ca', '/nonexistent', '--count', '1']);
    expect(ca.code).toBe(1);
    expect(ca.stderr).toMatch(/--ca \/nonexistent/);
  });
});

describe('mdmsim serve agent-policy flags', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-cli-policy-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('sets the rule\'s windows and the inventory cadence, readable at /sim/v1/agent-policy', async () => {
    const server = spawn(
      process.execPath,
      [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--api-token', 'policy-test', '--log-level', 'warn', '--agent-window', '2d', '--reinstall-retry', '12h', '--inventory-interval', 'off', '--missing-after', '20d', '--no-agent-install'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    server.stderr!.on('data', (d) => (err += d));
    try {
      const ready = await firstJsonLine(server, () => err);
      const http = new HttpsClient(new URL(ready.mdm).origin, ready.caCert);
      try {
        const r = await http.send('GET', '/sim/v1/agent-policy', undefined, { authorization: 'Bearer policy-test' });
        expect(JSON.parse(r.body.toString())).toMatchObject({ installOnEnrollment: false, reinstall: true, agentWindow: '2d', mdmWindow: '7d', retryInterval: '12h', inventoryInterval: false, missingAfter: '20d' });
      } finally {
        http.close();
      }
    } finally {
      server.kill('SIGTERM');
    }
  });

  it('refuses bad durations before starting, naming the flag or setting', async () => {
    const bad = await runCli(['serve', '--port', '0', '--data-dir', dataDir, '--agent-window', 'soon']);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/--agent-window.*expected a duration/s);
    const tooOften = await runCli(['serve', '--port', '0', '--data-dir', dataDir, '--reinstall-sweep', '10ms']);
    expect(tooOften.code).toBe(1);
    expect(tooOften.stderr).toMatch(/sweepInterval/);
  });
});
