/**
 * The backup engine: copies the whole data folder to a target as a new snapshot, uploading only
 * what the repository does not hold yet (format/v1.ts for the layout and the key). Built by the
 * composition root with the few things it reads, for whichever vault is open: every vault
 * backs up the same folder under the same key, so nothing here depends on which one it is.
 *
 * Over 400 lines: `backup` is one operation whose phases (rows, packed and big objects, the
 * rows' merge, the snapshot) share its repository state, progress, signal and the pack names it
 * wrote; split apart, each phase would take all of that as parameters.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { Readable } from 'node:stream';
import type { Database } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import type { CiphertextView } from '../vault/index.ts';
import {
  encodeConfig,
  encodeIndex,
  encodeManifest,
  encodeRow,
  keyslotsMac,
  manifestOf,
  newName,
  PACK_TARGET,
  packPath,
  rowKeyOfJoined,
  sha256Hex,
  SMALL_OBJECT,
  snapshotPath,
} from './format/v1.ts';
import type { PackEntry, PackIndex, PackKind, RepositoryKey, Row, SnapshotState } from './format/v1.ts';
import { loadIndexes, readConfig, readManifest, requireKey, snapshotNames, snapshotState } from './repository.ts';
import type { Indexes, KnownSnapshot } from './repository.ts';
import type { Body, Target } from './target.ts';
import { collectGarbage } from '../gc.ts';
import { compactRows } from './compact.ts';
import { collect, COLLECT_AFTER_BYTES, eachLimit, hashing, inOrder, interleave } from './streams.ts';

export interface BackupDeps {
  /** the data folder's files read as they are */
  paths: { keyslots: string; config: string };
  /** the data folder's database, read only (every row of `records`) */
  db: () => Database;
  /** the object pool as stored bytes */
  objects: CiphertextView;
  /** the repository key (format/v1.ts: derived from the front vault's master key) */
  key: RepositoryKey;
  clock: () => number;
  /** holds the folder still while a backup reads it (a deniable store: store-source.ts) */
  hold?: () => Disposable;
}

export interface BackupProgress {
  /** rows and objects to upload, and done */
  itemsTotal: number;
  itemsDone: number;
  /** of those, the objects (the files people count; rows are records) */
  objectsTotal: number;
  objectsDone: number;
  bytesTotal: number;
  bytesDone: number;
}

export interface BackupSummary {
  snapshot: string;
  time: number;
  rows: { total: number; uploaded: number };
  objects: { total: number; uploaded: number };
  /** bytes of packs uploaded (not counting the few small sealed files) */
  bytesUploaded: number;
  packsUploaded: number;
}

export interface SnapshotInfo {
  name: string;
  time: number;
  full: boolean;
}

/** The vault's branded object id (its face exports the view, not the brand). */
export type ObjectId = Parameters<CiphertextView['read']>[0];

/** Each blob as a Buffer over its own memory (node:sqlite gives every blob its own), not a copy. */
const asBuffer = (b: Uint8Array) => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** A row as one buffer, id(16) ‖ tag(16) ‖ body, with its repository key (format/v1.ts rowKey). */
export interface KeyedRow {
  joined: Buffer;
  key: string;
}

/** A joined row's parts, as views into it (made only for the rows a backup uploads). */
export const rowOfJoined = (b: Buffer): Row => ({ id: b.subarray(0, 16), tag: b.subarray(16, 32), body: b.subarray(32) });

/**
 * Every row of the records table with its key, one at a time, from one statement (one
 * consistent WAL snapshot). Each row comes from SQLite as one blob, id ‖ tag ‖ body (`||` joins
 * the bytes as they are, CAST gives them back as a blob; the schema's CHECKs fix id and tag at
 * 16 bytes), hashed as it is; its parts are cut from it only for the rows uploaded (rowOfJoined).
 * Three blobs per row, then a copy of them joined to hash, cost an unchanged backup ~40% more CPU
 * at 10,000 rows (~65-95 -> ~45-55 ms, with less garbage).
 */
export function* eachKeyedRow(db: Database): Generator<KeyedRow> {
  const select = db.prepare('SELECT CAST(id || tag || body AS BLOB) FROM records');
  // Rows as arrays, not objects keyed by column name: less to build and collect per row.
  select.setReturnArrays(true);
  for (const [joined] of select.iterate() as unknown as Iterable<[Uint8Array]>) {
    const b = asBuffer(joined);
    if (b.length < 32) throw new ElohimError('VAULT_CORRUPT', 'a records row has a bad id or tag');
    yield { joined: b, key: rowKeyOfJoined(b) };
  }
}

/** Every row of the records table, one at a time, from one statement. */
export function* eachRow(db: Database): Generator<Row> {
  for (const { joined } of eachKeyedRow(db)) yield rowOfJoined(joined);
}

/** Every row of the records table, read in one statement. */
export function readRows(db: Database): Row[] {
  return [...eachRow(db)];
}

async function readOptional(path: string): Promise<Buffer | null> {
  try {
    return await readFile(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Uploads at most this many packs at once: overlaps reading the pool with the target's latency. */
const UPLOADS_IN_FLIGHT = 2;
/** Packed objects read into the page cache ahead of the packs' reads (warm.ts; at most 64 MiB ahead too). */
const WARM_LEAD = 2048;

export function createBackupEngine(deps: BackupDeps) {
  const { key, clock } = deps;

  /** Creates the repository header on an empty target, or checks the key of an existing one. */
  async function ensureRepository(target: Target, signal?: AbortSignal): Promise<void> {
    await target.check({ signal });
    const config = await readConfig(target, { signal });
    if (config === null) await target.put('config', encodeConfig(key, randomBytes(16)), { signal });
    else requireKey(config, key);
  }

  /** Uploads a pack and then its index (`entries` once the pack is up), which marks it complete. */
  async function putPack(target: Target, kind: PackKind, body: Body, entries: () => PackEntry[], signal?: AbortSignal): Promise<PackIndex> {
    const pack = newName(clock(), randomBytes(8));
    await target.put(packPath(kind, pack), body, { signal });
    const index: PackIndex = { kind, pack, size: body instanceof Uint8Array ? body.length : body.size, entries: entries() };
    await target.put(`index/${kind}-${pack}`, encodeIndex(key, index), { signal });
    return index;
  }

  return {
    /**
     * Backs up the whole data folder as a new snapshot. Resumable: packs whose index was
     * written by an interrupted run are reused, so running it again moves only what is missing.
     * Throws TargetError for target failures, VAULT_WRONG_SECRET when the target holds another
     * folder's repository, and the signal's reason when aborted.
     */
    async backup(
      target: Target,
      opts: { signal?: AbortSignal; onProgress?: (p: BackupProgress) => void; onIndexes?: (indexes: Indexes) => void; onSnapshot?: (known: KnownSnapshot) => void } = {},
    ): Promise<BackupSummary> {
      const { signal } = opts;
      await ensureRepository(target, signal);
      // Released however the backup ends (store-source.ts: a deniable store is read from its hold).
      using _held = deps.hold?.() ?? null;

      // What the repository holds, first: the folder's rows are then read one at a time and only
      // the new ones kept (holding every row as Buffers until the repository was read cost an
      // unchanged backup most of its garbage collection, and memory).
      const [indexes, { name: prevName, prev }, remoteKeyslots, remoteMac] = await Promise.all([
        loadIndexes(target, key, { signal }),
        snapshotNames(target, { signal }).then(async (names) => {
          const name = names.at(-1) ?? null;
          return { name, prev: name === null ? null : await snapshotState(target, key, name, { signal }) };
        }),
        target.get('keyslots', { signal }),
        target.get('keyslots.mac', { signal }),
      ]);

      // For the proof of restore that follows (service.ts): the indexes and the newest snapshot's
      // state as read from the target.
      opts.onIndexes?.(indexes);
      if (prevName !== null && prev !== null) opts.onSnapshot?.({ name: prevName, state: prev.state });

      // What the folder holds now. Rows first: a put writes its object before its row.
      const rowKeys: string[] = [];
      const newRows: { row: Row; key: string }[] = [];
      for (const { joined, key: k } of eachKeyedRow(deps.db())) {
        rowKeys.push(k);
        if (!indexes.rows.has(k)) newRows.push({ row: rowOfJoined(joined), key: k });
      }
      // The ids alone where the view can list them so: the sizes of the objects the repository
      // already holds are not needed, and a stat per object was most of an unchanged backup.
      const ids: string[] = [];
      const sizes = new Map<string, number>();
      if (deps.objects.ids) for await (const id of deps.objects.ids()) ids.push(id);
      else
        for await (const o of deps.objects.list()) {
          ids.push(o.id);
          sizes.set(o.id, o.size);
        }
      const keyslots = await readFile(deps.paths.keyslots);
      const configJson = await readOptional(deps.paths.config);

      const newObjects: { id: string; size: number }[] = [];
      const objects: string[] = [];
      for (const id of ids) {
        if (indexes.objects.has(id)) {
          objects.push(id);
          continue;
        }
        // An object removed since the listing (a collection of unreferenced objects) is left out.
        const size = sizes.get(id) ?? (await deps.objects.size(id as ObjectId));
        if (size === null) continue;
        objects.push(id);
        newObjects.push({ id, size });
      }
      const progress: BackupProgress = {
        itemsTotal: newRows.length + newObjects.length,
        itemsDone: 0,
        objectsTotal: newObjects.length,
        objectsDone: 0,
        bytesTotal: newObjects.reduce((n, o) => n + o.size, 0) + newRows.reduce((n, r) => n + 36 + r.row.body.length, 0),
        bytesDone: 0,
      };
      const advance = (items: number, bytes: number, objects = items) => {
        progress.itemsDone += items;
        progress.objectsDone += objects;
        progress.bytesDone += bytes;
        opts.onProgress?.({ ...progress });
      };
      let bytesUploaded = 0;
      let packsUploaded = 0;
      const writtenRows: PackIndex[] = [];

      // Rows: packed in the clear framing (format/v1.ts), a few MiB at most for most folders.
      for (let i = 0; i < newRows.length; ) {
        const parts: Buffer[] = [];
        const entries: PackEntry[] = [];
        let size = 0;
        for (; i < newRows.length && size < PACK_TARGET; i++) {
          const framed = encodeRow(newRows[i]!.row);
          entries.push({ id: newRows[i]!.key, offset: size, length: framed.length, sha256: sha256Hex(framed) });
          parts.push(framed);
          size += framed.length;
        }
        writtenRows.push(await putPack(target, 'rows', Buffer.concat(parts), () => entries, signal));
        bytesUploaded += size;
        packsUploaded++;
        advance(entries.length, size, 0);
      }
      // The rows' bodies, framings and packs are garbage now, and V8 had not collected them
      // (~20 MiB at 10,000 rows); the objects' uploads that follow grew the heap on top of them,
      // and that was the first backup's peak RSS (ARCHITECTURE, Cloud backup, Peak RSS). Only
      // where a real amount of rows went up: not the few audit rows of an unchanged backup.
      const rowsUploaded = newRows.length;
      if (bytesUploaded >= COLLECT_AFTER_BYTES) {
        newRows.length = 0;
        collectGarbage();
      }

      // Objects: small ones packed together, big ones alone (streamed, never held in memory).
      const small = newObjects.filter((o) => o.size <= SMALL_OBJECT);
      const big = newObjects.filter((o) => o.size > SMALL_OBJECT);
      const batches: { id: string; size: number }[][] = [];
      for (let i = 0; i < small.length; ) {
        const batch: { id: string; size: number }[] = [];
        for (let size = 0; i < small.length && size < PACK_TARGET; i++) {
          batch.push(small[i]!);
          size += small[i]!.size;
        }
        batches.push(batch);
      }
      type Job = { kind: 'batch'; batch: { id: string; size: number }[] } | { kind: 'big'; id: string; size: number };
      const jobs: Job[] = interleave<Job>(
        big.map((o) => ({ kind: 'big' as const, ...o })),
        batches.map((batch) => ({ kind: 'batch' as const, batch })),
      );
      // A packed object (<= 4 MiB, most a few KiB) is read synchronously where the view can: each
      // asynchronous file call is a round trip through libuv's pool, and an object read that way
      // took four (open, stat, read, close). On these virtual machines a round trip costs ~25 us
      // of CPU on each side: 10,031 small objects read 8 at a time took 0.92-1.07 s and 1.6-1.8 s
      // of CPU, read at once 0.19-0.27 s (a microbench, s22).
      const readNow = deps.objects.readNow?.bind(deps.objects);
      // Read into the page cache ahead of readNow on a worker thread (vault/objects/warm.ts): after
      // a reboot every object of the pool is cold, and each of those reads would wait for the disk
      // on this thread, one at a time. The worker (~18 MiB, over the first backup's peak without
      // it) starts only once the reads are seen waiting. In the order the packs read them; two
      // packs in flight at once move the warmer on by both, so it may skip a few (it is advice).
      const warming = readNow === undefined ? undefined : deps.objects.warm?.({ lead: WARM_LEAD, maxBytes: SMALL_OBJECT });
      warming?.add(
        (function* () {
          for (const batch of batches) for (const o of batch) yield o.id as ObjectId;
        })(),
      );
      try {
        await eachLimit(jobs, UPLOADS_IN_FLIGHT, async (job) => {
          signal?.throwIfAborted();
          if (job.kind === 'batch') {
            // Streamed into the target as the objects are read (a few in flight, in order), so a
            // pack is never whole in memory; its entries are those of the attempt that succeeded.
            let entries: PackEntry[] = [];
            const size = job.batch.reduce((n, o) => n + o.size, 0);
            const open = async () => {
              const attempt: PackEntry[] = (entries = []);
              let at = 0;
              // At once on this thread where the view can (readNow: an open, a read and a close, in
              // a buffer of its own), else streamed and collected. owned either way: a view's read
              // gives fresh buffers; a single chunk is passed on as it is (the target frees it once
              // written), several are copied together and freed at once.
              const read = async (o: { id: string; size: number }) => {
                if (readNow === undefined) return collect(await deps.objects.read(o.id as ObjectId), { owned: true });
                warming?.next();
                const one = () => readNow(o.id as ObjectId, 0, o.size);
                return warming !== undefined ? warming.timed(one) : one();
              };
              return Readable.from(
                (async function* () {
                  for await (const [o, bytes] of inOrder(job.batch, read, 8)) {
                    attempt.push({ id: o.id, offset: at, length: bytes.length, sha256: sha256Hex(bytes) });
                    at += bytes.length;
                    yield bytes;
                  }
                })(),
              );
            };
            // owned: each open() reads the objects again into new buffers (collect's), held by nobody else.
            await putPack(target, 'data', { size, open, owned: true }, () => entries, signal);
            const offset = size;
            bytesUploaded += offset;
            packsUploaded++;
            advance(entries.length, offset);
          } else {
            // A pack of one object, streamed; the hash is of the attempt that succeeded.
            let digest = '';
            const open = async () => hashing(await deps.objects.read(job.id as ObjectId), (d) => (digest = d));
            // owned: each open() is a new read of the object (every CiphertextView's read gives fresh buffers).
            await putPack(target, 'data', { size: job.size, open, owned: true }, () => [{ id: job.id, offset: 0, length: job.size, sha256: digest }], signal);
            bytesUploaded += job.size;
            packsUploaded++;
            advance(1, job.size);
          }
        });
      } finally {
        warming?.close();
      }

      // The newest small rows packs merged once there are more than a few (compact.ts): each
      // backup adds one, and every later run lists and opens every index. Before the snapshot,
      // so a failure here fails the backup (the next run resumes) instead of following one.
      await compactRows(target, key, [...indexes.packs, ...writtenRows], { clock, signal });

      // The newest keyslots.bin, in the clear (format/v1.ts says why only the newest).
      const mac = Buffer.from(keyslotsMac(key, keyslots));
      if (remoteKeyslots === null || !remoteKeyslots.equals(keyslots)) await target.put('keyslots', keyslots, { signal });
      if (remoteMac === null || !remoteMac.equals(mac)) await target.put('keyslots.mac', mac, { signal });

      // The snapshot, last: it names only what is already on the target.
      const state: SnapshotState = {
        rows: new Set(rowKeys),
        objects: new Set(objects),
        config: configJson === null ? null : configJson.toString('base64'),
      };
      const time = Math.max(clock(), (prev?.manifest.time ?? 0) + 1);
      const name = newName(time, randomBytes(8));
      const manifest = manifestOf(state, prev && prevName ? { name: prevName, state: prev.state, depth: prev.manifest.depth } : null, time);
      await target.put(snapshotPath(name), encodeManifest(key, name, manifest), { signal });

      return {
        snapshot: name,
        time,
        rows: { total: rowKeys.length, uploaded: rowsUploaded },
        objects: { total: objects.length, uploaded: newObjects.length },
        bytesUploaded,
        packsUploaded,
      };
    },

    /** What the repository holds: snapshots, and the packs, objects and rows its indexes name. */
    async stats(target: Target, opts: { signal?: AbortSignal } = {}): Promise<{ snapshots: number; packs: number; objects: number; rows: number; bytes: number }> {
      const config = await readConfig(target, opts);
      if (config === null) return { snapshots: 0, packs: 0, objects: 0, rows: 0, bytes: 0 };
      requireKey(config, key);
      const indexes = await loadIndexes(target, key, opts);
      return {
        snapshots: (await snapshotNames(target, opts)).length,
        packs: indexes.packs.length,
        objects: indexes.objects.size,
        rows: indexes.rows.size,
        bytes: indexes.packs.reduce((n, p) => n + p.size, 0),
      };
    },

    /** The snapshots on the target, oldest first. */
    async snapshots(target: Target, opts: { signal?: AbortSignal } = {}): Promise<SnapshotInfo[]> {
      const config = await readConfig(target, opts);
      if (config === null) return [];
      requireKey(config, key);
      const out: SnapshotInfo[] = [];
      for (const name of await snapshotNames(target, opts)) {
        const manifest = await readManifest(target, key, name, opts);
        out.push({ name, time: manifest.time, full: manifest.full });
      }
      return out;
    },
  };
}

export type BackupEngine = ReturnType<typeof createBackupEngine>;
