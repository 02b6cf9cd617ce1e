/**
 * Removes partly received objects (objects/tmp/mesh/<wire id>, ciphertext only) that no session
 * will resume. The sync engine stages a big object there chunk by chunk so that a cut transfer
 * goes on from the staged length; a transfer that never resumes (its file was deleted or replaced
 * on the other device, the device was unpaired, nobody syncs again) left its bytes for good.
 *
 * A staged file is removed when it has not been written for GRACE_MS and
 * - this vault holds its object whole (it arrived another way: a bundle, another member, or a
 *   later session that was sent it in one piece), or
 * - this vault released it (no version of its shares names it any more: superseded or deleted)
 *   and no share names it again, or
 * - it has not been written for MAX_IDLE_MS, whoever staged it.
 *
 * Why these rules: the staging folder is one per data folder, shared by its vaults (a folder per
 * vault would show how many vaults use the mesh), and a vault cannot tell another vault's staged
 * file from its own. So what one vault knows (held, released) decides only about objects it is
 * sure of, and anything else waits out the long age; a wrongly removed partial costs only a
 * transfer that restarts from 0, since every object is authenticated whole before it is kept.
 * Why the grace: a session of another vault of this process may be writing a file this vault
 * judges, and its mtime moves at every chunk. The caller runs a sweep only when no session of its
 * own vault runs (`busy`), checked again right before each removal, synchronously, so a session
 * that starts meanwhile cannot have read a staged length the sweep then removes.
 */
import { readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** A staged file untouched this long is removed whoever staged it (a week: devices that meet weekly still resume). */
export const MAX_IDLE_MS = 7 * 24 * 60 * 60 * 1000;
/** Nothing written for less than this is touched (a session of another vault may be writing it). */
export const GRACE_MS = 10 * 60 * 1000;

const WIRE_ID = /^[0-9a-f]{32}$/;

export interface StagingSweepDeps {
  /** objects/tmp/mesh of the data folder */
  dir: string;
  /** true while a session of this vault may be writing or taking a staged file */
  busy: () => boolean;
  /** whether this vault holds the object (wire id) whole */
  held: (wire: string) => Promise<boolean>;
  /** whether a version of this vault's shares names the object (wire id) */
  named: (wire: string) => boolean;
  /** objects (wire ids) this vault released since its last sweep; the sweep empties it */
  released: Set<string>;
  /** wall-clock now, in ms (file times are wall-clock) */
  now: () => number;
}

export interface SweepResult {
  removed: number;
  bytes: number;
  kept: number;
  /** the sweep stopped because a session of this vault started */
  skipped: boolean;
}

/**
 * One pass over the staging folder. Never throws for a file that vanished or a folder that does
 * not exist (nothing was ever staged); other file-system errors are thrown.
 */
export async function sweepStaging(deps: StagingSweepDeps): Promise<SweepResult> {
  const result: SweepResult = { removed: 0, bytes: 0, kept: 0, skipped: false };
  if (deps.busy()) return { ...result, skipped: true };
  let names: string[];
  try {
    names = readdirSync(deps.dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return result;
    throw err;
  }
  const released = new Set(deps.released);
  const gone = new Set<string>();
  for (const name of names) {
    // Only staged objects: anything else in the folder is not ours to judge.
    if (!WIRE_ID.test(name)) continue;
    const path = join(deps.dir, name);
    const before = statSync(path, { throwIfNoEntry: false });
    if (before === undefined || !before.isFile()) continue;
    const idle = deps.now() - before.mtimeMs;
    let remove = idle >= MAX_IDLE_MS;
    if (!remove && idle >= GRACE_MS) remove = (released.has(name) && !deps.named(name)) || (await deps.held(name));
    if (!remove) {
      result.kept++;
      continue;
    }
    // Checked again after the awaits, with no await between the check and the removal.
    if (deps.busy()) return { ...result, skipped: true };
    const now = statSync(path, { throwIfNoEntry: false });
    if (now === undefined || now.mtimeMs !== before.mtimeMs || now.size !== before.size) {
      result.kept += now === undefined ? 0 : 1;
      continue;
    }
    rmSync(path, { force: true });
    gone.add(name);
    result.removed++;
    result.bytes += now.size;
  }
  // A release is forgotten once no staged file of it is left; one whose file stays (written
  // too recently) is judged again at the next pass.
  const present = new Set(names);
  for (const name of released) if (!present.has(name) || gone.has(name)) deps.released.delete(name);
  return result;
}
