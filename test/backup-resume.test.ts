/**
 * Interrupted backups and restores resume (issue 12): a child process is killed with SIGKILL
 * halfway (after a few packs moved), and the same operation run again moves only what the killed
 * run did not finish; the result is the whole folder, byte for byte.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { createLocalTarget } from '../src/backup/index.ts';
import { engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
const CHILD = fileURLToPath(new URL('./backup-child.ts', import.meta.url));
const REAL = { passphrase: PASSPHRASE };

/** Runs the child until it has printed `lines` progress lines, then kills it with SIGKILL. */
function runAndKill(args: string[], lines: number): Promise<{ killed: boolean; seen: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CHILD, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let seen = 0;
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      seen = (out.match(/^progress /gm) ?? []).length;
      if (seen >= lines && child.exitCode === null) child.kill('SIGKILL');
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('close', (code, signal) => {
      if (signal === 'SIGKILL') resolve({ killed: true, seen });
      else reject(new Error(`the child ended (${code}) before it could be killed: ${out} ${err}`));
    });
  });
}

let folder: Folder;
let targetRoot: string;

before(async () => {
  folder = await makeFolder();
  const files: Record<string, Buffer> = {};
  // Five big files (a pack each) and some small ones (packed together).
  for (let i = 0; i < 5; i++) files[`big${i}.bin`] = randomBytes(4 * 1024 * 1024 + 1000 * i);
  for (let i = 0; i < 10; i++) files[`small${i}.txt`] = randomBytes(2000);
  await putFiles(folder.app, REAL, files);
  folder.app.close(); // the child process opens the folder
  targetRoot = await tempDir('elohim-backup-target-');
});
after(() => folder.app.close());

test('a backup killed with SIGKILL halfway resumes: the second run uploads only what is missing', async () => {
  // Progress comes once per pack: the rows' pack, then the objects' packs.
  const killed = await runAndKill(['backup', folder.home, targetRoot, PASSPHRASE], 3);
  assert.ok(killed.killed);
  const target = createLocalTarget({ root: targetRoot });
  const { engine, close } = await engineFor(folder, REAL);
  try {
    const before = await engine.stats(target);
    assert.equal(before.snapshots, 0, 'the killed run wrote no snapshot');
    assert.ok(before.objects >= 1, `objects kept by the killed run: ${before.objects}`);
    const resumed = await engine.backup(target);
    assert.ok(resumed.objects.total > before.objects);
    assert.equal(resumed.objects.uploaded, resumed.objects.total - before.objects);
    assert.equal(resumed.rows.uploaded, resumed.rows.total - before.rows);
    const afterwards = await engine.stats(target);
    assert.equal(afterwards.objects, resumed.objects.total);
  } finally {
    close();
  }
});

test('a restore killed with SIGKILL halfway resumes: the second run fetches only what is missing', async () => {
  const into = join(await tempDir('elohim-restored-'), 'home');
  const killed = await runAndKill(['restore', into, targetRoot, PASSPHRASE], 2);
  assert.ok(killed.killed);
  let present = 0;
  for (const shard of await readdir(join(into, 'objects')).catch(() => [])) {
    if (/^[0-9a-f]{2}$/.test(shard)) present += (await readdir(join(into, 'objects', shard))).length;
  }
  assert.ok(present >= 2, `objects restored by the killed run: ${present}`);
  const summary = await restoreTo(createLocalTarget({ root: targetRoot }), into, REAL);
  assert.equal(summary.objects.fetched, summary.objects.total - present);
  assert.deepEqual(await folderContent(into), await folderContent(folder.home));
});

test('a restore killed with SIGKILL among small objects (written in batches, made durable once per pack) resumes to the same folder', async () => {
  // Objects of ~1.9 MiB are "small" (packed, 8 to a pack): the kill lands while a pack's batch
  // is written, or between its commit and the next, never leaving a torn object in place.
  const small = await makeFolder();
  const files: Record<string, Buffer> = {};
  for (let i = 0; i < 20; i++) files[`mid${i}.bin`] = randomBytes(1_900_000 + i);
  await putFiles(small.app, REAL, files);
  const smallTarget = await tempDir('elohim-backup-target-');
  const { engine, close } = await engineFor(small, REAL);
  try {
    await engine.backup(createLocalTarget({ root: smallTarget }));
  } finally {
    close();
    small.app.close();
  }
  const into = join(await tempDir('elohim-restored-'), 'home');
  const killed = await runAndKill(['restore', into, smallTarget, PASSPHRASE], 10);
  assert.ok(killed.killed);
  let present = 0;
  for (const shard of await readdir(join(into, 'objects')).catch(() => [])) {
    if (/^[0-9a-f]{2}$/.test(shard)) present += (await readdir(join(into, 'objects', shard))).length;
  }
  const summary = await restoreTo(createLocalTarget({ root: smallTarget }), into, REAL);
  assert.equal(summary.objects.fetched, summary.objects.total - present);
  assert.deepEqual(await readdir(join(into, 'objects', 'tmp')), [], 'no leftover of the killed run');
  assert.deepEqual(await folderContent(into), await folderContent(small.home));
});
