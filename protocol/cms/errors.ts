/**
 * Why a CMS structure was refused. The code lets a server answer differently to garbage
 * ('malformed'), to a signature it cannot check ('unsupported-algorithm') and to some other
 * kind of CMS message ('not-signed-data'); the message says what was expected and where.
 */
export type CmsErrorCode = 'malformed' | 'unsupported-algorithm' | 'not-signed-data';

export class CmsError extends Error {
  constructor(
    message: string,
    readonly code: CmsErrorCode,
  ) {
    super(message);
    this.name = 'CmsError';
  }
}
