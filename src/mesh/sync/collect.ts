/**
 * Full garbage collections run by a sync session: every COLLECT_AFTER bytes of small objects
 * moved (smallObjectCollector, below), and one when a session that moved many bytes is over,
 * before its caller shows what came (the receiver's show/adopt builds ~30-40 MiB of heap at once).
 *
 * Why: a transfer leaves its buffers (the transport's pieces, reads, checks) dead but uncollected:
 * they outlive V8's young generation (a sync keeps megabytes in flight), and the old generation is
 * collected only when V8's external-memory limit (~64 MiB above the last full collection) is hit.
 * bench:sync's receiver ended its 10,000 small files with ~55 MiB of them (H-MEM's probe), and
 * whether V8 collected them before the show's heap growth or after decided a 250 or a 280 MiB
 * peak from one run to the next. Collected here, that memory is reused (glibc keeps it for the
 * next allocations) instead of the show's growth landing on top of it. It costs one full mark-
 * compact (tens of ms on a ~100 MiB heap) per sync that moved at least COLLECT_AFTER bytes.
 *
 * The collection itself is src/gc.ts's.
 */
import { getHeapStatistics } from 'node:v8';
import { collectGarbage } from '../../gc.ts';

/** A session that received or sent at least this many object bytes collects at its end. */
export const COLLECT_AFTER = 16 * 1024 * 1024;

/**
 * Counts the bytes of objects that travel whole in one message (small files) and runs a full
 * collection every COLLECT_AFTER of them (collect.ts). Why during the session and only for these:
 * each small object leaves transport buffers (libp2p's Noise pieces, socket reads) that V8
 * promotes and frees only at a full collection, which it starts once ~64 MiB of them gathered
 * (the sender's probe: up to 34 MiB of Noise's ciphertext uncollected at once in bench:sync's
 * small files). One collection per 16 MiB bounds that to about 16 MiB for 3 collections of
 * ~50 ms per 10,000 files. (Its effect alone was not measured apart from pool.ts's key fix,
 * which removed most of the receiver's growth there: 40 MiB that were live, not garbage.)
 * A big object's chunks are freed as they are written (the receiver) and V8's own
 * collections keep the big files' phase lower, so they do not count: one per 16 MiB of them would
 * be 64 collections per GiB.
 */
export function smallObjectCollector(): (bytes: number) => void {
  let since = 0;
  return (bytes) => {
    since += bytes;
    if (since < COLLECT_AFTER) return;
    since = 0;
    collectGarbage();
  };
}

/**
 * Runs a full collection whenever V8's used heap has grown by more than `limit` bytes since the
 * last one (or since it was made); `check` returns whether it collected. For work that makes much
 * short-lived heap after a transfer: the receiver showing a first sync's files (bridge.ts, adopt
 * in batches). Why: the serve process runs with a 1 MiB young generation (bin/elohim.js), so that
 * work's garbage is promoted at once and piles up in the old generation until V8's own limit
 * (well above the live heap after the session's collection), and V8's new pages landed on top of
 * the transfer's high-water mark (glibc keeps the transfer's freed buffers in its heap, which V8
 * cannot reuse). bench:sync's receiver (probe, s19): its used heap went 58-67 -> 76-98 MiB while
 * the files were shown, and the peak came there (255.5 MiB against 241.5 before it, in one run);
 * with a collection at 8 MiB of growth it stays under ~70 MiB, and in six interleaved pairs the
 * receiver's peak over its idle RSS went 84-110 (mean 98) -> 78-87 (mean 83) MiB. A check costs a
 * heap-statistics call; a collection tens of milliseconds, one or two per 10,000 files.
 */
export function heapGrowthCollector(limit: number): { check: () => boolean } {
  let base = getHeapStatistics().used_heap_size;
  return {
    check() {
      if (getHeapStatistics().used_heap_size - base <= limit) return false;
      const ran = collectGarbage();
      base = getHeapStatistics().used_heap_size;
      return ran;
    },
  };
}

/** A scan that made at least this many versions collects before it returns (scanCollector). */
export const SCAN_COLLECT_VERSIONS = 1000;

/**
 * The share's scan (bridge.ts scanFolder): a heapGrowthCollector checked after each piece of
 * versions sealed and kept, and one full collection before a scan that made SCAN_COLLECT_VERSIONS
 * or more returns (unless the last check just ran one). Why: a first scan of a big folder (`mesh
 * share` of bench:sync's 10,000 files) makes its versions' JSON, seals, Merkle paths and SQLite
 * rows at once; in a serve process with a 1 MiB young generation all of it is promoted, and the
 * scan left the sharing device's heap at ~82 MiB used of which ~17 MiB dead (a probe, s20: 82 ->
 * 65 MiB after a full collection), uncollected when the sync started: the sync's buffers then
 * grew the process on top of it (223 MiB before one run's sync, 262 at its peak). A check costs a
 * heap-statistics call per piece; the collection ~40 ms once per big scan, before `mesh share`
 * answers (a scan at a sync's start makes few versions and does not collect at its end).
 */
export function scanCollector(limit: number): { check: () => boolean; done: (versions: number) => boolean } {
  const heap = heapGrowthCollector(limit);
  return {
    check: heap.check,
    done(versions) {
      if (heap.check()) return true;
      return versions >= SCAN_COLLECT_VERSIONS && collectGarbage();
    },
  };
}
