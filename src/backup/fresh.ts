/**
 * A whole data folder back from a backup, on a fresh device (`elohim restore --from`, the
 * first-run "Restore from a backup"): only the target and one secret, a passphrase or a recovery
 * code of any vault of the folder. The keyring opens the backed-up key slots and rows in memory
 * (keyring/backup-key.ts) to find the repository key; restore.ts does the rest, key slots last.
 * Run it again after an interruption (a kill -9, a lost connection) and it moves only what is
 * missing.
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { ElohimError } from '../errors.ts';
import { writeFileAtomic } from '../fs/index.ts';
import { backupKeyFromImage } from '../keyring/index.ts';
import type { UnlockSecret } from '../keyring/index.ts';
import { asRepositoryKey } from './format/v1.ts';
import type { RepositoryKey } from './format/v1.ts';
import { restoreFolder } from './restore.ts';
import { isStoreRepository, storeRestore } from './store-restore.ts';
import type { Bootstrap, RestoreInto, RestoreProgress, RestoreSummary } from './restore.ts';
import type { Target } from './target.ts';

export interface FolderRestoreDeps extends RestoreInto {
  /** the folder's objects directory, made first; `throttle` the keyring's failed-attempt file */
  objectsDir: string;
  throttlePath: string;
  /** the data folder's process lock: nobody else may use the folder meanwhile */
  lock: { acquire(): Promise<void> };
  /** where store.bin goes when the backup is of a folder with a deniable store (store-restore.ts) */
  storePath?: string;
}

export interface FolderRestoreOptions {
  target: Target;
  /** a secret of any vault of the backed-up folder, or (from an open vault) its repository key */
  secret?: UnlockSecret;
  unlock?: (b: Bootstrap) => Promise<RepositoryKey>;
  snapshot?: string;
  signal?: AbortSignal;
  onProgress?: (p: RestoreProgress) => void;
}

/**
 * The restore of one data folder. Throws VAULT_ALREADY_INITIALIZED when it has key slots,
 * VAULT_WRONG_SECRET for a secret that opens no vault of the backup, HOST_FILE_NOT_FOUND when the
 * target holds no backup, OBJECT_DAMAGED for anything that does not check out, TargetError.
 */
export function createFolderRestore(deps: FolderRestoreDeps) {
  return async (opts: FolderRestoreOptions): Promise<RestoreSummary> => {
    const { secret } = opts;
    const unlock = opts.unlock ?? (secret ? async (image: Bootstrap) => asRepositoryKey(await backupKeyFromImage(image, secret)) : null);
    if (unlock === null) throw new TypeError('a restore needs a secret or an unlock function');
    await requireDataFolderOrEmpty(dirname(deps.objectsDir));
    // A folder with a deniable store comes back as store.bin, without objects/ (store-restore.ts).
    const store = deps.storePath !== undefined && (await isStoreRepository(opts.target, opts.signal)) ? await storeRestore({ path: deps.storePath, paths: deps.paths, target: opts.target, unlock, secret, signal: opts.signal }) : null;
    if (store === null) await makeFolders(deps.objectsDir);
    await deps.lock.acquire();
    let summary: RestoreSummary;
    try {
      // Big objects copied whole from a folder target wait in the pool's temp folder (restore.ts).
      const into: RestoreInto = store?.into ?? { ...deps, stagingDir: deps.stagingDir ?? join(deps.objectsDir, 'tmp') };
      summary = await restoreFolder({ target: store?.target ?? opts.target, into, unlock: store?.unlock ?? unlock, snapshot: opts.snapshot, signal: opts.signal, onProgress: opts.onProgress });
    } finally {
      await store?.close();
    }
    if (!existsSync(deps.throttlePath)) await writeFileAtomic(deps.throttlePath, JSON.stringify({ failures: 0, notBefore: 0 }));
    return summary;
  };
}

/** What a data folder (or an interrupted restore into one) may hold; anything else is someone else's folder. */
const DATA_FOLDER_NAMES = /^(db\.sqlite(-wal|-shm|-journal)?|objects|lock|config\.json|unlock-throttle\.json|reserve|store\.bin(\.bootstrap-[A-Za-z0-9]{6})?|keyslots\.bin(\.restore-[0-9a-f]{16})?)$/;

/**
 * Refuses a folder that holds files of its own (a restore into ~ or /etc by a slip of the path
 * would scatter ours among them). An empty or missing folder is fine, and so is one an
 * interrupted restore left (it resumes). Throws INVALID_INPUT.
 */
async function requireDataFolderOrEmpty(dir: string): Promise<void> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    if ((err as NodeJS.ErrnoException).code === 'ENOTDIR') throw new ElohimError('INVALID_INPUT', `${dir} is not a folder`);
    throw err;
  }
  const foreign = names.filter((n) => !DATA_FOLDER_NAMES.test(n));
  // A restore killed while publishing its key slots (restore.ts) left its temp copy.
  for (const n of names) if (/^keyslots\.bin\.restore-/.test(n)) await rm(join(dir, n), { force: true });
  // and one killed while it looked for a hidden vault's records (store-bootstrap.ts), its scratch.
  for (const n of names) if (/^store\.bin\.bootstrap-/.test(n)) await rm(join(dir, n), { recursive: true, force: true });
  if (foreign.length > 0) throw new ElohimError('INVALID_INPUT', `restore into an empty folder: ${dir} holds other files (${foreign.slice(0, 3).join(', ')}${foreign.length > 3 ? ', …' : ''})`);
}

/**
 * What a folder set up on this device has and a backup does not carry, so that a restored
 * folder looks like any other (the examiner compares them: test/backup-examiner.test.ts): the
 * folder, objects/tmp and all 256 object shards, 0700, made before any object is written (set-up
 * makes them all, cover/maintenance.ts, so an empty shard says nothing; the object writer would
 * make a missing one with the default mode); and, after the restore, the unlock throttle file as
 * `init` writes it (no failed attempts: the device's count is not carried).
 */
async function makeFolders(objectsDir: string): Promise<void> {
  // A recursive mkdir gives the mode to each folder it makes, the data folder included.
  const folders = [join(objectsDir, 'tmp'), ...Array.from({ length: 256 }, (_, i) => join(objectsDir, i.toString(16).padStart(2, '0')))];
  for (const f of folders) await mkdir(f, { recursive: true, mode: 0o700 });
}

/** The little of the workspace registry `recordFreshRestore` uses. */
interface Opener {
  unlock(secret: UnlockSecret): Promise<{ workspace: { id: string; audit: { append(event: 'restore', details: Record<string, string | number | boolean>): unknown } } }>;
  release(id: string): void;
}

/**
 * Audits a restore on a fresh device in the log of the vault whose secret it used (no vault was
 * open to record it while it ran): that vault is unlocked once more, as the user would next.
 */
export async function recordFreshRestore(workspaces: Opener, secret: UnlockSecret, summary: RestoreSummary, targetKind: string): Promise<void> {
  const { workspace } = await workspaces.unlock(secret);
  try {
    workspace.audit.append('restore', { fresh: true, target: targetKind, snapshot: summary.snapshot, files: summary.objects.total, bytes: summary.bytesFetched });
  } finally {
    workspaces.release(workspace.id);
  }
}

export type FolderRestore = ReturnType<typeof createFolderRestore>;
