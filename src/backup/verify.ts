/**
 * Checking a repository without restoring it:
 * - `verifyRepository` quick: the header and key, the key slots' MAC, every index and every
 *   snapshot opens, every snapshot's chain resolves, every row and object a snapshot names is
 *   in an index whose pack is on the target at its indexed size; with `readData`, every pack is
 *   downloaded and every entry's SHA-256 compared with its sealed index.
 * - `proveRestore`: restores a random sample of the newest snapshot's objects into memory and
 *   authenticates each against its sealed index (size and SHA-256 of the stored bytes: the
 *   restoring device may hold no file key of a decoy's backup, see the ciphertext view).
 *
 * Problems are reported, not thrown, so one damaged file does not hide the others; a target
 * failure (unreachable, auth) still throws.
 */
import { randomInt } from 'node:crypto';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { applyManifest, keyslotsMac, packPath, sha256Hex, SMALL_OBJECT } from './format/v1.ts';
import type { RepositoryKey, SnapshotState } from './format/v1.ts';
import { loadIndexes, readConfig, readManifest, requireKey, snapshotNames, snapshotState } from './repository.ts';
import type { Indexes, KnownSnapshot, Located } from './repository.ts';
import type { Target } from './target.ts';
import { eachLimit, release } from './streams.ts';
import { isTargetError } from './target.ts';
import { ElohimError, isElohimError } from '../errors.ts';

/** Sampled objects read at once by the proof of restore. */
const PROOF_READS_IN_FLIGHT = 8;

export interface VerifyReport {
  ok: boolean;
  snapshots: number;
  packs: number;
  /** bytes downloaded and checked (readData) */
  bytesRead: number;
  /** one line per problem: which file of the target, and what is wrong with it */
  problems: string[];
}

/** A problem as a line; rethrows what is not about the repository's content (a target failure, a bug). */
function describe(err: unknown): string {
  if (isTargetError(err) && err.reason !== 'missing') throw err;
  if (isElohimError(err)) return err.message;
  throw err;
}

export async function verifyRepository(target: Target, key: RepositoryKey, opts: { readData?: boolean; signal?: AbortSignal } = {}): Promise<VerifyReport> {
  const { signal } = opts;
  const problems: string[] = [];
  const config = await readConfig(target, { signal });
  if (config === null) return { ok: false, snapshots: 0, packs: 0, bytesRead: 0, problems: ['config: there is no repository on this target'] };
  requireKey(config, key);

  const keyslots = await target.get('keyslots', { signal });
  const mac = await target.get('keyslots.mac', { signal });
  if (keyslots === null) problems.push('keyslots: missing');
  else if (mac === null || mac.toString() !== keyslotsMac(key, keyslots)) problems.push('keyslots: does not match its MAC (altered)');

  let indexes: Indexes;
  try {
    indexes = await loadIndexes(target, key, { signal });
  } catch (err) {
    problems.push(`index: ${describe(err)}`);
    indexes = { packs: [], objects: new Map(), rows: new Map() };
  }
  const present = new Map<string, number>();
  for (const prefix of ['data/', 'rows/']) for (const e of await target.list(prefix, { signal })) present.set(e.name, e.size);
  for (const p of indexes.packs) {
    const size = present.get(packPath(p.kind, p.pack));
    if (size === undefined) problems.push(`${packPath(p.kind, p.pack)}: missing (${p.entries.length} entries)`);
    else if (size !== p.size) problems.push(`${packPath(p.kind, p.pack)}: ${size} bytes, its index says ${p.size}`);
  }

  const names = await snapshotNames(target, { signal });
  for (const name of names) {
    try {
      const { state } = await snapshotState(target, key, name, { signal });
      let rowsMissing = 0;
      let objectsMissing = 0;
      for (const k of state.rows) if (!indexes.rows.has(k)) rowsMissing++;
      for (const id of state.objects) if (!indexes.objects.has(id)) objectsMissing++;
      if (rowsMissing + objectsMissing > 0) problems.push(`snapshots/${name}: ${objectsMissing} objects and ${rowsMissing} rows are in no pack`);
    } catch (err) {
      problems.push(`snapshots/${name}: ${describe(err)}`);
    }
  }

  let bytesRead = 0;
  if (opts.readData) {
    await eachLimit(indexes.packs, 3, async (p) => {
      const name = packPath(p.kind, p.pack);
      if (!present.has(name)) return;
      // Streamed: entries are in offset order, each hashed as its bytes pass.
      let stream;
      try {
        stream = await target.read(name, { signal });
      } catch (err) {
        problems.push(`${name}: ${describe(err)}`);
        return;
      }
      const entries = [...p.entries].sort((a, b) => a.offset - b.offset);
      let at = 0;
      let i = 0;
      let hash = createHash('sha256');
      const bad: string[] = [];
      for await (const chunk of stream) {
        let c = chunk as Buffer;
        bytesRead += c.length;
        while (c.length > 0 && i < entries.length) {
          const e = entries[i]!;
          if (at < e.offset) {
            const skip = Math.min(e.offset - at, c.length);
            c = c.subarray(skip);
            at += skip;
            continue;
          }
          const take = Math.min(e.offset + e.length - at, c.length);
          hash.update(c.subarray(0, take));
          c = c.subarray(take);
          at += take;
          if (at === e.offset + e.length) {
            if (hash.digest('hex') !== e.sha256) bad.push(e.id);
            hash = createHash('sha256');
            i++;
          }
        }
        at += c.length;
      }
      if (i < entries.length) bad.push(...entries.slice(i).map((e) => e.id));
      if (bad.length > 0) problems.push(`${name}: ${bad.length} of ${entries.length} entries do not match their SHA-256 (altered or truncated)`);
    });
  }
  return { ok: problems.length === 0, snapshots: names.length, packs: indexes.packs.length, bytesRead, problems };
}

export interface ProofReport {
  ok: boolean;
  snapshot: string | null;
  time: number;
  /** objects restored into memory and authenticated */
  sampled: number;
  bytes: number;
  failures: string[];
}

/**
 * The length and SHA-256 of one sampled object as the target returns it; null when its pack is
 * missing. A big object is hashed as it streams: read whole, a 64 MiB sample (one in ~600 of the
 * bench's objects) added its size to the command's peak memory.
 */
async function sampleDigest(target: Target, at: Located, signal: AbortSignal | undefined): Promise<{ length: number; sha256: string } | null> {
  const range = { start: at.offset, end: at.offset + at.length };
  if (at.length <= SMALL_OBJECT) {
    const got = await target.get(packPath('data', at.pack), { signal, range });
    return got === null ? null : { length: got.length, sha256: sha256Hex(got) };
  }
  let stream: Readable;
  try {
    stream = await target.read(packPath('data', at.pack), { signal, range });
  } catch (err) {
    if (isTargetError(err, 'missing')) return null;
    throw err;
  }
  const hash = createHash('sha256');
  let length = 0;
  for await (const chunk of stream as AsyncIterable<Buffer>) {
    hash.update(chunk);
    length += chunk.length;
    // Freed now, not at V8's next full collection (streams.ts release): 64 such 1 MiB chunks
    // waiting for it were as much memory as reading the object whole.
    release(chunk);
  }
  return { length, sha256: hash.digest('hex') };
}

/**
 * The state of snapshot `name` (the newest, listed in `names`). With `known`, the snapshot the
 * backup read moments before: when `name`'s manifest is a delta of it and it is still listed,
 * that manifest alone is read and applied to it, instead of the whole chain (a full manifest of
 * ~20,000 names at 10,000 files, ~20 ms of CPU of an unchanged `backup run`). `name`'s own
 * manifest is always read from the target and authenticated.
 */
async function newestState(target: Target, key: RepositoryKey, name: string, names: readonly string[], known: KnownSnapshot | undefined, signal: AbortSignal | undefined): Promise<SnapshotState> {
  if (known === undefined) return (await snapshotState(target, key, name, { signal })).state;
  const m = await readManifest(target, key, name, { signal });
  if (m.full) return applyManifest(null, m);
  if (m.parent === known.name && names.includes(known.name)) return applyManifest(known.state, m);
  // Its parent's chain from the target, as snapshotState would have read it after this manifest.
  const parent = await snapshotState(target, key, m.parent!, { signal });
  if (parent.manifest.depth >= m.depth) throw new ElohimError('VAULT_CORRUPT', `snapshot ${name} does not fit its chain`);
  return applyManifest(parent.state, m);
}

/**
 * Restores `sample` random objects of the newest snapshot into memory and authenticates them
 * (the "proof of restore" restic users asked for, restic#2332). Rows are small and read in full.
 * `known`: the pack indexes the backup just read from this target (loadIndexes): the index files
 * are still listed, and only those written since are fetched and opened again. `knownSnapshot`:
 * the snapshot the backup read (newestState). The newest snapshot's manifest and the sampled
 * objects' bytes are always read from the target.
 */
export async function proveRestore(
  target: Target,
  key: RepositoryKey,
  opts: { sample?: number; signal?: AbortSignal; clock?: () => number; known?: Indexes; knownSnapshot?: KnownSnapshot } = {},
): Promise<ProofReport> {
  const { signal } = opts;
  const config = await readConfig(target, { signal });
  const time = (opts.clock ?? Date.now)();
  if (config === null) return { ok: false, snapshot: null, time, sampled: 0, bytes: 0, failures: ['there is no repository on this target'] };
  requireKey(config, key);
  const names = await snapshotNames(target, { signal });
  const name = names.at(-1);
  if (name === undefined) return { ok: false, snapshot: null, time, sampled: 0, bytes: 0, failures: ['the repository holds no snapshot'] };
  const failures: string[] = [];
  const state = await newestState(target, key, name, names, opts.knownSnapshot, signal);
  const indexes = await loadIndexes(target, key, { signal, known: opts.known });

  const ids = [...state.objects];
  for (let i = ids.length - 1; i > 0; i--) {
    const j = randomInt(i + 1);
    [ids[i], ids[j]] = [ids[j]!, ids[i]!];
  }
  const chosen = ids.slice(0, opts.sample ?? 32);
  let bytes = 0;
  // A few reads in flight (a round trip each: a remote target's latency, a folder's open and
  // close); each outcome in its sample's place, so the failures read in a stable order.
  const outcomes: (string | null)[] = new Array(chosen.length).fill(null);
  await eachLimit(
    chosen.map((id, i) => [id, i] as const),
    PROOF_READS_IN_FLIGHT,
    async ([id, i]) => {
      const at = indexes.objects.get(id);
      if (!at) {
        outcomes[i] = `object ${id}: in no pack`;
        return;
      }
      try {
        const got = await sampleDigest(target, at, signal);
        if (got === null) outcomes[i] = `object ${id}: its pack is missing`;
        else if (got.length !== at.length || got.sha256 !== at.sha256) outcomes[i] = `object ${id}: does not authenticate`;
        else bytes += got.length;
      } catch (err) {
        signal?.throwIfAborted();
        outcomes[i] = `object ${id}: ${describe(err)}`;
      }
    },
  );
  for (const o of outcomes) if (o !== null) failures.push(o);
  for (const k of state.rows) if (!indexes.rows.has(k)) failures.push(`row ${k.slice(0, 32)}: in no pack`);
  return { ok: failures.length === 0, snapshot: name, time, sampled: chosen.length, bytes, failures };
}
