/**
 * What the forensic examiner collects from one data folder: raw observations, before any
 * judgement. examine.ts gathers them (I/O); features.ts turns them into a report (pure).
 */

/** One file or folder of the data folder, as `statx` shows it (times in ms since the epoch). */
export interface PathStat {
  /** relative to the data folder, "/"-separated; "" is the data folder itself */
  path: string;
  kind: 'file' | 'dir' | 'other';
  size: number;
  /** permission bits */
  mode: number;
  atimeMs: number;
  mtimeMs: number;
  ctimeMs: number;
  birthMs: number;
}

/** One slot of keyslots.bin and what the examined vault's secrets make of it. */
export interface SlotEvidence {
  index: number;
  /** which of the examined vault's secrets open it, or null */
  opens: 'passphrase' | 'recovery' | null;
}

export interface KeyslotsEvidence {
  size: number;
  magic: string;
  version: number;
  cost: string;
  costsUsed: string[];
  /** byte 11, reserved (zero) */
  reserved: number;
  argon2: { memory: number; passes: number; parallelism: number };
  slots: SlotEvidence[];
  /** every recovery code handed over opened exactly one slot */
  everyCodeOpens: boolean;
  /** the unopened slots, concatenated, pass the byte chi-square test (z < 5) */
  unopenedLookRandom: boolean;
  /** z-score of that test, for the message */
  unopenedZ: number;
}

/** The SQLite file header (sqlite.org/fileformat.html §1.3) and schema, read from a copy. */
export interface SqliteEvidence {
  header: {
    pageSize: number;
    writeVersion: number;
    readVersion: number;
    reservedPerPage: number;
    changeCounter: number;
    pageCount: number;
    freelistTrunk: number;
    freelistCount: number;
    schemaCookie: number;
    schemaFormat: number;
    defaultCacheSize: number;
    autovacuumTop: number;
    textEncoding: number;
    userVersion: number;
    incrementalVacuum: number;
    applicationId: number;
    versionValidFor: number;
    sqliteVersion: number;
  };
  schema: { type: string; name: string; sql: string | null }[];
  /** rows per table of the schema */
  rowCounts: Record<string, number>;
  /** no freelist page holds bytes of deleted rows (secure_delete; see sqlite-file.ts) */
  freePagesHoldNoData: boolean;
  /** other files SQLite leaves beside the database (-wal, -shm, -journal) */
  sidecars: string[];
}

/** One row of `records` or `quarantine`. */
export interface RowEvidence {
  table: string;
  idBytes: number;
  tagBytes: number;
  bodyBytes: number;
  /** the examined vault's store whose tag key produced this row's tag, 'cover' for the row every folder has (cover/), or null */
  owner: string | null;
  /** the row is that store's set seal */
  seal: boolean;
}

/** What one of the examined vault's record stores holds, opened with its keys. */
export interface StoreEvidence {
  name: string;
  /** records that opened, by kind ('t') */
  kinds: Record<string, number>;
  damaged: number;
  seal: string;
  /** rows the examiner attributed to this store by tag, seal row included */
  rowsByTag: number;
}

export interface AuditEvidence {
  entries: { seq: number; at: number; event: string; details: Record<string, unknown> }[];
  verifyOk: boolean;
  verifyReason?: string;
}

export interface ItemEvidence {
  kind: 'file' | 'folder';
  path: string;
  size?: number;
  trashed: boolean;
  created: number;
  modified: number;
  object?: string;
}

export interface ObjectEvidence {
  /** relative to objects/ */
  path: string;
  size: number;
  /** referenced by an item, an upload or an intent of the examined vault */
  referenced: boolean;
  /** for referenced objects: it decrypted under its file key and its SHA-256 is the recorded one */
  decrypts?: boolean;
}

/** The nested-decoy probe on a copy: `init --decoy` chained from the examined vault. */
export interface NestedEvidence {
  attempts: number;
  created: number;
  /** stderr of the first refusal, or null when every attempt succeeded */
  stop: string | null;
  /** what each attempt printed (stdout and stderr), recovery codes and the folder's path blanked */
  outputs: string[];
  /** the examined vault's passphrase still opens the copy after the chain */
  examinedStillOpens: boolean;
}

export interface Evidence {
  stats: PathStat[];
  keyslots: KeyslotsEvidence;
  /** the bookkeeping record(s) of kind 'meta' the examined vault's stores hold */
  meta: Record<string, unknown>[];
  sqlite: SqliteEvidence;
  rows: RowEvidence[];
  stores: StoreEvidence[];
  audit: AuditEvidence;
  items: ItemEvidence[];
  /** object ids the vault references that are not on disk */
  missingObjects: number;
  objects: ObjectEvidence[];
  /** entries of objects/ that are neither tmp/, a shard folder, nor an object file in one */
  strayObjectPaths: string[];
  nested: NestedEvidence;
  /** what the examined vault's own CLI views print (probe.ts sessionViews), by command */
  views: Record<string, string>;
  /** contents of the small top-level files (all but keyslots.bin and db.sqlite), by name */
  smallFiles: Record<string, string>;
}
