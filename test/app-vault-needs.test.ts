/**
 * createApp's `vault: false` (what `elohim backup …` commands ask for): the workspace does not open
 * its vault, so using it fails loudly instead of reading a vault never opened, while a backup made
 * that way is whole: a fresh data folder restored from it opens with every file. And naming a
 * service that reads the vault (the shares) opens it whatever `vault` says.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp } from '../src/app.ts';
import { buildTarget, parseTarget } from '../src/backup/index.ts';
import { makeFolder, PASSPHRASE, putFiles, readFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
const files = { 'notes.txt': Buffer.from('the well at the north gate is dry'), 'big.bin': randomBytes(3 * 1024 * 1024) };
let folder: Folder;
let scratch: string;

before(async () => {
  folder = await makeFolder();
  await putFiles(folder.app, REAL, files);
  folder.app.close();
  scratch = await tempDir('elohim-vault-needs-');
});
after(async () => {
  await rm(scratch, { recursive: true, force: true });
  await rm(join(folder.home, '..'), { recursive: true, force: true });
});

test('vault: false leaves the vault closed; the backup it runs restores every file on a fresh folder', async () => {
  const app = createApp({ home: folder.home }, { services: ['backup'], vault: false, indexInBackground: false });
  const usb = join(scratch, 'usb');
  await mkdir(usb);
  try {
    const { workspace } = await app.workspaces.unlock(REAL);
    assert.throws(() => workspace.vault.children(null), /the vault service is not built/);
    workspace.backup.addTarget('usb', { address: usb });
    const run = await workspace.backup.run('usb');
    assert.equal(run.summary.objects.uploaded, run.summary.objects.total);
    assert.ok(run.proof.ok);
    assert.ok(workspace.audit.list({ limit: 100 }).entries.some((e) => e.event === 'backup'), 'the backup is audited in this vault');
  } finally {
    app.close();
  }
  const fresh = createApp({ home: join(scratch, 'restored') });
  try {
    await fresh.restoreFromBackup({ target: await buildTarget(parseTarget({ address: usb })), secret: REAL });
    const restored = await readFiles(fresh, REAL);
    assert.deepEqual(Object.keys(restored).sort(), Object.keys(files).sort());
    for (const [name, bytes] of Object.entries(files)) assert.ok(restored[name]!.equals(bytes), name);
  } finally {
    fresh.close();
  }
});

test('a service that reads the vault opens it, whatever vault says', async () => {
  const app = createApp({ home: folder.home }, { services: ['shares'], vault: false, indexInBackground: false });
  try {
    const { workspace } = await app.workspaces.unlock(REAL);
    assert.deepEqual(workspace.vault.children(null).map((e) => e.name).sort(), Object.keys(files).sort());
  } finally {
    app.close();
  }
});
