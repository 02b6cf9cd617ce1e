/**
 * How a stored object is opened for reading: with O_NOATIME where the system has it (Linux).
 *
 * Why: on a file system mounted `relatime` (the default), the first read of a file since it was
 * written updates its access time, which dirties the inode, a write to disk later. A read that
 * changes nothing on disk also leaves no trace of which objects were read, and when. (s23 gave a
 * journal commit that a stalled read waited behind as the reason; the machines it was measured
 * on mount ext4 without a journal. The stall s24 caught in the same read was a page-cache miss
 * behind another process's writeback: warm.ts.)
 *
 * O_NOATIME is refused (EPERM) for a file the process does not own, unless it has CAP_FOWNER: a
 * data folder copied in by another user still reads, by a plain open.
 */
import { constants, openSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';

const PLAIN = constants.O_RDONLY;
/** O_RDONLY | O_NOATIME, or O_RDONLY where the platform has no O_NOATIME. */
export const READ_FLAGS = PLAIN | (constants.O_NOATIME ?? 0);

const refusedNoatime = (err: unknown) => READ_FLAGS !== PLAIN && (err as NodeJS.ErrnoException).code === 'EPERM';

/** Opens `path` for reading without updating its access time where that is allowed. */
export async function openForRead(path: string): Promise<FileHandle> {
  try {
    return await open(path, READ_FLAGS);
  } catch (err) {
    if (refusedNoatime(err)) return open(path, PLAIN);
    throw err;
  }
}

/** openForRead, synchronously: a file descriptor. */
export function openForReadSync(path: string): number {
  try {
    return openSync(path, READ_FLAGS);
  } catch (err) {
    if (refusedNoatime(err)) return openSync(path, PLAIN);
    throw err;
  }
}
