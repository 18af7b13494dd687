/**
 * How Django REST's LimitOffsetPagination reads `limit` and `offset` (`_positive_int`): Python's
 * `int()` of the text, so surrounding whitespace, a sign and underscores between digits
 * ("1_000") are accepted, and anything else ("10abc", "1e3", "0x10") is not a number at all;
 * a negative one, or zero where `strict`, is refused too. A refused value means the default,
 * never a 400. /devices and Prism share it so that they agree.
 */

// Python's str.strip() whitespace, as int() strips it (ASCII and the Unicode spaces).
const PY_INT = /^[\s\u001c-\u001f]*([+-]?)(\d+(?:_\d+)*)[\s\u001c-\u001f]*$/u;

/** The value `int(text)` has if it is ≥ 0 (> 0 when strict), else undefined. */
export function drfPositiveInt(text: string | undefined, strict = false): number | undefined {
  if (text === undefined) return undefined;
  const m = PY_INT.exec(text);
  if (!m) return undefined;
  const n = Number(m[2]!.replaceAll('_', ''));
  if (!Number.isSafeInteger(n)) return undefined;
  const value = m[1] === '-' ? -n : n;
  if (value < 0 || (strict && value === 0)) return undefined;
  // "-0" is 0, not -0.
  return value === 0 ? 0 : value;
}
