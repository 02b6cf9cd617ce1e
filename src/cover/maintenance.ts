import { createHash, randomBytes } from 'node:crypto';
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../db/index.ts';
import { insertRawRows } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import type { ProcessLock } from '../fs/index.ts';
import { newObjectId, storedSize } from '../vault/index.ts';
import type { ObjectStore } from '../vault/index.ts';
import { chaffPlaintextSize, chaffRows, coverRow, passCounts, seedCounts } from './chaff.ts';

export interface MaintenanceDeps {
  db: () => Database;
  objects: ObjectStore;
  paths: { dir: string; objects: string };
  lock: ProcessLock;
  /** whether the folder holds key slots (nothing to maintain before set-up) */
  initialized: () => boolean;
  /** rewrites keyslots.bin and the throttle file as they are (keyring.refresh) */
  refreshKeys: () => Promise<void>;
  /** rewrites config.json as it is (settings.refresh) */
  refreshSettings: () => Promise<void>;
}

/**
 * Maintenance that runs in every data folder, in every ElohimOS process that opens one (a CLI
 * command at its start and end, the server at start, every few minutes and at stop), whichever
 * vault is open or none, and is never audited. It adds a little chaff, rewrites the small files
 * as they are and touches every object folder, so that the times on disk say only "ElohimOS ran
 * then", never "a vault other than this one wrote" (ARCHITECTURE.md, deniability).
 */
export function createMaintenance(deps: MaintenanceDeps) {
  const shards = Array.from({ length: 256 }, (_, i) => join(deps.paths.objects, i.toString(16).padStart(2, '0')));
  const folders = [deps.paths.dir, deps.paths.objects, join(deps.paths.objects, 'tmp'), ...shards];

  async function addObjects(count: number): Promise<void> {
    for (let i = 0; i < count; i++) {
      const bytes = randomBytes(storedSize(chaffPlaintextSize()));
      const storedSha256 = createHash('sha256').update(bytes).digest('hex');
      await deps.objects.ciphertext.write(newObjectId(), (async function* () {
        yield bytes;
      })(), { storedSize: bytes.length, storedSha256 });
    }
  }

  async function touchFolders(): Promise<void> {
    const now = new Date();
    // A folder made before set-up made all 256 shards may lack some: nothing to touch there.
    await Promise.all(
      folders.map((f) =>
        utimes(f, now, now).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        }),
      ),
    );
  }

  return {
    /** At set-up: every object folder, and the first chaff. */
    async seed(): Promise<void> {
      for (const f of folders) await mkdir(f, { recursive: true, mode: 0o700 });
      const counts = seedCounts();
      insertRawRows(deps.db(), chaffRows(counts.rows));
      await addObjects(counts.objects);
    },

    /**
     * One pass. Skipped (quietly) before set-up and while another process holds the folder: that
     * process runs its own. With `chaff` (the server's periodic passes) it also adds a little
     * chaff; a command's passes only touch. Errors other than a busy folder are thrown.
     */
    async run(opts: { chaff?: boolean } = {}): Promise<void> {
      if (!deps.initialized()) return;
      try {
        await deps.lock.acquire();
      } catch (err) {
        if (isElohimError(err, 'VAULT_BUSY')) return;
        throw err;
      }
      if (opts.chaff === true) {
        const counts = passCounts();
        if (counts.rows > 0) insertRawRows(deps.db(), chaffRows(counts.rows));
        await addObjects(counts.objects);
      }
      insertRawRows(deps.db(), [coverRow()]);
      await deps.refreshKeys();
      await deps.refreshSettings();
      await touchFolders();
    },
  };
}

export type Maintenance = ReturnType<typeof createMaintenance>;
