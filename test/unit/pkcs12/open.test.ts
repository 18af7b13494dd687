import * as crypto from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import fc from 'fast-check';
import { algorithm, explicit, integer, NULL, octetString, oid, sequence, setOf, tlv } from '../../../protocol/asn1/der';
import { OID } from '../../../protocol/asn1/oids';
import { buildPkcs12, openPkcs12, Pkcs12Error, type Pkcs12ErrorCode } from '../../../protocol/pkcs12';
import { bmpPassword } from '../../../protocol/pkcs12/kdf';
import { pkcs12Mac } from '../../../protocol/pkcs12/mac';
import { encryptSha1TripleDes } from '../../../protocol/pkcs12/pbe';
import { openssl, tempDirs } from '../../helpers/pki';

const tempDir = tempDirs('mdmsim-pkcs12-open-');

interface Identity {
  certDer: Buffer;
  privateKey: crypto.KeyObject;
}

function makeIdentity(dir: string, name: string, kind: 'ec' | 'rsa'): Identity {
  const certPath = path.join(dir, `${name}.pem`);
  const keyPath = path.join(dir, `${name}-key.pem`);
  const newKey = kind === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'] : ['-newkey', 'rsa:2048'];
  openssl('req', '-x509', ...newKey, '-nodes', '-subj', `/CN=${name}`, '-days', '1', '-keyout', keyPath, '-out', certPath);
  return { certDer: new crypto.X509Certificate(fs.readFileSync(certPath)).raw, privateKey: crypto.createPrivateKey(fs.readFileSync(keyPath)) };
}

const spki = (key: crypto.KeyObject): Buffer => crypto.createPublicKey(key).export({ type: 'spki', format: 'der' });

let ec: Identity;
let rsa: Identity;
let ca: Identity;
beforeAll(() => {
  const dir = tempDir();
  ec = makeIdentity(dir, 'device-ec', 'ec');
  rsa = makeIdentity(dir, 'device-rsa', 'rsa');
  ca = makeIdentity(dir, 'some-ca', 'ec');
});

function openError(pfx: Buffer, password: string): Pkcs12Error {
  try {
    openPkcs12(pfx, password);
  } catch (e) {
    if (e instanceof Pkcs12Error) return e;
    throw e;
  }
  throw new Error('expected openPkcs12 to throw');
}

function expectOpenError(pfx: Buffer, password: string, code: Pkcs12ErrorCode, message?: RegExp): void {
  const err = openError(pfx, password);
  expect(err.code).toBe(code);
  if (message) expect(err.message).toMatch(message);
}

describe('buildPkcs12 → openPkcs12', () => {
  it.each(['ec', 'rsa'] as const)('round-trips a %s identity with its chain and friendly name', (kind) => {
    const identity = kind === 'ec' ? ec : rsa;
    const pfx = buildPkcs12({ ...identity, chainDer: [ca.certDer] }, { password: 'pw', friendlyName: 'Gerät 😀 Identity' });
    const opened = openPkcs12(pfx, 'pw');
    expect(opened.certDer.equals(identity.certDer)).toBe(true);
    expect(opened.privateKey.type).toBe('private');
    expect(opened.privateKey.asymmetricKeyType).toBe(kind);
    expect(spki(opened.privateKey).equals(spki(identity.privateKey))).toBe(true);
    expect(opened.certificates).toHaveLength(2);
    expect(opened.certificates[0].equals(identity.certDer)).toBe(true);
    expect(opened.certificates[1].equals(ca.certDer)).toBe(true);
    expect(opened.friendlyName).toBe('Gerät 😀 Identity');
  });

  it('leaves friendlyName out when none was given', () => {
    const opened = openPkcs12(buildPkcs12(ec, { password: 'pw' }), 'pw');
    expect(opened).not.toHaveProperty('friendlyName');
    expect(opened.certificates).toHaveLength(1);
  });

  it.each([
    ['an empty password', '', undefined],
    ['a non-ASCII password', 'pässwörd ✓ 😀', undefined],
    ['1 iteration', 'pw', 1],
    ['10 000 iterations', 'pw', 10_000],
  ])('round-trips with %s', (_name, password, iterations) => {
    const opened = openPkcs12(buildPkcs12(ec, { password, iterations }), password);
    expect(opened.certDer.equals(ec.certDer)).toBe(true);
  });

  it('salts each file afresh', () => {
    const a = buildPkcs12(ec, { password: 'pw' });
    const b = buildPkcs12(ec, { password: 'pw' });
    expect(a.equals(b)).toBe(false);
    expect(a.length).toBe(b.length);
  });

  it('says a wrong password does not open the file', () => {
    const pfx = buildPkcs12(ec, { password: 'right' });
    for (const wrong of ['wrong', '', 'right ', 'Right']) expectOpenError(pfx, wrong, 'bad-password', /password does not open this PKCS#12 file/);
  });

  it('refuses a public key and out-of-range iteration counts', () => {
    expect(() => buildPkcs12({ certDer: ec.certDer, privateKey: crypto.createPublicKey(ec.privateKey) }, { password: 'pw' })).toThrow(TypeError);
    for (const iterations of [0, -1, 1.5, 2_000_000]) expect(() => buildPkcs12(ec, { password: 'pw', iterations })).toThrow(RangeError);
  });
});

// Files written by hand, for what buildPkcs12 never writes.

const dataInfo = (content: Buffer): Buffer => sequence(oid(OID.data), explicit(0, octetString(content)));
const bag = (id: string, value: Buffer, attributes?: Buffer): Buffer => sequence(oid(id), explicit(0, value), ...(attributes ? [attributes] : []));
const certBag = (der: Buffer, attributes?: Buffer): Buffer => bag(OID.certBag, sequence(oid(OID.x509Certificate), explicit(0, octetString(der))), attributes);
const keyBag = (key: crypto.KeyObject): Buffer => bag(OID.keyBag, key.export({ type: 'pkcs8', format: 'der' }));
const keyIdAttribute = (id: Buffer): Buffer => setOf(sequence(oid(OID.localKeyId), setOf(octetString(id))));

/** A PFX around AuthenticatedSafe content, MACed with HMAC-SHA1 under `macPassword` (B.1 form unless given raw). */
function pfxAround(authSafe: Buffer, macPassword: string | Buffer, iterations = 1, authSafeEncoding = octetString(authSafe)): Buffer {
  const salt = crypto.randomBytes(8);
  const key = typeof macPassword === 'string' ? bmpPassword(macPassword) : macPassword;
  const mac = pkcs12Mac('sha1', key, salt, iterations, authSafe);
  return sequence(integer(3), sequence(oid(OID.data), explicit(0, authSafeEncoding)), sequence(sequence(algorithm(OID.sha1, NULL), octetString(mac)), octetString(salt), integer(iterations)));
}

describe('openPkcs12 on files other writers make', () => {
  it('pairs key and certificate by public key when there is no localKeyId, and puts the leaf first', () => {
    const safe = sequence(dataInfo(sequence(certBag(ca.certDer), certBag(rsa.certDer), certBag(ec.certDer))), dataInfo(sequence(keyBag(ec.privateKey))));
    const opened = openPkcs12(pfxAround(safe, 'pw'), 'pw');
    expect(opened.certDer.equals(ec.certDer)).toBe(true);
    expect(opened.certificates.map((c) => c.toString('hex'))).toEqual([ec.certDer, ca.certDer, rsa.certDer].map((c) => c.toString('hex')));
  });

  it('prefers localKeyId, and falls back to the public key when no certificate carries the same id', () => {
    const id = Buffer.from('0102', 'hex');
    const matching = sequence(dataInfo(sequence(certBag(rsa.certDer), certBag(ec.certDer, keyIdAttribute(id)))), dataInfo(sequence(bag(OID.keyBag, ec.privateKey.export({ type: 'pkcs8', format: 'der' }), keyIdAttribute(id)))));
    expect(openPkcs12(pfxAround(matching, 'pw'), 'pw').certDer.equals(ec.certDer)).toBe(true);
    const stale = sequence(dataInfo(sequence(certBag(ec.certDer, keyIdAttribute(Buffer.from('ff', 'hex'))))), dataInfo(sequence(bag(OID.keyBag, ec.privateKey.export({ type: 'pkcs8', format: 'der' }), keyIdAttribute(id)))));
    expect(openPkcs12(pfxAround(stale, 'pw'), 'pw').certDer.equals(ec.certDer)).toBe(true);
  });

  it('reads bags nested in a safeContentsBag', () => {
    const nested = bag('1.2.840.113549.1.12.10.1.6', sequence(certBag(ec.certDer), keyBag(ec.privateKey)));
    expect(openPkcs12(pfxAround(sequence(dataInfo(sequence(nested))), 'pw'), 'pw').certDer.equals(ec.certDer)).toBe(true);
  });

  it('reads BER: an indefinite-length, chunked authSafe OCTET STRING', () => {
    const safe = sequence(dataInfo(sequence(certBag(ec.certDer), keyBag(ec.privateKey))));
    const half = safe.length >> 1;
    const chunked = Buffer.concat([Buffer.from([0x24, 0x80]), octetString(safe.subarray(0, half)), octetString(safe.subarray(half)), Buffer.from([0, 0])]);
    expect(openPkcs12(pfxAround(safe, 'pw', 1, chunked), 'pw').certDer.equals(ec.certDer)).toBe(true);
  });

  it('accepts the zero-length reading of an empty password, which some writers use', () => {
    const none = Buffer.alloc(0);
    const pkcs8 = ec.privateKey.export({ type: 'pkcs8', format: 'der' });
    const { algorithm: pbe, ciphertext } = encryptSha1TripleDes(pkcs8, none, crypto.randomBytes(8), 3);
    const safe = sequence(dataInfo(sequence(certBag(ec.certDer), bag(OID.pkcs8ShroudedKeyBag, sequence(pbe, octetString(ciphertext))))));
    const opened = openPkcs12(pfxAround(safe, none), '');
    expect(spki(opened.privateKey).equals(spki(ec.privateKey))).toBe(true);
  });

  it('names the OID of an encryption algorithm it does not support (RC2)', () => {
    const rc2 = '1.2.840.113549.1.12.1.6';
    const encrypted = sequence(integer(0), sequence(oid(OID.data), algorithm(rc2, sequence(octetString(Buffer.alloc(8)), integer(2048))), tlv(0x80, Buffer.alloc(16))));
    const safe = sequence(sequence(oid(OID.encryptedData), explicit(0, encrypted)), dataInfo(sequence(keyBag(ec.privateKey))));
    expectOpenError(pfxAround(safe, 'pw'), 'pw', 'unsupported', /pbeWithSHAAnd40BitRC2-CBC \(1\.2\.840\.113549\.1\.12\.1\.6\)/);
  });

  it('names the OID of a MAC digest it does not support', () => {
    const safe = sequence(dataInfo(sequence(certBag(ec.certDer), keyBag(ec.privateKey))));
    const pfx = sequence(integer(3), dataInfo(safe), sequence(sequence(algorithm('1.2.840.113549.2.5', NULL), octetString(Buffer.alloc(16))), octetString(Buffer.alloc(8))));
    expectOpenError(pfx, 'pw', 'unsupported', /MD5 \(1\.2\.840\.113549\.2\.5\)/);
  });

  it('refuses public-key integrity mode and iteration counts beyond its limit', () => {
    const signed = sequence(integer(3), sequence(oid(OID.signedData), explicit(0, sequence())));
    expectOpenError(signed, 'pw', 'unsupported', /signedData/);
    const safe = sequence(dataInfo(sequence(certBag(ec.certDer), keyBag(ec.privateKey))));
    const pfx = sequence(integer(3), dataInfo(safe), sequence(sequence(algorithm(OID.sha1, NULL), octetString(Buffer.alloc(20))), octetString(Buffer.alloc(8)), integer(50_000_000)));
    expectOpenError(pfx, 'pw', 'unsupported', /iteration count 50000000/);
  });

  it('reports no-identity for a key without its certificate', () => {
    const safe = sequence(dataInfo(sequence(certBag(rsa.certDer), keyBag(ec.privateKey))));
    expectOpenError(pfxAround(safe, 'pw'), 'pw', 'no-identity', /belongs to the private key/);
    expectOpenError(pfxAround(sequence(), 'pw'), 'pw', 'no-identity', /no private key/);
  });

  it('reports anything that is not a PFX as malformed', () => {
    const good = buildPkcs12(ec, { password: 'pw', iterations: 1 });
    const inputs = [
      Buffer.alloc(0),
      Buffer.from('-----BEGIN CERTIFICATE-----\n', 'latin1'),
      crypto.randomBytes(200),
      good.subarray(0, good.length - 1),
      Buffer.concat([good, Buffer.from([0])]),
      sequence(integer(2), dataInfo(sequence())),
      ec.certDer,
    ];
    for (const input of inputs) expectOpenError(input, 'pw', 'malformed');
  });
});

describe('openPkcs12 under fuzzing', () => {
  type Mutation = { kind: 'set'; at: number; value: number } | { kind: 'insert'; at: number; bytes: Uint8Array } | { kind: 'delete'; at: number; count: number } | { kind: 'truncate'; at: number };

  const position = fc.double({ min: 0, max: 1, noNaN: true, maxExcluded: true });
  // Bytes that mean something to a BER reader are favoured: lengths, end-of-contents, tags.
  const byte = fc.oneof(fc.integer({ min: 0, max: 255 }), fc.constantFrom(0x00, 0x01, 0x7f, 0x80, 0x81, 0x84, 0xff, 0x02, 0x04, 0x06, 0x24, 0x30, 0x31, 0xa0));
  const mutation: fc.Arbitrary<Mutation> = fc.oneof(
    fc.record({ kind: fc.constant('set' as const), at: position, value: byte }),
    fc.record({ kind: fc.constant('insert' as const), at: position, bytes: fc.uint8Array({ minLength: 1, maxLength: 4 }) }),
    fc.record({ kind: fc.constant('delete' as const), at: position, count: fc.integer({ min: 1, max: 6 }) }),
    fc.record({ kind: fc.constant('truncate' as const), at: position }),
  );

  function mutate(input: Buffer, mutations: Mutation[]): Buffer {
    let out = Buffer.from(input);
    for (const m of mutations) {
      const at = Math.floor(m.at * out.length);
      if (m.kind === 'set') out[at] = m.value;
      else if (m.kind === 'insert') out = Buffer.concat([out.subarray(0, at), m.bytes, out.subarray(at)]);
      else if (m.kind === 'delete') out = Buffer.concat([out.subarray(0, at), out.subarray(at + m.count)]);
      else out = out.subarray(0, at);
    }
    return out;
  }

  /** Opening either succeeds or throws a Pkcs12Error, nothing else. */
  function onlyPkcs12Errors(pfx: Buffer): void {
    try {
      openPkcs12(pfx, 'pw');
    } catch (e) {
      if (!(e instanceof Pkcs12Error)) throw e;
    }
  }

  it('throws only Pkcs12Error for a mutated PFX', () => {
    const seeds = [buildPkcs12({ ...ec, chainDer: [ca.certDer] }, { password: 'pw', iterations: 3, friendlyName: 'x' }), buildPkcs12(rsa, { password: 'pw', iterations: 1 })];
    fc.assert(
      fc.property(fc.constantFrom(...seeds), fc.array(mutation, { minLength: 1, maxLength: 4 }), (seed, mutations) => onlyPkcs12Errors(mutate(seed, mutations))),
      { numRuns: 400 },
    );
  });

  it('throws only Pkcs12Error for a mutated AuthenticatedSafe under a valid MAC', () => {
    // The MAC stops most mutations at the door; recomputing it sends them into the bag parser,
    // the decryption and the key matching.
    const pkcs8 = ec.privateKey.export({ type: 'pkcs8', format: 'der' });
    const { algorithm: pbe, ciphertext } = encryptSha1TripleDes(pkcs8, bmpPassword('pw'), crypto.randomBytes(8), 2);
    const attributes = setOf(sequence(oid(OID.localKeyId), setOf(octetString(Buffer.from('01', 'hex')))), sequence(oid(OID.friendlyName), setOf(tlv(0x1e, Buffer.from('0041', 'hex')))));
    const safes = [
      sequence(dataInfo(sequence(certBag(ec.certDer, attributes), certBag(ca.certDer))), dataInfo(sequence(bag(OID.pkcs8ShroudedKeyBag, sequence(pbe, octetString(ciphertext)), attributes)))),
      sequence(dataInfo(sequence(certBag(ca.certDer), certBag(ec.certDer), keyBag(ec.privateKey)))),
    ];
    fc.assert(
      fc.property(fc.constantFrom(...safes), fc.array(mutation, { minLength: 1, maxLength: 3 }), (safe, mutations) => onlyPkcs12Errors(pfxAround(mutate(safe, mutations), 'pw'))),
      { numRuns: 400 },
    );
  });
});
