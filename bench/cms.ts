/**
 * CMS benchmark: the Mdm-Signature a device signs on every request and the server checks on
 * every request, against the bare node:crypto operation inside it.
 *
 *   npx tsc -p tsconfig.build.json && node dist/bench/cms.js
 *
 * For an RSA 2048 and an EC P-256 identity (made with the openssl binary) and a 1 KiB body:
 * createMdmSigner().sign() vs crypto.sign, and parseSignedData + verifySignature (public key
 * already a KeyObject, as a server caches it) vs crypto.verify. Target: parse + verify costs
 * at most 1.3× a bare verify. Figures are the best of several interleaved rounds.
 */
import { execFileSync } from 'node:child_process';
import * as crypto from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createMdmSigner, parseSignedData, verifySignature, type SignerIdentity } from '../protocol/cms';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 7);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 200);

/** A self-signed identity from the openssl binary, so the bench needs nothing of mdmsim's PKI. */
function identity(dir: string, alg: 'rsa' | 'ec'): SignerIdentity & { publicKey: crypto.KeyObject } {
  const keyPath = join(dir, `${alg}.key`);
  const certPath = join(dir, `${alg}.pem`);
  const keyArgs = alg === 'rsa' ? ['-algorithm', 'RSA', '-pkeyopt', 'rsa_keygen_bits:2048'] : ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  execFileSync('openssl', ['genpkey', ...keyArgs, '-out', keyPath], { stdio: 'ignore' });
  execFileSync('openssl', ['req', '-x509', '-new', '-key', keyPath, '-subj', `/O=mdmsim bench/CN=${alg} device`, '-days', '1', '-out', certPath], { stdio: 'ignore' });
  const cert = new crypto.X509Certificate(readFileSync(certPath));
  return { certDer: cert.raw, privateKey: crypto.createPrivateKey(readFileSync(keyPath)), publicKey: cert.publicKey };
}

/** Operations per second of `fn` over one round. */
function round(fn: () => unknown): number {
  const budget = BigInt(ROUND_MS) * 1_000_000n;
  const start = process.hrtime.bigint();
  let ops = 0;
  let elapsed = 0n;
  while (elapsed < budget) {
    for (let i = 0; i < 20; i++) fn();
    ops += 20;
    elapsed = process.hrtime.bigint() - start;
  }
  return ops / (Number(elapsed) / 1e9);
}

/**
 * Best ops/s of each function, rounds interleaved so that both see the same machine load.
 * The best round is the one least disturbed by GC and neighbours.
 */
function compare(ours: () => unknown, bare: () => unknown): { ours: number; bare: number } {
  round(ours);
  round(bare);
  let best = { ours: 0, bare: 0 };
  for (let r = 0; r < ROUNDS; r++) best = { ours: Math.max(best.ours, round(ours)), bare: Math.max(best.bare, round(bare)) };
  return best;
}

function report(label: string, result: { ours: number; bare: number }, bareLabel: string): void {
  const perSecond = (n: number) => `${Math.round(n).toLocaleString('en-US').padStart(9)}/s (${(1e6 / n).toFixed(1).padStart(7)} µs)`;
  console.log(`  ${label.padEnd(26)} ${perSecond(result.ours)}   ${bareLabel.padEnd(14)} ${perSecond(result.bare)}   cost ×${(result.bare / result.ours).toFixed(3)}`);
}

function main(): void {
  const dir = mkdtempSync(join(tmpdir(), 'mdmsim-bench-cms-'));
  try {
    const body = crypto.randomBytes(1024);
    for (const [name, alg] of [
      ['RSA 2048', 'rsa'],
      ['EC P-256', 'ec'],
    ] as const) {
      const id = identity(dir, alg);
      const signer = createMdmSigner(id);
      const der = signer.signDer(body);
      const header = der.toString('base64');
      const bareSignature = crypto.sign('sha256', body, id.privateKey);
      console.log(`${name}, 1 KiB body, SHA-256, Mdm-Signature ${der.length} bytes`);
      report('createMdmSigner().sign()', compare(() => signer.sign(body), () => crypto.sign('sha256', body, id.privateKey)), 'crypto.sign');
      report('parse + verifySignature', compare(() => verifySignature(parseSignedData(der), body, id.publicKey), () => crypto.verify('sha256', body, id.publicKey, bareSignature)), 'crypto.verify');
      report('  …from the base64 header', compare(() => verifySignature(parseSignedData(Buffer.from(header, 'base64')), body, id.publicKey), () => crypto.verify('sha256', body, id.publicKey, bareSignature)), 'crypto.verify');
      const parseOnly = compare(() => parseSignedData(der), () => undefined);
      console.log(`  parseSignedData alone      ${(1e6 / parseOnly.ours).toFixed(2)} µs`);
    }
    const vectors = JSON.parse(readFileSync(join(__dirname, '..', '..', 'fixtures/captures/nanomdm/cryptoutil_mdm-signature-vectors.json'), 'utf8')) as Record<string, string>;
    const mac = Buffer.from(vectors.mdmSignatureHeader2, 'base64');
    const macParse = compare(() => parseSignedData(mac), () => undefined);
    console.log(`NanoMDM vector (BER, indefinite lengths, ${mac.length} bytes): parseSignedData ${(1e6 / macParse.ours).toFixed(2)} µs`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

main();
