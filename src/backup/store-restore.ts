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
 * whose blocks the repository names only under that key. The front vault needs no rows (the key
 * is its own master key's), so its passphrase or recovery code restores the folder at once. A
 * vault standing behind it finds the front key only in its own rows: for it the whole repository
 * is downloaded and its region's log found by trying its key (store-bootstrap.ts), then the
 * restore goes on as for the front. From an open vault (the service's restore into another
 * folder) the key is handed over.
 */
import { createHash } from 'node:crypto';
import { constants } from 'node:fs';
import { mkdir, open, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';
import { openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import type { UnlockSecret } from '../keyring/index.ts';
import type { CiphertextView } from '../vault/index.ts';
import { keyMatches } from './format/v1.ts';
import type { RepositoryKey } from './format/v1.ts';
import { readConfig } from './repository.ts';
import type { Bootstrap, RestoreInto } from './restore.ts';
import { blockId, blockKeyOf, offsetOfBlock, STORE_BLOCK } from './store-blocks.ts';
import { rowsBehindTheFront } from './store-bootstrap.ts';
import type { BehindTheFront } from './store-bootstrap.ts';
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
  /** the secret `unlock` uses, if any: the vault behind the front needs it (store-bootstrap.ts) */
  secret?: UnlockSecret;
  signal?: AbortSignal;
}): Promise<{ into: RestoreInto; unlock: (b: Bootstrap) => Promise<RepositoryKey>; target: Target; close(): Promise<void> }> {
  await mkdir(dirname(deps.path), { recursive: true, mode: 0o700 });
  let blockKey: Buffer | null = null;
  let fh: FileHandle | null = null;
  let opening: Promise<FileHandle> | null = null;
  let empty: Database | null = null;
  /** what the search for a hidden vault's records downloaded (store-bootstrap.ts), if it ran */
  let behind: BehindTheFront | null = null;
  // The restore reads data packs the search already downloaded from its scratch (each entry is
  // still checked against its sealed index); everything else from the target.
  const real = deps.target;
  const target: Target = {
    description: real.description,
    check: (o) => real.check(o),
    put: (name, body, o) => real.put(name, body, o),
    list: (prefix, o) => real.list(prefix, o),
    delete: (name, o) => real.delete(name, o),
    async read(name, o) {
      const p = behind?.packs.get(name);
      if (behind === null || p === undefined) return real.read(name, o);
      return behind.stream(name, o?.range ?? { start: 0, end: p.size });
    },
    async get(name, o) {
      const p = behind?.packs.get(name);
      if (behind === null || p === undefined) return real.get(name, o);
      return behind.read(name, o?.range ?? { start: 0, end: p.size });
    },
  };
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
      let key = await deps.unlock(bootstrap);
      const config = await readConfig(deps.target, { signal: deps.signal });
      // The secret opened a key slot (a wrong one throws above) but not the front key: the vault
      // behind the front, whose rows are inside the store (store-bootstrap.ts).
      if (config !== null && !keyMatches(config, key) && deps.secret !== undefined) {
        behind = await rowsBehindTheFront({ target: deps.target, keyslots: bootstrap.keyslots, secret: deps.secret, dataDir: dirname(deps.path), signal: deps.signal });
        const rows = behind?.rows;
        if (rows !== undefined) key = await deps.unlock({ keyslots: bootstrap.keyslots, rows: async () => rows });
      }
      if (config !== null && !keyMatches(config, key)) {
        throw new ElohimError(
          'VAULT_WRONG_SECRET',
          'this backup was made from another data folder (or before a decoy was added or removed), or its deniable store does not hold this vault: try the passphrase or a recovery code of the vault that opens first (the decoy, if the folder has one)',
        );
      }
      blockKey = blockKeyOf(key);
      return key;
    },
    target,
    async close() {
      await behind?.remove();
      empty?.close();
      await (fh ?? (opening === null ? null : await opening.catch(() => null)))?.close();
    },
  };
}
