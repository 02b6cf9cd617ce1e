/**
 * The first-run "Restore from a backup" (POST /api/v1/backup/restore on a server whose folder
 * is empty) with a backup of a folder that has a deniable store: the same code as
 * `restore --from` (app.restoreFromBackup), over a real listening server on 127.0.0.1. Restored
 * with the hidden vault's passphrase (the harder path, store-bootstrap.ts), the folder has
 * store.bin and no db.sqlite or objects/, and both vaults unlock over HTTP with their files.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, test } from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import { createBackupEngine, createLocalTarget, storeBackupSource } from '../src/backup/index.ts';
import { API, apiPath } from '../src/server/protocol.ts';
import { openStore } from '../src/store/index.ts';
import { CHEAP_ARGON2, DECOY_PASSPHRASE, hashers, PASSPHRASE, repositoryKeyFor, tempDir } from './backup-helpers.ts';
import { removeTempDirs } from './helpers.ts';
import { startServer } from './http-helpers.ts';

after(removeTempDirs);

async function session(url: string, passphrase: string) {
  const res = await fetch(`${url}${API.session}`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-elohim-csrf': '1' }, body: JSON.stringify({ passphrase }) });
  assert.equal(res.status, 201, await res.clone().text());
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  return (path: string) => fetch(`${url}${path}`, { headers: { cookie, 'x-elohim-csrf': csrfToken } });
}

async function fileBytes(api: (path: string) => Promise<Response>, name: string): Promise<Buffer> {
  const items = (await (await api(`${API.search}?q=${encodeURIComponent(name)}`)).json()) as { items: { name: string; id: string }[] };
  const item = items.items.find((i) => i.name === name);
  assert.ok(item, `${name} is found`);
  return Buffer.from(await (await api(apiPath(API.content, item.id))).arrayBuffer());
}

test('first run: a store folder\'s backup restored over HTTP with the hidden vault\'s passphrase; both vaults unlock with their files', async () => {
  const home = join(await tempDir('elohim-bk-store-http-'), 'home');
  const app = createApp({ home });
  await app.init({ passphrase: PASSPHRASE, decoyPassphrase: DECOY_PASSPHRASE, argon2: CHEAP_ARGON2, reserve: 16 * 1024 * 1024 });
  const plans = randomBytes(1_200_000);
  const recipes = Buffer.from('flour, salt, water');
  for (const [secret, name, bytes] of [[PASSPHRASE, 'plans.bin', plans], [DECOY_PASSPHRASE, 'recipes.txt', recipes]] as const) {
    const { workspace } = await app.workspaces.unlock({ passphrase: secret });
    try {
      await workspace.vault.put(null, name, Readable.from([bytes]));
    } finally {
      app.workspaces.lockAll(undefined);
    }
  }
  const key = await repositoryKeyFor(app, { passphrase: DECOY_PASSPHRASE });
  app.close();
  const paths = dataPaths(home);
  const store = openStore({ path: paths.store, size: (await stat(paths.store)).size, hashers, clock: Date.now });
  const root = await tempDir('elohim-bk-store-http-usb-');
  try {
    await createBackupEngine({ ...storeBackupSource({ paths, store: () => store, key }), key, clock: Date.now }).backup(createLocalTarget({ root }));
  } finally {
    store.close();
  }

  const fresh = await startServer({ init: false });
  try {
    const url = await fresh.listen();
    const res = await fetch(`${url}${API.backupRestoreFresh}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-elohim-csrf': '1' },
      body: JSON.stringify({ target: { address: root }, passphrase: PASSPHRASE }),
    });
    assert.equal(res.status, 200, await res.clone().text());
    const text = await res.text();
    assert.match(text, /event: done/, text.slice(-500));
    assert.equal(existsSync(join(fresh.dir, 'db.sqlite')), false);
    assert.equal(existsSync(join(fresh.dir, 'objects')), false);
    // Not byte for byte: the route then audits the restore in the vault's log (a log entry in the store).
    assert.equal((await stat(join(fresh.dir, 'store.bin'))).size, (await stat(paths.store)).size);
    assert.ok((await fileBytes(await session(url, PASSPHRASE), 'plans.bin')).equals(plans));
    assert.ok((await fileBytes(await session(url, DECOY_PASSPHRASE), 'recipes.txt')).equals(recipes));
  } finally {
    await fresh.stop();
  }
});
