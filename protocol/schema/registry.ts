/**
 * Which schema file describes which message, compiled on first use and kept. Indexing reads
 * file text only (a regex finds `requesttype`); the YAML parse, which is slow for the big
 * files (information.device.yaml takes ~100 ms), happens only for schemas actually used.
 */
import { compileFromIndex, compileSchema, mergeCommonPayloadKeys } from './compile';
import {
  listSchemaFiles,
  parseSchemaYaml,
  peekRequestType,
  readCommandsIndex,
  readSchemaText,
  type IndexRow,
} from './load';
import type { CompiledSchema } from './types';

const compiled = new Map<string, CompiledSchema>();
let checkins: Map<string, string> | undefined;
let commands: Map<string, string> | undefined;
let index: Map<string, IndexRow> | undefined;

function indexFiles(prefix: string): Map<string, string> {
  const byName = new Map<string, string>();
  for (const file of listSchemaFiles(prefix)) {
    const name = peekRequestType(readSchemaText(file));
    if (name) byName.set(name, file);
  }
  return byName;
}

function compileFile(file: string): CompiledSchema {
  let s = compiled.get(file);
  if (!s) {
    s = compileSchema(file, parseSchemaYaml(readSchemaText(file)));
    compiled.set(file, s);
  }
  return s;
}

function checkinIndex(): Map<string, string> {
  return (checkins ??= indexFiles('mdm_checkin_'));
}

function commandIndex(): Map<string, string> {
  return (commands ??= indexFiles('mdm_commands_'));
}

function tsvIndex(): Map<string, IndexRow> {
  return (index ??= new Map(readCommandsIndex().map((r) => [r.requestType, r])));
}

export function checkinTypes(): string[] {
  return [...checkinIndex().keys()].sort();
}

export function checkinSchema(messageType: string): CompiledSchema | undefined {
  const file = checkinIndex().get(messageType);
  return file ? compileFile(file) : undefined;
}

/** YAML when we have it, else a key-names-only schema from commands-index.tsv. */
export function commandSchema(requestType: string): CompiledSchema | undefined {
  const file = commandIndex().get(requestType);
  if (file) return compileFile(file);
  const row = tsvIndex().get(requestType);
  if (!row) return undefined;
  const key = `tsv:${requestType}`;
  let s = compiled.get(key);
  if (!s) {
    s = compileFromIndex(row);
    compiled.set(key, s);
  }
  return s;
}

export function commandIndexRow(requestType: string): IndexRow | undefined {
  return tsvIndex().get(requestType);
}

export function profileSchema(payloadType: string): CompiledSchema | undefined {
  const key = `profile:${payloadType}`;
  const hit = compiled.get(key);
  if (hit) return hit;
  const file = `mdm_profiles_${payloadType}.yaml`;
  if (!listSchemaFiles('mdm_profiles_').includes(file)) return undefined;
  const merged = mergeCommonPayloadKeys(compileFile(file), compileFile('mdm_profiles_CommonPayloadKeys.yaml'));
  compiled.set(key, merged);
  return merged;
}

export function manifestSchema(): CompiledSchema {
  return compileFile('other_manifesturl.yaml');
}
