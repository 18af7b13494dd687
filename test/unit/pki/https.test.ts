import * as fs from 'node:fs';
import * as https from 'node:https';
import type { AddressInfo } from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadOrCreateCa, loadOrCreateServerCert } from '../../../server/pki';

let dir: string;
let server: https.Server;
let port: number;
let caPem: string;

beforeAll(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mdmsim-pki-https-'));
  const ca = await loadOrCreateCa(dir);
  const tls = await loadOrCreateServerCert(dir, ca, ['127.0.0.1']);
  caPem = fs.readFileSync(path.join(dir, 'ca.pem'), 'utf8');
  server = https.createServer({ key: tls.keyPem, cert: tls.certPem }, (_req, res) => res.end('hello over TLS'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  fs.rmSync(dir, { recursive: true, force: true });
});

/** GETs / from the test server, trusting `ca` only; resolves with status and body. */
function get(options: https.RequestOptions): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = https.get({ host: '127.0.0.1', port, path: '/', agent: false, ...options }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (body += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
  });
}

describe('the server certificate on a real HTTPS server', () => {
  it('is trusted for the name localhost by a client that trusts ca.pem', async () => {
    await expect(get({ ca: caPem, servername: 'localhost' })).resolves.toEqual({ status: 200, body: 'hello over TLS' });
  });

  it('is trusted for the address 127.0.0.1', async () => {
    // No servername: the client checks the certificate against the IP address it dialled.
    await expect(get({ ca: caPem })).resolves.toEqual({ status: 200, body: 'hello over TLS' });
  });

  it('is not trusted by a client that does not trust ca.pem', async () => {
    await expect(get({ servername: 'localhost' })).rejects.toMatchObject({
      code: expect.stringMatching(/SELF_SIGNED|UNABLE_TO_GET_ISSUER|UNABLE_TO_VERIFY/),
    });
  });

  it('is not trusted for a name it does not cover', async () => {
    await expect(get({ ca: caPem, servername: 'elsewhere.example.test' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
  });
});
