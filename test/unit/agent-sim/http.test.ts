/**
 * The fleet's HTTP (one keep-alive agent, the given CA trusted) and a Mac's network faults,
 * against a local HTTPS server with a throwaway certificate.
 */
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { FleetHttp, flipOneByte, macRequest, pemCertificates, type NetworkFaults } from '../../../agent-sim/http';
import { NetworkError } from '../../../agent-sim/state';
import { openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-agent-sim-http-');
let server: Server;
let base: string;
let certPem: string;
let requests: string[] = [];
const sockets = new Set<unknown>();
const PACKAGE = Buffer.from('the package bytes, 0123456789');

function selfSigned(dir: string, name: string): { cert: string; key: string } {
  const key = join(dir, `${name}-key.pem`);
  const cert = join(dir, `${name}.pem`);
  openssl('req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', key, '-out', cert, '-days', '2', '-subj', `/CN=${name}`, '-addext', 'subjectAltName=IP:127.0.0.1');
  return { cert: readFileSync(cert, 'utf8'), key: readFileSync(key, 'utf8') };
}

beforeAll(async () => {
  const dir = tempDir();
  const { cert, key } = selfSigned(dir, 'agent-sim-test');
  certPem = cert;
  server = createServer({ cert, key }, (req, res) => {
    requests.push(`${req.method} ${req.url}`);
    if (req.url === '/pkg') res.end(PACKAGE);
    else if (req.url === '/missing') {
      res.statusCode = 404;
      res.end('no');
    } else res.end('ok');
  });
  server.on('connection', (s) => sockets.add(s));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  base = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

beforeEach(() => {
  requests = [];
});

describe('FleetHttp', () => {
  test('trusts the given CA, keeps sockets alive and bounded', async () => {
    const http = new FleetHttp({ ca: certPem, maxSockets: 4 });
    sockets.clear();
    const answers = await Promise.all(Array.from({ length: 40 }, () => http.request({ method: 'GET', url: `${base}/x` })));
    expect(answers.every((a) => a.status === 200 && a.body.toString() === 'ok')).toBe(true);
    expect(sockets.size).toBeLessThanOrEqual(4);
    await http.request({ method: 'GET', url: `${base}/x` });
    expect(sockets.size).toBeLessThanOrEqual(4);
    expect(http.inFlight).toBe(0);
    http.close();
  });

  test('a server whose certificate the CA did not issue is refused', async () => {
    const other = selfSigned(tempDir(), 'someone-else');
    const http = new FleetHttp({ ca: other.cert });
    await expect(http.request({ method: 'GET', url: `${base}/x` })).rejects.toThrow(NetworkError);
    expect(requests).toEqual([]);
    http.close();
  });

  test('reads every certificate of a PEM bundle, and refuses a file with none', () => {
    const other = selfSigned(tempDir(), 'second');
    expect(pemCertificates(certPem + other.cert)).toHaveLength(2);
    expect(() => pemCertificates('nothing here')).toThrow(/no PEM certificate/);
  });
});

describe("a Mac's network faults", () => {
  let http: FleetHttp;
  beforeAll(() => {
    http = new FleetHttp({ ca: certPem });
  });
  afterAll(() => http.close());

  const faults = (f: Partial<NetworkFaults>): NetworkFaults => ({ offline: false, agentBlocked: false, ...f });

  test('offline: every request fails as a connection that cannot be made, and nothing is sent', async () => {
    for (const purpose of ['mdm', 'agent', 'package', 'profile'] as const) {
      const e = await macRequest(http, faults({ offline: true }), undefined, { method: 'GET', url: `${base}/x` }, purpose).catch((x) => x);
      expect(e).toBeInstanceOf(NetworkError);
      expect(e.message).toMatch(/ECONNREFUSED/);
      expect(e.status).toBeUndefined();
    }
    expect(requests).toEqual([]);
  });

  test("agent-network-blocked fails only the agent's requests", async () => {
    const f = faults({ agentBlocked: true });
    await expect(macRequest(http, f, undefined, { method: 'POST', url: `${base}/agent/v1/checkin`, body: '{}' }, 'agent')).rejects.toThrow(NetworkError);
    expect((await macRequest(http, f, undefined, { method: 'PUT', url: `${base}/mdm/connect`, body: 'x' }, 'mdm')).status).toBe(200);
    expect((await macRequest(http, f, undefined, { method: 'GET', url: `${base}/pkg` }, 'package')).body).toEqual(PACKAGE);
    expect(requests).toEqual(['PUT /mdm/connect', 'GET /pkg']);
  });

  test('package-download fail: NetworkError for packages only, for `count` downloads', async () => {
    const f = faults({ packageDownload: { mode: 'fail', remaining: 2 } });
    await expect(macRequest(http, f, undefined, { method: 'GET', url: `${base}/pkg` }, 'package')).rejects.toThrow(NetworkError);
    expect((await macRequest(http, f, undefined, { method: 'GET', url: `${base}/manifest` }, 'manifest')).status).toBe(200);
    await expect(macRequest(http, f, undefined, { method: 'GET', url: `${base}/pkg` }, 'package')).rejects.toThrow(/download failed/);
    expect(f.packageDownload!.remaining).toBe(0);
    expect((await macRequest(http, f, undefined, { method: 'GET', url: `${base}/pkg` }, 'package')).body).toEqual(PACKAGE);
  });

  test('package-download corrupt: the bytes arrive with exactly one byte changed', async () => {
    const f = faults({ packageDownload: { mode: 'corrupt' } });
    const body = (await macRequest(http, f, undefined, { method: 'GET', url: `${base}/pkg` }, 'package')).body;
    expect(body).toHaveLength(PACKAGE.length);
    expect([...body].filter((b, i) => b !== PACKAGE[i])).toHaveLength(1);
    expect(flipOneByte(Buffer.alloc(0))).toHaveLength(1);
  });
});
