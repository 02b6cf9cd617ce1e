/**
 * Models on a full device (a 1 MiB tmpfs, smaller than the 1.7 MB test model): an import fails
 * with a disk-full error and leaves no temp file; a pull keeps what fitted as a paused partial
 * (resumable once space is freed), and cancelling it gives the space back.
 */
import assert from 'node:assert/strict';
import { readFileSync, statfsSync } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { createModels } from '../src/ai/models/index.ts';
import type { Models } from '../src/ai/models/index.ts';
import { isDiskFull, toElohimError } from '../src/errors.ts';
import { TINY_GGUF, tinyMissing } from './helpers/llama-data.ts';
import { startFileServer } from './helpers/model-file-server.ts';
import { mountTmpfs, unmountTmpfs } from './helpers/tmpfs.ts';

const mounted = tinyMissing ? null : mountTmpfs(1024 * 1024);
const skip = tinyMissing || (mounted !== null && 'skip' in mounted ? mounted.skip : false);

describe('models on a full device', { skip }, () => {
  const dir = mounted !== null && 'dir' in mounted ? mounted.dir : '';
  let models: Models;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  before(async () => {
    models = createModels({ dir: join(dir, 'models') });
    files = await startFileServer(new Map([['/tiny.gguf', readFileSync(TINY_GGUF)]]));
  });
  after(async () => {
    await files?.close();
    if (dir) unmountTmpfs(dir);
  });

  test('an import that does not fit is DISK_FULL and leaves nothing', async () => {
    await assert.rejects(models.importFile(TINY_GGUF, { name: 'tiny' }), (err) => isDiskFull(err) && toElohimError(err).code === 'DISK_FULL');
    assert.deepEqual(await readdir(join(dir, 'models', 'tmp')), []);
    assert.deepEqual(await models.list(), []);
  });

  test('a pull that does not fit keeps what fitted, paused; cancel frees the space', async () => {
    const free = statfsSync(dir).bavail;
    const err = await models.pull(`${files.url}/tiny.gguf`, { name: 'tiny' }).then(() => null, (e: unknown) => e);
    assert.ok(err !== null && isDiskFull(err) && toElohimError(err).code === 'DISK_FULL', String(err));
    const [paused] = await models.pulls();
    assert.equal(paused!.active, false);
    assert.ok(paused!.completed > 0);
    await models.cancelPull(paused!.pull);
    assert.deepEqual(await models.pulls(), []);
    assert.ok(statfsSync(dir).bavail >= free - 2, 'the space is back');
  });
});
