import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { generateX25519Identity } from '../crypto/age/index.ts';
import { asSealKey, createHasherPool } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import type { Database, RecordStore } from '../db/index.ts';
import { createObjectStore } from './objects/index.ts';
import { openVault } from './vault.ts';
import type { VaultDeps, VaultRecord } from './vault.ts';
import type { EntryInfo, Vault } from './index.ts';

/**
 * For tests of the vault and its faces: a real vault (SQLite file, sealed records, objects on
 * disk, real ciphers) in a temp folder, without the keyring. `reopen` opens it anew from disk,
 * as the next command would.
 */
export interface TestVault {
  dir: string;
  vault: Vault;
  events: { event: string; details: Record<string, string | number> }[];
  reopen(): Promise<Vault>;
  /**
   * The vault's sealed record store with its real keys, on the open database: for tests that
   * change a record as a bug (or someone holding the keys) could; `reopen` to see the change.
   */
  records(): RecordStore<VaultRecord>;
  close(): Promise<void>;
}

/** `pool`: an objects folder to use instead of the vault's own (shared by two vaults, as in one data folder). */
export async function openTestVault(opts: { clock?: () => number; pool?: string } = {}): Promise<TestVault> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-vault-'));
  const keys = { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) };
  const hashers = createHasherPool({ maxWorkers: 1 });
  const { identity } = generateX25519Identity();
  const events: TestVault['events'] = [];
  let db: Database | null = null;
  const open = async (): Promise<Vault> => {
    db?.close();
    db = openDatabase(join(dir, 'db.sqlite'));
    const deps: VaultDeps = {
      records: createRecordStore<VaultRecord>({ db, keys }),
      objects: createObjectStore({ root: opts.pool ?? join(dir, 'objects'), hashers }),
      clock: opts.clock ?? Date.now,
      identity,
      hashers,
      onEvent: (event, details) => events.push({ event, details }),
    };
    return openVault(deps);
  };
  const t: TestVault = {
    dir,
    vault: await open(),
    events,
    async reopen() {
      t.vault = await open();
      return t.vault;
    },
    records() {
      if (db === null) throw new Error('the test vault is closed');
      return createRecordStore<VaultRecord>({ db, keys });
    },
    async close() {
      db?.close();
      db = null;
      await rm(dir, { recursive: true, force: true });
    },
  };
  return t;
}

/** Puts `data` at `path` below the root, creating missing folders (what the CLI's `put -p` does). */
export async function putAt(vault: Vault, path: string, data: string | Buffer | Readable, opts: { replace?: boolean } = {}): Promise<EntryInfo> {
  const names = path.split('/').filter((n) => n.length > 0);
  let parent: string | null = null;
  for (const name of names.slice(0, -1)) {
    parent = vault.children(parent).find((e) => e.name === name)?.id ?? vault.mkdir(parent, name).id;
  }
  const source = data instanceof Readable ? data : Readable.from([Buffer.from(data)]);
  return vault.put(parent, names.at(-1)!, source, opts);
}

/** The whole plaintext of the file at `path`. */
export async function readAt(vault: Vault, path: string): Promise<Buffer> {
  const id = vault.resolve(path);
  if (id === null) throw new Error('the root is not a file');
  const chunks: Buffer[] = [];
  for await (const c of (await vault.read(id)).stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

/** Names of the live children of the folder at `path`. */
export function namesAt(vault: Vault, path: string): string[] {
  return vault.children(vault.resolve(path)).map((e) => e.name);
}

/** What `p` rejects with; fails the test when it resolves. */
export async function failure(p: Promise<unknown>): Promise<unknown> {
  try {
    await p;
  } catch (err) {
    return err;
  }
  throw new Error('expected a failure');
}
