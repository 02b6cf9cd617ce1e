import { Readable, Transform } from 'node:stream';
import { createArmorEncoder, encodeHeader, fileKeyFromBytes, generateFileKey, wrapFileKeyForRecipients } from '../crypto/age/index.ts';
import type { FileKey, Recipient } from '../crypto/age/index.ts';
import type { HasherPool } from '../crypto/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { checkName, formatVaultPath, parseVaultPath } from './names.ts';
import { newObjectId, SMALL_OBJECT_MAX } from './objects.ts';
import type { ObjectId, ObjectStore, WriteResult } from './objects.ts';
import { isRecordId, newRecordId } from '../db/index.ts';
import type { RecordId, RecordStore } from '../db/index.ts';
import { ItemTree } from './tree.ts';
import { createUploads } from './uploads.ts';
import type { UploadRecord } from './uploads.ts';
import type { Item } from './tree.ts';
import { processAlive } from '../fs/index.ts';

/** Trash older than this is purged when the vault is opened. */
export const TRASH_RETENTION_MS = 30 * 24 * 60 * 60 * 1000;
/** Files per transaction when putting many at once: bounds the work lost to a crash. */
const BATCH_FILES = 256;
/** Small files encrypted at once while putting many; async fsyncs overlap on the thread pool. */
const BATCH_CONCURRENCY = 16;

/** What one vault keeps in its sealed records. */
export type VaultRecord =
  | ({ t: 'item' } & Item)
  /**
   * The key slots this vault owns, those it knows other vaults own (so it never reuses them),
   * and whether it has created its one companion (decoy) vault. `companion` holds that vault's
   * master key and own slots, so its creator can remove it (and whatever it created in turn);
   * whoever holds this vault's passphrase was told the decoy's anyway. Vaults made before it
   * existed lack it and cannot remove their decoy.
   */
  | {
      t: 'meta';
      passphraseSlot: number;
      recoverySlots: number[];
      reservedSlots: number[];
      hasCompanion: boolean;
      companion?: { master: string; slots: number[] };
      created: number;
    }
  /**
   * Written before objects are created or deleted and removed when the records that use them
   * commit: after a crash, the objects of an intent that no item points at are deleted. `pid`
   * keeps a second process from cleaning up a put that is still running.
   */
  | { t: 'intent'; objects: ObjectId[]; at: number; pid: number }
  | UploadRecord;

export type MetaRecord = Extract<VaultRecord, { t: 'meta' }>;

export interface EntryInfo {
  id: RecordId;
  kind: 'file' | 'folder';
  name: string;
  /** the folder it is in; null = the root */
  parent: RecordId | null;
  path: string;
  size: number;
  created: number;
  modified: number;
}

export interface TrashEntry extends EntryInfo {
  trashedAt: number;
  /** where it was when trashed */
  originalPath: string;
}

export interface Damage {
  path: string;
  id: RecordId;
  code: string;
  message: string;
}

export interface PutOptions {
  /** replace an existing file (the old version goes to the trash) */
  replace?: boolean;
  /** create missing parent folders */
  parents?: boolean;
  onProgress?: (bytesDone: number) => void;
  signal?: AbortSignal;
  /** the expected size, when known (small files are hashed without a worker thread) */
  sizeHint?: number;
}

/** One file of a `putMany`: where it goes below the destination, and how to read it. */
export interface PutEntry {
  names: string[];
  size: number;
  /** Whole contents for small files; a stream for big ones. */
  read(): Promise<Buffer | Readable>;
}

export interface VaultDeps {
  records: RecordStore<VaultRecord>;
  objects: ObjectStore;
  clock: () => number;
  /** this vault's age identity, AGE-SECRET-KEY-1… */
  identity: string;
  hashers: HasherPool;
  /** told of what the audit log records: downloads, deletions, emptied trash */
  onEvent?: (event: 'download' | 'delete' | 'empty-trash', details: Record<string, string | number>) => void;
}

export type Vault = ReturnType<typeof createVault>;

/**
 * One unlocked vault. Reads its records once (they are sealed, so every query runs on the
 * in-memory index), and writes every change as a transaction of sealed records.
 */
export async function openVault(deps: VaultDeps) {
  const vault = createVault(deps, deps.records.loadAll());
  await vault.recover();
  await vault.purgeExpiredTrash();
  await vault.uploads.expire();
  return vault;
}

function createVault(deps: VaultDeps, loaded: Map<RecordId, VaultRecord>) {
  const { records, objects, clock } = deps;
  const onEvent = deps.onEvent ?? (() => {});
  const items: Item[] = [];
  const intents = new Map<RecordId, Extract<VaultRecord, { t: 'intent' }>>();
  const uploadRecords = new Map<RecordId, UploadRecord>();
  let meta: { id: RecordId; value: MetaRecord } | null = null;
  for (const [id, rec] of loaded) {
    if (rec.t === 'item') {
      if (rec.id !== id) throw new ElohimError('VAULT_CORRUPT', 'an item record does not match its row');
      const { t: _t, ...item } = rec;
      items.push(item);
    } else if (rec.t === 'intent') intents.set(id, rec);
    else if (rec.t === 'upload') uploadRecords.set(id, rec);
    else if (rec.t === 'meta') meta = { id, value: rec };
    // A kind written by a newer build: refuse rather than act on a partial picture of the vault.
    else throw new ElohimError('VAULT_FORMAT_UNKNOWN', `record kind ${JSON.stringify((rec as { t: unknown }).t)} is newer than this build knows`);
  }
  const tree = new ItemTree(items);
  const uploads = createUploads(
    {
      records: records as RecordStore<{ t: string }>,
      objects,
      clock,
      commitFile(upload, fileKey, written, uploadId) {
        // The folder may have gone, or the name been taken, while the bytes were arriving:
        // land in the root and under a new name rather than lose the upload.
        const parent = upload.parent !== null && tree.isLive(upload.parent) ? upload.parent : null;
        const existing = tree.childNamed(parent, upload.name);
        const replacing = existing !== undefined && existing.kind === 'file' && upload.replace;
        const name = existing === undefined || replacing ? upload.name : uniqueName(parent, upload.name, 'uploaded');
        const item = fileItem(parent, name, fileKey, upload.object, written);
        commit({ put: [item, ...(replacing ? [{ ...existing, trashedAt: clock() }] : [])], removeOther: [uploadId] });
        return { id: item.id };
      },
    },
    uploadRecords,
  );

  const itemRecord = (item: Item): [RecordId, VaultRecord] => [item.id, { t: 'item', ...item }];

  function commit(change: { put?: Item[]; remove?: RecordId[]; putOther?: [RecordId, VaultRecord][]; removeOther?: RecordId[] }) {
    records.commit({
      put: [...(change.put ?? []).map(itemRecord), ...(change.putOther ?? [])],
      remove: [...(change.remove ?? []), ...(change.removeOther ?? [])],
    });
    tree.apply({ put: change.put, remove: change.remove });
  }

  /** `parentNames`: the names of the item's folder, when the caller already has them (a listing). */
  function info(item: Item, parentNames?: readonly string[]): EntryInfo {
    return {
      id: item.id,
      kind: item.kind,
      name: item.name,
      parent: item.parent,
      path: formatVaultPath(parentNames === undefined ? tree.namesOf(item.id) : [...parentNames, item.name]),
      size: item.kind === 'file' ? item.size! : 0,
      created: item.created,
      modified: item.modified,
    };
  }

  /** The live item at `path`; null for the root. Throws ITEM_NOT_FOUND. */
  function lookup(path: string): Item | null {
    const found = tree.resolve(parseVaultPath(path));
    if (found === undefined) throw new ElohimError('ITEM_NOT_FOUND', `nothing at ${path}`);
    return found;
  }

  function lookupFile(path: string): Item {
    const item = lookup(path);
    if (item === null || item.kind !== 'file') throw new ElohimError('NOT_A_FILE', `${path} is not a file`);
    return item;
  }

  /** The folder at `names` (null = root), creating missing ones when `create`; new folders are returned to commit. */
  function folderAt(names: readonly string[], create: boolean, pending: Item[]): RecordId | null {
    let parent: RecordId | null = null;
    for (let i = 0; i < names.length; i++) {
      const name = names[i]!;
      const existing: Item | undefined =
        tree.childNamed(parent, name) ?? pending.find((p) => p.parent === parent && p.name === name);
      if (existing !== undefined) {
        if (existing.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${formatVaultPath(names.slice(0, i + 1))} is not a folder`);
        parent = existing.id;
        continue;
      }
      if (!create) throw new ElohimError('ITEM_NOT_FOUND', `no folder ${formatVaultPath(names.slice(0, i + 1))}`);
      const now = clock();
      const folder: Item = { id: newRecordId(), kind: 'folder', parent, name, created: now, modified: now };
      pending.push(folder);
      parent = folder.id;
    }
    return parent;
  }

  function intentRecord(ids: ObjectId[]): [RecordId, VaultRecord] {
    return [newRecordId(), { t: 'intent', objects: ids, at: clock(), pid: process.pid }];
  }

  function fileItem(parent: RecordId | null, name: string, fileKey: FileKey, object: ObjectId, written: WriteResult): Item {
    const now = clock();
    return {
      id: newRecordId(),
      kind: 'file',
      parent,
      name,
      created: now,
      modified: now,
      size: written.size,
      sha256: written.sha256,
      fileKey: fileKey.toString('base64'),
      object,
    };
  }

  const fileKeyOf = (item: Item): FileKey => fileKeyFromBytes(Buffer.from(item.fileKey!, 'base64'));

  /** Items to remove for good, and the intent that removes their objects even across a crash. */
  async function destroy(tops: Item[]): Promise<number> {
    // Tops may nest (a file trashed before its folder), so collect each item once.
    const doomed = [...new Map(tops.flatMap((top) => tree.subtree(top.id)).map((i) => [i.id, i])).values()];
    if (doomed.length === 0) return 0;
    const objectIds = doomed.filter((i) => i.object !== undefined).map((i) => i.object!);
    const intent = intentRecord(objectIds);
    commit({ remove: doomed.map((i) => i.id), putOther: [intent] });
    for (const id of objectIds) await objects.remove(id);
    records.commit({ remove: [intent[0]] });
    onEvent('empty-trash', { count: doomed.length });
    return doomed.length;
  }

  function uniqueName(parent: RecordId | null, name: string, label = 'restored'): string {
    if (tree.childNamed(parent, name) === undefined) return name;
    const dot = name.lastIndexOf('.');
    const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
    for (let n = 1; ; n++) {
      const candidate = `${stem} (${label}${n > 1 ? ` ${n}` : ''})${ext}`;
      if (tree.childNamed(parent, candidate) === undefined) return candidate;
    }
  }

  /**
   * The object is durable before the record that points at it commits; a crash in between
   * leaves an intent that the next open cleans up.
   */
  async function putAt(parent: RecordId | null, name: string, source: Readable, opts: PutOptions, pending: Item[]): Promise<EntryInfo> {
    const existing = tree.childNamed(parent, name);
    if (existing !== undefined && (existing.kind === 'folder' || !opts.replace)) {
      throw new ElohimError('ITEM_EXISTS', `${formatVaultPath([...(parent ? tree.namesOf(parent) : []), name])} already exists`);
    }
    const fileKey = generateFileKey();
    const object = newObjectId();
    const intent = intentRecord([object]);
    records.commit({ put: [intent] });
    let written: WriteResult;
    try {
      written = await objects.write(object, source, fileKey, opts);
    } catch (err) {
      records.commit({ remove: [intent[0]] });
      throw err;
    }
    const item = fileItem(parent, name, fileKey, object, written);
    const replaced = existing ? [{ ...existing, trashedAt: clock() }] : [];
    commit({ put: [...pending, item, ...replaced], removeOther: [intent[0]] });
    return info(item);
  }

  /** The live item with this id. Throws ITEM_NOT_FOUND for unknown, trashed or malformed ids. */
  function liveById(id: string): Item {
    const item = isRecordId(id) ? tree.get(id) : undefined;
    if (item === undefined || !tree.isLive(item.id)) throw new ElohimError('ITEM_NOT_FOUND', 'no such item');
    return item;
  }

  /** The live folder with this id; null (the root) for null. */
  function folderById(id: string | null): RecordId | null {
    if (id === null) return null;
    const item = liveById(id);
    if (item.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${item.name} is not a folder`);
    return item.id;
  }

  /** Moves and/or renames `item`; the one place that checks the rules for both faces. */
  function moveTo(item: Item, parent: RecordId | null, name: string): EntryInfo {
    if (parent !== null && tree.isWithin(parent, item.id)) throw new ElohimError('MOVE_INTO_SELF');
    if (parent === item.parent && name === item.name) return info(item);
    if (tree.childNamed(parent, name) !== undefined) {
      throw new ElohimError('ITEM_EXISTS', `${formatVaultPath([...(parent ? tree.namesOf(parent) : []), name])} already exists`);
    }
    const moved: Item = { ...item, parent, name, modified: clock() };
    commit({ put: [moved] });
    return info(moved);
  }

  function trashItem(item: Item): TrashEntry {
    const trashed: Item = { ...item, trashedAt: clock() };
    commit({ put: [trashed] });
    const entry = trashInfo(trashed);
    onEvent('delete', { path: entry.originalPath });
    return entry;
  }

  return {
    /** This vault's age identity (AGE-SECRET-KEY-1…): whoever holds it can open every export to it. */
    identity(): string {
      return deps.identity;
    },

    meta(): MetaRecord | null {
      return meta?.value ?? null;
    },

    /** Replaces the meta record (key-slot bookkeeping). */
    setMeta(value: MetaRecord): void {
      const id = meta?.id ?? newRecordId();
      records.commit({ put: [[id, value]] });
      meta = { id, value };
    },

    /** Finishes or undoes work a crash interrupted: deletes objects of dead intents no item uses. */
    async recover(): Promise<void> {
      const used = new Set<ObjectId>();
      for (const item of tree.all()) if (item.object) used.add(item.object);
      for (const [id, intent] of intents) {
        // A live process may still be writing it (this one included: its vaults are shared, see
        // home.ts); a pid reused after a reboot only delays the cleanup by a week.
        if (processAlive(intent.pid) && clock() - intent.at < 7 * 24 * 3600 * 1000) continue;
        for (const object of intent.objects) if (!used.has(object)) await objects.remove(object);
        records.commit({ remove: [id] });
        intents.delete(id);
      }
      await objects.cleanTemp(24 * 3600 * 1000, clock());
    },

    async purgeExpiredTrash(): Promise<number> {
      const cutoff = clock() - TRASH_RETENTION_MS;
      return destroy(tree.trashed().filter((i) => i.trashedAt! <= cutoff));
    },

    /** The item at `path` (the root folder for "/"). */
    stat(path: string): EntryInfo {
      const item = lookup(path);
      if (item === null) return { id: '' as RecordId, kind: 'folder', name: '', parent: null, path: '/', size: 0, created: 0, modified: 0 };
      return info(item);
    },

    /** The live children of the folder at `path`, folders first, then by name. */
    list(path = '/'): EntryInfo[] {
      const folder = lookup(path);
      if (folder !== null && folder.kind !== 'folder') return [info(folder)];
      const names = folder === null ? [] : tree.namesOf(folder.id);
      return tree.children(folder?.id ?? null).map((item) => info(item, names));
    },

    /** Creates the folder at `path`. Throws ITEM_EXISTS unless `parents` and it is already a folder. */
    mkdir(path: string, opts: { parents?: boolean } = {}): EntryInfo {
      const names = parseVaultPath(path);
      if (names.length === 0) throw new ElohimError('ITEM_EXISTS', 'the root folder always exists');
      const existing = tree.resolve(names);
      if (existing !== undefined) {
        if (opts.parents && existing?.kind === 'folder') return info(existing);
        throw new ElohimError('ITEM_EXISTS', `${formatVaultPath(names)} already exists`);
      }
      const pending: Item[] = [];
      const parent = folderAt(names.slice(0, -1), opts.parents === true, pending);
      const now = clock();
      const folder: Item = { id: newRecordId(), kind: 'folder', parent, name: names.at(-1)!, created: now, modified: now };
      commit({ put: [...pending, folder] });
      return info(folder);
    },

    /**
     * Streams `source` into a new file at `path`. The object is durable before the record that
     * points at it commits; a crash in between leaves an intent that the next open cleans up.
     */
    async put(path: string, source: Readable, opts: PutOptions = {}): Promise<EntryInfo> {
      const names = parseVaultPath(path);
      if (names.length === 0) throw new ElohimError('INVALID_PATH', 'give the file a name, e.g. /notes.txt');
      const pending: Item[] = [];
      const parent = folderAt(names.slice(0, -1), opts.parents === true, pending);
      return putAt(parent, names.at(-1)!, source, opts, pending);
    },

    /** Streams `source` into a new file `name` in the folder `parentId` (null = root). */
    async putInto(parentId: string | null, name: string, source: Readable, opts: PutOptions = {}): Promise<EntryInfo> {
      return putAt(folderById(parentId), checkName(name), source, opts, []);
    },

    /**
     * Puts many files below the folder `dest` in batches, checking every name and conflict
     * before writing anything. Small files are encrypted in memory, several at a time, and each
     * batch commits in one transaction after its objects are durable.
     */
    async putMany(
      dest: string,
      entries: PutEntry[],
      opts: {
        replace?: boolean;
        /** folders to create below `dest` even when no file goes into them (as names) */
        folders?: string[][];
        onProgress?: (p: { files: number; bytes: number }) => void;
        signal?: AbortSignal;
      } = {},
    ): Promise<{ files: number; bytes: number }> {
      const base = parseVaultPath(dest);
      const baseItem = tree.resolve(base);
      if (baseItem !== undefined && baseItem !== null && baseItem.kind !== 'folder') {
        throw new ElohimError('NOT_A_FOLDER', `${formatVaultPath(base)} is not a folder`);
      }
      const seen = new Set<string>();
      for (const entry of entries) {
        const names = [...base, ...entry.names.map(checkName)];
        const key = names.join('/');
        if (seen.has(key)) throw new ElohimError('ITEM_EXISTS', `${formatVaultPath(names)} is given twice`);
        seen.add(key);
        const existing = tree.resolve(names);
        if (existing !== undefined && (existing === null || existing.kind === 'folder' || !opts.replace)) {
          throw new ElohimError('ITEM_EXISTS', `${formatVaultPath(names)} already exists`);
        }
      }
      // The destination and every source folder, empty ones included, before any file.
      const pendingFolders: Item[] = [];
      for (const names of [[], ...(opts.folders ?? [])]) folderAt([...base, ...names.map(checkName)], true, pendingFolders);
      if (pendingFolders.length > 0) commit({ put: pendingFolders });
      let files = 0;
      let bytes = 0;
      for (let start = 0; start < entries.length; start += BATCH_FILES) {
        opts.signal?.throwIfAborted();
        const batch = entries.slice(start, start + BATCH_FILES);
        const pending: Item[] = [];
        const planned = batch.map((entry) => {
          const names = [...base, ...entry.names.map(checkName)];
          return { entry, names, parent: folderAt(names.slice(0, -1), true, pending), object: newObjectId(), fileKey: generateFileKey() };
        });
        const intent = intentRecord(planned.map((p) => p.object));
        records.commit({ put: [intent] });
        const done: Item[] = [];
        try {
          let next = 0;
          const worker = async () => {
            while (next < planned.length) {
              const p = planned[next++]!;
              const data = await p.entry.read();
              const written = Buffer.isBuffer(data) && data.length <= SMALL_OBJECT_MAX
                ? await objects.writeSmall(p.object, data, p.fileKey)
                : await objects.write(p.object, Buffer.isBuffer(data) ? Readable.from([data]) : data, p.fileKey, { signal: opts.signal, sizeHint: p.entry.size });
              done.push(fileItem(p.parent, p.names.at(-1)!, p.fileKey, p.object, written));
              files++;
              bytes += written.size;
              opts.onProgress?.({ files, bytes });
            }
          };
          await Promise.all(Array.from({ length: BATCH_CONCURRENCY }, worker));
          await objects.syncFolders(planned.map((p) => p.object));
        } catch (err) {
          for (const p of planned) await objects.remove(p.object);
          records.commit({ remove: [intent[0]] });
          throw err;
        }
        const replaced: Item[] = [];
        for (const item of done) {
          const old = tree.childNamed(item.parent, item.name);
          if (old !== undefined) replaced.push({ ...old, trashedAt: clock() });
        }
        commit({ put: [...pending, ...done, ...replaced], removeOther: [intent[0]] });
      }
      return { files, bytes };
    },

    /**
     * The plaintext of the file at `path` as a stream. A whole-file read checks the SHA-256
     * recorded at put and fails with OBJECT_DAMAGED at the end if it differs; a range read
     * decrypts only the chunks it needs (each chunk is still authenticated).
     */
    async get(path: string, range?: { start: number; end: number }): Promise<{ info: EntryInfo; stream: Readable }> {
      const item = lookupFile(path);
      const stream = await readItem(item, range);
      onEvent('download', { path: formatVaultPath(tree.namesOf(item.id)), size: item.size! });
      return { info: info(item), stream };
    },

    /** Moves or renames. A folder `to` receives the item under its own name. */
    move(from: string, to: string): EntryInfo {
      const item = lookup(from);
      if (item === null) throw new ElohimError('INVALID_PATH', 'the root folder cannot be moved');
      const toNames = parseVaultPath(to);
      const target = tree.resolve(toNames);
      let parent: RecordId | null;
      let name: string;
      if (target === null || target?.kind === 'folder') {
        parent = target?.id ?? null;
        name = item.name;
      } else if (target === undefined) {
        const parentItem = tree.resolve(toNames.slice(0, -1));
        if (parentItem === undefined) throw new ElohimError('ITEM_NOT_FOUND', `no folder ${formatVaultPath(toNames.slice(0, -1))}`);
        if (parentItem !== null && parentItem.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${formatVaultPath(toNames.slice(0, -1))} is not a folder`);
        parent = parentItem?.id ?? null;
        name = toNames.at(-1)!;
      } else {
        throw new ElohimError('ITEM_EXISTS', `${formatVaultPath(toNames)} already exists`);
      }
      return moveTo(item, parent, name);
    },

    /** Moves the item at `path` (and everything in it) to the trash. */
    trash(path: string): TrashEntry {
      const item = lookup(path);
      if (item === null) throw new ElohimError('INVALID_PATH', 'the root folder cannot be trashed');
      return trashItem(item);
    },

    // Id-based operations, for faces that address items by id (the HTTP API).

    /** The live item with this id. */
    item(id: string): EntryInfo {
      return info(liveById(id));
    },

    /** The live children of the folder `id` (null = root), folders first, by name. */
    children(id: string | null): EntryInfo[] {
      const folder = folderById(id);
      const names = folder === null ? [] : tree.namesOf(folder);
      return tree.children(folder).map((item) => info(item, names));
    },

    /** Creates folder `name` in the folder `parentId` (null = root). */
    mkdirIn(parentId: string | null, name: string): EntryInfo {
      const parent = folderById(parentId);
      const checked = checkName(name);
      if (tree.childNamed(parent, checked) !== undefined) throw new ElohimError('ITEM_EXISTS', `${checked} already exists there`);
      const now = clock();
      const folder: Item = { id: newRecordId(), kind: 'folder', parent, name: checked, created: now, modified: now };
      commit({ put: [folder] });
      return info(folder);
    },

    /** Renames and/or moves the item `id`; `parent` null = the root, undefined = where it is. */
    update(id: string, change: { name?: string; parent?: string | null }): EntryInfo {
      const item = liveById(id);
      const parent = change.parent === undefined ? item.parent : folderById(change.parent);
      return moveTo(item, parent, change.name === undefined ? item.name : checkName(change.name));
    },

    trashById(id: string): TrashEntry {
      return trashItem(liveById(id));
    },

    /**
     * Plaintext of the file `id` (see `get`). With `checkHash: false` a whole-file read skips the
     * SHA-256 re-check and relies on STREAM's authentication alone: every chunk is verified under
     * its counter, and the last under the final flag, before any of its bytes are passed on, so
     * a damaged, reordered or truncated object still fails. The recorded hash is of the same
     * plaintext the cipher sealed, so recomputing it catches nothing more, for 0.6 CPU-s per GiB.
     */
    async read(id: string, range?: { start: number; end: number }, opts: { checkHash?: boolean } = {}): Promise<{ info: EntryInfo; stream: Readable }> {
      const item = liveById(id);
      if (item.kind !== 'file') throw new ElohimError('NOT_A_FILE', `${item.name} is not a file`);
      const stream = range === undefined && opts.checkHash === false ? await objects.read(item.object!, fileKeyOf(item), item.size!) : await readItem(item, range);
      // A ranged read is usually a media player seeking: log whole downloads only.
      if (range === undefined) onEvent('download', { path: formatVaultPath(tree.namesOf(item.id)), size: item.size! });
      return { info: info(item), stream };
    },

    /** Starts a resumable upload of `length` bytes into the folder `parentId` (null = root). */
    async beginUpload(parentId: string | null, name: string, length: number, opts: { replace?: boolean } = {}): Promise<{ id: string }> {
      const parent = folderById(parentId);
      const checked = checkName(name);
      const existing = tree.childNamed(parent, checked);
      if (existing !== undefined && (existing.kind === 'folder' || !opts.replace)) throw new ElohimError('ITEM_EXISTS', `${checked} already exists there`);
      return uploads.begin({ parent, name: checked, length, replace: opts.replace === true });
    },

    /** Status, append and cancel of resumable uploads (see uploads.ts). */
    uploads,

    /** The SHA-256 of the file `id`'s plaintext, as recorded when it was put (for ETags). */
    sha256Of(id: string): string {
      const item = liveById(id);
      if (item.kind !== 'file') throw new ElohimError('NOT_A_FILE', `${item.name} is not a file`);
      return item.sha256!;
    },

    trashList(): TrashEntry[] {
      return tree.trashed().map(trashInfo);
    },

    /**
     * Restores a trashed item by id (or a unique prefix of at least 6 characters) to where it
     * was; to the root if that folder is gone, and under a new name if the old one is taken.
     */
    restore(ref: string): EntryInfo {
      const item = findTrashed(ref);
      const parent = item.parent !== null && tree.isLive(item.parent) ? item.parent : null;
      const restored: Item = { ...item, parent, name: uniqueName(parent, item.name) };
      delete restored.trashedAt;
      commit({ put: [restored] });
      return info(restored);
    },

    /** Deletes everything in the trash for good. Returns how many items were removed. */
    async emptyTrash(): Promise<number> {
      return destroy(tree.trashed());
    },

    /** Live items whose name contains `text` (case-insensitive). */
    find(text: string): EntryInfo[] {
      if (text.length === 0) throw new ElohimError('INVALID_INPUT', 'search text cannot be empty');
      return tree.find(text).map((item) => info(item));
    },

    /** Reads every object back, trash included, and reports each file whose data is damaged. */
    async verify(opts: { onProgress?: (p: { files: number; bytes: number; totalFiles: number; totalBytes: number }) => void } = {}) {
      const filesToCheck = [...tree.all()].filter((i) => i.kind === 'file');
      const totalBytes = filesToCheck.reduce((n, i) => n + i.size!, 0);
      const damaged: Damage[] = [];
      let files = 0;
      let bytes = 0;
      for (const item of filesToCheck) {
        try {
          const stream = await readItem(item);
          for await (const chunk of stream) {
            bytes += (chunk as Buffer).length;
            opts.onProgress?.({ files, bytes, totalFiles: filesToCheck.length, totalBytes });
          }
        } catch (err) {
          if (!isElohimError(err) && (err as NodeJS.ErrnoException).code === undefined) throw err;
          damaged.push({
            path: formatVaultPath(tree.namesOf(item.id)) + (tree.isLive(item.id) ? '' : ' (in trash)'),
            id: item.id,
            code: isElohimError(err) ? err.code : 'HOST_IO',
            message: err instanceof Error ? err.message : String(err),
          });
        }
        files++;
        opts.onProgress?.({ files, bytes, totalFiles: filesToCheck.length, totalBytes });
      }
      return { files: filesToCheck.length, bytes: totalBytes, damaged };
    },

    /**
     * A standard age file of the file at `path` for `recipients`: a new header wrapping the
     * file's key, followed by the stored nonce and payload as they are (no re-encryption).
     */
    async export(path: string, recipients: Recipient[], opts: { armor?: boolean } = {}): Promise<{ info: EntryInfo; stream: Readable }> {
      const item = lookupFile(path);
      const fileKey = fileKeyOf(item);
      // Opening a range checks the object exists and has the right size before any output.
      (await objects.read(item.object!, fileKey, item.size!, { start: 0, end: 0 })).destroy();
      const header = encodeHeader(wrapFileKeyForRecipients(recipients, fileKey), fileKey);
      const raw = await objects.readRaw(item.object!);
      onEvent('download', { path: formatVaultPath(tree.namesOf(item.id)), size: item.size!, export: 'age' });
      const joined = Readable.from((async function* () {
        yield header;
        yield* raw;
      })());
      return { info: info(item), stream: opts.armor ? joined.pipe(createArmorEncoder()) : joined };
    },
  };

  function trashInfo(item: Item): TrashEntry {
    const parentPath = item.parent === null ? [] : tree.namesOf(item.parent);
    return { ...info(item), trashedAt: item.trashedAt!, originalPath: formatVaultPath([...parentPath, item.name]) };
  }

  function findTrashed(ref: string): Item {
    const r = ref.toLowerCase();
    if (!/^[0-9a-f]{6,32}$/.test(r)) throw new ElohimError('INVALID_INPUT', 'give the id shown by `trash ls` (at least 6 characters)');
    const matches = tree.trashed().filter((i) => i.id.startsWith(r));
    if (matches.length === 0) throw new ElohimError('ITEM_NOT_FOUND', `nothing in the trash has id ${ref}`);
    if (matches.length > 1) throw new ElohimError('INVALID_INPUT', `id ${ref} is ambiguous; give more characters`);
    return matches[0]!;
  }

  async function readItem(item: Item, range?: { start: number; end: number }): Promise<Readable> {
    const size = item.size!;
    if (range !== undefined) {
      if (!(Number.isSafeInteger(range.start) && Number.isSafeInteger(range.end) && 0 <= range.start && range.start <= range.end && range.end <= size)) {
        throw new ElohimError('INVALID_INPUT', `range ${range.start}-${range.end} is outside 0-${size}`);
      }
      return objects.read(item.object!, fileKeyOf(item), size, range);
    }
    const plain = await objects.read(item.object!, fileKeyOf(item), size);
    const hash = deps.hashers.create(size);
    const expected = item.sha256!;
    // The last piece is held back until the hash checks out, so a reader that streams (an HTTP
    // response with a Content-Length) never receives a complete file whose hash is wrong.
    let held: Buffer | null = null;
    const check = new Transform({
      transform(chunk: Buffer, _enc, done) {
        const previous = held;
        held = chunk;
        Promise.resolve(hash.update(chunk)).then(() => done(null, previous ?? undefined), done);
      },
      flush(done) {
        hash.digest().then((actual) => {
          if (actual !== expected) return done(new ElohimError('OBJECT_DAMAGED', 'the file does not match its recorded SHA-256'));
          done(null, held ?? undefined);
        }, done);
      },
      destroy(err, done) {
        hash.destroy();
        done(err);
      },
    });
    plain.on('error', (err) => check.destroy(err));
    return plain.pipe(check);
  }
}

