/**
 * Retention: `forgetSnapshots` removes the snapshots a policy does not keep (retention.ts), `pruneRepository` removes
 * packs that no snapshot needs any more. Both take the repository key, like every other call.
 *
 * A manifest may be a delta on its parent (format/v1.ts), so a kept snapshot whose chain reaches
 * a forgotten one is first rewritten, under its own name, as a full manifest of the same state;
 * only then are the others deleted. A crash in between leaves extra snapshots, never a broken
 * chain.
 *
 * Prune deletes a pack only when none of its entries is in any snapshot (a pack partly needed
 * is kept whole: repacking is for later), index first, then pack, so a crash leaves at most a
 * pack without an index, which is an orphan the next prune removes. Orphans (packs an
 * interrupted backup uploaded without writing their index) are removed only when older than
 * ORPHAN_AGE_MS, so a backup running at the same moment on another device keeps its packs.
 */
import { encodeManifest, isName, packPath, snapshotPath } from './format/v1.ts';
import type { Manifest, RepositoryKey } from './format/v1.ts';
import { loadIndexes, readConfig, readManifest, requireKey, snapshotNames, snapshotState } from './repository.ts';
import type { Target } from './target.ts';
import { ElohimError } from '../errors.ts';
import { checkPolicy, snapshotsToKeep } from './retention.ts';
import type { RetentionPolicy } from './retention.ts';

export const ORPHAN_AGE_MS = 24 * 60 * 60 * 1000;

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
): Promise<{ packsDeleted: number; orphansDeleted: number; bytesFreed: number }> {
  const { signal } = opts;
  const now = (opts.clock ?? Date.now)();
  const config = await readConfig(target, { signal });
  if (config === null) return { packsDeleted: 0, orphansDeleted: 0, bytesFreed: 0 };
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
  for (const p of indexes.packs) {
    indexed.add(packPath(p.kind, p.pack));
    const needed = p.kind === 'data' ? objects : rows;
    if (p.entries.some((e) => needed.has(e.id))) continue;
    await target.delete(`index/${p.kind}-${p.pack}`, { signal });
    await target.delete(packPath(p.kind, p.pack), { signal });
    packsDeleted++;
    bytesFreed += p.size;
  }
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
  return { packsDeleted, orphansDeleted, bytesFreed };
}
