import { randomBytes } from 'node:crypto';
import { rm, stat, statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import { isDiskFull } from '../errors.ts';
import { writeFileAtomic } from './atomic.ts';

/** What a balance pass found: whether the device is (nearly) full, and what it did about it. */
export interface ReserveState {
  /** fewer bytes free than the reserve holds: write nothing that can wait */
  low: boolean;
  action: 'released' | 'made' | 'none';
}

export interface SpaceReserve {
  /**
   * Gives the reserve's space back when the device has less free than it holds, and makes it
   * again once there is room for it twice over. Never throws for a full device.
   */
  balance(): Promise<ReserveState>;
}

/**
 * A file of random bytes kept in the data folder so that a completely full device still leaves
 * ElohimOS room to work: to take its lock, to read, and to move files to the trash and empty it,
 * which is how the user frees space. Without it every command failed at 0 bytes free (the lock
 * file alone needs a block). Random bytes, not zeros, so a compressing file system cannot store
 * it in nothing; every data folder has one, so it says nothing about its vaults.
 */
export function createSpaceReserve(deps: { path: string; bytes: number }): SpaceReserve {
  const { path, bytes } = deps;

  async function freeBytes(): Promise<number> {
    const fs = await statfs(dirname(path));
    return fs.bavail * fs.bsize;
  }

  async function present(): Promise<boolean> {
    try {
      return (await stat(path)).size >= bytes;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw err;
    }
  }

  return {
    async balance() {
      const free = await freeBytes();
      const have = await present();
      if (free < bytes) {
        if (!have) return { low: true, action: 'none' };
        await rm(path, { force: true });
        return { low: true, action: 'released' };
      }
      if (have || free < 2 * bytes) return { low: false, action: 'none' };
      try {
        await writeFileAtomic(path, randomBytes(bytes));
      } catch (err) {
        if (isDiskFull(err)) return { low: true, action: 'none' };
        throw err;
      }
      return { low: false, action: 'made' };
    },
  };
}
