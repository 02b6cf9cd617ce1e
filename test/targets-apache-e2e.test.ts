/**
 * The backup end to end over the strict WebDAV server: Apache httpd with mod_dav_fs, started on
 * 127.0.0.1 with basic auth. A full backup, an incremental one that uploads only what changed,
 * verify reading every byte, a proof of restore, and a restore on a fresh data folder by
 * passphrase, byte for byte. The target's own contract is the compliance suite
 * (test/backup-targets.test.ts); this checks that the engine's use of it (folders made on first
 * use, ranged reads of packs, listings of index/ and snapshots/) holds on Apache, not only on
 * rclone serve webdav (test/backup-remotes.test.ts).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createWebDavTarget, proveRestore, verifyRepository } from '../src/backup/index.ts';
import { engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';
import { startApacheDav } from './helpers/webdav-servers.ts';
import type { DavServer } from './helpers/webdav-servers.ts';

const REAL = { passphrase: PASSPHRASE };
let dav: DavServer;
let folder: Folder;
const files: Record<string, Buffer> = { 'big.bin': randomBytes(3 * 1024 * 1024 + 11) };
for (let i = 0; i < 20; i++) files[`f${i}.txt`] = randomBytes(300 + i * 97);

before(async () => {
  dav = await startApacheDav();
  folder = await makeFolder();
  await putFiles(folder.app, REAL, files);
});
after(async () => {
  folder.app.close();
  await dav.stop();
});

test('backup to Apache mod_dav, incremental, verify every byte, proof, restore on a fresh folder', async () => {
  const target = createWebDavTarget({ url: dav.url, username: dav.user, password: dav.pass });
  const { engine, key, close } = await engineFor(folder, REAL);
  try {
    const first = await engine.backup(target);
    assert.equal(first.objects.uploaded, first.objects.total);
    await putFiles(folder.app, REAL, { 'later.txt': randomBytes(123) });
    const second = await engine.backup(target);
    assert.equal(second.objects.uploaded, 1);
    const report = await verifyRepository(target, key, { readData: true });
    assert.deepEqual(report.problems, []);
    assert.ok(report.bytesRead > 3 * 1024 * 1024);
    const proof = await proveRestore(target, key, { sample: 8 });
    assert.ok(proof.ok && proof.sampled === 8);
  } finally {
    close();
  }
  // Nothing of the vault in the clear on the server: no file name, no temp file left behind.
  const onServer: string[] = [];
  for (const e of await readdir(dav.dir, { recursive: true, withFileTypes: true })) if (e.isFile()) onServer.push(join(e.parentPath, e.name));
  assert.ok(onServer.length > 0);
  for (const path of onServer) {
    assert.doesNotMatch(path, /\.tmp-|big\.bin|later\.txt/);
    assert.ok(!(await readFile(path)).includes(files['f3.txt']!.subarray(0, 64)));
  }

  const into = join(await tempDir('elohim-restored-dav-'), 'home');
  await restoreTo(target, into, REAL);
  assert.deepEqual(await folderContent(into), await folderContent(folder.home));
});
