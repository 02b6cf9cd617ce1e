/**
 * Who needs an object, and removing the ones nothing needs any more.
 *
 * An object may be named by several holders at once: items of this vault (live or in the trash,
 * several when a share's file was adopted and replaced), and holders outside the vault's records
 * that `retain` registers (the shares' indexes, src/mesh/shares). No holder counts references;
 * a removal is decided by asking every holder, right before it, whether it still names the
 * object. Why asking and not counting: a count kept in one record store and changed by another
 * (the shares' own, under their own keys) would need both in one transaction and would drift on
 * every bug; asking reads the truth that each holder already keeps.
 *
 * What is asked about: only objects this vault released (a `release` record), never the pool at
 * large. The pool is shared by every vault of the folder and a vault cannot see another's
 * records, so "an object none of my records names" says nothing about the others' objects; an
 * object this vault released is one it held, and no other vault holds one of this vault's
 * objects (received share objects are stored under an id keyed per vault: see shares/bridge.ts).
 *
 * Crash safety: a release is committed with the deletion that causes it (trash.ts), or before a
 * holder drops its reference (the shares), and removed only after its objects are gone or found
 * still needed (then it keeps naming those). A kill -9 at any point leaves either a release that
 * the next pass finishes, or an object still named: never a named object removed. While a holder
 * is recorded (`holder` record) but has not registered in this process (the vault opens before
 * the shares service starts), no pass runs: it could not ask that holder.
 */
import { newRecordId } from '../db/index.ts';
import { isDiskFull } from '../errors.ts';
import type { RecordId } from '../db/index.ts';
import type { ObjectId } from './objects/index.ts';
import type { HolderRecord, ReleaseRecord } from './kinds.ts';
import type { VaultCore } from './core.ts';

/**
 * A holder of objects besides the vault's items: asked, synchronously, from what is committed (or
 * about to be); or, where the holder's service does not run in this process (a one-shot CLI
 * command builds no shares service), loaded from its records when a pass has something to remove.
 */
export type ObjectHolder = ((object: ObjectId) => boolean) | { load(): Promise<(object: ObjectId) => boolean> };

export interface References {
  /**
   * Registers a holder of objects besides the vault's items. The first registration of a name is
   * recorded, so every later open waits for it before removing anything. Returns the
   * unregistration.
   */
  retain(name: string, holder: ObjectHolder): () => void;
  /** Records that `objects` may no longer be needed (a synchronous commit). */
  release(objects: readonly ObjectId[]): void;
  /** Removes the released objects nothing needs; returns how many. One pass at a time. */
  collect(): Promise<number>;
  /** Keeps `objects` from being removed until the returned function is called (adopt.ts). */
  pin(objects: readonly ObjectId[]): () => void;
  /** Whether a pass is removing `object` now. */
  removing(object: ObjectId): boolean;
}

export function createReferences(core: VaultCore, loaded: { releases: Map<RecordId, ReleaseRecord>; holders: Map<RecordId, HolderRecord> }): References {
  const { records, tree } = core;
  const releases = new Map(loaded.releases);
  const recorded = new Set([...loaded.holders.values()].map((h) => h.name));
  const holders = new Map<string, ObjectHolder>();
  const pinned = new Map<ObjectId, number>();
  const removingNow = new Set<ObjectId>();
  /**
   * Holders registered whose record could not be written (a full device at unlock, which must
   * still open the vault): written with the next release, or before the next pass, which does not
   * run until it is.
   */
  const unrecorded = new Set<string>();
  const holderRows = (): [RecordId, HolderRecord][] => [...unrecorded].map((name) => [newRecordId(), { t: 'holder', name }]);
  const recordHolders = (): boolean => {
    if (unrecorded.size === 0) return true;
    try {
      records.commit({ put: holderRows() });
    } catch (err) {
      if (!isDiskFull(err)) throw err;
      return false;
    }
    for (const name of unrecorded) recorded.add(name);
    unrecorded.clear();
    return true;
  };

  // The items' objects, rebuilt when a commit changed the items since (core.generation).
  let used: { generation: number; objects: Set<ObjectId> } | null = null;
  const itemsUse = (object: ObjectId): boolean => {
    if (used?.generation !== core.generation) {
      const objects = new Set<ObjectId>();
      for (const item of tree.all()) if (item.object !== undefined) objects.add(item.object);
      used = { generation: core.generation, objects };
    }
    return used.objects.has(object);
  };

  async function pass(): Promise<number> {
    if (releases.size === 0 || !recordHolders()) return 0;
    for (const name of recorded) if (!holders.has(name)) return 0;
    // Loaded holders are read once per pass, before it removes anything: their service does not
    // run in this process, so nothing changes what they name meanwhile.
    const asks: ((object: ObjectId) => boolean)[] = [];
    for (const holder of holders.values()) asks.push(typeof holder === 'function' ? holder : await holder.load());
    const needed = (object: ObjectId): boolean => pinned.has(object) || itemsUse(object) || asks.some((needs) => needs(object));
    let removed = 0;
    for (const [id, release] of [...releases]) {
      const kept: ObjectId[] = [];
      for (const object of release.objects) {
        // The check and the mark are one synchronous step: adopt pins, then looks at the mark.
        if (needed(object)) {
          kept.push(object);
          continue;
        }
        removingNow.add(object);
        try {
          await core.objects.remove(object);
          removed++;
        } finally {
          removingNow.delete(object);
        }
      }
      const still = new Set(kept);
      records.commit(still.size === 0 ? { remove: [id] } : { put: [[id, { ...release, objects: [...still] }]] });
      if (still.size === 0) releases.delete(id);
      else releases.set(id, { ...release, objects: [...still] });
    }
    return removed;
  }

  let chain: Promise<unknown> = Promise.resolve();
  return {
    retain(name, holder) {
      holders.set(name, holder);
      // A loaded holder only reads what is durable: a later open has nothing to wait for from it.
      if (typeof holder === 'function' && !recorded.has(name)) {
        unrecorded.add(name);
        recordHolders();
      }
      return () => {
        if (holders.get(name) === holder) holders.delete(name);
      };
    },

    release(objects) {
      if (objects.length === 0) return;
      const id = newRecordId();
      const rec: ReleaseRecord = { t: 'release', objects: [...new Set(objects)], at: core.clock() };
      // A holder not yet recorded goes with it: no release is ever durable without its holders.
      records.commit({ put: [...holderRows(), [id, rec]] });
      for (const name of unrecorded) recorded.add(name);
      unrecorded.clear();
      releases.set(id, rec);
    },

    collect() {
      const run = chain.then(pass, pass);
      chain = run.catch(() => {});
      return run;
    },

    pin(objects) {
      for (const o of objects) pinned.set(o, (pinned.get(o) ?? 0) + 1);
      return () => {
        for (const o of objects) {
          const n = (pinned.get(o) ?? 1) - 1;
          if (n === 0) pinned.delete(o);
          else pinned.set(o, n);
        }
      };
    },

    removing: (object) => removingNow.has(object),
  };
}
