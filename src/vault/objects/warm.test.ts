// The warmer reads the files a reader will read next into the page cache, on a worker thread, at
// most `lead` files ahead of the reader, skipping files over `maxBytes` and places with no file.
// Residency is read with util-linux's fincore; each file's cached pages are dropped first with
// dd's `iflag=nocache` (posix_fadvise DONTNEED, no root needed).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { dropFromPageCache as drop, resident, residentCount, writeDurable } from './testing.ts';
import { createWarmer } from './warm.ts';
import type { Warmer } from './warm.ts';

const SMALL = 4096;
const BIG = 2 << 20;

/** Reports `n` reads of 4 KiB that took `ms` each (a read from the page cache takes ~0.02). */
const reads = (warmer: Warmer, n: number, ms: number) => {
  for (let i = 0; i < n; i++) warmer.readTook(ms, 4096);
};

async function until(what: () => boolean, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  while (!what()) {
    if (Date.now() > end) throw new Error('timed out');
    await sleep(20);
  }
}

test('the warmer reads the files ahead of the reader, at most lead files ahead, and none it should not', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-warm-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const files = Array.from({ length: 400 }, (_, i) => join(root, `f${i}`));
  // Place 10 is a big file (not read: over maxBytes); place 20 a missing file; place 30 nothing.
  files.forEach((p, i) => i !== 20 && writeDurable(p, Buffer.alloc(i === 10 ? BIG : SMALL, 7)));
  const present = files.filter((_, i) => i !== 20 && i !== 30);
  drop(present);
  if (residentCount(present) !== 0) {
    // tmpfs, say: its pages cannot be dropped, so there is nothing to see.
    t.skip('this file system keeps the files cached whatever is asked');
    return;
  }
  const warmer = createWarmer({ lead: 100, maxBytes: 1 << 20 });
  t.after(() => warmer.close());
  const places = files.map((p, i) => (i === 30 ? null : p));

  // Reads that do not wait start nothing; nor 15 that waited among 32.
  warmer.add(places.slice(0, 200));
  reads(warmer, 64, 0.01);
  reads(warmer, 15, 5);
  reads(warmer, 17, 0.01);
  reads(warmer, 1, 19);
  await sleep(300);
  assert.equal(residentCount(present), 0, 'no worker while the reads do not wait');

  // One read of 20 ms: the worker starts and reads up to `lead` ahead of the reader (16 reads
  // of 32 that waited start it too: the next tests).
  warmer.add(places.slice(200, 300));
  reads(warmer, 1, 20);
  const upTo = (from: number, to: number) => files.slice(from, to).filter((_, i) => ![10, 20, 30].includes(from + i));
  await until(() => residentCount(upTo(0, 100)) === upTo(0, 100).length);
  await sleep(300);
  assert.equal(residentCount(files.slice(100, 300)), 0, 'nothing beyond lead files ahead of the reader');
  assert.equal(resident([files[10]!])[0], 0, 'a file over maxBytes is not read');

  // The reader moves on: the worker follows.
  for (let i = 0; i < 50; i++) warmer.next();
  await until(() => residentCount(files.slice(100, 150)) === 50);
  await sleep(300);
  assert.equal(residentCount(files.slice(150, 300)), 0);

  for (let i = 0; i < 150; i++) warmer.next(); // the reader is at 200
  await until(() => residentCount(files.slice(200, 300)) === 100);

  // The reader passes files by before they are added (and so before the worker reaches them):
  // the worker skips them and reads from where the reader is, up to lead ahead.
  for (let i = 0; i < 130; i++) warmer.next(); // the reader is at 330
  warmer.add(places.slice(300));
  await until(() => residentCount(files.slice(330, 400)) === 70);
  assert.equal(residentCount(files.slice(300, 330)), 0, 'files the reader has passed are not read');

  // Closed: nothing more is read, whatever is added.
  warmer.close();
  const later = Array.from({ length: 300 }, (_, i) => join(root, `g${i}`));
  later.forEach((p) => writeDurable(p, Buffer.alloc(SMALL, 7)));
  drop(later);
  warmer.add(later);
  for (let i = 0; i < 300; i++) warmer.next();
  await sleep(300);
  assert.equal(residentCount(later), 0, 'a closed warmer reads nothing');
});

test('what is added is pulled as the worker needs it (twice lead ahead of the reader at most), not all at once', () => {
  const warmer = createWarmer({ lead: 100, maxBytes: 1 << 20 });
  let pulls = 0;
  warmer.add(
    (function* () {
      for (let i = 0; i < 1_000_000; i++) {
        pulls++;
        yield null;
      }
    })(),
  );
  try {
    assert.equal(pulls, 0, 'nothing pulled before the worker starts');
    reads(warmer, 16, 5);
    assert.ok(pulls <= 2 * 100, `pulled at first: ${pulls}`);
    for (let i = 0; i < 1000; i++) warmer.next();
    assert.ok(pulls >= 1000 && pulls <= 1000 + 2 * 100, `pulled with the reader at 1,000: ${pulls}`);
  } finally {
    warmer.close();
  }
});

test('the warmer reads at most aheadBytes ahead of the reader, whatever lead allows', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-warm-bytes-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const files = Array.from({ length: 300 }, (_, i) => join(root, `f${i}`));
  for (const p of files) writeDurable(p, Buffer.alloc(16 * 1024, 7));
  drop(files);
  if (residentCount(files) !== 0) {
    t.skip('this file system keeps the files cached whatever is asked');
    return;
  }
  const warmer = createWarmer({ lead: 100, maxBytes: 1 << 20, aheadBytes: 64 * 1024 });
  t.after(() => warmer.close());
  warmer.add(files);
  reads(warmer, 16, 5);
  // 4 files of 16 KiB are 64 KiB: the worker stops there.
  await until(() => residentCount(files.slice(0, 4)) === 4);
  await sleep(300);
  assert.equal(residentCount(files.slice(4)), 0, 'nothing beyond aheadBytes');
  // The reader takes 16 files: the next 4 after it are read.
  for (let i = 0; i < 16; i++) warmer.next();
  await until(() => residentCount(files.slice(16, 20)) === 4);
  await sleep(300);
  assert.equal(residentCount(files.slice(20)), 0);
});
