/**
 * `mdmsim fleet --resolve HOST:ADDRESS` as a user runs it (child processes, real sockets): Macs
 * pointed at the tenant's enrollment name, which no DNS knows, find it through --resolve and go
 * on to the device domain and the downloads by name; a bad --resolve is refused saying what to write.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
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

describe('mdmsim fleet --resolve', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-cli-resolve-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('enrolls at the tenant enrollment name through --resolve, and the agents check in on the device domain', async () => {
    const server = spawn(process.execPath, [bin, 'serve', '--port', '0', '--data-dir', dataDir, '--api-token', 'resolve-test', '--log-level', 'warn'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let serverErr = '';
    server.stderr!.on('data', (d) => (serverErr += d));
    let fleet: ChildProcess | undefined;
    try {
      const ready = await firstJsonLine(server, () => serverErr);
      const enroll = new URL(ready.deviceUrls.enroll);
      const args = ['fleet', '--server', enroll.origin, '--resolve', `*.${ready.tenant.zone}:127.0.0.1`, '--ca', ready.caCert, '--courier', ready.courier, '--count', '2', '--seed', 'cli-resolve', '--key', 'ec'];
      fleet = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
      let fleetErr = '';
      fleet.stderr!.on('data', (d) => (fleetErr += d));
      const http = new HttpsClient(new URL(ready.mdm).origin, ready.caCert);
      try {
        expect(await firstJsonLine(fleet, () => fleetErr)).toMatchObject({ enrolled: 2, failed: 0 });
        let list: any[] = [];
        for (let i = 0; i < 100; i++) {
          const devices = await http.send('GET', '/sim/v1/devices', undefined, { authorization: 'Bearer resolve-test' });
          list = JSON.parse(devices.body.toString());
          if (list.length === 2 && list.every((d) => d.agent?.lastCheckinAt)) break;
          await new Promise((r) => setTimeout(r, 100));
        }
        expect(list).toHaveLength(2);
        for (const d of list) expect(d.agent).toMatchObject({ installed: true });
        const stopped = new Promise((resolve) => fleet!.once('exit', (code) => resolve(code)));
        fleet.kill('SIGTERM');
        expect(await stopped).toBe(0);
      } finally {
        http.close();
      }
    } finally {
      fleet?.kill('SIGKILL');
      server.kill('SIGTERM');
    }
  });

  it('refuses a --resolve that is not HOST:ADDRESS', async () => {
    const r = await runCli(['fleet', '--server', 'https://127.0.0.1:1', '--ca', '/nonexistent', '--count', '1', '--resolve', 'mdm.test:not-an-address']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--resolve.*"not-an-address" for mdm\.test is not an IP address/);
  });
});
