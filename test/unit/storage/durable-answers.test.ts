/**
 * The hold on answers (server/http/durable-answers.ts) over a real socket: nothing reaches the
 * client until the store's commit settles; a failed commit cuts the connection instead of
 * acknowledging a write that is gone; with nothing uncommitted the answer goes at once.
 */
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { answerWhenDurable } from '../../../server/http/durable-answers';

let pending: Promise<void> | undefined;
let server: Server;
let port: number;

beforeAll(async () => {
  server = createServer((req, res) => {
    answerWhenDurable(res, () => pending);
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.end('stored');
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

function get(): { answered: () => boolean; done: Promise<{ status?: number; body?: string; error?: string }> } {
  let answered = false;
  const done = new Promise<{ status?: number; body?: string; error?: string }>((resolve) => {
    const req = request({ port, host: '127.0.0.1', path: '/', agent: false }, (res) => {
      answered = true;
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode, body }));
    });
    req.on('error', (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end();
  });
  return { answered: () => answered, done };
}

const settle = () => new Promise((resolve) => setTimeout(resolve, 50));

it('answers at once when nothing waits to be committed', async () => {
  pending = undefined;
  await expect(get().done).resolves.toEqual({ status: 200, body: 'stored' });
});

it('holds the answer, headers included, until the commit settles', async () => {
  let commit!: () => void;
  pending = new Promise<void>((resolve) => (commit = resolve));
  const r = get();
  await settle();
  expect(r.answered()).toBe(false);
  commit();
  await expect(r.done).resolves.toEqual({ status: 200, body: 'stored' });
});

it('cuts the connection when the commit fails', async () => {
  let fail!: (error: Error) => void;
  pending = new Promise<void>((_resolve, reject) => (fail = reject));
  const r = get();
  await settle();
  fail(new Error('disk full'));
  const outcome = await r.done;
  expect(outcome.status).toBeUndefined();
  expect(outcome.error).toBe('ECONNRESET');
});
