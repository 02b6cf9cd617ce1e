// The ciphertext view's synchronous ranged read (readNow, the mesh sender's small objects): the
// same bytes the read stream gives, in memory of its own, and the same refusals.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateFileKey } from '../../crypto/age/index.ts';
import { createHasherPool } from '../../crypto/index.ts';
import { isElohimError } from '../../errors.ts';
import { createObjectStore, newObjectId } from './index.ts';

const refusal = (fn: () => unknown, code: string) =>
  assert.throws(fn, (err: unknown) => isElohimError(err, code as never), `not refused with ${code}`);

test('readNow gives an object\'s stored bytes by range, each in a buffer of its own; a missing object, a bad range and a short file are refused', async (t) => {
  const root = await mkdtemp(join(tmpdir(), 'elohim-readnow-'));
  t.after(() => rm(root, { recursive: true, force: true }));
  const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) });
  const view = store.ciphertext;
  const key = generateFileKey();
  const ids = [newObjectId(), newObjectId()];
  await store.write(ids[0]!, randomBytes(100), key);
  await store.write(ids[1]!, randomBytes(200_000), key);
  for (const id of ids) {
    const onDisk = await readFile(join(root, id.slice(0, 2), id.slice(2)));
    for (const [start, end] of [[0, onDisk.length], [7, 60], [onDisk.length - 1, onDisk.length], [3, 3]] as const) {
      const got = view.readNow!(id, start, end);
      assert.deepEqual(got, onDisk.subarray(start, end));
      // A slice of Node's shared 8 KiB pool would keep the whole slab alive as long as it is held.
      assert.equal(got.buffer.byteLength, end - start, 'a view into a shared buffer');
    }
    refusal(() => view.readNow!(id, 0, onDisk.length + 1), 'INVALID_INPUT');
    refusal(() => view.readNow!(id, 5, 4), 'INVALID_INPUT');
    refusal(() => view.readNow!(id, -1, 4), 'INVALID_INPUT');
  }
  refusal(() => view.readNow!(newObjectId(), 0, 1), 'OBJECT_DAMAGED');
  // Shorter on disk than the range asked (cut under the reader): refused, not padded.
  const id = ids[1]!;
  await truncate(join(root, id.slice(0, 2), id.slice(2)), 1000);
  refusal(() => view.readNow!(id, 0, 5000), 'INVALID_INPUT');
});
