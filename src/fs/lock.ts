import { readFile, rm, writeFile } from 'node:fs/promises';
import { rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { ElohimError } from '../errors.ts';
import { processAlive } from './process.ts';

export interface ProcessLock {
  /** Takes the lock, or throws VAULT_BUSY while another live process holds it. Idempotent. */
  acquire(): Promise<void>;
  /** Whether this process holds it. */
  held(): boolean;
  /** Gives it up (synchronously, so an exit handler can call it). */
  release(): void;
}

/**
 * One process at a time opens vaults in a data folder (the server, or one CLI command): each
 * keeps an index and an audit-log head in memory, and two writers would fork them. The lock
 * file holds the owner's pid and a per-process nonce; a lock left by a dead process is taken over.
 */
export function createProcessLock(deps: { path: string }): ProcessLock {
  const { path } = deps;
  // The pid says who holds it; the nonce says whether that is us, since a container restarts
  // its server with the same pid every time and a killed run's lock must not look alive.
  const nonce = randomBytes(8).toString('hex');
  let held = false;
  let acquiring: Promise<void> | null = null;

  async function take(): Promise<void> {
    const mine = `${process.pid} ${nonce}`;
    for (let attempt = 0; attempt < 2; attempt++) {
      try {
        await writeFile(path, mine, { flag: 'wx', mode: 0o600 });
        held = true;
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const [pidText, theirNonce] = (await readFile(path, 'utf8').catch(() => '')).trim().split(' ');
      const pid = Number(pidText);
      const alive = Number.isSafeInteger(pid) && pid > 0 && (pid === process.pid ? theirNonce === nonce : processAlive(pid));
      if (alive) {
        throw new ElohimError('VAULT_BUSY', `another ElohimOS process (pid ${pid}) is using this data folder; use it (the server's API or UI), or stop it`);
      }
      await rm(path, { force: true });
    }
    throw new ElohimError('VAULT_BUSY', 'could not take the lock on this data folder');
  }

  return {
    acquire() {
      if (held) return Promise.resolve();
      // Concurrent unlocks in this process share one attempt rather than race each other.
      acquiring ??= take().finally(() => (acquiring = null));
      return acquiring;
    },
    held: () => held,
    release() {
      if (held) rmSync(path, { force: true });
      held = false;
    },
  };
}
