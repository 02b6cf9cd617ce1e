/**
 * Retention: `forgetSnapshots` removes the snapshots a policy does not keep (retention.ts), `pruneRepository` removes
 * packs that no snapshot needs any more. Both take the repository key, like every other call.
 *
 * A manifest may be a delta on its parent (format/v1.ts), so a kept snapshot whose chain reaches
 * a forgotten one is first rewritten, under its own name, as a full manifest of the same state;
 * only then are the others deleted. A crash in between leaves extra snapshots, never a broken
 * chain.
 *
 * Prune deletes a pack when none of its entries is in any snapshot, index first, then pack, so a
 * crash leaves at most a pack without an index, which is an orphan the next prune removes. A
 * data pack partly needed, with at least REPACK_DEAD of its bytes no longer needed (small files
 * deleted since), is repacked as restic does: its needed objects are fetched, checked against
 * their SHA-256, and written into new packs and indexes; only once every new index is written
 * are the old indexes and packs deleted. A crash before that leaves new packs (orphans without
 * an index, or whole packs whose objects are listed twice, which every reader accepts: each copy
 * checks out) and the old ones; the next prune finishes the job. Rows packs are never repacked:
 * they are small, and a restore's bootstrap reads them in name order, newest copy of a row last,
 * which a repacked (newer) pack holding an older copy would upset. Orphans (packs an interrupted
 * backup uploaded without writing their index) are removed only when older than ORPHAN_AGE_MS,
 * so a backup running at the same moment on another device keeps its packs.
 */
import { randomBytes } from 'node:crypto';
import { encodeIndex, encodeManifest, isName, newName, PACK_TARGET, packPath, sha256Hex, snapshotPath } from './format/v1.ts';
import type { Manifest, PackEntry, PackIndex, RepositoryKey } from './format/v1.ts';
import { loadIndexes, readConfig, readManifest, requireKey, snapshotNames, snapshotState } from './repository.ts';
import type { Target } from './target.ts';
import { ElohimError } from '../errors.ts';
import { checkPolicy, snapshotsToKeep } from './retention.ts';
import type { RetentionPolicy } from './retention.ts';

export const ORPHAN_AGE_MS = 24 * 60 * 60 * 1000;
/**
 * A data pack is repacked when at least this share of its bytes is no longer needed: below it,
 * downloading and uploading the rest to free a little is not worth it (restic's --max-unused
 * makes the same trade for the whole repository).
 */
export const REPACK_DEAD = 0.2;

/** The time a pack or snapshot name starts with. */
const timeOfName = (name: string) => parseInt(name.slice(0, 10), 36);

export async function forgetSnapshots(
  target: Target,
  key: RepositoryKey,
  opts: { keepLast?: number; policy?: RetentionPolicy; signal?: AbortSignal },
): Promise<{ kept: string[]; forgotten: string[] }> {
  const { signal } = opts;
  if (opts.keepLast !== undefined && (!Number.isSafeInteger(opts.keepLast) || opts.keepLast < 1)) throw new ElohimError('INVALID_INPUT', 'keep at least one snapshot');
  const policy = checkPolicy(opts.policy ?? { last: opts.keepLast });
  const config = await readConfig(target, { signal });
  if (config === null) return { kept: [], forgotten: [] };
  requireKey(config, key);
  const names = await snapshotNames(target, { signal });
  // A snapshot's name starts with its manifest's time (engine.ts), so no manifest is read here.
  const keep = snapshotsToKeep(names.map((name) => ({ name, time: timeOfName(name) })), policy);
  const kept = names.filter((n) => keep.has(n));
  const forgotten = names.filter((n) => !keep.has(n));
  const gone = new Set(forgotten);

  for (const name of kept) {
    // Does this snapshot's chain pass through a snapshot about to go?
    let at: string | null = name;
    let broken = false;
    while (at !== null) {
      const m: Manifest = await readManifest(target, key, at, { signal });
      if (m.full) break;
      at = m.parent;
      if (at !== null && gone.has(at)) {
        broken = true;
        break;
      }
    }
    if (!broken) continue;
    const { state, manifest } = await snapshotState(target, key, name, { signal });
    const full: Manifest = {
      time: manifest.time,
      parent: null,
      depth: 0,
      full: true,
      rows: { put: [...state.rows].sort(), del: [] },
      objects: { put: [...state.objects].sort(), del: [] },
      config: state.config,
    };
    await target.put(snapshotPath(name), encodeManifest(key, name, full), { signal });
  }
  for (const name of forgotten) await target.delete(snapshotPath(name), { signal });
  return { kept, forgotten };
}

export async function pruneRepository(
  target: Target,
  key: RepositoryKey,
  opts: { signal?: AbortSignal; clock?: () => number } = {},
): Promise<{ packsDeleted: number; packsRepacked: number; orphansDeleted: number; bytesFreed: number }> {
  const { signal } = opts;
  const now = (opts.clock ?? Date.now)();
  const config = await readConfig(target, { signal });
  if (config === null) return { packsDeleted: 0, packsRepacked: 0, orphansDeleted: 0, bytesFreed: 0 };
  requireKey(config, key);

  // Everything any snapshot needs. A snapshot that does not open stops the prune: deleting on
  // a partial view could delete what it needs.
  const rows = new Set<string>();
  const objects = new Set<string>();
  for (const name of await snapshotNames(target, { signal })) {
    const { state } = await snapshotState(target, key, name, { signal });
    for (const k of state.rows) rows.add(k);
    for (const id of state.objects) objects.add(id);
  }
  const indexes = await loadIndexes(target, key, { signal });
  let packsDeleted = 0;
  let bytesFreed = 0;
  const indexed = new Set<string>();
  const partly: PackIndex[] = [];
  // An object listed in two packs (a repack interrupted after its new index) is needed from
  // the first only, as loadIndexes reads it; its other copy counts as dead.
  const firstCopy = (p: PackIndex, e: PackEntry) => p.kind === 'rows' || indexes.objects.get(e.id)?.pack === p.pack;
  for (const p of indexes.packs) {
    indexed.add(packPath(p.kind, p.pack));
    const needed = p.kind === 'data' ? objects : rows;
    const live = p.entries.filter((e) => needed.has(e.id) && firstCopy(p, e));
    if (live.length > 0) {
      const liveBytes = live.reduce((n, e) => n + e.length, 0);
      // A second copy of a needed object (left by an interrupted repack) is repacked away
      // whatever its size: below the threshold it would stay for good.
      const copies = p.entries.some((e) => needed.has(e.id) && !firstCopy(p, e));
      if (p.kind === 'data' && (copies || p.size - liveBytes >= REPACK_DEAD * p.size)) partly.push({ ...p, entries: live });
      continue;
    }
    await target.delete(`index/${p.kind}-${p.pack}`, { signal });
    await target.delete(packPath(p.kind, p.pack), { signal });
    packsDeleted++;
    bytesFreed += p.size;
  }
  const repacked = await repack(target, key, partly, now, signal);
  bytesFreed += repacked.bytesFreed;
  let orphansDeleted = 0;
  for (const prefix of ['data/', 'rows/']) {
    for (const e of await target.list(prefix, { signal })) {
      const name = e.name.slice(prefix.length);
      if (indexed.has(e.name) || !isName(name) || now - timeOfName(name) < ORPHAN_AGE_MS) continue;
      await target.delete(e.name, { signal });
      orphansDeleted++;
      bytesFreed += e.size;
    }
  }
  return { packsDeleted, packsRepacked: partly.length, orphansDeleted, bytesFreed };
}

/**
 * Writes the needed entries of `packs` (their index entries narrowed to those) into new packs,
 * then deletes the old ones (module comment: the order is what makes a crash harmless). Throws
 * OBJECT_DAMAGED when a needed object does not match its SHA-256, before anything is deleted.
 */
async function repack(target: Target, key: RepositoryKey, packs: PackIndex[], now: number, signal?: AbortSignal): Promise<{ bytesFreed: number }> {
  if (packs.length === 0) return { bytesFreed: 0 };
  let parts: Buffer[] = [];
  let entries: PackEntry[] = [];
  let size = 0;
  const flush = async () => {
    if (entries.length === 0) return;
    const pack = newName(now, randomBytes(8));
    await target.put(packPath('data', pack), Buffer.concat(parts), { signal });
    await target.put(`index/data-${pack}`, encodeIndex(key, { kind: 'data', pack, size, entries }), { signal });
    parts = [];
    entries = [];
    size = 0;
  };
  let liveBytes = 0;
  for (const p of packs) {
    signal?.throwIfAborted();
    const start = Math.min(...p.entries.map((e) => e.offset));
    const end = Math.max(...p.entries.map((e) => e.offset + e.length));
    const bytes = await target.get(packPath('data', p.pack), { signal, range: { start, end } });
    if (bytes === null || bytes.length !== end - start) throw new ElohimError('OBJECT_DAMAGED', `pack ${p.pack} is missing or short`);
    for (const e of p.entries) {
      const object = bytes.subarray(e.offset - start, e.offset - start + e.length);
      if (sha256Hex(object) !== e.sha256) throw new ElohimError('OBJECT_DAMAGED', `object ${e.id} in pack ${p.pack} does not match its SHA-256`);
      if (size > 0 && size + object.length > PACK_TARGET) await flush();
      entries.push({ id: e.id, offset: size, length: object.length, sha256: e.sha256 });
      parts.push(object);
      size += object.length;
      liveBytes += object.length;
    }
  }
  await flush();
  for (const p of packs) {
    await target.delete(`index/data-${p.pack}`, { signal });
    await target.delete(packPath('data', p.pack), { signal });
  }
  return { bytesFreed: packs.reduce((n, p) => n + p.size, 0) - liveBytes };
}
