import { randomBytes } from 'node:crypto';
import { asSealKey, hkdf } from '../crypto/index.ts';
import type { SealKey } from '../crypto/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import { CHAIN_VERSION, exportLine, GENESIS_HASH, hashEntry, nextEntry, planRetention, verifyChain } from './chain.ts';
import type { ChainEntry, ChainPointer, ChainVerdict } from './chain.ts';
import { checkDetails, isAuditEvent } from './events.ts';
import type { AuditDetails, AuditEvent } from './events.ts';

/** How long entries are kept unless the user picks otherwise. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_RETENTION_DAYS = 100 * 366;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * What one audit log keeps in its sealed records: one `entry` per event, the `head` (the newest
 * entry, rewritten with every append) and, once retention has run, the `anchor` (the newest
 * entry retention removed). Head and anchor are how removals at either end are detected.
 */
export type AuditRecord =
  | ({ t: 'entry' } & ChainEntry & { event: AuditEvent })
  | ({ t: 'head' } & ChainPointer)
  | ({ t: 'anchor' } & ChainPointer);

/**
 * The two calls the log needs from the sealed-record store (`RecordStore<AuditRecord>` in
 * vault/records.ts satisfies it). The store finds a log's rows by a tag keyed with the log's own
 * tag key, so one table holds every vault's records and every vault's log, and no row says
 * which is which.
 */
export interface AuditRecordStore {
  /** Every record of this log; throws VAULT_CORRUPT when a row of ours fails to open. */
  loadAll(): Map<string, AuditRecord>;
  /** Puts and removes in one transaction. */
  commit(changes: { put?: Iterable<[string, AuditRecord]>; remove?: Iterable<string> }): void;
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

export type AuditVerifyResult = ChainVerdict;

export interface AuditLog {
  /**
   * Records an event: the entry and the new head in one transaction. Throws INVALID_INPUT for an
   * unknown event or bad details, and AUDIT_CHAIN_BROKEN when the log cannot be extended without
   * hiding damage (a row fails to open, or entries exist but the head record is gone).
   */
  append(event: AuditEvent, details?: AuditDetails): AuditEntry;
  /**
   * Matching entries, newest first, and how many match in all. Reads the copy held in memory.
   * Throws INVALID_INPUT for a bad query, AUDIT_CHAIN_BROKEN when the log cannot be read.
   */
  list(query?: AuditQuery): { entries: AuditEntry[]; total: number };
  /**
   * Re-reads the log from the database and checks the whole chain. Never throws for damage:
   * returns ok: false with a reason, and the seq of the first bad entry when one can be named.
   * A row that fails to open (its bytes were edited, or moved to another row) cannot be tied to
   * a seq, because the record store refuses the whole load; firstBadEntry is then absent.
   * Throws VAULT_FORMAT_UNKNOWN for records written by a newer build.
   *
   * Two things only a witness outside the database can catch: a log with every row removed
   * reads as one never written (ok, no head), so a caller that knows the vault has logged
   * before must treat a missing head as broken; and a whole older copy of the log put back
   * (head and tail together) verifies, so `head` is returned for the user or a peer to compare.
   */
  verify(): AuditVerifyResult;
  /** The log as JSON Lines, oldest first, one entry per string (each ends in "\n"); see chain.ts. */
  exportJsonl(): Generator<string>;
  /**
   * Removes entries older than `days` days from the start of the chain and moves the anchor to
   * the last one removed, in one transaction; returns how many were removed. Re-reads the
   * database first and removes only entries that verify, so damage is never retired out of
   * sight. Throws INVALID_INPUT for a bad `days`, AUDIT_CHAIN_BROKEN when a row fails to open.
   */
  applyRetention(days: number): number;
}

/**
 * The keys of a vault's audit log, from its master key: separate from the vault's record keys,
 * so the vault never sees audit rows and the log never sees the vault's.
 */
export function auditKeys(master: Buffer): { seal: SealKey; tag: Buffer } {
  if (master.length !== 32) throw new RangeError('a vault master key is 32 bytes');
  return {
    seal: asSealKey(hkdf(master, Buffer.alloc(0), 'elohim/v1 audit seal')),
    tag: hkdf(master, Buffer.alloc(0), 'elohim/v1 audit tag'),
  };
}

/** Same shape as a vault record id: 16 random bytes as hex. */
const newId = (): string => randomBytes(16).toString('hex');

interface StoredEntry extends ChainEntry {
  id: string;
  event: AuditEvent;
  hash: string;
}

interface StoredPointer extends ChainPointer {
  id: string;
}

/** One log as read from the store; entries sorted by seq. */
interface Loaded {
  entries: StoredEntry[];
  heads: StoredPointer[];
  anchors: StoredPointer[];
}

const bySeq = (a: { seq: number }, b: { seq: number }) => a.seq - b.seq;

const publicEntry = (e: StoredEntry): AuditEntry => ({ seq: e.seq, at: e.at, event: e.event, details: { ...e.details }, hash: e.hash });

function broken(err: unknown): ElohimError {
  return new ElohimError('AUDIT_CHAIN_BROKEN', 'the audit log is damaged (a record fails authentication); run `elohim audit verify`', { cause: err });
}

/**
 * A vault's audit log: append-only and hash-chained (chain.ts), stored as sealed records.
 *
 * The whole log is read into memory on first use and kept there; every append costs one
 * transaction. That is fine for tens of thousands of entries (retention keeps it near that); a
 * log much larger would want the store to read by range.
 *
 * Rows are sealed with their id as associated data, so moving a body to another row fails to
 * open. Swapping whole rows (id, tag and body together) changes nothing we read: a log's order
 * is the seq inside each sealed body, never where a row sits in the table.
 *
 * One writer per log: the head to extend comes from memory, and the record store has no
 * compare-and-set, so two processes appending to one vault's log from their own copies would
 * fork the chain (two entries with one seq), which verify then reports as damage.
 */
export function createAuditLog(deps: { records: AuditRecordStore; clock: () => number }): AuditLog {
  const { records, clock } = deps;
  let cache: Loaded | null = null;

  /** Reads the log from the database. Throws the store's VAULT_CORRUPT and VAULT_FORMAT_UNKNOWN. */
  function read(): Loaded {
    const out: Loaded = { entries: [], heads: [], anchors: [] };
    for (const [id, rec] of records.loadAll()) {
      if (rec.t === 'entry') {
        if (rec.v !== CHAIN_VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `audit entry format ${String(rec.v)} is newer than this build knows`);
        if (!isAuditEvent(rec.event)) throw new ElohimError('VAULT_FORMAT_UNKNOWN', 'the audit log has an event this build does not know');
        const entry: ChainEntry = { v: rec.v, seq: rec.seq, at: rec.at, event: rec.event, details: rec.details, prev: rec.prev };
        out.entries.push({ ...entry, id, event: rec.event, hash: hashEntry(entry) });
      } else if (rec.t === 'head') out.heads.push({ id, seq: rec.seq, hash: rec.hash });
      else if (rec.t === 'anchor') out.anchors.push({ id, seq: rec.seq, hash: rec.hash });
      else throw new ElohimError('VAULT_FORMAT_UNKNOWN', `audit record kind ${JSON.stringify((rec as { t: unknown }).t)} is newer than this build knows`);
    }
    out.entries.sort(bySeq);
    return out;
  }

  /** `read`, with a row that fails to open reported as AUDIT_CHAIN_BROKEN. */
  function readForUse(): Loaded {
    try {
      return read();
    } catch (err) {
      if (isElohimError(err, 'VAULT_CORRUPT')) throw broken(err);
      throw err;
    }
  }

  const loaded = (): Loaded => (cache ??= readForUse());

  /**
   * The head to extend. Always the head record, never the newest entry: extending an entry
   * past a head that is behind it (an old head put back), or past a missing head, would make
   * the tampered log look whole again.
   */
  function headOf(state: Loaded): StoredPointer | null {
    if (state.heads.length === 0) {
      if (state.entries.length === 0 && state.anchors.length === 0) return null;
      throw new ElohimError('AUDIT_CHAIN_BROKEN', 'the audit log has lost its head record; run `elohim audit verify`');
    }
    // Two heads only come from copied-back rows or two writers racing; extend the newest and
    // leave the other in place, so verify keeps reporting it.
    return state.heads.reduce((a, b) => (b.seq > a.seq ? b : a));
  }

  function checkQuery(q: AuditQuery): Required<Pick<AuditQuery, 'limit' | 'offset'>> {
    if (q.event !== undefined && !isAuditEvent(q.event)) throw new ElohimError('INVALID_INPUT', `unknown audit event ${JSON.stringify(q.event)}`);
    for (const k of ['since', 'until'] as const) {
      if (q[k] !== undefined && !Number.isFinite(q[k])) throw new ElohimError('INVALID_INPUT', `${k} must be a time`);
    }
    const limit = q.limit ?? DEFAULT_LIMIT;
    const offset = q.offset ?? 0;
    if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIMIT) throw new ElohimError('INVALID_INPUT', `limit must be 1..${MAX_LIMIT}`);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new ElohimError('INVALID_INPUT', 'offset must be a whole number');
    return { limit, offset };
  }

  return {
    append(event, details = {}) {
      if (!isAuditEvent(event)) throw new ElohimError('INVALID_INPUT', `unknown audit event ${JSON.stringify(event)}`);
      const clean = checkDetails(details);
      const at = clock();
      if (!Number.isSafeInteger(at) || at < 0) throw new RangeError('the clock must give whole milliseconds since the epoch');
      const state = loaded();
      const head = headOf(state);
      const body = nextEntry(head ?? { seq: 0, hash: GENESIS_HASH }, at, event, clean);
      const stored: StoredEntry = { ...body, id: newId(), event, hash: hashEntry(body) };
      const newHead: StoredPointer = { id: head?.id ?? newId(), seq: stored.seq, hash: stored.hash };
      records.commit({
        put: [
          [stored.id, { t: 'entry', ...body, event }],
          [newHead.id, { t: 'head', seq: newHead.seq, hash: newHead.hash }],
        ],
      });
      // Memory follows the database only once the transaction has committed.
      state.heads = [...state.heads.filter((h) => h.id !== newHead.id), newHead];
      const last = state.entries.at(-1);
      state.entries.push(stored);
      if (last !== undefined && last.seq > stored.seq) state.entries.sort(bySeq);
      return publicEntry(stored);
    },

    list(query = {}) {
      const { limit, offset } = checkQuery(query);
      const { event, since, until } = query;
      const matches = loaded().entries.filter(
        (e) => (event === undefined || e.event === event) && (since === undefined || e.at >= since) && (until === undefined || e.at < until),
      );
      return { entries: matches.reverse().slice(offset, offset + limit).map(publicEntry), total: matches.length };
    },

    verify() {
      let state: Loaded;
      try {
        state = read(); // from the database, not the copy in memory: verify checks the disk
      } catch (err) {
        if (isElohimError(err, 'VAULT_CORRUPT')) {
          return { ok: false, entries: 0, reason: 'an audit record fails authentication: its bytes were altered, or moved from another row' };
        }
        throw err;
      }
      return verifyChain(state);
    },

    *exportJsonl() {
      for (const e of loaded().entries.slice()) yield `${exportLine(e, e.hash)}\n`;
    },

    applyRetention(days) {
      if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > MAX_RETENTION_DAYS) {
        throw new ElohimError('INVALID_INPUT', `retention must be more than 0 and at most ${MAX_RETENTION_DAYS} days`);
      }
      const state = readForUse(); // what is on disk now, so that a removal we missed is not anchored over
      cache = state;
      const plan = planRetention(state, clock() - days * DAY_MS);
      if (plan === null) return 0;
      const anchor: StoredPointer = { id: state.anchors[0]?.id ?? newId(), ...plan.anchor };
      records.commit({
        put: [[anchor.id, { t: 'anchor', seq: anchor.seq, hash: anchor.hash }]],
        remove: plan.remove.map((e) => e.id),
      });
      const removed = new Set(plan.remove);
      state.entries = state.entries.filter((e) => !removed.has(e));
      state.anchors = [anchor];
      return plan.remove.length;
    },
  };
}
