/**
 * What app.ts builds a workspace's backup from (its SERVICE_MODULES.backup): the service, its
 * record stores and keys, the deniable store's source, and the restore of a fresh folder. Not
 * index.ts, the folder's whole face: that also loads the restore, the S3 and WebDAV targets and
 * the fresh-folder bootstrap, which a `backup run` never uses (~10 modules, ~4-7 ms of CPU of
 * every one-shot backup command, measured with the module hook and import timers). The restore
 * of a fresh folder is loaded when one is asked for.
 */
import type { FolderRestore, FolderRestoreDeps } from './fresh.ts';

export { asRepositoryKey } from './format/v1.ts';
export { createBackupService } from './service.ts';
export { backupRecordKeys, backupRecordStores, BACKUP_RECORD_KINDS } from './records.ts';
export { storeBackupSource } from './store-source.ts';

/** fresh.ts createFolderRestore, loading fresh.ts (and the restore behind it) on first use. */
export function createFolderRestore(deps: FolderRestoreDeps): FolderRestore {
  return async (opts) => (await import('./fresh.ts')).createFolderRestore(deps)(opts);
}
