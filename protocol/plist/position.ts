import { PlistError } from './types';

/**
 * Build a PlistError that points at `offset` in `src`.
 *
 * Line and column are computed only here, on the error path, so the parser never pays for
 * tracking them. Offsets count UTF-16 code units of the decoded text (what a JS string index
 * is); line and column are 1-based, and a tab counts as one column.
 */
export function errorAt(src: string, offset: number, message: string): PlistError {
  const at = Math.max(0, Math.min(offset, src.length));
  let line = 1;
  let lineStart = 0;
  for (let i = src.indexOf('\n'); i !== -1 && i < at; i = src.indexOf('\n', i + 1)) {
    line++;
    lineStart = i + 1;
  }
  return new PlistError(message, at, line, at - lineStart + 1);
}

/** A short, printable excerpt of input for error messages (never the whole body). */
export function snippet(text: string, max = 24): string {
  const cut = text.length > max ? `${text.slice(0, max)}…` : text;
  return JSON.stringify(cut);
}

/** "line 3, column 5" for an offset, for messages that refer back to an earlier spot. */
export function describePosition(src: string, offset: number): string {
  const e = errorAt(src, offset, '');
  return `line ${e.line}, column ${e.column}`;
}
