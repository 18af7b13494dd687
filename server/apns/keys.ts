/**
 * Token-auth signing keys the mock trusts: what a developer account's "Keys" page holds. A key
 * is registered with its public half (or generated here, handing back the .p8 once), its team
 * id, and optionally the topics it may push to (others answer TopicDisallowed).
 */
import { createPrivateKey, createPublicKey, generateKeyPairSync, randomInt, type KeyObject } from 'node:crypto';
import { problem } from '../../protocol/problem';

export interface ProviderKey {
  keyId: string;
  teamId: string;
  publicKey: KeyObject;
  /** Topics this key may push to; undefined = any. */
  topics?: string[];
}

export interface ProviderKeyInput {
  teamId: string;
  /** Default: a new 10-character id, as Apple's. */
  keyId?: string;
  /** PEM: an EC P-256 public key, or the .p8 private key itself. Absent: a key pair is generated. */
  key?: string;
  topics?: string[];
}

export interface ProviderKeyJson {
  keyId: string;
  teamId: string;
  topics?: string[];
  publicKey: string;
}

const ID = /^[A-Za-z0-9]{1,64}$/;
const KEY_ID_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';

export class ProviderKeys {
  private readonly keys = new Map<string, ProviderKey>();

  /** Registers a key; `privateKey` (.p8 PEM) is returned only when the key was generated here. */
  add(input: unknown): { key: ProviderKey; privateKey?: string } {
    const i = readInput(input);
    const keyId = i.keyId ?? newKeyId();
    let publicKey: KeyObject;
    let privateKey: string | undefined;
    if (i.key === undefined) {
      const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
      publicKey = pair.publicKey;
      privateKey = pair.privateKey.export({ type: 'pkcs8', format: 'pem' }) as string;
    } else {
      publicKey = readPublicKey(i.key);
    }
    const key: ProviderKey = { keyId, teamId: i.teamId, publicKey, topics: i.topics };
    this.keys.set(keyId, key);
    return privateKey === undefined ? { key } : { key, privateKey };
  }

  get(keyId: string): ProviderKey | undefined {
    return this.keys.get(keyId);
  }

  remove(keyId: string): boolean {
    return this.keys.delete(keyId);
  }

  list(): ProviderKey[] {
    return [...this.keys.values()];
  }
}

export function keyJson(k: ProviderKey): ProviderKeyJson {
  const json: ProviderKeyJson = { keyId: k.keyId, teamId: k.teamId, publicKey: k.publicKey.export({ type: 'spki', format: 'pem' }) as string };
  if (k.topics) json.topics = k.topics;
  return json;
}

function readInput(input: unknown): ProviderKeyInput {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw problem(400, 'bad-key', 'send the key as a JSON object', { expected: '{"teamId": "ABCDE12345", "keyId"?: "…", "key"?: "<PEM>", "topics"?: ["…"]}' });
  }
  const { teamId, keyId, key, topics } = input as Record<string, unknown>;
  if (typeof teamId !== 'string' || !ID.test(teamId)) throw problem(400, 'bad-key', `teamId must be letters and digits (Apple's are 10); got ${JSON.stringify(teamId)}`, { field: 'teamId' });
  if (keyId !== undefined && (typeof keyId !== 'string' || !ID.test(keyId))) throw problem(400, 'bad-key', `keyId must be letters and digits (Apple's are 10); got ${JSON.stringify(keyId)}`, { field: 'keyId' });
  if (key !== undefined && typeof key !== 'string') throw problem(400, 'bad-key', 'key must be a PEM string', { field: 'key' });
  if (topics !== undefined && (!Array.isArray(topics) || topics.some((t) => typeof t !== 'string' || t === ''))) {
    throw problem(400, 'bad-key', 'topics must be a list of topic strings', { field: 'topics' });
  }
  return { teamId, keyId: keyId as string | undefined, key: key as string | undefined, topics: topics as string[] | undefined };
}

function readPublicKey(pem: string): KeyObject {
  let key: KeyObject;
  try {
    key = pem.includes('PRIVATE KEY') ? createPublicKey(createPrivateKey(pem)) : createPublicKey(pem);
  } catch (error) {
    throw problem(400, 'bad-key', `key is not a readable PEM key: ${(error as Error).message}`, { field: 'key', expected: 'the .p8 file or its public key, PEM' });
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw problem(400, 'bad-key', `APNs signing keys are EC P-256 (ES256); this one is ${key.asymmetricKeyType}${key.asymmetricKeyDetails?.namedCurve ? ` ${key.asymmetricKeyDetails.namedCurve}` : ''}`, { field: 'key' });
  }
  return key;
}

function newKeyId(): string {
  let id = '';
  for (let i = 0; i < 10; i++) id += KEY_ID_ALPHABET[randomInt(KEY_ID_ALPHABET.length)];
  return id;
}
