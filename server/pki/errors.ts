/**
 * A problem with mdmsim's certificate files that the user has to resolve: the message names the
 * file, what was wrong with it and what to do about it.
 */
export class PkiError extends Error {
  constructor(
    message: string,
    /** The file the problem is about. */
    readonly file: string,
  ) {
    super(message);
    this.name = 'PkiError';
  }
}

export { messageOf } from '../data-dir';
