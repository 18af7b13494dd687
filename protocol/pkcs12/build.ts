/**
 * Writes a PFX in the shape macOS has always imported and openssl 3 reads without -legacy:
 *
 *   PFX v3, authSafe = data(AuthenticatedSafe {
 *     data(SafeContents { certBag leaf (localKeyId, friendlyName), certBag chain… }),
 *     data(SafeContents { pkcs8ShroudedKeyBag (pbeWithSHAAnd3-KeyTripleDES-CBC) (localKeyId, friendlyName) }),
 *   }), MacData HMAC-SHA1.
 *
 * The certificates are not encrypted (nothing secret in them, and it saves a fifth and sixth
 * KDF chain); the key is. The same iteration count serves the key and the MAC.
 */
import { createHash, randomBytes, type KeyObject } from 'node:crypto';
import { algorithm, bmpString, explicit, integer, NULL, octetString, oid, sequence, setOf } from '../asn1/der';
import { pkcs8Der } from '../asn1/keys';
import { OID } from '../asn1/oids';
import { bmpPassword } from './kdf';
import { pkcs12Mac } from './mac';
import { encryptSha1TripleDes, MAX_ITERATIONS } from './pbe';

export interface Pkcs12Identity {
  certDer: Buffer;
  privateKey: KeyObject;
  /** CA/intermediate certs to include after the leaf */
  chainDer?: Buffer[];
}

export interface BuildPkcs12Options {
  password: string;
  /** default 2048, like openssl */
  iterations?: number;
  friendlyName?: string;
}

export const DEFAULT_ITERATIONS = 2048;

/** A DER PFX holding `identity`, its key encrypted and the whole MACed under `options.password`. */
export function buildPkcs12(identity: Pkcs12Identity, options: BuildPkcs12Options): Buffer {
  const { certDer, privateKey, chainDer = [] } = identity;
  if (privateKey?.type !== 'private') throw new TypeError(`buildPkcs12: privateKey must be a private KeyObject, got ${privateKey?.type ?? typeof privateKey}`);
  if (typeof options.password !== 'string') throw new TypeError('buildPkcs12: password must be a string');
  const iterations = options.iterations ?? DEFAULT_ITERATIONS;
  if (!Number.isSafeInteger(iterations) || iterations < 1 || iterations > MAX_ITERATIONS) {
    throw new RangeError(`buildPkcs12: iterations must be an integer from 1 to ${MAX_ITERATIONS}, got ${iterations}`);
  }

  const password = bmpPassword(options.password);
  const salts = randomBytes(16);
  const keySalt = salts.subarray(0, 8);
  const macSalt = salts.subarray(8);
  // localKeyId ties the key to its certificate; SHA-1 of the certificate is what openssl and
  // the macOS keychain export use.
  const attributes = bagAttributes(createHash('sha1').update(certDer).digest(), options.friendlyName);

  const certs = sequence(certBag(certDer, attributes), ...chainDer.map((der) => certBag(der)));
  const { algorithm: pbe, ciphertext } = encryptSha1TripleDes(pkcs8Der(privateKey), password, keySalt, iterations);
  const keys = sequence(safeBag(OID.pkcs8ShroudedKeyBag, sequence(pbe, octetString(ciphertext)), attributes));
  const authSafe = sequence(dataContentInfo(certs), dataContentInfo(keys));

  const mac = pkcs12Mac('sha1', password, macSalt, iterations, authSafe);
  const macData = sequence(
    sequence(algorithm(OID.sha1, NULL), octetString(mac)),
    octetString(macSalt),
    // iterations is DEFAULT 1, which DER leaves out.
    ...(iterations === 1 ? [] : [integer(iterations)]),
  );
  return sequence(integer(3), dataContentInfo(authSafe), macData);
}

/** ContentInfo { data, [0] EXPLICIT OCTET STRING }. */
function dataContentInfo(content: Buffer): Buffer {
  return sequence(oid(OID.data), explicit(0, octetString(content)));
}

/** SafeBag { bagId, [0] EXPLICIT bagValue, bagAttributes OPTIONAL }. */
function safeBag(bagId: string, value: Buffer, attributes?: Buffer): Buffer {
  const bag = [oid(bagId), explicit(0, value)];
  if (attributes !== undefined) bag.push(attributes);
  return sequence(...bag);
}

function certBag(der: Buffer, attributes?: Buffer): Buffer {
  return safeBag(OID.certBag, sequence(oid(OID.x509Certificate), explicit(0, octetString(der))), attributes);
}

/** The bag attributes SET: localKeyId, and friendlyName when there is one. */
function bagAttributes(localKeyId: Buffer, friendlyName: string | undefined): Buffer {
  const attributes = [sequence(oid(OID.localKeyId), setOf(octetString(localKeyId)))];
  if (friendlyName !== undefined) attributes.push(sequence(oid(OID.friendlyName), setOf(bmpString(friendlyName))));
  return setOf(...attributes);
}
