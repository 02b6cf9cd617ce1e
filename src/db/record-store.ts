/**
 * The sealed-record store as its users see it: record ids, keys, what a load reports, and the
 * calls. The implementation is records.ts.
 */
import type { SealKey } from '../crypto/index.ts';

/** A record id: 16 random bytes, as 32 lowercase hex characters. */
export type RecordId = string & { readonly __brand: 'RecordId' };

export interface RecordKeys {
  /** seals record bodies */
  seal: SealKey;
  /** keys the tag that lets a vault find its own rows without saying which vault owns them */
  tag: Buffer;
}

/** A row of ours that does not open: its bytes were altered, or a body was moved from another row. */
export interface DamagedRecord {
  id: RecordId;
  reason: string;
}

/**
 * Whether the rows of a store are the set its last commit left:
 * - 'ok': they are;
 * - 'mismatch': a row was deleted, added, altered or an older copy of it put back;
 * - 'absent': rows exist but no seal does (the store predates seals, or its seal row was deleted);
 *   `repair` seals what is there.
 */
export type SealState = 'ok' | 'mismatch' | 'absent';

export interface RecordLoad<T> {
  /** every row of ours that opened */
  records: Map<RecordId, T>;
  /** rows of ours that did not open (left out of `records`) */
  damaged: DamagedRecord[];
  seal: SealState;
}

/**
 * The sealed-record store over the `records` table. A body is any JSON value in a versioned
 * layout (BODY_VERSION), padded to a multiple of PAD bytes (so lengths leak little about
 * names) and sealed with the record id as associated data. A row's tag is HMAC(tag key, id):
 * random-looking to anyone without the key, and checkable by the owner in one pass at unlock.
 *
 * ## The set seal (deleted rows)
 *
 * Sealing each row cannot tell a deleted row from one never written, nor an older copy of a row
 * put back (it still opens). So each store keeps one more row, its seal: the number of rows and
 *
 *   S = Σ HMAC-SHA256(seal key, id ‖ body)  mod 2^256   over the store's rows,
 *
 * updated in the same transaction as every commit (subtract a replaced or removed row's term, add
 * the new one's) and compared on every load. This is the additive multiset hash of Clarke et al.
 * (MSet-Add-Hash, ASIACRYPT 2003): incremental in O(changed rows), order-free (rows are a set,
 * not a sequence), and, keyed, unforgeable by anyone without the key, so removing, adding or
 * rolling back any row (or several) of ours changes S in a way nobody can compensate.
 *
 * Nothing in it tells vaults apart: the seal row's id is HMAC(tag key, label) truncated (random
 * to anyone else, findable by us without a scan), its tag is computed like any row's, and its
 * body is a padded sealed JSON like any small record; every vault and every audit log has one.
 * The seal key is derived from the tag key, so it adds no key to manage.
 *
 * What it cannot catch: the whole store (rows and seal together) replaced by an older copy, or
 * every row of a store removed (which reads as a store never written). Both need a witness
 * outside the database, as for the audit log.
 *
 * The seal is updated from the database (the old bodies are read inside the commit's
 * transaction), not from memory, so several store objects over one vault's keys (the vault and
 * the keyring's bookkeeping) and several processes keep one seal between them.
 */
export interface RecordStore<T> {
  /**
   * Every record of this vault that opens. A damaged row is left out (the rest still loads, so
   * one bad row does not lock the user out); `load` names it. Throws VAULT_FORMAT_UNKNOWN for a
   * row written by a newer build, since acting on part of a newer vault is not safe.
   */
  loadAll(): Map<RecordId, T>;
  /** `loadAll`, plus which rows of ours did not open and whether the set matches its seal. */
  load(): RecordLoad<T>;
  /**
   * One record by id, without reading the others: null when there is none (or it is another
   * domain's kind). Throws VAULT_CORRUPT when the row is there but does not open.
   */
  get(id: RecordId): T | null;
  /**
   * What stands for the store's current set of rows, read without reading them (one row): the
   * stored seal's bytes. Every commit of a sealed store (by any store object over these keys,
   * in any process) writes its seal again under a fresh nonce, so while this stays the same no
   * commit has happened and a caller may reuse what it loaded. Null when the store has no seal
   * (never written, cleared, or unsealed until `repair`): then nothing can be reused.
   */
  version(): string | null;
  /**
   * The id of the record of a thing with a stable identity (`label`), keyed by this store's tag
   * key: the same in every process over these keys (so two store objects replace one row), and,
   * unlike a plain hash of the label, unlinkable to it without the key (whoever knows a share's
   * id cannot find its rows in a device's database) and different in every vault (two vaults of
   * one database holding the same share do not write one row).
   */
  idOf(label: string): RecordId;
  /** Writes (insert or replace) and deletes in one transaction, keeping the seal. */
  commit(changes: { put?: Iterable<[RecordId, T]>; remove?: Iterable<RecordId> }): void;
  /**
   * Runs `fn` in one transaction of this store's database: commits of any store on that database
   * inside it (a vault's deletion and its audit entry) land together or not at all.
   */
  transaction<R>(fn: () => R): R;
  /** Inside a transaction, calls `undo` if it rolls back (see sqlite.ts onRollback). */
  onRollback(undo: () => void): void;
  /** Whether a transaction is open on this store's database (a commit now joins it). */
  transactionOpen(): boolean;
  /**
   * Removes every row of this store, its seal included (a decoy being destroyed): what is left
   * is indistinguishable from a store never written. Returns how many rows were removed.
   */
  clear(): number;
  /**
   * Moves the rows of ours that do not open into the `quarantine` table (bytes kept as they are,
   * for whoever wants to look later) and seals the set that remains, accepting it as it is now.
   * Returns how many rows were moved and whether the seal was rewritten. The caller audits it.
   */
  repair(): { quarantined: RecordId[]; resealed: boolean };
  /**
   * Replication (the ciphertext view): this store's rows as they are stored, seal row left out,
   * for a device of the same vault to copy without opening them here.
   */
  exportRows(): SealedRow[];
  /**
   * Replication: writes rows received as stored bytes, each checked before anything is kept (its
   * tag is ours for its id, and its body opens under our key with its id as associated data),
   * replacing rows with the same id, in one transaction that keeps the seal. Throws
   * VAULT_CORRUPT for a row that does not check out (nothing is written then).
   */
  importRows(rows: Iterable<SealedRow>): void;
}

/** A row of the records table as stored: what replication copies. */
export interface SealedRow {
  id: Buffer;
  tag: Buffer;
  body: Buffer;
}

/**
 * The record kinds one domain keeps under a set of record keys, declared to its store. A record
 * is a JSON object whose `t` names its kind and whose optional `v` (default 1) is the layout
 * version of that kind. Several domains may keep kinds under one vault's keys (the vault, the
 * keyring's bookkeeping, the backup's key): each declares its own and names the others'.
 *
 * With kinds declared, the store refuses to write a kind that is not its own (a bug), leaves
 * the others' out of what it loads, and refuses to load (VAULT_FORMAT_UNKNOWN) a kind nobody
 * declared or a version newer than declared: a newer build wrote it, and acting on part of a
 * vault is not safe. Declaring changes nothing on disk: rows are sealed, tagged and padded as
 * ever, so a vault's rows stay indistinguishable from another's.
 */
export interface RecordKinds {
  /** this domain's kinds: `t` → the newest version (`v`) this build reads and writes */
  own: Readonly<Record<string, number>>;
  /** kinds other domains keep under the same keys: skipped by load, never written here */
  others?: readonly string[];
}

