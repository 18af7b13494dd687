/**
 * The values a property list can hold, as mdmsim represents them in memory.
 *
 * - `<integer>` → number (bigint when it does not fit in a double exactly)
 * - `<real>` → number (a number with a fractional part is written back as `<real>`)
 * - `<data>` → Buffer, `<date>` → Date, `<dict>` → plain object, `<array>` → array
 */
export type PlistValue =
  | string
  | number
  | bigint
  | boolean
  | Date
  | Buffer
  | PlistValue[]
  | PlistDict;

export interface PlistDict {
  [key: string]: PlistValue;
}

/** A plist that could not be read: where it went wrong and why. */
export class PlistError extends Error {
  constructor(
    message: string,
    /** Byte/character offset into the input, when known. */
    readonly offset?: number,
    readonly line?: number,
    readonly column?: number,
  ) {
    super(line !== undefined ? `${message} (line ${line}, column ${column})` : message);
    this.name = 'PlistError';
  }
}

export function isPlistDict(v: PlistValue | undefined): v is PlistDict {
  return (
    typeof v === 'object' &&
    v !== null &&
    !Array.isArray(v) &&
    !(v instanceof Date) &&
    !Buffer.isBuffer(v)
  );
}
