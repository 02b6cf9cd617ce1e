/**
 * The backup end to end against S3 (s3rver, in-process on 127.0.0.1): backup, an incremental
 * backup, verify with read-data, a proof of restore, and a restore on a fresh folder by
 * passphrase, byte for byte. The engine is the same as for a folder; this checks that nothing in
 * it depends on a local target's behaviour (listing order, ranges, empty reads).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import S3rver from 's3rver';
import { createS3Target, proveRestore, verifyRepository } from '../src/backup/index.ts';
import { engineFor, folderContent, makeFolder, PASSPHRASE, putFiles, restoreTo, tempDir } from './backup-helpers.ts';
import type { Folder } from './backup-helpers.ts';

const REAL = { passphrase: PASSPHRASE };
let server: S3rver;
let dir: string;
let endpoint: string;
let folder: Folder;

before(async () => {
  dir = await tempDir('elohim-s3rver-');
  server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'office' }] });
  endpoint = `http://127.0.0.1:${(await server.run()).port}`;
  folder = await makeFolder({ decoy: true });
  const files: Record<string, Buffer> = { 'big.bin': randomBytes(4 * 1024 * 1024 + 5) };
  for (let i = 0; i < 10; i++) files[`f${i}.txt`] = randomBytes(500 + i * 50);
  await putFiles(folder.app, REAL, files);
});
after(async () => {
  folder.app.close();
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

test('backup to S3, incremental, verify, proof, restore on a fresh folder', async () => {
  const target = createS3Target({ bucket: 'office', prefix: 'laptop/', endpoint, forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  const { engine, key, close } = await engineFor(folder, REAL);
  try {
    const first = await engine.backup(target);
    assert.equal(first.objects.uploaded, first.objects.total);
    await putFiles(folder.app, REAL, { 'later.txt': randomBytes(100) });
    const second = await engine.backup(target);
    assert.equal(second.objects.uploaded, 1);
    const report = await verifyRepository(target, key, { readData: true });
    assert.deepEqual(report.problems, []);
    assert.ok(report.bytesRead > 4 * 1024 * 1024);
    const proof = await proveRestore(target, key, { sample: 10 });
    assert.ok(proof.ok && proof.sampled === 10);
  } finally {
    close();
  }
  const into = join(await tempDir('elohim-restored-'), 'home');
  await restoreTo(target, into, REAL);
  assert.deepEqual(await folderContent(into), await folderContent(folder.home));
});

test('a server that goes away mid-backup and comes back: the call is retried and succeeds', async () => {
  const port = Number(new URL(endpoint).port);
  const target = createS3Target({
    bucket: 'office',
    prefix: 'restart/',
    endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    retry: { attempts: 6, baseMs: 150, maxMs: 600 },
  });
  await target.put('data/first', randomBytes(1000));
  await server.close();
  // Back on the same port and folder (the bucket is still there) while the next call retries.
  const back = new Promise<void>((resolve, reject) =>
    setTimeout(() => {
      server = new S3rver({ address: '127.0.0.1', port, silent: true, directory: dir });
      server.run().then(() => resolve(), reject);
    }, 300),
  );
  const bytes = randomBytes(5000);
  await target.put('data/second', bytes);
  await back;
  assert.deepEqual(await target.get('data/second'), bytes);
});
