/**
 * One full garbage collection of the whole heap, on demand: for a point where a phase has just
 * left much garbage that V8 would collect only at its external-memory limit (~64 MiB above the
 * last full collection), and the next phase allocates: collected first, the next phase reuses
 * that memory instead of growing the process on top of it. Its callers say where and what it
 * measured (the mesh's sync: mesh/sync/collect.ts; the first backup: backup/engine.ts, service.ts).
 * A few ms per 10 MiB of live heap.
 *
 * `gc` is not exposed to the app's own context (the CLI runs under a shebang, the server under
 * npm start): `--expose-gc` set at run time exposes it to a context made after it, and that
 * context's `gc` collects the whole isolate (node:v8 setFlagsFromString); the main context's
 * globals stay as they were. A process started with --expose-gc uses its own `gc`. Where neither
 * works, nothing is collected and nothing else changes.
 */
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';

let fullGc: (() => void) | null | undefined;

/** Runs one full collection now; returns whether it ran. */
export function collectGarbage(): boolean {
  if (fullGc === undefined) {
    const own = (globalThis as { gc?: unknown }).gc;
    try {
      fullGc = typeof own === 'function' ? (own as () => void) : exposeGc();
    } catch {
      fullGc = null;
    }
  }
  if (fullGc === null) return false;
  fullGc();
  return true;
}

function exposeGc(): () => void {
  setFlagsFromString('--expose-gc');
  return runInNewContext('gc') as () => void;
}
