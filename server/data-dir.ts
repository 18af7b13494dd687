/**
 * Files in mdmsim's data directory (CA, certificates, API token): created atomically, with
 * owner-only modes for secrets, and errors that say what to do.
 */
import * as crypto from 'node:crypto';
import { promises as fs } from 'node:fs';

/** A data-directory file the user has to deal with; the message names it and what to do. */
export class DataDirError extends Error {
  constructor(
    message: string,
    /** The file or directory the problem is about. */
    readonly file: string,
  ) {
    super(message);
    this.name = 'DataDirError';
  }
}

/** The message of any thrown value, for wrapping lower-level errors. */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Owner-only: the directory holds private keys. */
export const PRIVATE_DIR_MODE = 0o700;
/** Owner-only, for private keys. */
export const PRIVATE_FILE_MODE = 0o600;
/** Certificates are public, and users point other tools at them. */
export const PUBLIC_FILE_MODE = 0o644;

/**
 * Runs file work in the data dir, turning "cannot write here" errors, which otherwise read as
 * a bare errno, into one that says what to do. `what` names what was being written.
 */
export async function inDataDir<T>(
  dir: string,
  work: () => Promise<T>,
  what = 'its files',
  makeError: (message: string, file: string) => Error = (m, f) => new DataDirError(m, f),
): Promise<T> {
  try {
    return await work();
  } catch (err) {
    const code = (err as NodeJS.ErrnoException | undefined)?.code ?? '';
    if (!['EACCES', 'EPERM', 'EROFS', 'ENOSPC', 'ENOTDIR', 'EEXIST'].includes(code)) throw err;
    throw makeError(
      `cannot write ${what} to mdmsim's data directory ${dir} (${messageOf(err)}); ` +
        'make it a writable directory or choose another one with --data-dir',
      dir,
    );
  }
}

/** Creates the directory (and parents) if missing; an existing directory keeps its mode. */
export async function ensureDir(dir: string): Promise<void> {
  await fs.mkdir(dir, { recursive: true, mode: PRIVATE_DIR_MODE });
}

/** The file's text, or undefined when it does not exist. */
export async function readIfExists(file: string): Promise<string | undefined> {
  try {
    return await fs.readFile(file, 'utf8');
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return undefined;
    throw err;
  }
}

/** Whether the file exists. */
export async function exists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch (err) {
    if (isErrno(err, 'ENOENT')) return false;
    throw err;
  }
}

/**
 * Writes the file under a temporary name first, so a reader (another mdmsim process) sees the
 * old content or the new, never a half-written file.
 */
export async function replaceFile(file: string, data: string, mode: number): Promise<void> {
  const tmp = await writeTemp(file, data, mode);
  try {
    await fs.rename(tmp, file);
  } catch (err) {
    await fs.rm(tmp, { force: true });
    throw err;
  }
}

/**
 * Creates the file only if nothing is there yet, with its full content appearing at once.
 * Answers false, leaving the existing file alone, when another writer got there first: two
 * processes starting on an empty data directory must not both believe their CA is the one.
 */
export async function createExclusive(file: string, data: string, mode: number): Promise<boolean> {
  const tmp = await writeTemp(file, data, mode);
  try {
    await fs.link(tmp, file);
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    // Some file systems have no hard links; an exclusive create is still exclusive, only a
    // reader might catch it half-written.
    return await writeExclusive(file, data, mode);
  } finally {
    await fs.rm(tmp, { force: true });
  }
}

async function writeExclusive(file: string, data: string, mode: number): Promise<boolean> {
  try {
    await fs.writeFile(file, data, { flag: 'wx', mode });
    return true;
  } catch (err) {
    if (isErrno(err, 'EEXIST')) return false;
    throw err;
  }
}

/**
 * Writes data next to `file` under a unique name, with its final mode from the start (the
 * umask can only take bits away, so a key file is never readable by others, even briefly).
 */
async function writeTemp(file: string, data: string, mode: number): Promise<string> {
  const tmp = `${file}.${process.pid}.${crypto.randomBytes(4).toString('hex')}.tmp`;
  await fs.writeFile(tmp, data, { flag: 'wx', mode });
  return tmp;
}

/** Polls until the file exists or the time is up; answers whether it appeared. */
export async function waitForFile(file: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await exists(file)) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function isErrno(err: unknown, code: string): boolean {
  return (err as NodeJS.ErrnoException | undefined)?.code === code;
}
