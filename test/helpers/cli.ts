/** Running bin/mdmsim.js as a user would, for the CLI end-to-end tests. */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

export const MDMSIM_BIN = join(__dirname, '../../bin/mdmsim.js');

/** Runs `mdmsim args…` to its exit, collecting what it printed. */
export function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, [MDMSIM_BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout!.on('data', (d) => (stdout += d));
  child.stderr!.on('data', (d) => (stderr += d));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ code, stdout, stderr })));
}

/** The first line a child prints, parsed as JSON (a ready line, a summary); `err` says what it logged if it does not. */
export function firstJsonLine(child: ChildProcess, err: () => string): Promise<any> {
  return new Promise((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', (line) => {
      try {
        resolve(JSON.parse(line));
      } catch {
        reject(new Error(`not JSON: ${line}\n${err()}`));
      }
    });
    child.once('exit', (code) => reject(new Error(`exited with ${code}:\n${err()}`)));
  });
}
