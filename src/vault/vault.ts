import { ElohimError } from '../errors.ts';
import type { RecordStore } from '../db/index.ts';
import { checkName, parseVaultPath } from './names.ts';
import { createUploads } from './uploads.ts';
import { createCore } from './core.ts';
import type { VaultDeps } from './core.ts';
import { sortRecords } from './kinds.ts';
import { createOrganizer } from './organize.ts';
import { createReader } from './read.ts';
import { recover } from './recover.ts';
import { createTrash } from './trash.ts';
import { createWriter } from './write.ts';
import { createAdopter } from './adopt.ts';
import { createReferences } from './refs.ts';
import type { Vault } from './index.ts';

export type { VaultDeps } from './core.ts';
export type { VaultRecord } from './kinds.ts';
export type { Vault } from './index.ts';

/**
 * Opens one unlocked vault. Reads its records once (they are sealed, so every query runs on the
 * in-memory index), finishes what a crash interrupted, purges expired trash and abandoned
 * uploads; every change after that is a transaction of sealed records.
 */
export async function openVault(deps: VaultDeps): Promise<Vault> {
  const loaded = sortRecords(deps.records.loadAll());
  const core = createCore(deps, loaded.items);
  const { tree, clock } = core;

  const uploads = createUploads(
    {
      records: deps.records as RecordStore<{ t: string }>,
      objects: deps.objects,
      clock,
      commitFile(upload, fileKey, written, uploadId) {
        // The folder may have gone, or the name been taken, while the bytes were arriving:
        // land in the root and under a new name rather than lose the upload.
        const parent = upload.parent !== null && tree.isLive(upload.parent) ? upload.parent : null;
        const existing = tree.childNamed(parent, upload.name);
        const replacing = existing !== undefined && existing.kind === 'file' && upload.replace;
        const name = existing === undefined || replacing ? upload.name : core.uniqueName(parent, upload.name, 'uploaded');
        const item = core.fileItem(parent, name, fileKey, upload.object, written);
        core.commit({ put: [item, ...(replacing ? [{ ...existing, trashedAt: clock() }] : [])], removeOther: [uploadId] });
        return { id: item.id };
      },
    },
    loaded.uploads,
  );
  const refs = createReferences(core, loaded);
  const trash = createTrash(core, refs);

  const vault: Vault = {
    identity: () => deps.identity,
    get generation() {
      return core.generation;
    },

    resolve(path) {
      const found = tree.resolve(parseVaultPath(path));
      if (found === undefined) throw new ElohimError('ITEM_NOT_FOUND', `nothing at ${path}`);
      return found?.id ?? null;
    },

    item: (id) => core.info(core.liveById(id)),

    children(id) {
      const folder = core.folderById(id);
      const names = folder === null ? [] : tree.namesOf(folder);
      return tree.children(folder).map((item) => core.info(item, names));
    },

    find(text) {
      if (text.length === 0) throw new ElohimError('INVALID_INPUT', 'search text cannot be empty');
      return tree.find(text).map((item) => core.info(item));
    },

    ...createWriter(core),
    ...createReader(core),
    ...createOrganizer(core),
    ...createAdopter(core, refs),
    retain: refs.retain,
    release: refs.release,
    collect: refs.collect,
    trashList: trash.trashList,
    restore: trash.restore,
    emptyTrash: trash.emptyTrash,

    async beginUpload(parentId, name, length, opts = {}) {
      const parent = core.folderById(parentId);
      const checked = checkName(name);
      core.checkFree(parent, checked, { replaceFile: opts.replace });
      return uploads.begin({ parent, name: checked, length, replace: opts.replace === true });
    },
    uploads: {
      status: (id) => uploads.status(id),
      cancel: (id) => uploads.cancel(id),
      // The signal stops the body and is checked before the object is put in place (uploads.ts).
      append: (id, offset, body, opts = {}) => uploads.append(id, offset, body, opts),
    },
  };

  await recover(core, loaded.intents);
  await trash.purgeExpired();
  await refs.collect(); // what a crash left released (waits while a recorded holder has not registered)
  await uploads.expire();
  return vault;
}
