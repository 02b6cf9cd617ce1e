import { fileKeyFromBytes } from '../crypto/age/index.ts';
import type { FileKey } from '../crypto/age/index.ts';
import type { HasherPool } from '../crypto/index.ts';
import { ElohimError } from '../errors.ts';
import { isRecordId, newRecordId } from '../db/index.ts';
import type { RecordId, RecordStore } from '../db/index.ts';
import { formatVaultPath } from './names.ts';
import type { ObjectId, ObjectStore, WriteResult } from './objects/index.ts';
import { ItemTree } from './tree.ts';
import type { Item } from './tree.ts';
import type { VaultRecord } from './kinds.ts';
import type { EntryInfo, TrashEntry } from './index.ts';

export interface VaultDeps {
  records: RecordStore<VaultRecord>;
  objects: ObjectStore;
  clock: () => number;
  /** this vault's age identity, AGE-SECRET-KEY-1… */
  identity: string;
  hashers: HasherPool;
  /** told of what the audit log records: downloads, deletions, emptied trash */
  onEvent?: (event: 'download' | 'delete' | 'empty-trash', details: Record<string, string | number>) => void;
  /**
   * Told, after each commit, of the items it put or removed (put, rename, move, trash, restore,
   * purge), so that a service that follows the vault (the assistant's index) needs no polling.
   */
  onChange?: (items: readonly RecordId[]) => void;
}

/** A change to commit: items, and other records (intents, uploads) by id. */
export interface Change {
  put?: Item[];
  remove?: RecordId[];
  putOther?: [RecordId, VaultRecord][];
  removeOther?: RecordId[];
}

/**
 * What the parts of one vault share: the in-memory index of its items, the one way to commit a
 * change (sealed records first, then the index), and the lookups every operation starts from.
 */
export interface VaultCore {
  readonly tree: ItemTree;
  readonly records: RecordStore<VaultRecord>;
  readonly objects: ObjectStore;
  readonly hashers: HasherPool;
  readonly clock: () => number;
  readonly onEvent: NonNullable<VaultDeps['onEvent']>;
  /** Counts commits that changed items: a cache of what items name is stale when it moved. */
  readonly generation: number;
  commit(change: Change): void;
  /** `parentNames`: the names of the item's folder, when the caller already has them (a listing). */
  info(item: Item, parentNames?: readonly string[]): EntryInfo;
  trashInfo(item: Item): TrashEntry;
  pathOf(item: Item): string;
  /** The live item with this id. Throws ITEM_NOT_FOUND for unknown, trashed or malformed ids. */
  liveById(id: string): Item;
  /** The live folder with this id; null (the root) for null. Throws ITEM_NOT_FOUND, NOT_A_FOLDER. */
  folderById(id: string | null): RecordId | null;
  /** The live file with this id. Throws ITEM_NOT_FOUND, NOT_A_FILE. */
  fileById(id: string): Item;
  /** Throws ITEM_EXISTS when `parent` has a live child `name` that may not be replaced. */
  checkFree(parent: RecordId | null, name: string, opts?: { replaceFile?: boolean }): Item | undefined;
  intentRecord(ids: ObjectId[]): [RecordId, VaultRecord];
  fileItem(parent: RecordId | null, name: string, fileKey: FileKey, object: ObjectId, written: WriteResult): Item;
  fileKeyOf(item: Item): FileKey;
  /** `name`, or "stem (label n).ext" when `parent` already has a live child by that name. */
  uniqueName(parent: RecordId | null, name: string, label: string): string;
}

export function createCore(deps: VaultDeps, items: Item[]): VaultCore {
  const { records, clock } = deps;
  const tree = new ItemTree(items);
  const itemRecord = (item: Item): [RecordId, VaultRecord] => [item.id, { t: 'item', ...item }];
  let generation = 0;

  const core: VaultCore = {
    tree,
    records,
    objects: deps.objects,
    hashers: deps.hashers,
    clock,
    onEvent: (event, details) => deps.onEvent?.(event, wellFormed(details)),
    get generation() {
      return generation;
    },

    commit(change) {
      records.commit({
        put: [...(change.put ?? []).map(itemRecord), ...(change.putOther ?? [])],
        remove: [...(change.remove ?? []), ...(change.removeOther ?? [])],
      });
      tree.apply({ put: change.put, remove: change.remove });
      if ((change.put?.length ?? 0) + (change.remove?.length ?? 0) > 0) generation++;
      const items = [...(change.put ?? []).map((i) => i.id), ...(change.remove ?? [])];
      if (items.length > 0) deps.onChange?.(items);
    },

    info(item, parentNames) {
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
    },

    trashInfo(item) {
      const parentPath = item.parent === null ? [] : tree.namesOf(item.parent);
      return { ...core.info(item), trashedAt: item.trashedAt!, originalPath: formatVaultPath([...parentPath, item.name]) };
    },

    pathOf(item) {
      return formatVaultPath(tree.namesOf(item.id));
    },

    liveById(id) {
      const item = isRecordId(id) ? tree.get(id) : undefined;
      if (item === undefined || !tree.isLive(item.id)) throw new ElohimError('ITEM_NOT_FOUND', 'no such item');
      return item;
    },

    folderById(id) {
      if (id === null) return null;
      const item = core.liveById(id);
      if (item.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${item.name} is not a folder`);
      return item.id;
    },

    fileById(id) {
      const item = core.liveById(id);
      if (item.kind !== 'file') throw new ElohimError('NOT_A_FILE', `${item.name} is not a file`);
      return item;
    },

    checkFree(parent, name, opts = {}) {
      const existing = tree.childNamed(parent, name);
      if (existing !== undefined && (existing.kind === 'folder' || !opts.replaceFile)) {
        throw new ElohimError('ITEM_EXISTS', `${formatVaultPath([...(parent ? tree.namesOf(parent) : []), name])} already exists`);
      }
      return existing;
    },

    intentRecord(ids) {
      return [newRecordId(), { t: 'intent', objects: ids, at: clock(), pid: process.pid }];
    },

    fileItem(parent, name, fileKey, object, written) {
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
    },

    fileKeyOf(item) {
      return fileKeyFromBytes(Buffer.from(item.fileKey!, 'base64'));
    },

    uniqueName(parent, name, label) {
      if (tree.childNamed(parent, name) === undefined) return name;
      const dot = name.lastIndexOf('.');
      const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
      for (let n = 1; ; n++) {
        const candidate = `${stem} (${label}${n > 1 ? ` ${n}` : ''})${ext}`;
        if (tree.childNamed(parent, candidate) === undefined) return candidate;
      }
    },
  };
  return core;
}

/**
 * Event details with every text well-formed. Names stored by builds before names.ts refused
 * lone surrogates may hold them; the audit log rightly refuses such text, and an item that
 * could not be logged could not be downloaded or deleted. Its path is logged with U+FFFD in
 * place of each lone half.
 */
function wellFormed(details: Record<string, string | number>): Record<string, string | number> {
  const out: Record<string, string | number> = {};
  for (const [key, value] of Object.entries(details)) out[key] = typeof value === 'string' ? value.toWellFormed() : value;
  return out;
}
