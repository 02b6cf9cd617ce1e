/**
 * The audit chain, version 1: pure functions over entries, no storage.
 *
 * Entry n is { v: 1, seq: n, at, event, details, prev } where `prev` is the hash of entry n-1
 * (of the genesis, 64 zero hex digits, for entry 1), and
 *
 *   hash(n) = lowercase hex of SHA-256(canonical(entry n))
 *
 * canonical() is the RFC 8785 (JSON Canonicalization Scheme) serialization of the six fields:
 * keys sorted by UTF-16 code units, no whitespace, strings and numbers as ECMAScript's
 * JSON.stringify writes them. With our value rules (ASCII identifier keys, well-formed strings,
 * finite numbers, booleans; see events.ts) that is exactly:
 *
 *   {"at":<at>,"details":{<k1>:<v1>,...sorted by key},"event":<event>,"prev":<prev>,"seq":<seq>,"v":1}
 *
 * An export line is the same serialization with "hash" added (between "event" and "prev"), so
 * anyone can check an export with a JCS library and SHA-256: drop "hash", canonicalize, hash.
 * A later version changes `v` and gets its own encoder; this one refuses anything but v = 1.
 */
import { createHash } from 'node:crypto';
import type { AuditDetails } from './events.ts';

export const CHAIN_VERSION = 1;
/** `prev` of entry 1. */
export const GENESIS_HASH = '0'.repeat(64);

/** The hashed part of an entry. `event` is a string here: the chain does not care which names exist. */
export interface ChainEntry {
  v: typeof CHAIN_VERSION;
  seq: number;
  /** ms since the epoch */
  at: number;
  event: string;
  details: AuditDetails;
  prev: string;
}

/** An entry's place in the chain: the head (newest entry) and the anchor (newest entry removed by retention). */
export interface ChainPointer {
  seq: number;
  hash: string;
}

const str = (s: string): string => JSON.stringify(s);
/** JSON.stringify writes numbers as RFC 8785 §3.2.2.3 requires (ECMAScript Number::toString). */
const num = (n: number): string => JSON.stringify(n);

function canonicalDetails(details: AuditDetails): string {
  // Default sort compares UTF-16 code units, as RFC 8785 §3.2.3 orders keys.
  const keys = Object.keys(details).sort();
  return `{${keys.map((k) => `${str(k)}:${JSON.stringify(details[k])}`).join(',')}}`;
}

/** The bytes that are hashed for `e` (see the top of this file). */
export function encodeEntry(e: ChainEntry): Buffer {
  if (e.v !== CHAIN_VERSION) throw new RangeError(`audit chain version ${String(e.v)} is not ${CHAIN_VERSION}`);
  return Buffer.from(
    `{"at":${num(e.at)},"details":${canonicalDetails(e.details)},"event":${str(e.event)},"prev":${str(e.prev)},"seq":${num(e.seq)},"v":${CHAIN_VERSION}}`,
    'utf8',
  );
}

export function hashEntry(e: ChainEntry): string {
  return createHash('sha256').update(encodeEntry(e)).digest('hex');
}

/** One JSON Lines line (without the newline) for an entry whose hash is `hash`. */
export function exportLine(e: ChainEntry, hash: string): string {
  return `{"at":${num(e.at)},"details":${canonicalDetails(e.details)},"event":${str(e.event)},"hash":${str(hash)},"prev":${str(e.prev)},"seq":${num(e.seq)},"v":${CHAIN_VERSION}}`;
}

/** The entry that follows `tip`. */
export function nextEntry(tip: ChainPointer, at: number, event: string, details: AuditDetails): ChainEntry {
  return { v: CHAIN_VERSION, seq: tip.seq + 1, at, event, details, prev: tip.hash };
}

/**
 * What the store holds for one log, in any order. There should be at most one head and one
 * anchor; more means rows were copied back or two writers raced, and verification says so.
 */
export interface ChainState<E extends ChainEntry = ChainEntry> {
  entries: readonly E[];
  heads: readonly ChainPointer[];
  anchors: readonly ChainPointer[];
}

export interface ChainVerdict {
  ok: boolean;
  /** entries whose place in the chain checked out, from the start (all of them when ok) */
  entries: number;
  /** seq of the first entry that is missing, altered or out of place, when one can be named */
  firstBadEntry?: number;
  /** what is wrong, for people */
  reason?: string;
  /** where an intact, non-empty log ends */
  head?: ChainPointer;
}

const bySeq = (a: ChainEntry, b: ChainEntry) => a.seq - b.seq;
const GENESIS: ChainPointer = { seq: 0, hash: GENESIS_HASH };

/**
 * Checks that the entries form one unbroken chain from the anchor (or the genesis) to the head.
 * Order comes from `seq` inside each (sealed) entry, never from where rows sit in a table.
 *
 * Detects: an entry missing anywhere (a seq gap, or the head ahead of the last entry), an entry
 * that does not follow its predecessor, two entries with one seq, an entry the anchor says was
 * removed, entries beyond the head (an old head copied back), a missing head, and more than one
 * head or anchor. It cannot detect the whole log rolled back to an older copy (head and tail
 * together), nor every row of the log removed, which looks like a log never written: those need
 * a witness outside the database (see `verify` in log.ts).
 */
export function verifyChain(state: ChainState): ChainVerdict {
  const bad = (entries: number, reason: string, firstBadEntry?: number): ChainVerdict =>
    firstBadEntry === undefined ? { ok: false, entries, reason } : { ok: false, entries, firstBadEntry, reason };
  if (state.heads.length > 1) return bad(0, `there are ${state.heads.length} head records (rows were copied back, or two writers raced)`);
  if (state.anchors.length > 1) return bad(0, `there are ${state.anchors.length} anchor records (rows were copied back)`);
  const anchor = state.anchors[0];
  let tip = anchor ?? GENESIS;
  let good = 0;
  for (const e of [...state.entries].sort(bySeq)) {
    if (e.seq <= tip.seq) {
      if (good > 0) return bad(good, `two entries claim #${e.seq}`, e.seq);
      return anchor !== undefined
        ? bad(good, `entry #${e.seq} was removed by retention (the log starts after #${anchor.seq}) but is present`, e.seq)
        : bad(good, `entry #${e.seq} is out of place`, e.seq);
    }
    if (e.seq > tip.seq + 1) return bad(good, `entry #${tip.seq + 1} is missing`, tip.seq + 1);
    if (e.prev !== tip.hash) return bad(good, `entry #${e.seq} does not follow entry #${tip.seq}`, e.seq);
    tip = { seq: e.seq, hash: hashEntry(e) };
    good++;
  }
  const head = state.heads[0];
  if (head === undefined) {
    if (anchor === undefined && good === 0) return { ok: true, entries: 0 }; // never written
    return bad(good, 'the head record is missing');
  }
  if (head.seq > tip.seq) return bad(good, `entry #${tip.seq + 1} and later are missing (the head is #${head.seq})`, tip.seq + 1);
  if (head.seq < tip.seq) return bad(good, `entries after #${head.seq} are beyond the head (an older head was put back)`, head.seq + 1);
  if (head.hash !== tip.hash) return bad(good, `entry #${head.seq} is not the one the head records`, head.seq);
  return { ok: true, entries: good, head: { seq: head.seq, hash: head.hash } };
}

/**
 * Which entries retention removes: the longest run from the start of the chain whose entries
 * are older than `cutoff` AND verify, so that the new anchor (the last one removed) only ever
 * vouches for entries that checked out. Retention stops short of any break, and the break stays
 * visible to `verifyChain`. Returns null when nothing can be removed. The run ends at the first
 * entry at or after `cutoff` even if later ones are older (a clock set back), keeping the removal
 * a prefix of the chain.
 */
export function planRetention<E extends ChainEntry>(state: ChainState<E>, cutoff: number): { remove: E[]; anchor: ChainPointer } | null {
  if (state.heads.length > 1 || state.anchors.length > 1) return null;
  let tip = state.anchors[0] ?? GENESIS;
  const remove: E[] = [];
  for (const e of [...state.entries].sort(bySeq)) {
    if (e.at >= cutoff || e.seq !== tip.seq + 1 || e.prev !== tip.hash) break;
    tip = { seq: e.seq, hash: hashEntry(e) };
    remove.push(e);
  }
  return remove.length === 0 ? null : { remove, anchor: tip };
}
