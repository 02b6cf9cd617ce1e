import { createHash, randomBytes } from 'node:crypto';
import { mkdir, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import type { Database } from '../db/index.ts';
import { insertRawRows } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import type { ProcessLock, SpaceReserve } from '../fs/index.ts';
import { newObjectId, storedSize } from '../vault/index.ts';
import type { ObjectStore } from '../vault/index.ts';
import { chaffPlaintextSize, chaffRows, coverRow, passCounts, seedCounts } from './chaff.ts';

export interface MaintenanceDeps {
  db: () => Database;
  objects: ObjectStore;
  paths: { dir: string; objects: string; reserve: string };
  lock: ProcessLock;
  /** the space kept for a full device (fs/reserve.ts) */
  reserve: SpaceReserve;
  /**
   * The folder's deniable store, if it was set up with one (src/store): every vault's rows and
   * objects are inside it, so there is no chaff to add (its size is fixed whatever it holds), and
   * a pass sets its times instead, as the cover row does for db.sqlite.
   */
  store?: () => { touch(): Promise<void> } | null;
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
    // The reserve too: made once, its times would otherwise say when set-up finished, which
    // takes longer with two passphrases to derive than with one.
    await Promise.all(
      [...folders, deps.paths.reserve].map((f) =>
        utimes(f, now, now).catch((err: NodeJS.ErrnoException) => {
          if (err.code !== 'ENOENT') throw err;
        }),
      ),
    );
  }

  return {
    /** At set-up: every object folder, and the first chaff. */
    async seed(): Promise<void> {
      const store = deps.store?.() ?? null;
      if (store !== null) {
        await deps.reserve.balance();
        await store.touch();
      } else {
        for (const f of folders) await mkdir(f, { recursive: true, mode: 0o700 });
        // First, so that its birth is as close to set-up as the folders', whatever the chaff costs.
        await deps.reserve.balance();
        const counts = seedCounts();
        insertRawRows(deps.db(), chaffRows(counts.rows));
        await addObjects(counts.objects);
      }
    },

    /**
     * One pass. Skipped (quietly) before set-up and while another process holds the folder: that
     * process runs its own. With `chaff` (the server's periodic passes) it also adds a little
     * chaff; a command's passes only touch. Errors other than a busy folder are thrown.
     *
     * On a (nearly) full device it first gives back the reserve, so that the lock and the user's
     * own work (reading, emptying the trash) have room, and then only touches the folders:
     * its rewrites would spend that room.
     */
    async run(opts: { chaff?: boolean } = {}): Promise<void> {
      if (!deps.initialized()) return;
      const { low } = await deps.reserve.balance();
      try {
        await deps.lock.acquire();
      } catch (err) {
        if (isElohimError(err, 'VAULT_BUSY')) return;
        throw err;
      }
      if (low) {
        await touchFolders();
        return;
      }
      const store = deps.store?.() ?? null;
      if (store !== null) {
        await store.touch();
      } else {
        if (opts.chaff === true) {
          const counts = passCounts();
          if (counts.rows > 0) insertRawRows(deps.db(), chaffRows(counts.rows));
          await addObjects(counts.objects);
        }
        insertRawRows(deps.db(), [coverRow()]);
      }
      await deps.refreshKeys();
      await deps.refreshSettings();
      await touchFolders();
    },
  };
}

export type Maintenance = ReturnType<typeof createMaintenance>;
