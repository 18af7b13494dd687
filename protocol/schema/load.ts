/**
 * Finds and reads Apple's schema files. No interpretation happens here.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse as parseYaml } from 'yaml';

const APPLE_SUBDIR = path.join('protocol', 'schema', 'apple');

let cachedDir: string | undefined;

/**
 * The YAML stays in `<root>/protocol/schema/apple` while this module runs either from
 * `<root>/protocol/schema` (ts under jest) or `<root>/dist/protocol/schema` (compiled), or
 * from an installed package. Walking up from here until that folder appears covers all three
 * without knowing which layout we are in.
 */
export function schemaDir(): string {
  if (cachedDir !== undefined) return cachedDir;
  let dir = __dirname;
  for (;;) {
    const candidate = path.join(dir, APPLE_SUBDIR);
    if (fs.existsSync(path.join(candidate, 'SOURCE.txt'))) {
      cachedDir = candidate;
      return candidate;
    }
    const parent = path.dirname(dir);
    if (parent === dir) {
      throw new Error(
        `mdmsim schema: cannot find ${APPLE_SUBDIR} in any parent of ${__dirname}`,
      );
    }
    dir = parent;
  }
}

export function listSchemaFiles(prefix: string): string[] {
  return fs
    .readdirSync(schemaDir())
    .filter((f) => f.startsWith(prefix) && f.endsWith('.yaml'))
    .sort();
}

export function readSchemaText(file: string): string {
  return fs.readFileSync(path.join(schemaDir(), file), 'utf8');
}

/**
 * The failsafe schema keeps every scalar a string. That matters: Apple writes some versions
 * unquoted, and the core schema would read `introduced: 10.10` as the number 10.1. Types
 * (rangelist numbers, booleans) are converted later, knowing what each key declares.
 */
export function parseSchemaYaml(text: string): unknown {
  return parseYaml(text, { schema: 'failsafe' }) as unknown;
}

export function readSchemaYaml(file: string): unknown {
  return parseSchemaYaml(readSchemaText(file));
}

/** Cheap look at a file's `payload.requesttype` without paying for a full YAML parse. */
export function peekRequestType(text: string): string | undefined {
  const m = /^payload:\s*\n(?:[ \t]+.*\n)*?[ \t]+requesttype:[ \t]*['"]?([A-Za-z0-9_.-]+)['"]?[ \t]*$/m.exec(
    text,
  );
  return m?.[1];
}

export interface IndexRow {
  requestType: string;
  yamlPath: string;
  macOSIntroduced: string;
  macOSDeviceChannel: string;
  macOSUserChannel: string;
  iOSIntroduced: string;
  hasResponseKeys: boolean;
  payloadKeys: string[];
}

/** commands-index.tsv: every command Apple lists, with the few facts it records. */
export function readCommandsIndex(): IndexRow[] {
  const text = fs.readFileSync(path.join(schemaDir(), 'commands-index.tsv'), 'utf8');
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  const header = (lines.shift() ?? '').split('\t');
  const col = (name: string): number => {
    const i = header.indexOf(name);
    if (i < 0) throw new Error(`mdmsim schema: commands-index.tsv has no column ${name}`);
    return i;
  };
  const c = {
    rt: col('RequestType'),
    yaml: col('yaml_path'),
    mac: col('macOS_introduced'),
    dev: col('macOS_devicechannel'),
    usr: col('macOS_userchannel'),
    ios: col('iOS_introduced'),
    resp: col('has_responsekeys'),
    keys: col('payloadkeys'),
  };
  return lines.map((line) => {
    const f = line.split('\t');
    const get = (i: number): string => (f[i] ?? '').trim();
    return {
      requestType: get(c.rt),
      yamlPath: get(c.yaml),
      macOSIntroduced: get(c.mac),
      macOSDeviceChannel: get(c.dev),
      macOSUserChannel: get(c.usr),
      iOSIntroduced: get(c.ios),
      hasResponseKeys: get(c.resp) === 'True',
      payloadKeys: get(c.keys) === '' ? [] : get(c.keys).split(','),
    };
  });
}
