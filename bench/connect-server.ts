/**
 * Child process of bench/connect.ts: runs one server under test and reports its CPU use.
 *   node dist/bench/connect-server.js bare <dataDir>    a bare node:https handler doing the same I/O
 *   node dist/bench/connect-server.js mdmsim <dataDir>  the real mdmsim server
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { commands, encodeCommand } from '../protocol/command';
import { startServer } from '../server/server';
import { loadOrCreateCa, loadOrCreateServerCert } from '../server/pki';

async function bare(dataDir: string): Promise<number> {
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
      if (req.url!.startsWith('/sim/v1/commands')) {
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

async function mdmsim(dataDir: string): Promise<number> {
  const server = await startServer({ port: 0, dataDir, clock: 'real', apiToken: 'bench-token' });
  return Number(new URL(server.url).port);
}

async function main(): Promise<void> {
  const [kind, dataDir] = process.argv.slice(2) as ['bare' | 'mdmsim', string];
  const port = kind === 'bare' ? await bare(dataDir) : await mdmsim(dataDir);
  // Never outlive the benchmark that started us, however it ended.
  process.on('disconnect', () => process.exit(0));
  process.send!({ port, ca: readFileSync(join(dataDir, 'ca.pem'), 'utf8') });
  process.on('message', (m: { cmd: string }) => {
    if (m.cmd === 'cpu-start') {
      cpuStart = process.cpuUsage();
      process.send!({ ok: true });
    } else if (m.cmd === 'exit') {
      process.exit(0);
    } else if (m.cmd === 'cpu') {
      const u = process.cpuUsage(cpuStart);
      process.send!({ cpuMicros: u.user + u.system, rss: process.memoryUsage().rss });
    }
  });
}

let cpuStart = process.cpuUsage();
main().catch((e) => {
  console.error(e);
  process.exit(1);
});
