/**
 * Restore on a fresh device: the whole data folder back from a target, with only the target
 * and one vault's passphrase or recovery code. The bootstrap (format/v1.ts, "The repository
 * key") hands the caller the clear `keyslots` and every framed row; the caller unlocks a vault
 * from them with the keyring and returns the repository key. Then every object of the snapshot
 * is written through the ciphertext view, checked against the sealed index's size and SHA-256
 * before it is kept; then the rows, config.json, and keyslots.bin last, so a folder whose
 * restore was interrupted has no key slots and is never taken for a usable one.
 *
 * Resumable: an object already in the new folder (objects are written whole or not at all) is
 * not fetched again, and rows are written with INSERT OR REPLACE.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, link, mkdir, open, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Database } from '../db/index.ts';
import { insertRawRows } from '../db/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { writeFileAtomic } from '../fs/index.ts';
import type { CiphertextView, ObjectBatch } from '../vault/index.ts';
import type { ObjectId } from './engine.ts';
import { framedRows, keyslotsMac, packPath, sha256Hex, SMALL_OBJECT, decodeRow } from './format/v1.ts';
import type { RepositoryKey, Row } from './format/v1.ts';
import { loadIndexes, readConfig, requireKey, snapshotNames, snapshotState } from './repository.ts';
import type { Located } from './repository.ts';
import { isTargetError } from './target.ts';
import type { Target } from './target.ts';
import { eachLimit, release } from './streams.ts';

/**
 * What the caller unlocks a vault from: the newest keyslots.bin, and every row ever backed up,
 * oldest first, fetched when `rows` is called. The keyring calls it once its key derivation has
 * opened a slot: Argon2id's 64 MiB was the restore's peak, and the rows packs beside it (~4.5 MiB
 * at 10,000 rows) set it 4-5 MiB above a backup's; a wrong secret fetches none. Call it once; its
 * rows are cut from the packs as they are read.
 */
export interface Bootstrap {
  keyslots: Buffer;
  rows(): Promise<Iterable<Row>>;
}

export interface RestoreInto {
  /** paths of the new folder's files; keyslots.bin must not exist yet */
  paths: { keyslots: string; config: string };
  /** the new folder's database */
  db: () => Database;
  /** the new folder's object pool: its ciphertext view, and the clean-up of a killed restore's temp files */
  objects: { ciphertext: CiphertextView; cleanTemp(olderThanMs: number, now: number): Promise<number> };
  /**
   * The pool's temp folder (objects/tmp, whose files cleanTemp removes), where a big object
   * copied whole from a target that can (Target.copyTo) waits to be checked and taken into the
   * pool (batch.take). Without it, or with a target or view that cannot, every object streams.
   */
  stagingDir?: string;
}

export interface RestoreProgress {
  objectsTotal: number;
  objectsDone: number;
  bytesTotal: number;
  bytesDone: number;
}

export interface RestoreSummary {
  snapshot: string;
  objects: { total: number; fetched: number };
  rows: number;
  bytesFetched: number;
}

/**
 * Writes keyslots.bin only if it still does not exist: a temp file made durable, then link()ed
 * to its name, which fails when the name exists (where rename would replace it). A set-up that
 * ran meanwhile in this folder (the first-run screen, another tab) keeps its vault; this restore
 * fails with VAULT_ALREADY_INITIALIZED instead of putting other key slots over it.
 */
async function publishKeyslots(path: string, bytes: Buffer): Promise<void> {
  const temp = `${path}.restore-${randomBytes(8).toString('hex')}`;
  const fh = await open(temp, 'wx', 0o600);
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await link(temp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new ElohimError('VAULT_ALREADY_INITIALIZED', 'a vault was set up in this folder while the restore ran');
    throw err;
  } finally {
    await unlink(temp);
  }
  const dir = await open(dirname(path), 'r');
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

async function* once(bytes: Uint8Array): AsyncGenerator<Uint8Array> {
  yield bytes;
}

/**
 * The bytes of `entries` (in offset order) cut from `stream`, a pack's bytes from offset
 * `start`: each yielded once whole, without copying where an object lies within one chunk.
 * Throws OBJECT_DAMAGED when the stream ends short. With `release` (chunks nobody else holds, and
 * a consumer that is done with each object when it asks for the next: it keeps no view) each
 * chunk is freed once every object in it was taken: a restore's small-object packs were read
 * as ~45 fresh 1 MiB chunks left to V8's next full collection, its peak RSS in some runs.
 */
export async function* cutObjects(stream: AsyncIterable<Uint8Array>, start: number, entries: readonly Located[], opts: { release?: boolean } = {}): AsyncGenerator<[Located, Buffer]> {
  let i = 0;
  // The chunks received and not yet passed, the first starting at pack offset `base`. An object
  // within one chunk is a view of it; only one that straddles chunks is copied together (copying
  // the held tail onto every new chunk doubled a restore's garbage).
  const chunks: Buffer[] = [];
  let base = start;
  let held = 0;
  const bytesAt = (from: number, length: number): Buffer => {
    if (length === 0) return Buffer.alloc(0);
    let k = 0;
    let at = from - base;
    while (at >= chunks[k]!.length) at -= chunks[k++]!.length;
    if (at + length <= chunks[k]!.length) return chunks[k]!.subarray(at, at + length);
    const parts: Buffer[] = [];
    for (let left = length; left > 0; k++, at = 0) {
      const piece = chunks[k]!.subarray(at, at + left);
      parts.push(piece);
      left -= piece.length;
    }
    return Buffer.concat(parts, length);
  };
  for await (const chunk of stream) {
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    held += chunk.byteLength;
    while (i < entries.length && entries[i]!.offset + entries[i]!.length <= base + held) {
      const e = entries[i++]!;
      yield [e, bytesAt(e.offset, e.length)];
    }
    // Drop the chunks that end before the next entry.
    const next = i < entries.length ? entries[i]!.offset : Infinity;
    while (chunks.length > 0 && base + chunks[0]!.length <= next) {
      const done = chunks.shift()!;
      base += done.length;
      held -= done.length;
      // Every object cut from it was taken before the consumer asked for the next (see above).
      if (opts.release) release(done);
    }
  }
  if (i < entries.length) throw new ElohimError('OBJECT_DAMAGED', 'a pack of the backup is short');
}

/**
 * After a failure, keeps what a batch holds (every object in it checked out), so that the next
 * run fetches it no more; if even that fails, deletes it.
 */
async function keepChecked(batch: ObjectBatch): Promise<void> {
  await batch.commit().catch(() => batch.abort().catch(() => {}));
}

/** Groups located entries by pack, so each small pack is fetched once. */
function byPack(entries: Located[]): Map<string, Located[]> {
  const out = new Map<string, Located[]>();
  for (const e of entries) {
    const list = out.get(e.pack) ?? [];
    list.push(e);
    out.set(e.pack, list);
  }
  return out;
}

/**
 * The rows of `packs`, cut as they are read: the keyring reads them after its key derivation, so
 * Argon2id's 64 MiB is never in memory beside 30,000 row buffers (10,000 rows: ~4 MiB of the
 * restore's peak RSS, which the unlock sets). Views into the packs, not copies. A damaged or
 * torn pack (an interrupted backup's last) is cut short: it holds nothing the bootstrap needs
 * that another pack does not, and the restore proper checks every row it uses.
 */
function* rowsOf(packs: readonly Buffer[]): Generator<Row> {
  for (const pack of packs) {
    try {
      yield* framedRows(pack, false);
    } catch (err) {
      if (!isElohimError(err, 'OBJECT_DAMAGED')) throw err;
    }
  }
}

/**
 * Restores snapshot `snapshot` (default: the newest) into an empty data folder. `unlock` gets
 * the bootstrap and returns the repository key, or throws (VAULT_WRONG_SECRET for a wrong
 * secret). Throws VAULT_ALREADY_INITIALIZED when the folder has key slots, VAULT_WRONG_SECRET
 * when the key is not this repository's, OBJECT_DAMAGED for anything that does not check out.
 */
export async function restoreFolder(opts: {
  target: Target;
  into: RestoreInto;
  unlock: (bootstrap: Bootstrap) => Promise<RepositoryKey>;
  snapshot?: string;
  signal?: AbortSignal;
  onProgress?: (p: RestoreProgress) => void;
}): Promise<RestoreSummary> {
  const { target, into, signal } = opts;
  if (existsSync(into.paths.keyslots)) throw new ElohimError('VAULT_ALREADY_INITIALIZED', 'restore needs a fresh data folder: this one has key slots');
  const config = await readConfig(target, { signal });
  if (config === null) throw new ElohimError('HOST_FILE_NOT_FOUND', 'there is no ElohimOS backup on this target');
  const keyslots = await target.get('keyslots', { signal });
  if (keyslots === null) throw new ElohimError('OBJECT_DAMAGED', 'the backup has no key slots');

  // The bootstrap: every rows pack, oldest first, so a later copy of a row comes last.
  const rowPacks = (await target.list('rows/', { signal })).map((e) => e.name).sort();
  const rows = async (): Promise<Iterable<Row>> => {
    const packs: Buffer[] = [];
    for (const name of rowPacks) {
      const pack = await target.get(name, { signal });
      if (pack !== null) packs.push(pack);
    }
    return rowsOf(packs); // unreachable once read: every row again is ~2x the packs, for the whole restore
  };
  const key = await opts.unlock({ keyslots, rows });
  requireKey(config, key);
  const mac = await target.get('keyslots.mac', { signal });
  if (mac === null || mac.toString() !== keyslotsMac(key, keyslots)) throw new ElohimError('OBJECT_DAMAGED', 'the backup\'s key slots were altered');

  const names = await snapshotNames(target, { signal });
  const name = opts.snapshot ?? names.at(-1);
  if (name === undefined || !names.includes(name)) throw new ElohimError('HOST_FILE_NOT_FOUND', 'the backup holds no such snapshot');
  const { state } = await snapshotState(target, key, name, { signal });
  const indexes = await loadIndexes(target, key, { signal });

  const wanted: Located[] = [];
  for (const id of state.objects) {
    const at = indexes.objects.get(id);
    if (!at) throw new ElohimError('OBJECT_DAMAGED', `object ${id} of the snapshot is in no pack`);
    wanted.push(at);
  }
  // What an interrupted restore already wrote (objects are written whole or not at all), less
  // the temp files of objects it was writing when killed: a new write of one would meet its
  // temp file (named after the object) and fail. Nobody else writes here: there are no key
  // slots yet, and the caller holds the folder's lock.
  await into.objects.cleanTemp(0, Date.now() + 1);
  const present = new Map<string, number>();
  for await (const o of into.objects.ciphertext.list()) present.set(o.id, o.size);
  const missing = wanted.filter((at) => present.get(at.id) !== at.length);
  const progress: RestoreProgress = { objectsTotal: missing.length, objectsDone: 0, bytesTotal: missing.reduce((n, e) => n + e.length, 0), bytesDone: 0 };
  const advance = (bytes: number) => {
    progress.objectsDone++;
    progress.bytesDone += bytes;
    opts.onProgress?.({ ...progress });
  };
  const view = into.objects.ciphertext;
  // Big objects stream through a batch too, committed after each (one is many MiB: a kill -9
  // must not cost more of them again), so their bytes are hashed on this thread (batch.ts).
  const bigBatch = view.batch?.();
  const keep = async (at: Located, source: AsyncIterable<Uint8Array>) => {
    await view.write(at.id as ObjectId, source, { storedSize: at.length, storedSha256: at.sha256 }, { signal, batch: bigBatch });
    await bigBatch?.commit();
    advance(at.length);
  };

  // A big object alone in its pack (as backup writes them) is copied whole by a target that is
  // a folder here, then checked and taken into the pool from objects/tmp: the kernel copies,
  // and the check reads it into one reused buffer (batch.take), where streaming it allocated a
  // fresh 1 MiB buffer per read that only a full collection frees (bench:backup's 1 GiB
  // restore: ~40 of them).
  const packSize = new Map(indexes.packs.map((p) => [p.pack, p.size]));
  const copyWhole = async (at: Located): Promise<boolean> => {
    const dir = into.stagingDir;
    if (dir === undefined || target.copyTo === undefined || bigBatch?.take === undefined) return false;
    if (at.offset !== 0 || packSize.get(at.pack) !== at.length) return false;
    const staged = join(dir, `${at.id}.restore`);
    await mkdir(dir, { recursive: true, mode: 0o700 });
    try {
      await target.copyTo(packPath('data', at.pack), staged, { signal });
      // A copy takes the mode of the target's file (0644 or 0777 on a FAT drive); the pool's
      // objects are 0600, as a write makes them.
      await chmod(staged, 0o600);
      // A pack file not of its index's size (bytes added after the object, or cut short) is
      // read by range as any other: what the object needs may still all be there.
      if ((await stat(staged)).size !== at.length) {
        await rm(staged, { force: true });
        return false;
      }
      await bigBatch.take(at.id as ObjectId, staged, { storedSize: at.length, storedSha256: at.sha256 });
    } catch (err) {
      // Not taken: the staged file is ours to delete (a batch leaves a taken file to its owner
      // only on abort, and commit below renames it into the pool).
      await rm(staged, { force: true });
      if (isTargetError(err, 'missing')) throw new ElohimError('OBJECT_DAMAGED', `pack ${at.pack} is missing`, { cause: err });
      throw err;
    }
    await bigBatch.commit();
    advance(at.length);
    return true;
  };

  const big = missing.filter((e) => e.length > SMALL_OBJECT);
  const small = byPack(missing.filter((e) => e.length <= SMALL_OBJECT));
  // Big objects first, then the small ones' packs (interleaving them, as backup does, was no
  // faster here and held more memory).
  const fetchPack = async ([pack, entries]: readonly [string, readonly Located[]]) => {
    signal?.throwIfAborted();
    if (entries.length === 1 && entries[0]!.length > SMALL_OBJECT) {
      const at = entries[0]!;
      if (await copyWhole(at)) return;
      await keep(at, await target.read(packPath('data', pack), { signal, range: { start: at.offset, end: at.offset + at.length } }));
      return;
    }
    // The span the wanted objects cover, streamed and cut into objects as it arrives (a pack is
    // never whole in memory). Small objects go into a batch made durable once per pack
    // (vault/objects/batch.ts): per-object fsyncs were most of a 10,000-file restore's time.
    const sorted = [...entries].sort((a, b) => a.offset - b.offset);
    const start = sorted[0]!.offset;
    const end = Math.max(...sorted.map((e) => e.offset + e.length));
    let stream: Readable;
    try {
      stream = await target.read(packPath('data', pack), { signal, range: { start, end } });
    } catch (err) {
      if (isTargetError(err, 'missing')) throw new ElohimError('OBJECT_DAMAGED', `pack ${pack} is missing`, { cause: err });
      throw err;
    }
    const batch = view.batch?.();
    try {
      // release: a target's read gives fresh chunks, and each object is written (batch.write:
      // one synchronous write; a view's write: consumed) before the next is asked for.
      for await (const [at, bytes] of cutObjects(stream, start, sorted, { release: true })) {
        signal?.throwIfAborted();
        const check = { storedSize: at.length, storedSha256: at.sha256 };
        if (batch === undefined) await view.write(at.id as ObjectId, once(bytes), check, { signal });
        else await batch.write(at.id as ObjectId, bytes, check);
        advance(at.length);
      }
      await batch?.commit();
    } catch (err) {
      stream.destroy();
      if (batch !== undefined) await keepChecked(batch);
      throw err;
    }
  };
  try {
    await eachLimit([...big.map((e) => [e.pack, [e]] as const), ...small], 2, fetchPack);
    await bigBatch?.commit();
  } catch (err) {
    if (bigBatch !== undefined) await keepChecked(bigBatch);
    throw err;
  }

  // Rows: each checked against its sealed index entry, then all written in one transaction.
  const rowAt: Located[] = [];
  for (const k of state.rows) {
    const at = indexes.rows.get(k);
    if (!at) throw new ElohimError('OBJECT_DAMAGED', 'a row of the snapshot is in no pack');
    rowAt.push(at);
  }
  const rowPacksWanted: [Buffer, readonly Located[]][] = [];
  for (const [pack, entries] of byPack(rowAt)) {
    const bytes = await target.get(packPath('rows', pack), { signal });
    if (bytes === null) throw new ElohimError('OBJECT_DAMAGED', `rows pack ${pack} is missing`);
    rowPacksWanted.push([bytes, entries]);
  }
  signal?.throwIfAborted();
  // Checked and cut as they are inserted (views into the packs), not all held as 30,000 buffers
  // first (~4 MiB at the restore's end, its peak in some runs): a row that does not check out
  // throws inside the transaction, which then writes none of them.
  let restoredRows = 0;
  insertRawRows(
    into.db(),
    (function* () {
      for (const [bytes, entries] of rowPacksWanted) {
        for (const at of entries) {
          const framed = bytes.subarray(at.offset, at.offset + at.length);
          if (framed.length !== at.length || sha256Hex(framed) !== at.sha256) throw new ElohimError('OBJECT_DAMAGED', `rows pack ${at.pack} was altered`);
          restoredRows++;
          yield decodeRow(framed, false);
        }
      }
    })(),
  );

  if (state.config !== null) await writeFileAtomic(into.paths.config, Buffer.from(state.config, 'base64'));
  await publishKeyslots(into.paths.keyslots, keyslots);
  return { snapshot: name, objects: { total: wanted.length, fetched: missing.length }, rows: restoredRows, bytesFetched: progress.bytesDone };
}
