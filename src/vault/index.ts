/**
 * The vault: one unlocked vault's folders and files, sealed records over encrypted objects.
 *
 * Every item is addressed by its id; `resolve` turns a vault path ("/reports/a.pdf") into one,
 * for faces that speak in paths (the CLI). The root folder has no item and no id: it is `null`
 * wherever a folder is expected.
 *
 * Implementation: vault.ts wires the parts, each in its own module: core.ts (the in-memory
 * index and the one way to commit a change), kinds.ts (the record kinds a vault keeps),
 * write.ts (put, putMany: the name and folder are checked again right before the commit),
 * read.ts (read, verify, export), organize.ts (folders, rename and move, to the trash),
 * trash.ts (restore, empty, purge), recover.ts (what a crash left), uploads.ts (resumable
 * uploads), adopt.ts (files over objects sealed elsewhere), refs.ts (who needs an object, and
 * removing those nothing needs), names.ts (the name rule), abort.ts (signals on streams); objects/ stores the
 * encrypted contents. testing.ts builds a real vault without the keyring, for tests.
 */
import type { Readable } from 'node:stream';
import type { FileKey, Recipient } from '../crypto/age/index.ts';
import type { RecordId } from '../db/index.ts';
import type { ObjectId } from './objects/index.ts';
import type { ObjectHolder } from './refs.ts';

export { TRASH_RETENTION_MS } from './trash.ts';
export { checkName, parseVaultPath, formatVaultPath, MAX_NAME_BYTES } from './names.ts';
export { SMALL_OBJECT_MAX } from './objects/index.ts';
// For the composition root (app.ts): the factories it builds a vault from.
export { openVault } from './vault.ts';
export { createObjectStore, newObjectId, storedSize } from './objects/index.ts';
export type { BatchOptions, CiphertextView, ObjectBatch, ObjectStore, ObjectWarmer, StagedCheck, StoredCheck } from './objects/index.ts';
export { stagedCheck } from './objects/index.ts';
export { isObjectId } from './objects/index.ts';
export { destroyVaultData } from './destroy.ts';
// For src/store, which keeps objects elsewhere through the same writer, codecs and layout.
export { authenticating, chunkPosition, createObjectWriter, hashDurableChunks, newNonce, passing, payloadReader, payloadSizeOf, pump, readNonce, sealing, wholeChunksOf } from './objects/index.ts';
export type { AppendFile, ObjectId, ObjectWriter, WriteOptions, WriteResult, WriterTarget } from './objects/index.ts';
export type { VaultRecord } from './kinds.ts';
export type { ObjectHolder } from './refs.ts';
/**
 * The name the shares' indexes hold objects under (refs.ts): registered by the shares service, or
 * by app.ts from the shares' records when a command runs without that service.
 */
export const SHARES_HOLDER = 'mesh-shares';

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

/**
 * `signal` on every long operation: the faces pass one that aborts when the client goes away,
 * combined (AbortSignal.any) with the workspace's, which aborts on lock and panic.
 */
export interface Cancellable {
  signal?: AbortSignal;
}

export interface PutOptions extends Cancellable {
  /** replace an existing file (the old version goes to the trash) */
  replace?: boolean;
  /**
   * Folders below `parent` that the file goes into, created with it in its commit where they
   * are missing (the CLI's `put -p`): a put that fails leaves none of them behind.
   */
  folders?: string[];
  onProgress?: (bytesDone: number) => void;
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

export interface PutManyOptions extends Cancellable {
  replace?: boolean;
  /** folders to create below the destination even when no file goes into them (as names) */
  folders?: string[][];
  onProgress?: (p: { files: number; bytes: number }) => void;
}

export interface ReadOptions extends Cancellable {
  /** plaintext bytes [start, end); the whole file when absent */
  range?: { start: number; end: number };
}

export interface VerifyProgress {
  files: number;
  bytes: number;
  totalFiles: number;
  totalBytes: number;
}

/** A file as the object it is stored as: for sharing its ciphertext as it is. */
export interface StoredFile {
  object: ObjectId;
  fileKey: FileKey;
  size: number;
  /** of the plaintext */
  sha256: string;
}

/** One file of an `adopt`: where it goes below the destination, and the stored object it is. */
export interface AdoptEntry extends StoredFile {
  names: string[];
}

export interface AdoptOptions extends Cancellable {
  /** replace existing files (the old versions go to the trash) */
  replace?: boolean;
}

/** Resumable uploads (the tus model): bytes sealed as they arrive, the file recorded at the last byte. */
export interface ResumableUploads {
  status(id: string): Promise<{ offset: number; length: number }>;
  /**
   * Appends `body` at `offset`; the finished file's id once the last byte has arrived. An abort
   * stops the body (what arrived is kept, the upload can resume) and records no file after it.
   */
  append(id: string, offset: number, body: Readable, opts?: Cancellable): Promise<{ offset: number; fileId?: string }>;
  cancel(id: string): Promise<void>;
}

export interface Vault {
  /** This vault's age identity (AGE-SECRET-KEY-1…): whoever holds it can open every export to it. */
  identity(): string;
  /**
   * Counts the commits that changed items in this process (put, adopt, rename, move, trash,
   * restore, purge): the same number means the same items, so a follower may skip a walk.
   */
  readonly generation: number;

  /** The live item at a vault path: its id, or null for the root. Throws ITEM_NOT_FOUND, INVALID_PATH, INVALID_NAME. */
  resolve(path: string): RecordId | null;
  /** The live item with this id. Throws ITEM_NOT_FOUND for unknown, trashed or malformed ids. */
  item(id: string): EntryInfo;
  /** The live children of a folder (null = root), folders first, then by name. Throws NOT_A_FOLDER. */
  children(folder: string | null): EntryInfo[];
  /** Live items whose name contains `text` (case-insensitive). */
  find(text: string): EntryInfo[];
  /** The SHA-256 of a file's plaintext, as recorded when it was put (for ETags and verify). */
  sha256Of(id: string): string;

  /** Creates folder `name` in `parent` (null = root). Throws ITEM_EXISTS, INVALID_NAME. */
  mkdir(parent: string | null, name: string): EntryInfo;
  /**
   * Streams `source` into a new file `name` in `parent` (null = root). The object is durable
   * before the record that points at it commits. Throws ITEM_EXISTS (also when the name was
   * taken while the bytes were arriving), ITEM_NOT_FOUND when the folder is gone.
   */
  put(parent: string | null, name: string, source: Readable, opts?: PutOptions): Promise<EntryInfo>;
  /**
   * Puts many files below `parent` in batches, checking every name and conflict before writing
   * anything; each batch commits in one transaction after its objects are durable.
   */
  putMany(parent: string | null, entries: PutEntry[], opts?: PutManyOptions): Promise<{ files: number; bytes: number }>;
  /**
   * A file's plaintext as a stream, authenticated chunk by chunk by age STREAM (a damaged,
   * reordered or truncated object fails before its bytes are released). Whole reads are logged.
   */
  read(id: string, opts?: ReadOptions): Promise<{ info: EntryInfo; stream: Readable }>;
  /** Renames and/or moves an item; `parent` null = the root, undefined = where it is. */
  update(id: string, change: { name?: string; parent?: string | null }): EntryInfo;
  /** Moves an item (a folder with everything in it) to the trash. */
  trash(id: string): TrashEntry;

  trashList(): TrashEntry[];
  /**
   * Restores a trashed item by id (or a unique prefix of at least 6 characters) to where it
   * was; to the root if that folder is gone, and under a new name if the old one is taken.
   */
  restore(ref: string): EntryInfo;
  /** Deletes everything in the trash for good. Returns how many items were removed. */
  emptyTrash(): Promise<number>;

  /** Reads every object back, trash included, checking each against its recorded SHA-256. */
  verify(opts?: Cancellable & { onProgress?: (p: VerifyProgress) => void }): Promise<{ files: number; bytes: number; damaged: Damage[] }>;
  /**
   * A standard age file of a file for `recipients`: a new header wrapping the file's key,
   * followed by the stored nonce and payload as they are (no re-encryption).
   */
  export(id: string, recipients: Recipient[], opts?: Cancellable & { armor?: boolean }): Promise<{ info: EntryInfo; stream: Readable }>;

  /** Which object and file key a live file is (to share it without a copy). Throws ITEM_NOT_FOUND, NOT_A_FILE. */
  objectOf(id: string): StoredFile;
  /**
   * Records files below `parent` whose contents are objects already in the pool, sealed
   * elsewhere under the given file keys (a shared folder's files): no re-encryption, no second
   * object. Every chunk must authenticate under its key and the plaintext hash to its SHA-256
   * before anything commits; all are committed at once, or none. Throws OBJECT_DAMAGED (missing,
   * wrong size or hash), AGE_PAYLOAD_INVALID (does not authenticate), ITEM_EXISTS, NOT_A_FOLDER,
   * INVALID_NAME, INVALID_INPUT; nothing changes then.
   */
  adopt(parent: string | null, entries: AdoptEntry[], opts?: AdoptOptions): Promise<EntryInfo[]>;
  /**
   * Registers a holder of objects besides the vault's items (a share's index): an object it
   * needs is not removed. Returns the unregistration. See refs.ts.
   */
  retain(name: string, holder: ObjectHolder): () => void;
  /** Records that a holder may no longer need `objects` (synchronous); `collect` removes those nothing needs. */
  release(objects: readonly ObjectId[]): void;
  /** Removes released objects that nothing needs any more; returns how many. */
  collect(): Promise<number>;

  /** Starts a resumable upload of `length` bytes into `parent` (null = root). */
  beginUpload(parent: string | null, name: string, length: number, opts?: { replace?: boolean }): Promise<{ id: string }>;
  /** Status, append and cancel of resumable uploads (see uploads.ts). */
  readonly uploads: ResumableUploads;
}
