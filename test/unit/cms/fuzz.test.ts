import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { CmsError, createMdmSigner, findSignerCertificate, parseSignedData, signAttached, verifySignature } from '../../../protocol/cms';
import { tempDirs } from '../../helpers/pki';
import { makeCert } from './identities';

// Whatever arrives in an Mdm-Signature header, parsing either succeeds or throws CmsError;
// nothing else may escape (a TypeError or RangeError would become a 500, not a 400).

const tempDir = tempDirs('mdmsim-cms-fuzz-');
const vectors = JSON.parse(
  fs.readFileSync(path.join(__dirname, '../../../fixtures/captures/nanomdm/cryptoutil_mdm-signature-vectors.json'), 'utf8'),
) as Record<string, string>;
const body = Buffer.from(vectors.mdmSignatureBody2_base64, 'base64');

interface Seed {
  name: string;
  der: Buffer;
  key: crypto.KeyObject;
}
const seeds: Seed[] = [];

beforeAll(() => {
  const dir = tempDir();
  const ec = makeCert(dir, 'fuzz ec', 'ec', 'leaf');
  const rsa = makeCert(dir, 'fuzz rsa', 'rsa', 'leaf');
  const header2 = Buffer.from(vectors.mdmSignatureHeader2, 'base64');
  seeds.push(
    { name: 'NanoMDM header1', der: Buffer.from(vectors.mdmSignatureHeader1, 'base64'), key: rsa.publicKey },
    { name: 'NanoMDM header2', der: header2, key: new crypto.X509Certificate(findSignerCertificate(parseSignedData(header2))!).publicKey },
    { name: 'mdm signer, EC', der: createMdmSigner(ec).signDer(body), key: ec.publicKey },
    { name: 'mdm signer, RSA', der: createMdmSigner(rsa, { digest: 'sha1' }).signDer(body), key: rsa.publicKey },
    { name: 'attached, EC', der: signAttached(body, ec), key: ec.publicKey },
  );
});

type Mutation =
  | { kind: 'set'; at: number; value: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

/** Positions are fractions of the length, so one mutation list fits any seed. */
const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
// Bytes that mean something to a BER reader are favoured: lengths, EOC, tags.
const interestingByte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x80, 0x81, 0x84, 0x85, 0xff, 0x30, 0x31, 0xa0, 0x24, 0x04, 0x06));
const mutation: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('set' as const), at: position, value: interestingByte }),
  fc.record({ kind: fc.constant('truncate' as const), at: position }),
  fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 6 }) }),
  fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(input: Buffer, mutations: Mutation[]): Buffer {
  let out = Buffer.from(input);
  for (const m of mutations) {
    const at = Math.floor(m.at * out.length);
    switch (m.kind) {
      case 'set':
        if (out.length > 0) out[at] = m.value;
        break;
      case 'truncate':
        out = out.subarray(0, at);
        break;
      case 'insert':
        out = Buffer.concat([out.subarray(0, at), Buffer.from(m.bytes), out.subarray(at)]);
        break;
      case 'delete':
        out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
        break;
    }
  }
  return out;
}

/** Runs `fn`; anything thrown must be a CmsError. */
function onlyCmsErrors<T>(fn: () => T): T | undefined {
  try {
    return fn();
  } catch (err) {
    if (!(err instanceof CmsError)) throw err;
    expect(['malformed', 'unsupported-algorithm', 'not-signed-data']).toContain(err.code);
    return undefined;
  }
}

describe('parseSignedData fuzzed with mutations of valid signatures', () => {
  it('throws nothing but CmsError, and verification of what parses answers true or false', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seedIndex, mutations) => {
        const seed = seeds[seedIndex];
        const parsed = onlyCmsErrors(() => parseSignedData(mutate(seed.der, mutations)));
        if (parsed === undefined) return;
        onlyCmsErrors(() => findSignerCertificate(parsed));
        const verified = onlyCmsErrors(() => verifySignature(parsed, parsed.content === undefined ? body : undefined, seed.key));
        if (verified !== undefined) expect(typeof verified).toBe('boolean');
      }),
      { numRuns: Number(process.env.CMS_FUZZ_RUNS ?? 4000) },
    );
  });

  it('throws nothing but CmsError for random bytes', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        onlyCmsErrors(() => parseSignedData(Buffer.from(bytes)));
      }),
      { numRuns: 2000 },
    );
  });

  it('refuses a deeply nested indefinite-length structure without exhausting the stack', () => {
    const deep = Buffer.concat([Buffer.alloc(20000, 0x30).map((_, i) => (i % 2 ? 0x80 : 0x30)), Buffer.alloc(20000)]);
    expect(() => parseSignedData(deep)).toThrow(CmsError);
  });
});
