/**
 * Child process of bench/connect.ts: runs one server under test and reports its CPU use.
 *   node dist/bench/connect-server.js bare <dataDir>         a bare node:https handler doing the same I/O
 *   node dist/bench/connect-server.js bare-verify <dataDir>  the same, plus one crypto.verify of each MDM request's Mdm-Signature
 *   node dist/bench/connect-server.js mdmsim-none <dataDir>  the real mdmsim server, --auth none
 *   node dist/bench/connect-server.js mdmsim <dataDir>       the real mdmsim server, checking Mdm-Signature (its default)
 * An optional third argument names a .cpuprofile file: the measured window is profiled into it.
 */
import * as crypto from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { commands, encodeCommand } from '../protocol/command';
import { startServer } from '../server/server';
import { loadOrCreateCa, loadOrCreateServerCert } from '../server/pki';

export type ServerKind = 'bare' | 'bare-verify' | 'mdmsim-none' | 'mdmsim';

async function bare(dataDir: string, verify: boolean): Promise<number> {
  const ca = await loadOrCreateCa(dataDir);
  const tls = await loadOrCreateServerCert(dataDir, ca, ['127.0.0.1']);
  // The same answer bytes mdmsim sends: a serialized command for Idle, empty 200 otherwise.
  const command = encodeCommand(commands.DeviceInformation({ Queries: ['OSVersion', 'SerialNumber'] }));
  const idle = Buffer.from('<string>Idle</string>');
  const server = createServer({ key: tls.keyPem, cert: tls.certPem }, (req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      if (verify && req.url!.startsWith('/mdm') && !verifySignature(req.headers['mdm-signature'], body)) {
        res.writeHead(400, { 'content-length': 0 });
        res.end();
      } else if (req.url!.startsWith('/sim/v1/commands')) {
        res.writeHead(201, { 'content-type': 'application/json', 'content-length': 2 });
        res.end('{}');
      } else if (body.includes(idle)) {
        res.writeHead(200, { 'content-type': 'application/xml; charset=utf-8', 'content-length': command.length });
        res.end(command);
      } else {
        res.writeHead(200, { 'content-length': 0 });
        res.end();
      }
    });
  });
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return (server.address() as AddressInfo).port;
}

/** KeyObjects of the certificates seen, keyed by the certificate's bytes. */
const keys = new Map<string, crypto.KeyObject>();

/**
 * The baseline's share of the cryptographic work mdmsim does per request, and no more: decode
 * the header, find the certificate and the signature with a minimal walk of the DER a device
 * sends (definite lengths, one certificate, one signer), take the certificate's KeyObject from
 * a per-certificate cache, and crypto.verify the body. No chain, validity or binding checks.
 */
function verifySignature(header: string | string[] | undefined, body: Buffer): boolean {
  if (typeof header !== 'string') return false;
  try {
    const der = Buffer.from(header, 'base64');
    const contentInfo = element(der, 0);
    const signedData = element(der, element(der, element(der, contentInfo.content).end).content);
    const version = element(der, signedData.content);
    const digestAlgorithms = element(der, version.end);
    const encapContentInfo = element(der, digestAlgorithms.end);
    const certificates = element(der, encapContentInfo.end);
    const cert = element(der, certificates.content);
    const signerInfo = element(der, element(der, certificates.end).content);
    // The signature is the SignerInfo's last field (no unsigned attributes).
    let last = element(der, signerInfo.content);
    while (last.end < signerInfo.end) last = element(der, last.end);
    const id = der.toString('latin1', cert.start, cert.end);
    let key = keys.get(id);
    if (key === undefined) {
      key = new crypto.X509Certificate(der.subarray(cert.start, cert.end)).publicKey;
      keys.set(id, key);
    }
    return crypto.verify('sha256', body, key, der.subarray(last.content, last.end));
  } catch {
    return false;
  }
}

/** A definite-length DER element at `at`: where its content starts and where it ends. */
function element(der: Buffer, at: number): { start: number; content: number; end: number } {
  let length = der[at + 1]!;
  let content = at + 2;
  if (length & 0x80) {
    const count = length & 0x7f;
    length = 0;
    for (let i = 0; i < count; i++) length = length * 256 + der[content++]!;
  }
  if (content + length > der.length) throw new RangeError('truncated');
  return { start: at, content, end: content + length };
}

async function mdmsim(dataDir: string, auth: 'signature' | 'none'): Promise<number> {
  // Only the connect cycle is measured: no agent install or inventory queued behind it.
  const agentPolicy = { installOnEnrollment: false, inventoryInterval: false } as const;
  const server = await startServer({ port: 0, dataDir, clock: 'real', apiToken: 'bench-token', auth, agentPolicy });
  return Number(new URL(server.url).port);
}

async function main(): Promise<void> {
  const [kind, dataDir, profilePath] = process.argv.slice(2) as [ServerKind, string, string | undefined];
  const port = kind === 'bare' || kind === 'bare-verify' ? await bare(dataDir, kind === 'bare-verify') : await mdmsim(dataDir, kind === 'mdmsim' ? 'signature' : 'none');
  // Never outlive the benchmark that started us, however it ended.
  process.on('disconnect', () => process.exit(0));
  process.send!({ port, ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8') });
  const profiler = profilePath ? new Session() : undefined;
  const post = (method: string) =>
    new Promise<unknown>((resolve, reject) => profiler!.post(method, (error, result) => (error ? reject(error) : resolve(result))));
  process.on('message', async (m: { cmd: string }) => {
    if (m.cmd === 'cpu-start') {
      if (profiler) {
        profiler.connect();
        await post('Profiler.enable');
        await post('Profiler.start');
      }
      cpuStart = process.cpuUsage();
      process.send!({ ok: true });
    } else if (m.cmd === 'exit') {
      process.exit(0);
    } else if (m.cmd === 'cpu') {
      const u = process.cpuUsage(cpuStart);
      if (profiler) {
        const { profile } = (await post('Profiler.stop')) as { profile: object };
        writeFileSync(profilePath!, JSON.stringify(profile));
        profiler.disconnect();
      }
      process.send!({ cpuMicros: u.user + u.system, rss: process.memoryUsage().rss });
    }
  });
}

let cpuStart = process.cpuUsage();
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
