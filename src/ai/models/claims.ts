/**
 * Which process owns a temp file or a pull: the CLI may import or pull while the server runs on
 * the same data folder (model management takes no folder lock), so ownership is by process id.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { ElohimError } from '../../errors.ts';

/** Whether a process with that id runs (signal 0 checks without sending anything). */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Claims a pull's partial for this process across processes (the CLI may pull while the server
 * runs): `<id>.lock` holds the claimant's pid; one left by a process that is gone is taken over.
 * Throws MODEL_BUSY. Returns the release.
 */
export async function claimPartial(lockPath: string): Promise<() => Promise<void>> {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      await writeFile(lockPath, String(process.pid), { flag: 'wx', mode: 0o600 });
      return () => rm(lockPath, { force: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const holder = Number(await readFile(lockPath, 'utf8').catch(() => '0'));
      if (holder > 0 && holder !== process.pid && alive(holder)) break;
      await rm(lockPath, { force: true });
    }
  }
  throw new ElohimError('MODEL_BUSY', 'that model is being pulled already');
}

