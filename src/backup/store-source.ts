/**
 * What the backup engine reads in a folder with a deniable store (store-blocks.ts says how the
 * store becomes objects of the repository): keyslots.bin and config.json as in any folder, no
 * rows (a store folder has no db.sqlite: every vault's rows are inside store.bin), and store.bin
 * as 1 MiB blocks through a CiphertextView-shaped source, read from the store's *hold*.
 *
 * Why a hold (src/store/store.ts): the vault stays open and writing while a backup reads, and a
 * backup of hours must not stop it. The store is log-structured: new data goes to free blocks,
 * a log entry names it, and only compaction (and a decoy added or removed) overwrites blocks the
 * current state names. Held, the store compacts nothing, reuses no block freed meanwhile, refuses
 * decoy changes, and the image reads log blocks written since the hold began as random bytes.
 * So every block the state at that moment names reads as it was, and each region's chain ends
 * where it ended then: the image is the folder as a kill -9 at that moment would have left it,
 * which the store already opens (src/store/crash.test.ts). Object bytes written meanwhile land
 * in blocks that state calls free: they may be in the image, named by nothing.
 */
import { Readable } from 'node:stream';
import { openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import type { DeniableStore, StoreImage } from '../store/index.ts';
import type { CiphertextView } from '../vault/index.ts';
import type { BackupDeps } from './engine.ts';
import type { RepositoryKey } from './format/v1.ts';
import { blockId, blockKeyOf, offsetOfBlock, STORE_BLOCK } from './store-blocks.ts';

type Folder = Omit<BackupDeps, 'key' | 'clock'>;

/**
 * The folder as the backup engine reads it when it has a deniable store. `key` is the
 * repository key (block ids are keyed under a key derived from it).
 */
export function storeBackupSource(deps: { paths: { keyslots: string; config: string }; store: () => DeniableStore; key: RepositoryKey }): Folder {
  const blockKey = blockKeyOf(deps.key);
  let empty: Database | null = null;
  /** The image of the backup running now (the engine holds before it reads anything). */
  let image: StoreImage | null = null;

  const held = (): StoreImage => {
    if (image === null) throw new Error('the deniable store is read only while a backup holds it');
    return image;
  };
  const blockAt = (offset: number, size: number) => held().read(offset, Math.min(STORE_BLOCK, size - offset));

  const objects: CiphertextView = {
    async *list() {
      const size = deps.store().size;
      for (let offset = 0; offset < size; offset += STORE_BLOCK) {
        const bytes = await blockAt(offset, size);
        yield { id: blockId(blockKey, offset, bytes) as never, size: bytes.length };
      }
    },
    async size(id) {
      const offset = offsetOfBlock(id);
      const size = deps.store().size;
      return offset === null || offset >= size ? null : Math.min(STORE_BLOCK, size - offset);
    },
    async read(id, range) {
      const offset = offsetOfBlock(id);
      const size = deps.store().size;
      if (offset === null || offset >= size) throw new ElohimError('OBJECT_DAMAGED', 'no such block of the deniable store');
      const bytes = await blockAt(offset, size);
      // The bytes as they read now: a log block written since the list was taken reads as other
      // random bytes than then (a fresh hold's), and the index records the hash of what is sent.
      return Readable.from([range === undefined ? bytes : bytes.subarray(range.start, range.end)]);
    },
    async write() {
      throw new ElohimError('INVALID_INPUT', 'the deniable store is not written through a backup source');
    },
  };

  return {
    paths: deps.paths,
    // No rows outside store.bin: an empty database gives the engine none.
    db: () => (empty ??= openDatabase(':memory:')),
    objects,
    hold: () => {
      const taken = deps.store().hold();
      image = taken;
      return {
        [Symbol.dispose]() {
          if (image === taken) image = null;
          taken[Symbol.dispose]();
        },
      };
    },
  };
}
