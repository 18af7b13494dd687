import type { ServerResponse } from 'node:http';
import type { Problem } from '../../protocol/problem';

/** The one error shape every mdmsim endpoint answers with. */
export function problemBody(p: Problem): string {
  const error: Record<string, unknown> = { code: p.code, message: p.message };
  if (p.field !== undefined) error.field = p.field;
  if (p.expected !== undefined) error.expected = p.expected;
  if (p.hint !== undefined) error.hint = p.hint;
  return JSON.stringify({ error });
}

export function sendProblem(res: ServerResponse, p: Problem, headers: Record<string, string> = {}): void {
  const body = problemBody(p);
  res.writeHead(p.status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    ...headers,
  });
  res.end(body);
}

/** `Content-Type: application/x-apple-aspen-mdm; charset=utf-8` → `application/x-apple-aspen-mdm`. */
export function mediaType(header: string | undefined): string {
  if (!header) return '';
  const semi = header.indexOf(';');
  return (semi < 0 ? header : header.slice(0, semi)).trim().toLowerCase();
}
