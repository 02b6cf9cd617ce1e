/**
 * `elohim backup restore --file VAULT_PATH [--to HOST_FILE]`: one file of a snapshot, decrypted
 * to a host file. The repository holds the folder's ciphertext, not one vault's files, so the
 * snapshot is restored whole into a temporary data folder (ciphertext only, removed afterwards),
 * opened there with the same secret, and the one file is read out of it (every chunk
 * authenticated). Slower than a whole restore beside, but it needs no room for a second copy
 * once it is done, and it is the same restore a disaster would use.
 */
import { createWriteStream } from 'node:fs';
import { lstat, mkdtemp, rename, rm, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, dirname, join, resolve } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import type { JobProgress } from '../../backup/index.ts';
import { ElohimError } from '../../errors.ts';
import type { UnlockSecret } from '../../keyring/index.ts';
import { withApp } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import { readSecret } from '../prompt.ts';

/** The passphrase, or a recovery code (--recovery or ELOHIM_RECOVERY_CODE), read once. */
export async function readUnlockSecret(flags: UnlockFlags): Promise<UnlockSecret> {
  const useCode = flags.recovery === true || (process.env.ELOHIM_RECOVERY_CODE ?? '') !== '';
  return useCode
    ? { recoveryCode: await readSecret({ env: 'ELOHIM_RECOVERY_CODE', message: 'Recovery code' }) }
    : { passphrase: await readSecret({ env: 'ELOHIM_PASSPHRASE', message: 'Passphrase' }) };
}

export async function restoreOneFile(
  cmd: Command,
  o: { file: string; to?: string; force?: boolean; snapshot?: string; target?: string },
  run: { signal: AbortSignal; onProgress: (p: JobProgress) => void },
): Promise<{ file: string; to: string; snapshot: string; bytes: number }> {
  const secret = await readUnlockSecret(cmd.optsWithGlobals() as UnlockFlags);
  // imported here, not at the top: the command tree is built for every command and --help
  const { createApp } = await import('../../app.ts');
  const { fileAt } = await import('../vault-paths.ts');
  const scratch = await mkdtemp(join(tmpdir(), 'elohim-restore-file-'));
  const fresh = createApp({ home: join(scratch, 'home') }, { indexInBackground: false, services: [] }); // its vault only
  try {
    const summary = await withApp(async (app) => {
      const { workspace } = await app.workspaces.unlock(secret);
      try {
        const names = workspace.backup.listTargets().map((t) => t.name);
        const name = o.target ?? (names.length === 1 ? names[0]! : null);
        if (name === null) throw new ElohimError('INVALID_INPUT', names.length === 0 ? 'no backup target yet' : `choose a target with --target (one of: ${names.join(', ')})`);
        return await workspace.backup.restore(name, (target, unlock, y) => fresh.restoreFromBackup({ target, unlock, ...y }), { snapshot: o.snapshot, ...run });
      } finally {
        app.workspaces.release(workspace.id);
      }
    }, ['backup']);
    const { workspace } = await fresh.workspaces.unlock(secret);
    const { info, stream } = await workspace.vault.read(fileAt(workspace.vault, o.file), { signal: run.signal });
    const out = resolve(o.to ?? info.name);
    if (!o.force && (await lstat(out).then(() => true, () => false))) {
      stream.destroy();
      throw new ElohimError('ITEM_EXISTS', `${out} exists; use --force to overwrite`);
    }
    // Through a temp file beside it: a failed read never leaves a partial file under the name.
    const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
    try {
      await pipeline(stream, createWriteStream(tmp, { flags: 'wx', mode: 0o600 }));
      await rename(tmp, out);
    } catch (err) {
      await unlink(tmp).catch(() => {});
      throw err;
    }
    return { file: o.file, to: out, snapshot: summary.snapshot, bytes: info.size };
  } finally {
    fresh.close();
    await rm(scratch, { recursive: true, force: true });
  }
}
