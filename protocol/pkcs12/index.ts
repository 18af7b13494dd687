/**
 * PKCS#12 for enrollment profiles' com.apple.security.pkcs12 payloads: the server builds one
 * per profile download (buildPkcs12), a simulated Mac opens it (openPkcs12), which also reads
 * what `openssl pkcs12 -export` 3.x writes.
 *
 * At 2048 iterations a build takes under a millisecond once V8 has optimised the SHA-1 loop
 * (sha1.ts); the very first one in a process runs it unoptimised and takes tens of
 * milliseconds, so a server that cares can build a throwaway PKCS#12 at startup.
 */
export { buildPkcs12, DEFAULT_ITERATIONS, type BuildPkcs12Options, type Pkcs12Identity } from './build';
export { openPkcs12, type OpenedPkcs12 } from './open';
export { Pkcs12Error, type Pkcs12ErrorCode } from './errors';
export { MAX_ITERATIONS } from './pbe';
