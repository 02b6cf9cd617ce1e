/**
 * Reading a repository's state from a target: its header, the indexes of its packs, and its
 * snapshots. Shared by backup, verify, proof and restore. The format is format/v1.ts; this is
 * the I/O around it.
 */
import { ElohimError } from '../errors.ts';
import {
  applyChain,
  decodeConfig,
  decodeIndex,
  decodeManifest,
  indexPath,
  isName,
  keyMatches,
  snapshotPath,
} from './format/v1.ts';
import type { Manifest, PackKind, PlacedEntry, PlacedIndex, RepositoryConfig, RepositoryKey, SnapshotState } from './format/v1.ts';
import type { CallOptions, Target } from './target.ts';
import { eachLimit } from './streams.ts';

/** Where an entry (an object, or a row) is: its pack and place in it. */
export type Located = PlacedEntry;

export interface Indexes {
  packs: PlacedIndex[];
  /** object id → where */
  objects: Map<string, Located>;
  /** row key → where */
  rows: Map<string, Located>;
}

/** The repository header; null when the target holds none. Throws VAULT_CORRUPT / VAULT_FORMAT_UNKNOWN. */
export async function readConfig(target: Target, opts: CallOptions = {}): Promise<RepositoryConfig | null> {
  const buf = await target.get('config', opts);
  return buf === null ? null : decodeConfig(buf);
}

/** Throws VAULT_WRONG_SECRET when `key` is not this repository's (another folder's, or a wrong secret). */
export function requireKey(config: RepositoryConfig, key: RepositoryKey): void {
  if (!keyMatches(config, key)) {
    // A decoy added or removed changes the front vault, hence the key (format/v1.ts): say so,
    // since to the user it is "the same folder".
    throw new ElohimError(
      'VAULT_WRONG_SECRET',
      'this backup was made from another data folder (or before a decoy was added or removed here, which changes the backup key: start a new backup in another folder or prefix), or the passphrase or recovery code is wrong',
    );
  }
}

/**
 * Every pack index on the target, opened; throws OBJECT_DAMAGED for one that does not authenticate.
 * `known`: indexes this process opened from the same target moments before (the backup's, for the
 * proof that follows it): an index file still listed there is taken from them instead of fetched
 * and opened again (~60 ms at 10,000 objects on a folder); the others (the packs the backup just
 * wrote) are fetched and opened, and one no longer listed is not in the result.
 */
export async function loadIndexes(target: Target, key: RepositoryKey, opts: CallOptions & { known?: Indexes } = {}): Promise<Indexes> {
  const names = (await target.list('index/', opts)).map((e) => e.name).sort();
  const packs: PlacedIndex[] = new Array(names.length);
  const known = new Map(opts.known?.packs.map((p) => [indexPath(p.kind, p.pack), p]));
  await eachLimit(
    names.map((n, i) => [n, i] as const),
    8,
    async ([name, i]) => {
      const m = /^index\/(data|rows)-(.+)$/.exec(name);
      if (!m || !isName(m[2]!)) throw new ElohimError('VAULT_CORRUPT', `unexpected file ${name} in the backup`);
      const had = known.get(name);
      if (had !== undefined) {
        packs[i] = had;
        return;
      }
      const sealed = await target.get(name, opts);
      if (sealed === null) throw new ElohimError('OBJECT_DAMAGED', `${name} vanished while being read`);
      packs[i] = decodeIndex(key, m[1] as PackKind, m[2]!, sealed);
    },
  );
  const objects = new Map<string, Located>();
  const rows = new Map<string, Located>();
  for (const p of packs) {
    const into = p.kind === 'data' ? objects : rows;
    // The entries as opened (they say their pack): one object per entry, not a copy of each.
    for (const e of p.entries) if (!into.has(e.id)) into.set(e.id, e);
  }
  return { packs, objects, rows };
}

export const indexName = indexPath;

/** A snapshot's state as this process read it from a target moments before (the backup's, for its proof). */
export interface KnownSnapshot {
  name: string;
  state: SnapshotState;
}

/** Snapshot names on the target, oldest first (names start with the time). */
export async function snapshotNames(target: Target, opts: CallOptions = {}): Promise<string[]> {
  return (await target.list('snapshots/', opts))
    .map((e) => e.name.slice('snapshots/'.length))
    .filter(isName)
    .sort();
}

export async function readManifest(target: Target, key: RepositoryKey, name: string, opts: CallOptions = {}): Promise<Manifest> {
  const sealed = await target.get(snapshotPath(name), opts);
  if (sealed === null) throw new ElohimError('OBJECT_DAMAGED', `snapshot ${name} is missing from the backup`);
  return decodeManifest(key, name, sealed);
}

/** The full state of snapshot `name`, following its chain of deltas back to a full manifest. */
export async function snapshotState(
  target: Target,
  key: RepositoryKey,
  name: string,
  opts: CallOptions = {},
): Promise<{ state: SnapshotState; manifest: Manifest }> {
  const chain: Manifest[] = [];
  let at: string | null = name;
  while (at !== null) {
    const m = await readManifest(target, key, at, opts);
    // Depth falls strictly along a chain (by one, or more where forget rewrote a parent as
    // full), so a chain ends within MAX_DEPTH steps even in a forged repository.
    if (chain.length > 0 && m.depth >= chain.at(-1)!.depth) throw new ElohimError('VAULT_CORRUPT', `snapshot ${at} does not fit its chain`);
    chain.push(m);
    at = m.parent;
  }
  chain.reverse();
  return { state: applyChain(chain), manifest: chain.at(-1)! };
}
