import { ElohimError } from '../errors.ts';
import { newRecordId } from '../db/index.ts';
import type { RecordId } from '../db/index.ts';
import { checkName } from './names.ts';
import type { Item } from './tree.ts';
import type { VaultCore } from './core.ts';
import type { EntryInfo, Vault } from './index.ts';

/** Folders, renames and moves, and moving items to the trash. */
export function createOrganizer(core: VaultCore): Pick<Vault, 'mkdir' | 'update' | 'trash'> {
  const { tree, clock } = core;

  /** Moves and/or renames `item`; the one place that checks the rules for both. */
  function moveTo(item: Item, parent: RecordId | null, name: string): EntryInfo {
    if (parent !== null && tree.isWithin(parent, item.id)) throw new ElohimError('MOVE_INTO_SELF');
    if (parent === item.parent && name === item.name) return core.info(item);
    core.checkFree(parent, name);
    const moved: Item = { ...item, parent, name, modified: clock() };
    core.commit({ put: [moved] });
    return core.info(moved);
  }

  return {
    mkdir(parentId, name) {
      const parent = core.folderById(parentId);
      const checked = checkName(name);
      core.checkFree(parent, checked);
      const now = clock();
      const folder: Item = { id: newRecordId(), kind: 'folder', parent, name: checked, created: now, modified: now };
      core.commit({ put: [folder] });
      return core.info(folder);
    },

    update(id, change) {
      const item = core.liveById(id);
      const parent = change.parent === undefined ? item.parent : core.folderById(change.parent);
      return moveTo(item, parent, change.name === undefined ? item.name : checkName(change.name));
    },

    trash(id) {
      const trashed: Item = { ...core.liveById(id), trashedAt: clock() };
      const entry = core.trashInfo(trashed);
      // The entry and the change in one transaction, the entry first (see trash.ts destroy).
      core.records.transaction(() => {
        core.onEvent('delete', { path: entry.originalPath });
        core.commit({ put: [trashed] });
      });
      return entry;
    },
  };
}
