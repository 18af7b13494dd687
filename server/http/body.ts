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
 * or as soon as the streamed bytes exceed it.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) return Promise.reject(bodyTooLarge(limit, Number(declared)));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    req.on('data', (chunk: Buffer) => {
      if (done) return;
      size += chunk.length;
      if (size > limit) {
        done = true;
        chunks.length = 0;
        reject(bodyTooLarge(limit));
        return;
      }
      chunks.push(chunk);
    });
    req.on('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    });
    req.on('error', (error) => {
      if (done) return;
      done = true;
      reject(error);
    });
  });
}
