/**
 * Removing a decoy removes everything it kept, including what its services sealed under keys
 * of their own (the assistant's conversations, backup targets with their credentials, the mesh's
 * identity and pairings, shares). app.ts clears them through one list of a vault's service record
 * stores; a service left out of that list would leave its rows behind, each one proof that a
 * vault existed. Rows are counted the examiner's way: those that open under the decoy's keys.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assistantRecordStores, ASSISTANT_RECORD_KINDS } from '../src/ai/index.ts';
import { createApp } from '../src/app.ts';
import { backupRecordStores, BACKUP_RECORD_KINDS } from '../src/backup/index.ts';
import { openDatabase } from '../src/db/index.ts';
import type { RecordStore } from '../src/db/index.ts';
import { meshRecordStores, MESH_RECORD_KINDS } from '../src/mesh/index.ts';
import { sharesRecordStores, SYNC_RECORD_KINDS } from '../src/mesh/shares/index.ts';
import { DECOY_PASSPHRASE, PASSPHRASE } from './helpers.ts';
import { CHEAP_ARGON2 } from './http-helpers.ts';

const dirs: string[] = [];
after(() => Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true }))));

test("removing a decoy clears every record its services kept, and leaves the real vault's", async () => {
  const home = await mkdtemp(join(tmpdir(), 'elohim-decoy-wipe-'));
  dirs.push(home);
  const app = createApp({ home });
  await app.init({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, argon2: CHEAP_ARGON2 });
  const decoy = (await app.keyring.unlock({ passphrase: DECOY_PASSPHRASE })).key;
  const real = (await app.keyring.unlock({ passphrase: PASSPHRASE })).key;
  const db = openDatabase(app.paths.db);
  const storesOf = (key: typeof decoy): [string, RecordStore<unknown>, string][] => {
    const deps = { db, derive: (label: string) => key.derive(label) };
    // each store with the first record kind it declares
    return [
      ['assistant', ...assistantRecordStores(deps), Object.keys(ASSISTANT_RECORD_KINDS.own)[0]!],
      ['backup', ...backupRecordStores(deps), Object.keys(BACKUP_RECORD_KINDS.own)[0]!],
      ['mesh', ...meshRecordStores(deps), Object.keys(MESH_RECORD_KINDS.own)[0]!],
      ['shares', ...sharesRecordStores(deps), Object.keys(SYNC_RECORD_KINDS.own)[0]!],
    ] as [string, RecordStore<unknown>, string][];
  };
  // The real vault is open first: its services read their records at unlock, and these rows are
  // only markers, not records a service could read.
  const { workspace } = await app.workspaces.unlock({ passphrase: PASSPHRASE });
  // Stores made now hold keys derived now: the decoy's key is then given up (an unlocked decoy
  // cannot be removed), and its stores still count what opens under its keys.
  const decoyStores = storesOf(decoy);
  const realStores = storesOf(real);
  for (const stores of [decoyStores, realStores]) {
    // record ids are random and unique across every store (the table's key), as services make them
    for (const [, store, kind] of stores) store.commit({ put: [[randomBytes(16).toString('hex') as never, { t: kind, v: 1, note: 'kept by a service' }]] });
  }
  for (const [name, store] of decoyStores) assert.equal(store.loadAll().size, 1, `${name}: the decoy's row is there`);
  decoy.destroy();
  real.destroy();

  await workspace.removeDecoy();

  for (const [name, store] of decoyStores) assert.equal(store.loadAll().size, 0, `${name}: no row of the removed decoy opens`);
  for (const [name, store] of realStores) assert.equal(store.loadAll().size, 1, `${name}: the real vault's row is kept`);
  db.close();
  app.close();
});
