/**
 * One full garbage collection, run by a sync session that moved many bytes, once it is over and
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
 * `gc` is not exposed to the app's own context; `--expose-gc` set at run time exposes it to a
 * new context, whose `gc` collects the whole isolate (Node's documented way, node:v8
 * setFlagsFromString). Where that fails, nothing is collected and nothing else changes.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

/** A session that received or sent at least this many object bytes collects at its end. */
export const COLLECT_AFTER = 16 * 1024 * 1024;

let fullGc: (() => void) | null | undefined;

/** Runs one full collection now (once exposed); returns whether it ran. */
export function collectGarbage(): boolean {
  if (fullGc === undefined) {
    try {
      setFlagsFromString('--expose-gc');
      fullGc = runInNewContext('gc') as () => void;
    } catch {
      fullGc = null;
    }
  }
  if (fullGc === null) return false;
  fullGc();
  return true;
}
