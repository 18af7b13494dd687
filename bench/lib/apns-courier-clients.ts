/**
 * Child process of bench/apns.ts: holds courier WebSocket connections open for the memory
 * measurements (a process may hold 20,000 open files at most, so bench/apns.ts splits the
 * connections over several of these).
 *
 *   {cmd:'open', url, n, topic, mode:'subscribe'|'connect'}
 *       n idle connections; 'subscribe': each sends hello and subscribes one token of its own
 *       (as a Mac does: one token per connection); 'connect': each just connects.
 *   {cmd:'tokens', url, connections, perConnection, perFrame, topic}
 *       a few connections, each subscribing perConnection tokens in frames of perFrame devices.
 *   {cmd:'exit'}
 */
import { randomBytes } from 'node:crypto';
import { WebSocket } from 'ws';
import { deviceTokenFor } from '../../protocol/apns';

export interface OpenResult {
  opened: number;
  failed: number;
  firstError?: string;
  ms: number;
}

const CONCURRENCY = 200;
const open: WebSocket[] = [];

/** One courier connection; resolves once the server answered what it was sent. */
/** Opens a connection, sends its frames and keeps it open; the error message if it failed. */
async function keep(url: string, frames: string[]): Promise<string | undefined> {
  try {
    const ws = await courier(url, frames);
    ws.on('error', () => undefined);
    ws.removeAllListeners('close');
    open.push(ws);
    return undefined;
  } catch (e) {
    return (e as Error).message;
  }
}

function courier(url: string, frames: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { perMessageDeflate: false });
    let answers = 0;
    const fail = (e: Error) => {
      ws.terminate();
      reject(e);
    };
    ws.once('error', fail);
    ws.once('open', () => {
      if (frames.length === 0) return resolve(ws);
      // hello, then the subscribe frames one at a time, each once the previous is answered.
      ws.send(frames[0]!);
    });
    ws.on('message', (data: Buffer) => {
      const text = data.toString();
      if (text.includes('"type":"error"') || (text.includes('"subscribed"') && text.includes('null'))) return fail(new Error(text.slice(0, 200)));
      answers++;
      if (answers < frames.length) ws.send(frames[answers]!);
      else {
        ws.removeAllListeners('message');
        ws.on('message', () => undefined);
        resolve(ws);
      }
    });
    ws.once('close', () => reject(new Error('closed')));
  });
}

function device(topic: string): { topic: string; secret: string; token: string } {
  const secret = randomBytes(32);
  return { topic, secret: secret.toString('base64url'), token: deviceTokenFor(topic, secret) };
}

async function openMany(url: string, n: number, topic: string, mode: 'subscribe' | 'connect'): Promise<OpenResult> {
  const t0 = Date.now();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const worker = async () => {
    while (next < n) {
      const i = next++;
      const frames = mode === 'subscribe' ? [JSON.stringify({ type: 'hello', client: `bench-mac-${i}` }), JSON.stringify({ type: 'subscribe', id: 1, devices: [device(topic)] })] : [];
      const error = await keep(url, frames);
      if (error !== undefined) {
        failed++;
        firstError ??= error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, n) }, worker));
  return { opened: open.length, failed, firstError, ms: Date.now() - t0 };
}

async function tokens(url: string, connections: number, perConnection: number, perFrame: number, topic: string): Promise<OpenResult> {
  const t0 = Date.now();
  let failed = 0;
  let firstError: string | undefined;
  await Promise.all(
    Array.from({ length: connections }, async (_, c) => {
      const frames = [JSON.stringify({ type: 'hello', client: `bench-fleet-${c}` })];
      for (let i = 0; i < perConnection; i += perFrame) {
        const devices = Array.from({ length: Math.min(perFrame, perConnection - i) }, () => {
          const { topic: t, secret } = device(topic);
          return { topic: t, secret };
        });
        frames.push(JSON.stringify({ type: 'subscribe', id: i / perFrame + 1, devices }));
      }
      const error = await keep(url, frames);
      if (error !== undefined) {
        failed++;
        firstError ??= error;
      }
    }),
  );
  return { opened: open.length, failed, firstError, ms: Date.now() - t0 };
}

process.on('disconnect', () => process.exit(0));
process.on('message', (m: { cmd: string; url: string; n: number; topic: string; mode: 'subscribe' | 'connect'; connections: number; perConnection: number; perFrame: number }) => {
  void (async () => {
    if (m.cmd === 'open') process.send!(await openMany(m.url, m.n, m.topic, m.mode));
    else if (m.cmd === 'tokens') process.send!(await tokens(m.url, m.connections, m.perConnection, m.perFrame, m.topic));
    else if (m.cmd === 'exit') {
      for (const ws of open) ws.terminate();
      process.exit(0);
    }
  })().catch((e) => {
    console.error(e);
    process.exit(1);
  });
});
