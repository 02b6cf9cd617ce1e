/**
 * Shared pieces of the backup tests: real data folders made by the real app (createApp, init,
 * workspaces.unlock, vault.put), the backup engine wired the way app.ts will wire it, and the
 * restore bootstrap done the way the keyring will do it (a staging folder unlocked by the real
 * keyring). Nothing of ours is mocked.
 */
import { mkdir, readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { createApp, dataPaths } from '../src/app.ts';
import type { App } from '../src/app.ts';
import { asRepositoryKey, createBackupEngine, restoreFolder } from '../src/backup/index.ts';
import type { BackupEngine, Bootstrap, RepositoryKey, Target } from '../src/backup/index.ts';
import { createHasherPool } from '../src/crypto/index.ts';
import { openDatabase } from '../src/db/index.ts';
import type { Database } from '../src/db/index.ts';
import { backupKeyFromImage } from '../src/keyring/index.ts';
import type { UnlockSecret } from '../src/keyring/index.ts';
import { createObjectStore } from '../src/vault/index.ts';
import { makeTempDir } from './helpers.ts';

export const PASSPHRASE = 'correct horse battery staple';
export const DECOY_PASSPHRASE = 'tr0ub4dor & 3';
export const CHEAP_ARGON2 = { memory: 19456, passes: 2, parallelism: 1 };

export const hashers = createHasherPool({ maxWorkers: 1 });

/** A new empty folder under the OS temp folder, removed when the process ends (helpers.ts makeTempDir). */
export async function tempDir(prefix: string): Promise<string> {
  return makeTempDir(prefix);
}

export interface Folder {
  home: string;
  app: App;
  codes: string[];
  decoyCodes: string[];
}

/** A data folder set up by the real app, with or without a decoy. */
export async function makeFolder(opts: { decoy?: boolean } = {}): Promise<Folder> {
  const home = join(await tempDir('elohim-backup-home-'), 'home');
  const app = createApp({ home });
  const r = await app.init({ passphrase: PASSPHRASE, decoyPassphrase: opts.decoy ? DECOY_PASSPHRASE : undefined, argon2: CHEAP_ARGON2 });
  return { home, app, codes: r.recoveryCodes, decoyCodes: r.decoyRecoveryCodes ?? [] };
}

/** Puts files (name → bytes) into the vault `secret` opens, at its root. */
export async function putFiles(app: App, secret: UnlockSecret, files: Record<string, Buffer>): Promise<void> {
  const { workspace } = await app.workspaces.unlock(secret);
  try {
    for (const [name, bytes] of Object.entries(files)) await workspace.vault.put(null, name, Readable.from([bytes]));
  } finally {
    app.workspaces.lockAll(undefined);
  }
}

/** Every file at the root of the vault `secret` opens, read back through the vault. */
export async function readFiles(app: App, secret: UnlockSecret): Promise<Record<string, Buffer>> {
  const { workspace } = await app.workspaces.unlock(secret);
  try {
    const out: Record<string, Buffer> = {};
    for (const entry of workspace.vault.children(null)) {
      if (entry.kind !== 'file') continue;
      const { stream } = await workspace.vault.read(entry.id);
      const chunks: Buffer[] = [];
      for await (const c of stream) chunks.push(c as Buffer);
      out[entry.name] = Buffer.concat(chunks);
    }
    return out;
  } finally {
    app.workspaces.lockAll(undefined);
  }
}

/** The repository key of the vault `secret` opens in `home` (what app.ts will hand the engine). */
export async function repositoryKeyFor(app: App, secret: UnlockSecret): Promise<RepositoryKey> {
  const { key } = await app.keyring.unlock(secret);
  try {
    return asRepositoryKey(app.keyring.backupKey(key));
  } finally {
    key.destroy();
  }
}

/** The engine for a folder, opened by `secret`, wired as app.ts will wire it. */
export async function engineFor(folder: Folder, secret: UnlockSecret, clock: () => number = Date.now): Promise<{ engine: BackupEngine; key: RepositoryKey; close(): void }> {
  const paths = dataPaths(folder.home);
  const db = openDatabase(paths.db);
  const key = await repositoryKeyFor(folder.app, secret);
  const objects = createObjectStore({ root: paths.objects, hashers }).ciphertext;
  const engine = createBackupEngine({ paths, db: () => db, objects, key, clock });
  return { engine, key, close: () => db.close() };
}

/** The restore bootstrap as the app does it: the keyring opens the clear key slots and rows in memory. */
export function unlockWith(secret: UnlockSecret): (b: Bootstrap) => Promise<RepositoryKey> {
  return async (image) => asRepositoryKey(await backupKeyFromImage(image, secret));
}

/** Restores `target` into a new folder `home` by `secret`. */
export async function restoreTo(target: Target, home: string, secret: UnlockSecret, opts: { signal?: AbortSignal; onProgress?: (p: { objectsDone: number }) => void } = {}) {
  const paths = dataPaths(home);
  await mkdir(home, { recursive: true });
  const db = openDatabase(paths.db);
  try {
    return await restoreFolder({
      target,
      into: { paths, db: () => db, objects: createObjectStore({ root: paths.objects, hashers }), stagingDir: join(paths.objects, 'tmp') },
      unlock: unlockWith(secret),
      signal: opts.signal,
      onProgress: opts.onProgress,
    });
  } finally {
    db.close();
  }
}

/** A data folder's content as the backup sees it: key slots, config.json, every row, every object. */
export async function folderContent(home: string): Promise<{ keyslots: Buffer; config: Buffer; rows: string[]; objects: Map<string, Buffer> }> {
  const paths = dataPaths(home);
  const db = openDatabase(paths.db);
  const rows = (db.prepare('SELECT id, tag, body FROM records').all() as { id: Uint8Array; tag: Uint8Array; body: Uint8Array }[])
    .map((r) => Buffer.concat([r.id, r.tag, r.body]).toString('hex'))
    .sort();
  db.close();
  const objects = new Map<string, Buffer>();
  for (const shard of (await readdir(paths.objects)).sort()) {
    if (!/^[0-9a-f]{2}$/.test(shard)) continue;
    for (const name of (await readdir(join(paths.objects, shard))).sort()) objects.set(shard + name, await readFile(join(paths.objects, shard, name)));
  }
  return { keyslots: await readFile(paths.keyslots), config: await readFile(paths.config), rows, objects };
}

/** Every file of a local target's folder, by name, with its bytes. */
export async function targetFiles(root: string): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const visit = async (rel: string) => {
    for (const e of await readdir(join(root, rel), { withFileTypes: true })) {
      const name = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await visit(name);
      else out.set(name, await readFile(join(root, name)));
    }
  };
  await visit('');
  return out;
}
