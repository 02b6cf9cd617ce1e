/**
 * The backup service end to end over the network targets (issue 12): a WebDAV server (`rclone
 * serve webdav` on 127.0.0.1) and an rclone remote (the user's rclone config, sealed in the
 * vault, pointing at that server), each added through `workspace.backup`, backed up, and restored
 * on a fresh data folder with only the passphrase; the WebDAV password and the rclone config
 * never reach a file in the clear. The targets' own behaviour is H-TARGETS' compliance suite.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { createApp, dataPaths } from '../src/app.ts';
import { buildTarget, parseTarget } from '../src/backup/index.ts';
import type { TargetInput } from '../src/backup/index.ts';
import { makeFolder, PASSPHRASE, putFiles, readFiles, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';
import { startRcloneWebdav } from './helpers/webdav-servers.ts';
import type { DavServer } from './helpers/webdav-servers.ts';

const REAL = { passphrase: PASSPHRASE };
const DAV_PASS = 'dav-password-7f3a9c';
let dav: DavServer;
let folder: Folder;
const files = { 'survey.bin': randomBytes(300_000), 'notes.txt': Buffer.from('the well is 40 m deep') };

before(async () => {
  dav = await startRcloneWebdav({ pass: DAV_PASS });
  folder = await makeFolder();
  await putFiles(folder.app, REAL, files);
});
after(async () => {
  folder.app.close();
  await dav.stop();
});

async function backUpAndRestore(name: string, input: TargetInput, secrets: string[]): Promise<void> {
  const { workspace } = await folder.app.workspaces.unlock(REAL);
  try {
    workspace.backup.addTarget(name, input);
    assert.deepEqual(await workspace.backup.testTarget(name), { repository: 'none' });
    const r = await workspace.backup.run(name);
    assert.ok(r.proof.ok);
    assert.equal(JSON.stringify(workspace.backup.listTargets()).includes(DAV_PASS), false);
  } finally {
    folder.app.workspaces.lockAll(undefined);
  }
  for (const file of [dataPaths(folder.home).config, dataPaths(folder.home).db]) {
    const bytes = await readFile(file);
    for (const s of secrets) assert.equal(bytes.includes(Buffer.from(s)), false, `a secret in ${file}`);
  }
  const into = join(await tempDir('elohim-restored-'), 'home');
  const app = createApp({ home: into });
  try {
    await app.restoreFromBackup({ target: await buildTarget(parseTarget(input)), secret: REAL });
    assert.deepEqual(await readFiles(app, REAL), files);
  } finally {
    app.close();
  }
}

test('WebDAV: back up through the service, restore on a fresh folder with the passphrase', async () => {
  await backUpAndRestore('nas', { address: `webdav+${dav.url}`, username: dav.user, password: DAV_PASS }, [DAV_PASS]);
  assert.ok((await readdir(join(dav.dir))).includes('snapshots'));
});

test('rclone remote: the user\'s config sealed, back up, restore on a fresh folder', async () => {
  const obscured = execFileSync('rclone', ['obscure', DAV_PASS]).toString().trim();
  const config = `[office]\ntype = webdav\nurl = ${dav.url}\nvendor = other\nuser = ${dav.user}\npass = ${obscured}\n`;
  execFileSync('rclone', ['mkdir', 'office:via-rclone'], { env: { ...process.env, RCLONE_CONFIG: '/nonexistent', RCLONE_CONFIG_OFFICE_TYPE: 'webdav', RCLONE_CONFIG_OFFICE_URL: dav.url, RCLONE_CONFIG_OFFICE_VENDOR: 'other', RCLONE_CONFIG_OFFICE_USER: dav.user, RCLONE_CONFIG_OFFICE_PASS: obscured } });
  assert.throws(() => parseTarget({ address: 'rclone:office:via-rclone' }), { code: 'INVALID_INPUT' });
  assert.throws(() => parseTarget({ address: 'rclone:nope:x', rcloneConfig: config }), { code: 'INVALID_INPUT' });
  await backUpAndRestore('drive', { address: 'rclone:office:via-rclone', rcloneConfig: config }, [obscured, DAV_PASS]);
  assert.ok((await readdir(join(dav.dir, 'via-rclone'))).includes('snapshots'));
});
