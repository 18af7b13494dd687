export type Pkcs12ErrorCode = 'malformed' | 'bad-password' | 'unsupported' | 'no-identity';

/**
 * Why a PKCS#12 file could not be opened. `code` tells a caller what to do about it: fix the
 * file (malformed), ask again (bad-password), use another tool or algorithm (unsupported), or
 * send a file that pairs a key with its certificate (no-identity).
 */
export class Pkcs12Error extends Error {
  constructor(
    message: string,
    readonly code: Pkcs12ErrorCode,
  ) {
    super(message);
    this.name = 'Pkcs12Error';
  }
}
