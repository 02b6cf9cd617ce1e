/**
 * Restoring a folder with a deniable store (store-blocks.ts): restoreFolder (restore.ts) runs as
 * for any folder, with this sink as its `into`: every block of the snapshot is checked against
 * its sealed index (size and SHA-256, as any object) and written at its offset of store.bin, made
 * durable (fdatasync) before the next step; there are no rows; config.json and keyslots.bin come
 * last as always, so an interrupted restore is never taken for a usable folder. Run again, it
 * keeps every block whose id its bytes already give and fetches the rest.
 *
 * Which vault's secret restores it: the bootstrap derives the repository key from the key slots
 * and the backed-up rows (keyring/backup-key.ts), and a store folder's rows are inside store.bin,
 * which the key is needed to put together. The front vault needs no rows (the key is its own
 * master key's), so its passphrase or recovery code restores the folder; a vault standing
 * behind it finds the front key only in its own rows, so its secret is refused here, with a
 * message that says which secret to use (the same message in every store folder's repository:
 * it names no vault). Once restored, every vault opens as before. From an open vault (the
 * service's restore into another folder) any vault restores, since it hands over the key.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import type { CiphertextView } from '../vault/index.ts';
import { keyMatches } from './format/v1.ts';
import type { RepositoryKey } from './format/v1.ts';
import { readConfig } from './repository.ts';
import type { Bootstrap, RestoreInto } from './restore.ts';
import { blockId, blockKeyOf, offsetOfBlock, STORE_BLOCK } from './store-blocks.ts';
import type { Target } from './target.ts';

/**
 * Whether the repository on `target` is of a folder with a deniable store: it has snapshots and
 * no rows packs (every other folder has rows from its set-up on; a backup uploads rows first).
 */
export async function isStoreRepository(target: Target, signal?: AbortSignal): Promise<boolean> {
  const [rows, snapshots] = await Promise.all([target.list('rows/', { signal }), target.list('snapshots/', { signal })]);
  return rows.length === 0 && snapshots.length > 0;
}

/**
 * The `into` and `unlock` of restoreFolder for a store folder at `path` (store.bin). Makes the
 * data folder (0700) if it is missing.
 */
export async function storeRestore(deps: {
  path: string;
  paths: { keyslots: string; config: string };
  target: Target;
  unlock: (b: Bootstrap) => Promise<RepositoryKey>;
}): Promise<{ into: RestoreInto; unlock: (b: Bootstrap) => Promise<RepositoryKey>; close(): Promise<void> }> {
  await mkdir(dirname(deps.path), { recursive: true, mode: 0o700 });
  let blockKey: Buffer | null = null;
  let fh: FileHandle | null = null;
  let opening: Promise<FileHandle> | null = null;
  let empty: Database | null = null;
  // Created 0600 without truncating: a restore that resumes keeps the blocks already written.
  const file = () => (opening ??= open(deps.path, constants.O_RDWR | constants.O_CREAT, 0o600).then((h) => (fh = h)));

  const ciphertext: CiphertextView = {
    async *list() {
      if (blockKey === null) return;
      let size: number;
      try {
        size = (await stat(deps.path)).size;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
        throw err;
      }
      const h = await file();
      const buf = Buffer.alloc(STORE_BLOCK);
      for (let offset = 0; offset < size; offset += STORE_BLOCK) {
        const { bytesRead } = await h.read(buf, 0, Math.min(STORE_BLOCK, size - offset), offset);
        const bytes = buf.subarray(0, bytesRead);
        yield { id: blockId(blockKey, offset, bytes) as never, size: bytes.length };
      }
    },
    async size() {
      return null;
    },
    async read() {
      throw new ElohimError('OBJECT_DAMAGED', 'a store being restored is not read back');
    },
    async write(id, source, check) {
      const offset = offsetOfBlock(id);
      if (offset === null || !('storedSize' in check) || check.storedSize > STORE_BLOCK) throw new ElohimError('OBJECT_DAMAGED', 'the backup names a block of the deniable store that cannot be one');
      const parts: Buffer[] = [];
      for await (const chunk of source) parts.push(Buffer.from(chunk));
      const bytes = Buffer.concat(parts);
      const sha256 = createHash('sha256').update(bytes).digest('hex');
      if (bytes.length !== check.storedSize || sha256 !== check.storedSha256) throw new ElohimError('OBJECT_DAMAGED', 'a block of the deniable store does not match its index in the backup');
      const h = await file();
      for (let done = 0; done < bytes.length; ) done += (await h.write(bytes, done, bytes.length - done, offset + done)).bytesWritten;
      // Durable before anything after it: keyslots.bin, published last, makes the folder usable.
      await h.datasync();
      return { size: bytes.length, sha256 };
    },
  };

  return {
    into: {
      paths: deps.paths,
      // A store folder has no rows outside store.bin: they go nowhere (and no db.sqlite appears).
      db: () => (empty ??= openDatabase(':memory:')),
      objects: {
        ciphertext,
        // Nothing is staged: blocks are written in place, and checked again on resume.
        cleanTemp: async () => 0,
      },
    },
    async unlock(bootstrap) {
      const key = await deps.unlock(bootstrap);
      const config = await readConfig(deps.target);
      if (config !== null && !keyMatches(config, key)) {
        throw new ElohimError(
          'VAULT_WRONG_SECRET',
          'this backup is of a folder with a deniable store: restore it with the passphrase or a recovery code of the vault that opens first (the decoy, if the folder has one); every vault opens once it is restored',
        );
      }
      blockKey = blockKeyOf(key);
      return key;
    },
    async close() {
      empty?.close();
      await (fh ?? (opening === null ? null : await opening.catch(() => null)))?.close();
    },
  };
}
