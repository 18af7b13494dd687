import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

/** Temp dirs for one test file, all removed after it: `const tempDir = tempDirs('mdmsim-pki-ca-')`. */
export function tempDirs(prefix: string): () => string {
  const dirs: string[] = [];
  afterAll(() => {
    for (const dir of dirs) fs.rmSync(dir, { recursive: true, force: true });
  });
  return () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
    dirs.push(dir);
    return dir;
  };
}

/** Runs the openssl binary; its stdout, or a throw with its stderr. */
export function openssl(...args: string[]): string {
  return execFileSync('/usr/bin/openssl', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A new data dir holding a copy of the CA files from `caDir`, as `mdmsim serve` would have it. */
export function dataDirWithCa(tempDir: () => string, caDir: string): string {
  const dir = tempDir();
  for (const file of ['ca.pem', 'ca-key.pem']) fs.copyFileSync(path.join(caDir, file), path.join(dir, file));
  return dir;
}
