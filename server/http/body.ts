import type { IncomingMessage } from 'node:http';
import { problem } from '../../protocol/problem';

/** Default cap on an MDM request body: large inventories fit, runaway uploads don't. */
export const DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024;

export function bodyTooLarge(limit: number, got?: number) {
  return problem(413, 'body-too-large', `the request body ${got !== undefined ? `(${got} bytes) ` : ''}is larger than ${limit} bytes`, {
    expected: `at most ${limit} bytes`,
    hint: 'raise the limit with the maxBodyBytes server option if a real device needs more',
  });
}

/**
 * Reads a whole request body, refusing past `limit`: at once when Content-Length says so,
 * or as soon as the streamed bytes exceed it. A callback rather than a promise: this runs
 * for every request of every device, and the callback saves a promise and two ticks.
 */
export function readBody(req: IncomingMessage, limit: number, done: (error: Error | undefined, body?: Buffer) => void): void {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return done(bodyTooLarge(limit, Number(declared)));
  const chunks: Buffer[] = [];
  let size = 0;
  let finished = false;
  const finish = (error: Error | undefined, body?: Buffer) => {
    if (finished) return;
    finished = true;
    done(error, body);
  };
  req.on('data', (chunk: Buffer) => {
    if (finished) return;
    size += chunk.length;
    if (size > limit) {
      chunks.length = 0;
      finish(bodyTooLarge(limit));
      return;
    }
    chunks.push(chunk);
  });
  req.on('end', () => finish(undefined, chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size)));
  // The client went away or ran out of time (408) mid-body: its doing, not a bug to report.
  req.on('error', () =>
    finish(problem(400, 'incomplete-body', 'the connection closed or timed out before the request body ended', { hint: 'send the whole body within the server\'s request timeout' })),
  );
}
