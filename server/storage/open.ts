/**
 * `--store` specs: `memory` (the default) or `sqlite:PATH`, with options after a `?`:
 * `sqlite:./lab.db?sync=full&events=500000`. Parsing is separate from opening so that the CLI
 * refuses a bad spec before it starts anything.
 */
import { resolve } from 'node:path';
import { MemoryStorage } from './memory';
import { SqliteStorage, type SqliteSynchronous } from './sqlite';
import type { Storage } from './types';

export type StoreSpec =
  | { kind: 'memory' }
  | { kind: 'sqlite'; path: string; synchronous: SqliteSynchronous; eventCapacity?: number };

export class StoreSpecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'StoreSpecError';
  }
}

const EXAMPLE = 'memory, or sqlite:PATH (e.g. sqlite:./.mdmsim/mdmsim.db, options ?sync=normal|full&events=N)';

export function parseStoreSpec(spec: string): StoreSpec {
  if (spec === 'memory') return { kind: 'memory' };
  if (!spec.startsWith('sqlite:')) throw new StoreSpecError(`--store ${JSON.stringify(spec)}: expected ${EXAMPLE}`);
  const rest = spec.slice('sqlite:'.length);
  const q = rest.indexOf('?');
  const path = q < 0 ? rest : rest.slice(0, q);
  if (path === '') throw new StoreSpecError(`--store ${JSON.stringify(spec)}: sqlite: needs a file path, e.g. sqlite:./.mdmsim/mdmsim.db`);
  const out: StoreSpec = { kind: 'sqlite', path: path === ':memory:' ? path : resolve(path), synchronous: 'normal' };
  for (const [key, value] of new URLSearchParams(q < 0 ? '' : rest.slice(q + 1))) {
    if (key === 'sync') {
      if (value !== 'normal' && value !== 'full') throw new StoreSpecError(`--store ${JSON.stringify(spec)}: sync must be normal or full, got ${JSON.stringify(value)}`);
      out.synchronous = value;
    } else if (key === 'events') {
      const n = Number(value);
      if (!Number.isSafeInteger(n) || n < 1) throw new StoreSpecError(`--store ${JSON.stringify(spec)}: events must be a whole number of events to keep, 1 or more; got ${JSON.stringify(value)}`);
      out.eventCapacity = n;
    } else {
      throw new StoreSpecError(`--store ${JSON.stringify(spec)}: unknown option ${JSON.stringify(key)} (known: sync, events)`);
    }
  }
  return out;
}

/** Opens the store a spec names; a file that cannot be used throws a StoreFileError saying why. */
export function openStore(spec: string | StoreSpec): Storage {
  const s = typeof spec === 'string' ? parseStoreSpec(spec) : spec;
  if (s.kind === 'memory') return new MemoryStorage();
  return new SqliteStorage(s.path, { synchronous: s.synchronous, eventCapacity: s.eventCapacity });
}
