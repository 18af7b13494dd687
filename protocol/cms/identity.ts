/**
 * Checks a signing identity once, before anything is signed with it, and turns it into the
 * DER pieces every SignedData it signs will carry. A key that does not belong to the
 * certificate would produce signatures no one can verify, so that fails here, loudly.
 */
import * as crypto from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { implicitConstructed, sequence } from '../asn1/der';
import type { KeyType } from './algorithms';
import { certificateFields } from './certificate';

export interface SignerIdentity {
  certDer: Buffer;
  privateKey: KeyObject;
  /** Extra certificates (intermediates) to include. */
  chainDer?: Buffer[];
}

export interface PreparedIdentity {
  keyType: KeyType;
  privateKey: KeyObject;
  /** DER of the IssuerAndSerialNumber naming the certificate. */
  sid: Buffer;
  /** DER of the SignedData's [0] IMPLICIT CertificateSet: the leaf, then the chain. */
  certificates: Buffer;
  /** For RSA, every signature is exactly the modulus long. */
  rsaSignatureLength?: number;
}

/**
 * Prepared identities by key: a server signs every profile with the same identity, and the
 * checks below (a certificate parse, a key comparison) cost more than the signature itself.
 */
const prepared = new WeakMap<KeyObject, { certDer: Buffer; chainDer: Buffer[]; identity: PreparedIdentity }>();

export function prepareIdentity(identity: SignerIdentity, where: string): PreparedIdentity {
  const { certDer, privateKey, chainDer = [] } = identity;
  const known = privateKey && typeof privateKey === 'object' ? prepared.get(privateKey) : undefined;
  if (known && known.certDer.equals(certDer) && known.chainDer.length === chainDer.length && known.chainDer.every((c, i) => c.equals(chainDer[i]))) {
    return known.identity;
  }
  const fresh = prepareUncached(identity, where);
  prepared.set(privateKey, { certDer: Buffer.from(certDer), chainDer: chainDer.map((c) => Buffer.from(c)), identity: fresh });
  return fresh;
}

function prepareUncached(identity: SignerIdentity, where: string): PreparedIdentity {
  const { certDer, privateKey, chainDer = [] } = identity;
  if (privateKey?.type !== 'private') {
    throw new Error(`${where}: expected identity.privateKey to be a private KeyObject, got ${privateKey?.type ?? typeof privateKey}`);
  }
  const keyType: KeyType | undefined = privateKey.asymmetricKeyType === 'rsa' ? 'rsa' : privateKey.asymmetricKeyType === 'ec' ? 'ecdsa' : undefined;
  if (keyType === undefined) {
    throw new Error(`${where}: expected an RSA or EC private key, got a ${privateKey.asymmetricKeyType ?? 'unknown'} key`);
  }
  let cert: crypto.X509Certificate;
  try {
    cert = new crypto.X509Certificate(certDer);
  } catch (err) {
    throw new Error(`${where}: identity.certDer is not an X.509 certificate: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!cert.checkPrivateKey(privateKey)) {
    throw new Error(`${where}: the private key does not match the certificate's public key (certificate subject ${JSON.stringify(cert.subject)})`);
  }
  const { issuer, serialDer } = certificateFields(certDer);
  const result: PreparedIdentity = {
    keyType,
    privateKey,
    sid: sequence(issuer, serialDer),
    certificates: implicitConstructed(0, certDer, ...chainDer),
  };
  if (keyType === 'rsa') {
    const bits = privateKey.asymmetricKeyDetails?.modulusLength;
    if (bits !== undefined) result.rsaSignatureLength = Math.ceil(bits / 8);
  }
  return result;
}
