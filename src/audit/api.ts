/**
 * The audit log as the rest of ElohimOS sees it: what it stores, what it needs from the record
 * store, and the calls it offers. The implementation is log.ts; the chain format is chain.ts.
 */
import type { ChainEntry, ChainPointer, ChainVerdict } from './chain.ts';
import type { AuditDetails, AuditEvent } from './events.ts';

/**
 * What one audit log keeps in its sealed records: one `entry` per event, the `head` (the newest
 * entry, rewritten with every append) and, once retention has run, the `anchor` (the newest
 * entry retention removed). Head and anchor are how removals at either end are detected. The
 * head also says when retention last ran (`retainedAt`, ms), so an unlock knows without reading
 * the log whether it is due.
 */
export type AuditRecord =
  | ({ t: 'entry' } & ChainEntry & { event: AuditEvent })
  | ({ t: 'head' } & ChainPointer & { retainedAt?: number })
  | ({ t: 'anchor' } & ChainPointer);

/**
 * What the log needs from the sealed-record store (`RecordStore<AuditRecord>` in db/ satisfies
 * it). The store finds a log's rows by a tag keyed with the log's own tag key, so one table holds
 * every vault's records and every vault's log, and no row says which is which.
 */
export interface AuditRecordStore {
  /** Every record of this log that opens, which rows of ours did not, and whether the set matches its seal. */
  load(): { records: Map<string, AuditRecord>; damaged: readonly { id: string }[]; seal: 'ok' | 'mismatch' | 'absent' };
  /** Puts and removes in one transaction (a savepoint of the caller's, when one is open). */
  commit(changes: { put?: Iterable<[string, AuditRecord]>; remove?: Iterable<string> }): void;
  /** One record by id, without reading the others (null when there is none); throws VAULT_CORRUPT when its row does not open. */
  get(id: string): AuditRecord | null;
  /** Whether a caller's transaction is open, which an append then joins. */
  transactionOpen(): boolean;
  /** Inside a transaction, calls `undo` if it rolls back. */
  onRollback(undo: () => void): void;
}

/** One event as callers see it. */
export interface AuditEntry {
  seq: number;
  /** ms since the epoch */
  at: number;
  event: AuditEvent;
  details: AuditDetails;
  /** hash of this entry in the chain (hex SHA-256, see chain.ts) */
  hash: string;
}

export interface AuditQuery {
  event?: AuditEvent;
  /** ms since the epoch, inclusive */
  since?: number;
  /** ms since the epoch, exclusive */
  until?: number;
  /** at most this many entries (1..1000, default 100) */
  limit?: number;
  /** skip this many matching entries first (newest first) */
  offset?: number;
}

export interface AuditVerifyResult extends ChainVerdict {
  /** rows of this log that failed to open (their bytes were altered); left out of the chain, which then shows the gap */
  damagedRecords?: number;
  /** entries held in memory because the device was full (see `append`), not on disk yet */
  pending?: number;
}

export interface AuditLog {
  /**
   * Records an event: the entry and the new head in one transaction (a savepoint of the
   * caller's, when one is open, so an entry can commit with the change it records).
   *
   * A device too full to take the entry does not stop the work being recorded (reading needs no
   * space; unlock, download, lock must work on a full disk): outside a caller's transaction the
   * entry is kept in memory, in the chain, and written before the next entry that can be
   * written (`pending()` counts them; `flush()` retries). If the process ends before space is
   * freed they are lost, and the server's log says so when it stops. Inside a caller's
   * transaction the DISK_FULL is thrown instead, so that the change it records rolls back too.
   *
   * When the head record is gone but entries remain (the head row deleted or damaged), the log
   * goes on from its newest entry, after an `audit-damage` entry saying what was found: later
   * unlocks and downloads are still recorded, and `verify` keeps reporting the loss (the
   * record set's seal no longer matches).
   *
   * Throws INVALID_INPUT for an unknown event or bad details.
   */
  append(event: AuditEvent, details?: AuditDetails): AuditEntry;
  /**
   * `append`, unless an entry with the same `key` was appended by this call in the last
   * `everyMs`; returns null then. For events that come in bursts (a player seeking through a file
   * sends a range request per seek): one entry per file per session per window, not per request.
   * Keys live in memory only.
   */
  appendThrottled(key: string, everyMs: number, event: AuditEvent, details?: AuditDetails): AuditEntry | null;
  /** How many entries are held in memory, not yet written (the device was full). */
  pending(): number;
  /** Tries to write the held entries now; returns how many are still held. Never throws. */
  flush(): number;
  /**
   * Matching entries, newest first, and how many match in all. Reads the copy held in memory
   * (held entries included). Throws INVALID_INPUT for a bad query.
   */
  list(query?: AuditQuery): { entries: AuditEntry[]; total: number };
  /**
   * Re-reads the log from the database and checks the whole chain, every row of it (a row that
   * fails to open is counted in damagedRecords and shows as the entry missing from the chain)
   * and the seal of its record set (a row deleted, added or put back). Never throws for damage:
   * returns ok: false with a reason, and the seq of the first bad entry when one can be named.
   * Throws VAULT_FORMAT_UNKNOWN for records written by a newer build.
   *
   * Two things only a witness outside the database can catch: a log with every row removed
   * (its seal included) reads as one never written (ok, no head), so a caller that knows the
   * vault has logged before must treat a missing head as broken; and a whole older copy of the
   * log put back (head, tail and seal together) verifies, so `head` is returned for the user or
   * a peer to compare.
   */
  verify(): AuditVerifyResult;
  /** The log as JSON Lines, oldest first, one entry per string (each ends in "\n"); see chain.ts. */
  exportJsonl(): Generator<string>;
  /**
   * Removes entries older than `days` days from the start of the chain and moves the anchor to
   * the last one removed, in one transaction; returns how many were removed. Re-reads the
   * database first and removes only entries that verify, so damage is never retired out of
   * sight (a damaged log keeps everything from its first break on). Throws INVALID_INPUT for a
   * bad `days`.
   */
  applyRetention(days: number): number;
  /**
   * `applyRetention`, unless it ran in the last day (what an unlock calls): the head says when
   * it last ran, so most unlocks read one record instead of the whole log. Returns how many
   * entries were removed (0 when it was not due).
   */
  retainIfDue(days: number): number;
}
