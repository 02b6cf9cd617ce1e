import { randomBytes } from 'node:crypto';
import { asSealKey, hkdf } from '../crypto/index.ts';
import type { SealKey } from '../crypto/index.ts';
import { ElohimError, isDiskFull, isElohimError } from '../errors.ts';
import { CHAIN_VERSION, exportLine, GENESIS_HASH, hashEntry, nextEntry, planRetention, verifyChain } from './chain.ts';
import type { ChainEntry, ChainPointer } from './chain.ts';
import type { AuditEntry, AuditLog, AuditQuery, AuditRecord, AuditRecordStore, AuditVerifyResult } from './api.ts';
import { checkDetails, isAuditEvent } from './events.ts';
import type { AuditDetails, AuditEvent } from './events.ts';

/**
 * The record kinds of an audit log, for its record store (db's RecordKinds): an entry's `v` is
 * the chain version; head and anchor have none (1).
 */
export const AUDIT_RECORD_KINDS = { own: { entry: CHAIN_VERSION, head: 1, anchor: 1 } } as const;

/** How long entries are kept unless the user picks otherwise. */
export const DEFAULT_AUDIT_RETENTION_DAYS = 90;
const DAY_MS = 24 * 60 * 60 * 1000;
const MAX_RETENTION_DAYS = 100 * 366;
const DEFAULT_LIMIT = 100;
const MAX_LIMIT = 1000;

/**
 * The keys of a vault's audit log, from its master key: separate from the vault's record keys,
 * so the vault never sees audit rows and the log never sees the vault's.
 */
export function auditKeys(master: Buffer): { seal: SealKey; tag: Buffer } {
  if (master.length !== 32) throw new RangeError('a vault master key is 32 bytes');
  return auditKeysOf((label) => hkdf(master, Buffer.alloc(0), label));
}

/** The log's keys from a vault key's derivation (`VaultKey.derive`), which keeps the master key to itself. */
export function auditKeysOf(derive: (label: string) => Buffer): { seal: SealKey; tag: Buffer } {
  return { seal: asSealKey(derive('elohim/v1 audit seal')), tag: derive('elohim/v1 audit tag') };
}

/**
 * Where the log's head record lives: an id derived from the vault key, as the record set's seal
 * row's is (random to anyone without the key, found by us without reading the table), so an
 * append reads one row instead of the whole log. Logs written before it keep their head at a
 * random id until their next append moves it.
 */
export function auditHeadIdOf(derive: (label: string) => Buffer): string {
  return derive('elohim/v1 audit head id').subarray(0, 16).toString('hex');
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

/** A head record as read: its pointer and when retention last ran (absent before it first ran, or from older builds). */
interface StoredHead extends StoredPointer {
  retainedAt?: number;
}

/** One log as read from the store; entries sorted by seq. */
interface Loaded {
  entries: StoredEntry[];
  heads: StoredHead[];
  anchors: StoredPointer[];
}

const bySeq = (a: { seq: number }, b: { seq: number }) => a.seq - b.seq;

const publicEntry = (e: StoredEntry): AuditEntry => ({ seq: e.seq, at: e.at, event: e.event, details: { ...e.details }, hash: e.hash });

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
 * Over ~300 lines as one module on purpose: append (both paths), the held entries of a full
 * device, retention and verify all act on one log's state in memory (the copy, the held rows) and
 * must agree on which head is extended; chain.ts holds the pure rules.
 *
 * One writer per log: the head to extend comes from memory, and the record store has no
 * compare-and-set, so two processes appending to one vault's log from their own copies would
 * fork the chain (two entries with one seq), which verify then reports as damage.
 *
 * A command that only appends (most CLI commands: an unlock, the work, its entry) never reads
 * the whole log: with `headId` (auditHeadIdOf), an append reads the head record alone and
 * writes the entry and the new head, and an unlock runs retention once a day (retainIfDue).
 * Reading every row of the table to find the log's (the records are not indexed by owner) was
 * ~0.06-0.09 s of every such command at 10,000 rows. Anything unusual (no head record there, a
 * damaged one, entries held on a full disk, the log already in memory) takes the full path, which
 * moves a lone head to `headId`. Without `headId` every append reads the log.
 */
export function createAuditLog(deps: { records: AuditRecordStore; clock: () => number; headId?: string }): AuditLog {
  const { records, clock, headId } = deps;
  let cache: Loaded | null = null;
  /** Entry rows not yet on disk (the device was full), oldest first; the head in memory already counts them. */
  let held: [string, AuditRecord][] = [];
  /** appendThrottled's memory: key → when it last appended. */
  const lastByKey = new Map<string, number>();

  /** Reads the log from the database: rows that open, how many did not, and the seal. Throws VAULT_FORMAT_UNKNOWN. */
  function read(): Loaded & { damaged: number; seal: 'ok' | 'mismatch' | 'absent' } {
    const loadedRows = records.load();
    const out = { entries: [] as StoredEntry[], heads: [] as StoredPointer[], anchors: [] as StoredPointer[], damaged: loadedRows.damaged.length, seal: loadedRows.seal };
    for (const [id, rec] of loadedRows.records) {
      if (rec.t === 'entry') {
        if (rec.v !== CHAIN_VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `audit entry format ${String(rec.v)} is newer than this build knows`);
        if (!isAuditEvent(rec.event)) throw new ElohimError('VAULT_FORMAT_UNKNOWN', 'the audit log has an event this build does not know');
        const entry: ChainEntry = { v: rec.v, seq: rec.seq, at: rec.at, event: rec.event, details: rec.details, prev: rec.prev };
        out.entries.push({ ...entry, id, event: rec.event, hash: hashEntry(entry) });
      } else if (rec.t === 'head') out.heads.push(headFrom(id, rec));
      else if (rec.t === 'anchor') out.anchors.push({ id, seq: rec.seq, hash: rec.hash });
      else throw new ElohimError('VAULT_FORMAT_UNKNOWN', `audit record kind ${JSON.stringify((rec as { t: unknown }).t)} is newer than this build knows`);
    }
    out.entries.sort(bySeq);
    return out;
  }

  const loaded = (): Loaded => (cache ??= read());

  function headFrom(id: string, rec: AuditRecord & { t: 'head' }): StoredHead {
    const head: StoredHead = { id, seq: rec.seq, hash: rec.hash };
    if (typeof rec.retainedAt === 'number') head.retainedAt = rec.retainedAt;
    return head;
  }

  const headRow = (head: StoredHead): [string, AuditRecord] => [
    head.id,
    head.retainedAt === undefined ? { t: 'head', seq: head.seq, hash: head.hash } : { t: 'head', seq: head.seq, hash: head.hash, retainedAt: head.retainedAt },
  ];

  /** The head record at `headId`, read alone; null when the full path must run (none there, or its row does not open). */
  function storedHead(): StoredHead | null {
    if (headId === undefined) return null;
    try {
      const rec = records.get(headId);
      return rec !== null && rec.t === 'head' ? headFrom(headId, rec) : null;
    } catch (err) {
      if (isElohimError(err, 'VAULT_CORRUPT')) return null; // the full path names the damage
      throw err;
    }
  }

  /**
   * An append that reads the head record alone (see above): null when it does not apply, or
   * when the device is full outside a transaction (the full path then holds the entry).
   */
  function appendFast(event: AuditEvent, details: AuditDetails, at: number): StoredEntry | null {
    if (cache !== null || held.length > 0) return null;
    const head = storedHead();
    if (head === null) return null;
    const body = nextEntry(head, at, event, details);
    const stored: StoredEntry = { ...body, id: newId(), event, hash: hashEntry(body) };
    try {
      records.commit({ put: [[stored.id, { t: 'entry', ...body, event }], headRow({ ...head, seq: stored.seq, hash: stored.hash })] });
    } catch (err) {
      if (isDiskFull(err) && !records.transactionOpen()) return null;
      throw err;
    }
    return stored;
  }

  /**
   * The head to extend: the head record, never the newest entry while a head exists (extending
   * an entry past a head that is behind it, an old head put back, would make the tampered log
   * look whole again). With no head but entries, the newest entry, and `lost` says so: the loss
   * stays visible to verify through the seal, and the caller records it in the chain.
   */
  function headOf(state: Loaded): { head: StoredHead | null; lost: boolean } {
    if (state.heads.length === 0) {
      const last = state.entries.at(-1);
      if (last === undefined) {
        const anchor = state.anchors[0];
        return anchor === undefined ? { head: null, lost: false } : { head: { id: newId(), seq: anchor.seq, hash: anchor.hash }, lost: true };
      }
      return { head: { id: newId(), seq: last.seq, hash: last.hash }, lost: true };
    }
    // Two heads only come from copied-back rows or two writers racing; extend the newest and
    // leave the other in place, so verify keeps reporting it.
    return { head: state.heads.reduce((a, b) => (b.seq > a.seq ? b : a)), lost: false };
  }

  function checkDays(days: number): void {
    if (typeof days !== 'number' || !Number.isFinite(days) || days <= 0 || days > MAX_RETENTION_DAYS) {
      throw new ElohimError('INVALID_INPUT', `retention must be more than 0 and at most ${MAX_RETENTION_DAYS} days`);
    }
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

  /**
   * Writes `rows` (held ones first) and `head`; on a full device outside a caller's transaction,
   * holds the entry rows instead. Returns whether they reached the disk.
   */
  function write(rows: [string, AuditRecord][], head: StoredHead, retired: string[] = []): boolean {
    try {
      records.commit({ put: [...held, ...rows, headRow(head)], remove: retired });
      held = [];
      return true;
    } catch (err) {
      if (!isDiskFull(err) || records.transactionOpen()) throw err;
      held.push(...rows);
      return false;
    }
  }

  /** Chains and writes one entry after `state`'s head; memory follows (and, on a caller's rollback, goes back). */
  function appendTo(state: Loaded, event: AuditEvent, details: AuditDetails, at: number): StoredEntry {
    const { head, lost } = headOf(state);
    const rows: [string, AuditRecord][] = [];
    let tip: ChainPointer = head ?? { seq: 0, hash: GENESIS_HASH };
    const chain = (ev: AuditEvent, d: AuditDetails): StoredEntry => {
      const body = nextEntry(tip, at, ev, d);
      const stored: StoredEntry = { ...body, id: newId(), event: ev, hash: hashEntry(body) };
      rows.push([stored.id, { t: 'entry', ...body, event: ev }]);
      tip = stored;
      return stored;
    };
    const added = lost ? [chain('audit-damage', { reason: 'the head record was missing; the log goes on from its newest entry' })] : [];
    const stored = chain(event, details);
    added.push(stored);
    // A lone head (or none) moves to headId; two heads (rows copied back, or two writers) stay
    // where they are, the newest extended, so verify keeps reporting them.
    const moving = headId !== undefined && state.heads.length <= 1;
    const newHead: StoredHead = { ...head, id: moving ? headId : (head?.id ?? newId()), seq: stored.seq, hash: stored.hash };
    const retired = moving && state.heads.length === 1 && state.heads[0]!.id !== headId ? [state.heads[0]!.id] : [];
    const before = records.transactionOpen() ? { entries: state.entries.slice(), heads: state.heads.slice(), held: held.slice() } : null;
    write(rows, newHead, retired);
    if (before !== null) {
      records.onRollback(() => {
        Object.assign(state, { entries: before.entries, heads: before.heads });
        held = before.held;
      });
    }
    state.heads = [newHead];
    state.entries.push(...added);
    return stored;
  }

  const log: AuditLog = {
    append(event, details = {}) {
      if (!isAuditEvent(event)) throw new ElohimError('INVALID_INPUT', `unknown audit event ${JSON.stringify(event)}`);
      const clean = checkDetails(details);
      const at = clock();
      if (!Number.isSafeInteger(at) || at < 0) throw new RangeError('the clock must give whole milliseconds since the epoch');
      return publicEntry(appendFast(event, clean, at) ?? appendTo(loaded(), event, clean, at));
    },

    appendThrottled(key, everyMs, event, details) {
      const now = clock();
      const last = lastByKey.get(key);
      if (last !== undefined && now - last < everyMs) return null;
      const entry = log.append(event, details);
      // Bounded: keys older than their window are forgotten once there are many.
      if (lastByKey.size >= 1000) for (const [k, t] of lastByKey) if (now - t >= everyMs) lastByKey.delete(k);
      lastByKey.set(key, now);
      return entry;
    },

    pending() {
      return held.length;
    },

    flush() {
      if (held.length === 0) return 0;
      try {
        write([], headOf(loaded()).head!);
      } catch {
        // Best effort by design (a lock calls it on its way out and must not fail): whatever
        // went wrong, the entries are still held and pending() says how many.
      }
      return held.length;
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
      const state = read(); // from the database, not the copy in memory: verify checks the disk
      const verdict: AuditVerifyResult = verifyChain(state);
      if (held.length > 0) verdict.pending = held.length;
      if (state.damaged > 0) {
        verdict.damagedRecords = state.damaged;
        if (verdict.ok) Object.assign(verdict, { ok: false, reason: `${state.damaged} audit record(s) fail authentication: their bytes were altered` });
        else verdict.reason = `${verdict.reason}; ${state.damaged} audit record(s) fail authentication: their bytes were altered`;
      }
      if (verdict.ok && state.seal !== 'ok') {
        verdict.ok = false;
        verdict.reason =
          state.seal === 'mismatch'
            ? 'the audit records are not the set the log last wrote: a record was deleted, added, or an older copy put back'
            : 'the audit records have no seal: they were written by an older build, or the seal was deleted (`elohim verify --repair` seals them)';
      }
      return verdict;
    },

    *exportJsonl() {
      for (const e of loaded().entries.slice()) yield `${exportLine(e, e.hash)}\n`;
    },

    applyRetention(days) {
      checkDays(days);
      if (held.length > 0) return 0; // the disk is full: nothing to gain, and the held entries come first
      const state = read(); // what is on disk now, so that a removal we missed is not anchored over
      cache = state;
      const now = clock();
      const plan = planRetention(state, now - days * DAY_MS);
      // The head says when retention ran (retainIfDue); with two heads, neither is touched.
      const head = state.heads.length === 1 ? { ...state.heads[0]!, retainedAt: now } : null;
      if (plan === null) {
        if (head === null) return 0;
        try {
          records.commit({ put: [headRow(head)] });
          state.heads = [head];
        } catch (err) {
          // Only a note of when it ran: a full device must not stop an unlock for it.
          if (!isDiskFull(err) || records.transactionOpen()) throw err;
        }
        return 0;
      }
      const anchor: StoredPointer = { id: state.anchors[0]?.id ?? newId(), ...plan.anchor };
      records.commit({
        put: [[anchor.id, { t: 'anchor', seq: anchor.seq, hash: anchor.hash }], ...(head === null ? [] : [headRow(head)])],
        remove: plan.remove.map((e) => e.id),
      });
      const removed = new Set(plan.remove);
      state.entries = state.entries.filter((e) => !removed.has(e));
      state.anchors = [anchor];
      if (head !== null) state.heads = [head];
      return plan.remove.length;
    },

    retainIfDue(days) {
      checkDays(days);
      const head = cache !== null ? headOf(cache).head : held.length > 0 ? null : storedHead();
      const since = head?.retainedAt === undefined ? Infinity : clock() - head.retainedAt;
      // A clock set back (since < 0) runs it, as does a head that never recorded a run.
      return since >= 0 && since < DAY_MS ? 0 : log.applyRetention(days);
    },
  };
  return log;
}
