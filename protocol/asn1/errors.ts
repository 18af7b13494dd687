/** Malformed or unsupported ASN.1: the message says what was found and where (byte offset). */
export class Asn1Error extends Error {
  constructor(
    message: string,
    /** Byte offset in the input where the problem was found, when reading. */
    readonly offset?: number,
  ) {
    super(offset === undefined ? message : `${message} (at byte ${offset})`);
    this.name = 'Asn1Error';
  }
}
