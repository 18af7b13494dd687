/**
 * npm run bench:enroll
 *
 * Enrollment and request authentication, each next to the bare node:crypto cost of the same
 * work, measured in the same run:
 *
 * - Profiles: EnrollmentService.issueProfile (a fresh device identity, its PKCS#12, the
 *   profile plist, the CMS signature), one at a time, for RSA 2048 and EC P-256 identities,
 *   against one key generation of that type done as the service does it (async
 *   generateKeyPair for RSA, generateKeyPairSync for EC) plus one CA signature of an identity
 *   certificate's TBS. Target: a profile costs at most 10× that.
 * - Mdm-Signature verifications: MdmSignatureVerifier.verify(header, body) with its cache warm,
 *   over a pool of 1,000 certificates used round robin and ~1 KiB Acknowledged bodies, against
 *   crypto.verify of the same signatures over the same bodies with the same key type. Target:
 *   a verification costs at most 1.5× the bare verify. The first-sight (cold cache) cost is
 *   reported for information.
 *
 * Measured and baseline run in interleaved rounds so that both see the same machine load.
 * EC profiles and verifications: the median of the rounds. RSA profiles: the mean over many
 * (one RSA key generation varies several-fold with the prime search), rounds interleaved too.
 * Exits non-zero when a target is missed.
 */
import * as crypto from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { childrenOf, readRoot } from '../protocol/asn1';
import { VirtualClock } from '../protocol/clock';
import { createMdmSigner, parseSignedData } from '../protocol/cms';
import { buildPlistBuffer } from '../protocol/plist';
import { MdmSignatureVerifier } from '../server/auth/mdm-signature';
import { EnrollmentService } from '../server/enroll/enrollment-service';
import { issueDeviceIdentity, issueProfileSigner, KeyPool, loadOrCreateCa, loadOrCreatePushCert, type Ca, type DeviceIdentity, type IdentityKeyType } from '../server/pki';
import { EventLog } from '../server/service/event-log';
import { MemoryStorage } from '../server/storage/memory';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 8);
const ROUND_MS = Number(process.env.BENCH_ROUND_MS ?? 250);
/** RSA profiles (and as many baselines), in rounds of RSA_BATCH. */
const RSA_PROFILES = Number(process.env.BENCH_RSA_PROFILES ?? 40);
const RSA_BATCH = 5;
const POOL = Number(process.env.BENCH_POOL ?? 1000);
/** The RSA pool's certificates (one per identity) share this many keys: 1,000 RSA key generations would take minutes. */
const RSA_POOL_KEYS = 32;
const PROFILE_TARGET = 10;
const VERIFY_TARGET = 1.5;
const BASE_URL = 'https://mdm.example.test:8443';
const KEY_NAMES: Record<IdentityKeyType, string> = { rsa: 'RSA 2048', ec: 'EC P-256' };

const generateKeyPair = promisify(crypto.generateKeyPair);

interface Comparison {
  /** Seconds per operation. */
  measured: number;
  baseline: number;
  /** How the figures were reduced, for the report. */
  how: string;
}

let failed = false;

// ---------------------------------------------------------------------------------------------
// Timing

const now = () => Number(process.hrtime.bigint()) / 1e9;

/** Seconds per call of `fn` over one round of about ROUND_MS. */
function round(fn: () => unknown): number {
  const start = now();
  let ops = 0;
  let elapsed = 0;
  while (elapsed * 1000 < ROUND_MS) {
    for (let i = 0; i < 10; i++) fn();
    ops += 10;
    elapsed = now() - start;
  }
  return elapsed / ops;
}

async function roundAsync(fn: () => Promise<unknown>): Promise<number> {
  const start = now();
  let ops = 0;
  let elapsed = 0;
  while (elapsed * 1000 < ROUND_MS) {
    await fn();
    ops++;
    elapsed = now() - start;
  }
  return elapsed / ops;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** Interleaved rounds, the first of each discarded as warm-up; median seconds per call. */
async function compareRounds(measured: () => unknown, baseline: () => unknown): Promise<Comparison> {
  const ours: number[] = [];
  const bare: number[] = [];
  for (let r = -1; r < ROUNDS; r++) {
    // Alternate which goes first, so neither always runs just after the other's garbage.
    let m: number;
    let b: number;
    if (r % 2 === 0) {
      m = await time(measured);
      b = await time(baseline);
    } else {
      b = await time(baseline);
      m = await time(measured);
    }
    if (r >= 0) {
      ours.push(m);
      bare.push(b);
    }
  }
  return { measured: median(ours), baseline: median(bare), how: `median of ${ROUNDS} interleaved rounds of ${ROUND_MS} ms` };
}

/** A synchronous function is timed in a tight loop; one returning a promise, awaited one at a time. */
async function time(fn: () => unknown): Promise<number> {
  const first = fn();
  if (first instanceof Promise) {
    await first;
    return roundAsync(fn as () => Promise<unknown>);
  }
  return round(fn);
}

// ---------------------------------------------------------------------------------------------
// Profiles

async function profiles(ca: Ca, service: EnrollmentService, sampleTbs: Record<IdentityKeyType, Buffer>): Promise<void> {
  const issue = (keyType: IdentityKeyType) => () => service.issueProfile(BASE_URL, keyType);
  // The baseline: the key generation the service does, plus the CA's signature on a TBS of
  // the size an identity certificate has.
  const baselineEc = () => {
    crypto.generateKeyPairSync('ec', { namedCurve: 'P-256' });
    return crypto.sign('sha256', sampleTbs.ec, ca.key);
  };
  const baselineRsa = async () => {
    await generateKeyPair('rsa', { modulusLength: 2048 });
    return crypto.sign('sha256', sampleTbs.rsa, ca.key);
  };

  console.log('enrollment profiles: EnrollmentService.issueProfile (identity, PKCS#12, profile plist, CMS signature), one at a time');
  const ec = await compareRounds(issue('ec'), baselineEc);
  console.log(`EC P-256 identity (${ec.how})`);
  report(ec, 'ms', PROFILE_TARGET, { what: 'generateKeyPairSync(ec P-256) + CA signature (RSA 2048, SHA-256)', unit: 'ops' }, { what: "issueProfile(baseUrl, 'ec')", unit: 'profiles' });

  // RSA: the time of one key generation varies several-fold with the prime search, so the
  // figure is the mean of many, in alternating batches.
  await issue('rsa')();
  await baselineRsa();
  const ours: number[] = [];
  const bare: number[] = [];
  const batch = async (fn: () => Promise<unknown>, into: number[]) => {
    for (let i = 0; i < RSA_BATCH; i++) {
      const t = now();
      await fn();
      into.push(now() - t);
    }
  };
  for (let b = 0; ours.length < RSA_PROFILES; b++) {
    if (b % 2 === 0) {
      await batch(issue('rsa'), ours);
      await batch(baselineRsa, bare);
    } else {
      await batch(baselineRsa, bare);
      await batch(issue('rsa'), ours);
    }
  }
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
  // The standard error of a mean: how far the prime search alone can move these figures.
  const stderr = (xs: number[]) => Math.sqrt(xs.reduce((a, x) => a + (x - mean(xs)) ** 2, 0) / (xs.length - 1) / xs.length);
  console.log(`RSA 2048 identity (mean of ${ours.length} each, in interleaved batches of ${RSA_BATCH})`);
  report({ measured: mean(ours), baseline: mean(bare), how: 'mean' }, 'ms', PROFILE_TARGET, { what: 'async generateKeyPair(rsa 2048) + CA signature (RSA 2048, SHA-256)', unit: 'ops' }, { what: "issueProfile(baseUrl, 'rsa')", unit: 'profiles' });
  console.log(`  (standard error of each mean, from the spread of RSA key generation: ±${(stderr(bare) * 1e3).toFixed(1)} ms, ±${(stderr(ours) * 1e3).toFixed(1)} ms)`);
}

// ---------------------------------------------------------------------------------------------
// Verifications

interface SignedRequest {
  header: string;
  body: Buffer;
  /** What a bare verify needs: the certificate's key and the raw signature inside the CMS. */
  publicKey: crypto.KeyObject;
  signature: Buffer;
  certSha256: string;
}

/** An Acknowledged DeviceInformation report, about 1 KiB, as a Mac sends it. */
function acknowledged(i: number): Buffer {
  const mac = (n: number) => Array.from({ length: 6 }, (_, k) => ((n * 7 + k * 31) & 0xff).toString(16).padStart(2, '0')).join(':');
  return buildPlistBuffer({
    UDID: crypto.randomUUID().toUpperCase(),
    CommandUUID: crypto.randomUUID().toUpperCase(),
    Status: 'Acknowledged',
    QueryResponses: {
      DeviceName: `Employee ${i}'s MacBook Pro`,
      OSVersion: '14.4.1',
      BuildVersion: '23E224',
      ModelName: 'MacBook Pro',
      Model: 'MacBookPro18,3',
      ProductName: 'MacBookPro18,3',
      SerialNumber: `C02${String(i).padStart(9, '0')}`,
      DeviceCapacity: 494.38,
      AvailableDeviceCapacity: 212.7,
      WiFiMAC: mac(i),
      BluetoothMAC: mac(i + 1),
      IsSupervised: true,
      IsActivationLockEnabled: false,
    },
  });
}

/** Device identities from issueDeviceIdentity; for RSA, over a pool of a few keys (see RSA_POOL_KEYS). */
async function identityPool(ca: Ca, keyType: IdentityKeyType, count: number): Promise<DeviceIdentity[]> {
  const issuedAt = Date.now();
  let keyPool: KeyPool | undefined;
  if (keyType === 'rsa') {
    keyPool = new KeyPool('rsa', Math.min(count, RSA_POOL_KEYS));
    // Filled in parallel: each take() while the pool is short generates a key on the thread pool.
    await Promise.all(Array.from({ length: keyPool.size }, () => keyPool!.take()));
  }
  const identities: DeviceIdentity[] = [];
  for (let i = 0; i < count; i++) identities.push(await issueDeviceIdentity(ca, { keyType, now: issuedAt, keyPool }));
  return identities;
}

async function signedRequests(ca: Ca, keyType: IdentityKeyType): Promise<SignedRequest[]> {
  const identities = await identityPool(ca, keyType, POOL);
  return identities.map((identity, i) => {
    const body = acknowledged(i);
    const der = createMdmSigner(identity).signDer(body);
    return {
      header: der.toString('base64'),
      body,
      publicKey: new crypto.X509Certificate(identity.certDer).publicKey,
      signature: Buffer.from(parseSignedData(der).signer.signature),
      certSha256: identity.sha256,
    };
  });
}

async function verifications(ca: Ca, clock: VirtualClock): Promise<void> {
  console.log('');
  console.log(`Mdm-Signature verifications: MdmSignatureVerifier.verify(header, body), ${POOL.toLocaleString('en-US')} device certificates used round robin`);
  for (const keyType of ['rsa', 'ec'] as const) {
    const pool = await signedRequests(ca, keyType);
    const bodyBytes = pool.reduce((n, r) => n + r.body.length, 0) / pool.length;
    const headerChars = pool.reduce((n, r) => n + r.header.length, 0) / pool.length;

    let verifier = new MdmSignatureVerifier({ caCertDer: ca.certDer, clock });
    let i = 0;
    let j = 0;
    const measured = () => {
      const r = pool[i++ % pool.length]!;
      return verifier.verify(r.header, r.body);
    };
    const baseline = () => {
      const r = pool[j++ % pool.length]!;
      return crypto.verify('sha256', r.body, r.publicKey, r.signature);
    };
    // First sight of each certificate (cold cache), and a check that every request verifies.
    const cold: number[] = [];
    const bareOnce: number[] = [];
    for (let c = 0; c < 3; c++) {
      verifier = new MdmSignatureVerifier({ caCertDer: ca.certDer, clock });
      let t = now();
      for (const r of pool) {
        if (verifier.verify(r.header, r.body).sha256 !== r.certSha256) throw new Error('verified the wrong signer');
      }
      cold.push((now() - t) / pool.length);
      t = now();
      for (const r of pool) if (!crypto.verify('sha256', r.body, r.publicKey, r.signature)) throw new Error('bare verify failed');
      bareOnce.push((now() - t) / pool.length);
    }
    const warm = await compareRounds(measured, baseline);
    console.log(`${KEY_NAMES[keyType]}, SHA-256, ~${Math.round(bodyBytes).toLocaleString('en-US')}-byte Acknowledged bodies, ${Math.round(headerChars).toLocaleString('en-US')}-char Mdm-Signature headers`);
    console.log(`  cache warm (${warm.how})`);
    report(warm, 'µs', VERIFY_TARGET, { what: `crypto.verify('sha256', body, ${keyType === 'rsa' ? 'RSA' : 'EC'} KeyObject, raw signature)`, unit: 'ops' }, { what: 'MdmSignatureVerifier.verify(header, body)', unit: 'verifications' });
    const coldCost = median(cold);
    console.log(`  first sight of a certificate (cold cache, for information): ${(coldCost * 1e6).toFixed(1)} µs, ${(coldCost / median(bareOnce)).toFixed(2)}× a bare verify`);
  }
}

// ---------------------------------------------------------------------------------------------
// Report

interface Line {
  what: string;
  unit: string;
}

function report(c: Comparison, scale: 'ms' | 'µs', target: number, baseline: Line, measured: Line): void {
  const perSecond = (s: number) => (1 / s).toLocaleString('en-US', { maximumFractionDigits: 1 / s < 100 ? 1 : 0, minimumFractionDigits: 1 / s < 100 ? 1 : 0 });
  const each = (s: number) => (scale === 'ms' ? `${(s * 1e3).toFixed(2)} ms` : `${(s * 1e6).toFixed(1)} µs`);
  const ratio = c.measured / c.baseline;
  const ok = ratio <= target;
  if (!ok) failed = true;
  const width = 68;
  console.log(`  baseline  ${baseline.what.padEnd(width)}: ${perSecond(c.baseline).padStart(7)} ${baseline.unit}/s (${each(c.baseline)})`);
  console.log(`  measured  ${measured.what.padEnd(width)}: ${perSecond(c.measured).padStart(7)} ${measured.unit}/s (${each(c.measured)})`);
  console.log(`  ratio     ${'measured / baseline'.padEnd(width)}: ${ratio.toFixed(2)}× the baseline's cost (target ≤ ${target}×) ${ok ? 'PASS' : 'FAIL'}`);
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'mdmsim-bench-enroll-'));
  try {
    const ca = await loadOrCreateCa(dir);
    const push = await loadOrCreatePushCert(dir, ca);
    const clock = new VirtualClock();
    const store = new MemoryStorage();
    const service = new EnrollmentService({ ca, signer: issueProfileSigner(ca), topic: push.topic, clock, events: new EventLog(store, clock) });
    // The TBS of a real identity certificate of each type: what the baseline's CA signature signs.
    const sampleTbs = {} as Record<IdentityKeyType, Buffer>;
    for (const keyType of ['rsa', 'ec'] as const) {
      const { certDer } = await issueDeviceIdentity(ca, { keyType, now: clock.now() });
      const tbs = childrenOf(readRoot(certDer))[0]!;
      sampleTbs[keyType] = Buffer.from(certDer.subarray(tbs.start, tbs.end));
    }
    await profiles(ca, service, sampleTbs);
    await verifications(ca, clock);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
