/**
 * Which row of the sync store keeps each of a share's many small records (its index versions,
 * its local links): a few per row ("packs"), not one row each.
 *
 * Why: a first sync of 10,000 small files wrote 10,000 version rows and 10,000 link rows, each
 * sealed, tagged, added to the record set's seal and inserted at a random place of the records
 * B-tree (a page written to the WAL per row): ~90 µs of the receiver's CPU per version row and
 * ~45 per link (bench:sync's profile), more than the Ed25519 check of the version. Packed, a
 * batch of 500 new versions is 11 rows. The bytes are the same; what goes is the per-row work.
 *
 * The cost, bounded by PACK sizes: changing one record rewrites its pack (a version dropped, a
 * link moved), ~30 KiB instead of ~1 KiB. New records fill the pack last opened, then new
 * ones; a pack emptied is removed. Which pack a record is in says nothing (ids are random, like
 * every row's), and the rows stay sealed, padded and tagged as any other.
 *
 * Rows written before packs (one per record) still load; a record in one is moved into a pack
 * the next time it changes (its own row removed in the same commit), so nothing is rewritten at
 * start-up. Pure bookkeeping: the store (store.ts) builds the rows and commits them.
 */
import { newRecordId } from '../../db/index.ts';
import type { RecordId } from '../../db/index.ts';

export interface Packing {
  /** each key's pack, or null for a row of its own (written before packs) */
  readonly where: Map<string, RecordId | null>;
  /** each pack's keys */
  readonly members: Map<RecordId, Set<string>>;
  /** the pack new keys go to while it has room */
  open: RecordId | null;
}

export function newPacking(): Packing {
  return { where: new Map(), members: new Map(), open: null };
}

/** Records, at load, that `key` is kept in `pack` (null: a row of its own). */
export function placeLoaded(p: Packing, key: string, pack: RecordId | null): void {
  p.where.set(key, pack);
  if (pack === null) return;
  let set = p.members.get(pack);
  if (set === undefined) p.members.set(pack, (set = new Set()));
  set.add(key);
}

export interface Repacked {
  /** packs to write again, whole (their keys: `members`) */
  put: RecordId[];
  /** rows to remove: packs emptied, and the own rows of keys moved into a pack or gone */
  remove: RecordId[];
  /** puts the bookkeeping back as it was (the commit rolled back) */
  undo(): void;
}

/**
 * Updates the bookkeeping for `touched` keys (added, changed or removed: `present` says which
 * are kept now) and returns the rows that change. `limit`: keys per pack; `ownRow`: the id of a
 * key's row of its own (before packs).
 */
export function repack(p: Packing, touched: Iterable<string>, present: (key: string) => boolean, limit: number, ownRow: (key: string) => RecordId): Repacked {
  const whereBefore = new Map<string, RecordId | null | undefined>();
  const membersBefore = new Map<RecordId, Set<string> | undefined>();
  const openBefore = p.open;
  const dirty = new Set<RecordId>();
  const remove: RecordId[] = [];
  const touch = (pack: RecordId) => {
    if (!membersBefore.has(pack)) {
      const set = p.members.get(pack);
      membersBefore.set(pack, set === undefined ? undefined : new Set(set));
    }
    dirty.add(pack);
  };
  const adds: string[] = [];
  for (const key of touched) {
    if (whereBefore.has(key)) continue; // listed twice: its state now decides once
    const at = p.where.get(key);
    whereBefore.set(key, at);
    if (!present(key)) {
      if (at === undefined) continue;
      if (at === null) remove.push(ownRow(key));
      else {
        touch(at);
        p.members.get(at)!.delete(key);
      }
      p.where.delete(key);
      continue;
    }
    if (at !== undefined && at !== null) {
      touch(at); // changed where it is
      continue;
    }
    if (at === null) remove.push(ownRow(key)); // moved out of its own row
    adds.push(key);
  }
  for (const key of adds) {
    let pack = p.open;
    if (pack === null || (p.members.get(pack)?.size ?? 0) >= limit) {
      pack = newRecordId();
      p.open = pack;
    }
    touch(pack);
    let set = p.members.get(pack);
    if (set === undefined) p.members.set(pack, (set = new Set()));
    set.add(key);
    p.where.set(key, pack);
  }
  const put: RecordId[] = [];
  for (const pack of dirty) {
    if ((p.members.get(pack)?.size ?? 0) > 0) put.push(pack);
    else {
      p.members.delete(pack);
      if (membersBefore.get(pack) !== undefined) remove.push(pack); // a pack never written needs no removal
      if (p.open === pack) p.open = null;
    }
  }
  return {
    put,
    remove,
    undo() {
      for (const [key, at] of whereBefore) {
        if (at === undefined) p.where.delete(key);
        else p.where.set(key, at);
      }
      for (const [pack, set] of membersBefore) {
        if (set === undefined) p.members.delete(pack);
        else p.members.set(pack, set);
      }
      p.open = openBefore;
    },
  };
}
