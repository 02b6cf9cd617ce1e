import { ElohimError } from '../errors.ts';
import type { Item } from './tree.ts';
import type { VaultCore } from './core.ts';
import type { References } from './refs.ts';
import type { Vault } from './index.ts';

/** Trash older than this is purged when the vault is opened. */
export const TRASH_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;

/** The trash: list, restore, delete for good (by hand, or after TRASH_RETENTION_MS). */
export function createTrash(core: VaultCore, refs: References): Pick<Vault, 'trashList' | 'restore' | 'emptyTrash'> & { purgeExpired(): Promise<number> } {
  const { tree, records, clock } = core;

  /**
   * Removes `tops` and everything below them for good, releasing their objects in the same
   * commit: each goes once nothing else names it (a share's index, another item: refs.ts),
   * even across a crash.
   */
  async function destroy(tops: Item[]): Promise<number> {
    // Tops may nest (a file trashed before its folder), so collect each item once.
    const doomed = [...new Map(tops.flatMap((top) => tree.subtree(top.id)).map((i) => [i.id, i])).values()];
    if (doomed.length === 0) return 0;
    const objectIds = doomed.filter((i) => i.object !== undefined).map((i) => i.object!);
    // The audit entry and the deletion in one transaction (item 8 of issue 8): logged after the
    // commit, a kill in between left an emptied trash with no entry. The entry goes first, so a
    // failure to write it (a full device) deletes nothing.
    records.transaction(() => {
      core.onEvent('empty-trash', { count: doomed.length });
      core.commit({ remove: doomed.map((i) => i.id) });
      refs.release(objectIds);
    });
    await refs.collect();
    return doomed.length;
  }

  function findTrashed(ref: string): Item {
    const r = ref.toLowerCase();
    if (!/^[0-9a-f]{6,32}$/.test(r)) throw new ElohimError('INVALID_INPUT', 'give the id shown by `trash ls` (at least 6 characters)');
    const matches = tree.trashed().filter((i) => i.id.startsWith(r));
    if (matches.length === 0) throw new ElohimError('ITEM_NOT_FOUND', `nothing in the trash has id ${ref}`);
    if (matches.length > 1) throw new ElohimError('INVALID_INPUT', `id ${ref} is ambiguous; give more characters`);
    return matches[0]!;
  }

  return {
    trashList() {
      return tree.trashed().map(core.trashInfo);
    },

    restore(ref) {
      const item = findTrashed(ref);
      const parent = item.parent !== null && tree.isLive(item.parent) ? item.parent : null;
      const restored: Item = { ...item, parent, name: core.uniqueName(parent, item.name, 'restored') };
      delete restored.trashedAt;
      core.commit({ put: [restored] });
      return core.info(restored);
    },

    async emptyTrash() {
      return destroy(tree.trashed());
    },

    /** Deletes what has been in the trash longer than TRASH_RETENTION_MS. */
    async purgeExpired() {
      const cutoff = clock() - TRASH_RETENTION_MS;
      return destroy(tree.trashed().filter((i) => i.trashedAt! <= cutoff));
    },
  };
}
