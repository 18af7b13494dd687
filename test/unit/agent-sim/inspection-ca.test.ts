/**
 * The inspector's CA: a root an organisation would deploy, and a leaf per name (DNS or IP) that a
 * client trusting the root accepts for that name and no other; leaves are minted once per name.
 * The leaf key is not the server's, which is all the agent's pin needs to see.
 */
import { X509Certificate } from 'node:crypto';
import { createServer, type Server } from 'node:net';
import { connect, TLSSocket } from 'node:tls';
import { InspectionCa } from '../../../agent-sim/network/inspection-ca';
import { publicKeyPin } from '../../../protocol/agent';

let ca: InspectionCa;
let server: Server;
let port: number;

beforeAll(async () => {
  ca = await InspectionCa.create();
  ca.contextFor('127.0.0.1');
  // As the inspector serves them: a TLSSocket over the accepted connection, a leaf per SNI name,
  // the address's leaf when the client sends none.
  server = createServer((raw) => {
    const s = new TLSSocket(raw, { isServer: true, secureContext: ca.contextFor('127.0.0.1'), SNICallback: (name, cb) => cb(null, ca.contextFor(name)) });
    s.on('error', () => raw.destroy());
    s.on('secure', () => s.end('ok'));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as { port: number }).port;
});

afterAll(async () => {
  await new Promise<void>((r) => server.close(() => r()));
});

function handshake(servername: string | undefined): Promise<{ ok: boolean; error?: string; pin?: string; issuer?: string }> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port, ...(servername ? { servername } : {}), ca: ca.certPem }, () => {
      const cert = s.getPeerCertificate();
      resolve({ ok: true, pin: publicKeyPin(cert.raw), issuer: String(cert.issuer.CN) });
      s.destroy();
    });
    s.on("error", (e) => resolve({ ok: false, error: `${(e as NodeJS.ErrnoException).code} ${e.message}` }));
  });
}

test('the root is a CA certificate named for what it is', () => {
  const root = new X509Certificate(ca.certPem);
  expect(root.ca).toBe(true);
  expect(root.subject).toContain('CN=mdmsim TLS Inspection CA');
});

test('a leaf for a name is trusted under the root for that name, and minted once', async () => {
  const minted = ca.minted;
  const a = await handshake('abc.web-api.mdmsim.test');
  expect(a).toMatchObject({ ok: true, issuer: 'mdmsim TLS Inspection CA' });
  await handshake('abc.web-api.mdmsim.test');
  expect(ca.minted).toBe(minted + 1);
});

test('a leaf for an IP address is trusted for that address', async () => {
  expect(await handshake(undefined)).toEqual(expect.objectContaining({ ok: true }));
});

test('a leaf names only its own name: another name fails the check', () => {
  const leaf = new X509Certificate(
    // The leaf the context for one name serves, checked against another.
    ((): string => {
      const ctx = ca.contextFor('one.mdmsim.test') as unknown as { context: { getCertificate(): Buffer } };
      return `-----BEGIN CERTIFICATE-----\n${ctx.context.getCertificate().toString('base64')}\n-----END CERTIFICATE-----\n`;
    })(),
  );
  expect(leaf.checkHost('one.mdmsim.test')).toBe('one.mdmsim.test');
  expect(leaf.checkHost('two.mdmsim.test')).toBeUndefined();
  expect(leaf.checkIssued(new X509Certificate(ca.certPem))).toBe(true);
});
