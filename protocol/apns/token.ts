/**
 * Device tokens of the mock's courier. A real token is minted by APNs for one device and one
 * topic; here it is derived from a secret only the device knows, so that the courier can check
 * that whoever subscribes a token owns it, statelessly, across reconnects and restarts, and a
 * simulated Mac's token is deterministic from its seed.
 *
 *   token = SHA-256("mdmsim-apns-token" 0x00 topic 0x00 secret), as 64 lower-case hex characters
 */
import { createHash } from 'node:crypto';

export const TOKEN_BYTES = 32;
export const MIN_SECRET_BYTES = 16;
export const MAX_SECRET_BYTES = 64;
const LABEL = Buffer.from('mdmsim-apns-token\0');
const NUL = Buffer.from([0]);

export function deviceTokenFor(topic: string, secret: Buffer): string {
  if (secret.length < MIN_SECRET_BYTES || secret.length > MAX_SECRET_BYTES) {
    throw new RangeError(`a device secret is ${MIN_SECRET_BYTES}–${MAX_SECRET_BYTES} bytes; got ${secret.length}`);
  }
  return createHash('sha256').update(LABEL).update(topic).update(NUL).update(secret).digest('hex');
}
