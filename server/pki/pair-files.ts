import { ensureDir, inDataDir, PRIVATE_FILE_MODE, PUBLIC_FILE_MODE, replaceFile } from '../data-dir';
import { PkiError } from './errors';

/**
 * Replaces a certificate and its key in the data dir. The key goes first: a process reading
 * between the two renames sees a mismatched pair, which it treats as a reason to reissue,
 * rather than a new certificate with an old key.
 */
export async function replaceCertificateAndKey(dir: string, files: { certPath: string; keyPath: string }, pems: { certPem: string; keyPem: string }, what: string): Promise<void> {
  await inDataDir(
    dir,
    async () => {
      await ensureDir(dir);
      await replaceFile(files.keyPath, pems.keyPem, PRIVATE_FILE_MODE);
      await replaceFile(files.certPath, pems.certPem, PUBLIC_FILE_MODE);
    },
    what,
    (message, file) => new PkiError(message, file),
  );
}
