/**
 * Keeps the number of rows packs (and so of index files) bounded as backups accumulate.
 *
 * Every backup, even one of an unchanged folder, uploads the few rows written since the last
 * (the audit log's entries of that backup) as a rows pack and its index. Each later run lists,
 * fetches and opens every index (and its proof lists them again), so after months of daily
 * backups an unchanged run was paying for hundreds of small files. When the newest rows packs
 * hold more than MAX_SMALL_ROWS_PACKS small ones in a row, the backup merges them into one pack:
 * fetched, each row checked against its index's SHA-256, written as a new pack and its index,
 * and only then the old indexes and packs deleted (index first, then pack, as prune does).
 *
 * Why the newest run only, and in order: the restore's bootstrap (restore.ts) reads every rows
 * pack in name order and takes the last copy of a row id. The merged pack is named no earlier
 * than the newest pack it merges and holds their rows in their order, each row key once at its
 * last place, so the last copy of every row id is the one it was. A crash anywhere leaves the old
 * packs and maybe the new one: rows listed twice (same key, same bytes: every reader accepts
 * either) or a new pack without an index (an orphan prune removes), never a missing row. A pack
 * that does not check out stops the run there: the merge takes only the packs after it.
 *
 * Only rows packs: a data pack is the objects a backup found new, which is what changed (and a
 * store folder's data packs are its store's blocks in order, store-bootstrap.ts); rows packs of
 * an unchanged folder are what grew. The packs stay a repository v1 reader's own: this build's,
 * and any earlier one, read a merged pack as any other.
 */
import { randomBytes } from 'node:crypto';
import { encodeIndex, indexPath, newName, PACK_TARGET, packPath, sha256Hex } from './format/v1.ts';
import type { PackEntry, PackIndex, RepositoryKey } from './format/v1.ts';
import type { Target } from './target.ts';

/** A rows pack at least this big is left as it is: a merge never fetches more than a few MiB. */
export const SMALL_ROWS_PACK = 1024 * 1024;
/** More small rows packs than this, newest in a row, and a backup merges them. */
export const MAX_SMALL_ROWS_PACKS = 16;

const timeOfName = (name: string) => parseInt(name.slice(0, 10), 36);

/** The newest rows packs, oldest first, that a backup merges (none until there are more than the bound). */
export function rowsPacksToMerge(packs: readonly PackIndex[]): PackIndex[] {
  const rows = packs.filter((p) => p.kind === 'rows').sort((a, b) => (a.pack < b.pack ? -1 : a.pack > b.pack ? 1 : 0));
  const run: PackIndex[] = [];
  let size = 0;
  for (let i = rows.length - 1; i >= 0; i--) {
    const p = rows[i]!;
    if (p.size >= SMALL_ROWS_PACK || size + p.size > PACK_TARGET) break;
    run.push(p);
    size += p.size;
  }
  return run.length > MAX_SMALL_ROWS_PACKS ? run.reverse() : [];
}

/**
 * Merges `rowsPacksToMerge(packs)` into one rows pack (module comment: the order of writes and
 * deletes is what makes a crash harmless). Returns how many packs were merged (0: nothing to do)
 * and the new pack's name.
 */
export async function compactRows(
  target: Target,
  key: RepositoryKey,
  packs: readonly PackIndex[],
  opts: { clock: () => number; signal?: AbortSignal },
): Promise<{ merged: number; pack: string | null }> {
  const { signal } = opts;
  let run = rowsPacksToMerge(packs);
  if (run.length === 0) return { merged: 0, pack: null };
  let fetched: Buffer[] = [];
  for (const p of run) {
    signal?.throwIfAborted();
    const bytes = await target.get(packPath('rows', p.pack), { signal });
    const ok = bytes !== null && bytes.length === p.size && p.entries.every((e) => e.offset + e.length <= bytes.length && sha256Hex(bytes.subarray(e.offset, e.offset + e.length)) === e.sha256);
    // A pack that does not check out is left as it is (verify reports it), and so is every
    // pack before it: only those after it are merged, so no newer copy of a row goes before it.
    fetched = ok ? [...fetched, bytes] : [];
  }
  run = run.slice(run.length - fetched.length);
  if (run.length <= 1) return { merged: 0, pack: null };
  // Each row key once, at its last place (a Map keeps the order of insertion: delete, then set).
  const rows = new Map<string, { bytes: Buffer; sha256: string }>();
  for (let i = 0; i < run.length; i++) {
    for (const e of run[i]!.entries) {
      rows.delete(e.id);
      rows.set(e.id, { bytes: fetched[i]!.subarray(e.offset, e.offset + e.length), sha256: e.sha256 });
    }
  }
  const entries: PackEntry[] = [];
  const parts: Buffer[] = [];
  let size = 0;
  for (const [id, r] of rows) {
    entries.push({ id, offset: size, length: r.bytes.length, sha256: r.sha256 });
    parts.push(r.bytes);
    size += r.bytes.length;
  }
  // Named after the newest pack merged (a later millisecond), so it sorts after every one of them.
  const pack = newName(Math.max(opts.clock(), timeOfName(run.at(-1)!.pack) + 1), randomBytes(8));
  await target.put(packPath('rows', pack), Buffer.concat(parts), { signal });
  await target.put(indexPath('rows', pack), encodeIndex(key, { kind: 'rows', pack, size, entries }), { signal });
  for (const p of run) {
    await target.delete(indexPath('rows', p.pack), { signal });
    await target.delete(packPath('rows', p.pack), { signal });
  }
  return { merged: run.length, pack };
}
