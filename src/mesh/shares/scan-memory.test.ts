/**
 * A share's scan (bridge.ts scanFolder) seals and keeps its versions a piece at a time and runs
 * a full collection before a big scan returns (collect.ts scanCollector): bench:sync's sharing
 * device was left with ~17 MiB of the scan's garbage in its heap when the sync began. The pieces
 * must not change what is signed: the trees are still keys.ts's TREE_LEAVES in order.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import { SCAN_COLLECT_VERSIONS } from '../sync/collect.ts';
import { putAt, readAt } from '../../vault/testing.ts';
import { TREE_LEAVES } from './keys.ts';
import { wiresOf } from './store.ts';
import { forcedCollections, testDevice } from './testing.ts';
import type { MemoryHub, TestDevice } from './testing.ts';

// Over SCAN_COLLECT_VERSIONS, in three pieces, the last tree not full.
const N = 1_100;

test('a big scan collects before it returns, in the same trees; a small one does not collect', { timeout: 180_000 }, async (t) => {
  assert.ok(N >= SCAN_COLLECT_VERSIONS && N % TREE_LEAVES !== 0);
  const hub: MemoryHub = { devices: new Map() };
  const all: TestDevice[] = [];
  const forced = forcedCollections(t);
  t.after(async () => {
    for (const d of all) await d.close();
  });
  // A limit no piece's growth reaches alone here: the collection seen is the scan's last.
  const a = await testDevice(hub, 'Laptop', all, { showHeapGrowth: 1024 ** 3 });
  const b = await testDevice(hub, 'Phone', all);
  for (let i = 0; i < N; i++) await putAt(a.tv.vault, `/Many/f${i}.txt`, `file ${i}`);
  for (let i = 0; i < 10; i++) await putAt(a.tv.vault, `/Few/f${i}.txt`, `few ${i}`);
  const settle = () => new Promise((r) => setTimeout(r, 100)); // gc entries are delivered later
  await settle();
  forced.length = 0;
  await a.shares.share('/Many', ['Phone']);
  await settle();
  assert.equal(forced.length, 1, `${forced.length} forced full collections in a scan of ${N} files`);

  // The trees as one sealVersions call makes them: full ones of TREE_LEAVES, then the rest.
  const sizes = new Map<number, number>();
  for (const [, rec] of a.syncRecords.loadAll()) {
    for (const w of wiresOf(rec)) {
      assert.ok(w.proof !== undefined, 'a scan version signed alone');
      sizes.set(w.proof.n, (sizes.get(w.proof.n) ?? 0) + 1);
    }
  }
  assert.deepEqual([...sizes].sort((x, y) => y[0] - x[0]), [
    [TREE_LEAVES, N - (N % TREE_LEAVES)],
    [N % TREE_LEAVES, N % TREE_LEAVES],
  ]);

  // The other device takes them all.
  await b.shares.sync({ only: 'Laptop' });
  for (const i of [0, 511, 512, N - 1]) assert.equal((await readAt(b.tv.vault, `/Shares/Many/f${i}.txt`)).toString(), `file ${i}`);

  // A scan of a few files does not collect.
  await settle();
  forced.length = 0;
  await a.shares.share('/Few', ['Phone']);
  await settle();
  assert.equal(forced.length, 0, 'a scan of 10 files collected');
});
