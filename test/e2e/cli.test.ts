import { createServer, type AddressInfo } from 'node:net';
/**
 * `mdmsim serve` as a user runs it: a child process, the one-line ready JSON on stdout,
 * logs on stderr, HTTPS with the CA it wrote, and a clean stop on SIGTERM.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { downloadProfile, HttpsClient, TestMac } from '../helpers/mdm-client';

const root = join(__dirname, '../..');
const bin = join(root, 'bin/mdmsim.js');

beforeAll(() => {
  if (!existsSync(join(root, 'dist/lab/cli.js'))) throw new Error('dist/ is missing: npm test builds it first (npm run build)');
});

function serve(args: string[]): Promise<{ child: ChildProcess; ready: any; stderr: () => string }> {
  const child = spawn(process.execPath, [bin, 'serve', ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (d) => (err += d));
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => {
      try {
        resolve({ child, ready: JSON.parse(line), stderr: () => err });
      } catch (e) {
        reject(new Error(`the first stdout line is not JSON: ${line}\n${err}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`mdmsim serve exited with ${code} before it was ready:\n${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)));
}

describe('mdmsim serve', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'mdmsim-cli-'));
  afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

  it('prints one ready line, serves MDM over HTTPS with its CA, and stops on SIGTERM', async () => {
    const { child, ready, stderr } = await serve(['--port', '0', '--data-dir', dataDir, '--clock', 'virtual', '--api-token', 'cli-token']);
    try {
      // The contract keys first, unchanged; issue 9 added the tenant and its device-facing URLs after them.
      expect(Object.keys(ready)).toEqual(['ready', 'mdm', 'enroll', 'apns', 'courier', 'api', 'dashboard', 'caCert', 'apiToken', 'tenant', 'deviceUrls']);
      expect(ready).toMatchObject({ ready: true, apiToken: 'cli-token', caCert: join(dataDir, 'ca.pem') });
      // --port 0 puts the APNs mock on free ports too, so parallel servers never collide.
      expect(ready.apns).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
      expect(ready.courier).toMatch(/^ws:\/\/127\.0\.0\.1:\d+$/);
      expect(ready.apns).not.toMatch(/:2197$/);
      const base = ready.mdm.replace(/\/mdm$/, '');
      expect(ready.mdm).toMatch(/^https:\/\/127\.0\.0\.1:\d+\/mdm$/);
      expect(ready.api).toBe(`${base}/sim/v1`);
      // The dashboard URL carries the token in its fragment (never sent to a server).
      expect(ready.dashboard).toBe(`${base}/#token=cli-token`);
      expect(ready.enroll).toBe(`${base}/mdm/enroll`);
      expect(readFileSync(ready.caCert, 'utf8')).toContain('BEGIN CERTIFICATE');
      expect(statSync(join(dataDir, 'ca-key.pem')).mode & 0o077).toBe(0);

      const http = new HttpsClient(ready.mdm.replace(/\/mdm$/, ''), ready.caCert);
      const mac = new TestMac(http);
      await mac.enroll();
      const clock = await http.api('GET', '/sim/v1/clock', 'cli-token');
      expect(clock.json.mode).toBe('virtual');
      const adv = await http.api('POST', '/sim/v1/clock/advance', 'cli-token', { by: '8d' });
      expect(Date.parse(adv.json.now) - Date.parse(clock.json.now)).toBe(8 * 86400_000);
      http.close();
      expect(stderr()).toContain('mdmsim serving');
    } finally {
      child.kill('SIGTERM');
    }
    expect(await exited(child)).toBe(0);
  });

  it('stops on SIGTERM even with an event stream open', async () => {
    const { child, ready } = await serve(['--port', '0', '--data-dir', dataDir]);
    const ws = new WebSocket(`${ready.api.replace('https', 'wss')}/events/stream?token=${ready.apiToken}`, { ca: readFileSync(ready.caCert) });
    await new Promise((resolve, reject) => {
      ws.on('open', resolve);
      ws.on('error', reject);
    });
    child.kill('SIGTERM');
    const code = await Promise.race([exited(child), new Promise((r) => setTimeout(() => r('hung'), 5000))]);
    if (code === 'hung') child.kill('SIGKILL');
    expect(code).toBe(0);
  });

  it('reuses its CA and API token on the next run', async () => {
    const ca = readFileSync(join(dataDir, 'ca.pem'), 'utf8');
    const { child, ready } = await serve(['--port', '0', '--data-dir', dataDir]);
    child.kill('SIGTERM');
    await exited(child);
    expect(readFileSync(ready.caCert, 'utf8')).toBe(ca);
    const again = await serve(['--port', '0', '--data-dir', dataDir]);
    again.child.kill('SIGTERM');
    await exited(again.child);
    expect(again.ready.apiToken).toBe(ready.apiToken);
  });

  it('checks Mdm-Signature by default; --auth none and --identity-key ec change that', async () => {
    const unsignedAuthenticate = async (ready: any) => {
      const http = new HttpsClient(ready.mdm.replace(/\/mdm$/, ''), ready.caCert);
      try {
        const mac = new TestMac(http, undefined, { sign: false });
        return (await mac.checkin(mac.authenticateMessage())).status;
      } finally {
        http.close();
      }
    };
    const strict = await serve(['--port', '0', '--data-dir', dataDir]);
    try {
      expect(await unsignedAuthenticate(strict.ready)).toBe(400);
    } finally {
      strict.child.kill('SIGTERM');
      await exited(strict.child);
    }
    const open = await serve(['--port', '0', '--data-dir', dataDir, '--auth', 'none', '--identity-key', 'ec']);
    try {
      expect(await unsignedAuthenticate(open.ready)).toBe(200);
      // stderr and stdout are separate pipes: the warning may arrive after the ready line.
      for (let i = 0; i < 100 && !open.stderr().includes('--auth none'); i++) await new Promise((r) => setTimeout(r, 20));
      expect(open.stderr()).toContain('--auth none');
      const http = new HttpsClient(open.ready.mdm.replace(/\/mdm$/, ''), open.ready.caCert);
      expect((await downloadProfile(http)).profile.identity.privateKey.asymmetricKeyType).toBe('ec');
      http.close();
    } finally {
      open.child.kill('SIGTERM');
      await exited(open.child);
    }
  });

  it('runs the APNs mock on the ports asked for, or not at all with --no-apns', async () => {
    const free = await freePorts(2);
    const withApns = await serve(['--port', '0', '--data-dir', dataDir, '--apns-port', String(free[0]), '--courier-port', String(free[1])]);
    try {
      expect(withApns.ready.apns).toBe(`https://127.0.0.1:${free[0]}`);
      expect(withApns.ready.courier).toBe(`ws://127.0.0.1:${free[1]}`);
    } finally {
      withApns.child.kill('SIGTERM');
      await exited(withApns.child);
    }
    const without = await serve(['--port', '0', '--data-dir', dataDir, '--no-apns']);
    try {
      expect(without.ready).toMatchObject({ apns: null, courier: null });
    } finally {
      without.child.kill('SIGTERM');
      await exited(without.child);
    }
  });

  it('refuses bad APNs flags with a clear message', async () => {
    for (const [args, message] of [
      [['--apns-url', 'http://example.com'], /https:\/\/ URL/],
      [['--apns-key', 'nonsense'], /TEAMID:KEYID:FILE/],
      [['--apns-key', 'T:K:/nonexistent.p8'], /cannot read/],
    ] as const) {
      const child = spawn(process.execPath, [bin, 'serve', '--port', '0', ...args, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      expect(await exited(child)).not.toBe(0);
      expect(err).toMatch(message);
    }
  });

  it('refuses bad flags with a clear message and a non-zero exit', async () => {
    for (const args of [['--port', 'abc'], ['--clock', 'sometimes'], ['--port', '70000'], ['--auth', 'maybe'], ['--identity-key', 'dsa']]) {
      const child = spawn(process.execPath, [bin, 'serve', ...args, '--data-dir', dataDir], { stdio: ['ignore', 'pipe', 'pipe'] });
      let err = '';
      child.stderr!.on('data', (d) => (err += d));
      expect(await exited(child)).not.toBe(0);
      expect(err).toMatch(/port number|Allowed choices/);
    }
  });
});

function freePorts(n: number): Promise<number[]> {
  return Promise.all(
    Array.from({ length: n }, () => new Promise<number>((resolve) => {
      const srv = createServer();
      srv.listen(0, '127.0.0.1', () => {
        const port = (srv.address() as AddressInfo).port;
        srv.close(() => resolve(port));
      });
    })),
  );
}
