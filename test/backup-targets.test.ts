/**
 * The compliance suite every backup target passes (STYLE.md habit 11): the same cases against a
 * local folder and an S3 bucket on s3rver, started in-process on 127.0.0.1. Failure cases
 * (missing folder or bucket, wrong credentials, a full device, an unreachable server) are the
 * errors the faces turn into words, so each is checked by its reason.
 *
 * s3rver does not check SigV4 signatures (only that the access key exists): signing is the AWS
 * SDK's own, exercised by every call here; wrong credentials are an unknown access key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import S3rver from 's3rver';
import { createLocalTarget, createS3Target, isTargetError } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';

const FAST_RETRY = { attempts: 3, baseMs: 5, maxMs: 20 };
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface Harness {
  name: string;
  setUp(): Promise<void>;
  target(): Target;
  /** a target whose folder or bucket does not exist */
  missing(): Target;
  tearDown(): Promise<void>;
}

let s3: { server: S3rver; endpoint: string; dir: string } | null = null;

async function startS3(): Promise<{ server: S3rver; endpoint: string; dir: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-s3rver-'));
  const server = new S3rver({ address: '127.0.0.1', port: 0, silent: true, directory: dir, configureBuckets: [{ name: 'backups' }] });
  const { port } = (await server.run()) as { port: number };
  return { server, endpoint: `http://127.0.0.1:${port}`, dir };
}

export function s3TargetOn(endpoint: string, bucket = 'backups', credentials = CREDENTIALS): Target {
  return createS3Target({ bucket, prefix: 'repo/', endpoint, forcePathStyle: true, credentials, retry: FAST_RETRY });
}

const harnesses: Harness[] = [
  (() => {
    let dir = '';
    return {
      name: 'local folder',
      async setUp() {
        dir = await mkdtemp(join(tmpdir(), 'elohim-target-'));
      },
      target: () => createLocalTarget({ root: dir, retry: FAST_RETRY }),
      missing: () => createLocalTarget({ root: join(dir, 'not-mounted'), retry: FAST_RETRY }),
      tearDown: () => rm(dir, { recursive: true, force: true }),
    };
  })(),
  {
    name: 's3 (s3rver)',
    async setUp() {
      s3 ??= await startS3();
    },
    target: () => s3TargetOn(s3!.endpoint),
    missing: () => s3TargetOn(s3!.endpoint, 'no-such-bucket'),
    async tearDown() {
      await s3?.server.close();
      if (s3) await rm(s3.dir, { recursive: true, force: true });
      s3 = null;
    },
  },
];

for (const h of harnesses) {
  describe(`backup target compliance: ${h.name}`, () => {
    before(() => h.setUp());
    after(() => h.tearDown());

    test('put, get whole and by range, overwrite', async () => {
      const t = h.target();
      await t.check();
      const bytes = randomBytes(100_000);
      await t.put('data/0001-aa', bytes);
      assert.deepEqual(await t.get('data/0001-aa'), bytes);
      assert.deepEqual(await t.get('data/0001-aa', { range: { start: 10, end: 1010 } }), bytes.subarray(10, 1010));
      assert.equal((await t.get('data/0001-aa', { range: { start: 5, end: 5 } }))!.length, 0);
      const other = randomBytes(10);
      await t.put('data/0001-aa', other);
      assert.deepEqual(await t.get('data/0001-aa'), other);
    });

    test('a streamed body, read back as a stream and by range', async () => {
      const t = h.target();
      const bytes = randomBytes(3 * 1024 * 1024 + 17);
      await t.put('data/big', { size: bytes.length, open: async () => Readable.from([bytes.subarray(0, 1 << 20), bytes.subarray(1 << 20)]) });
      const chunks: Buffer[] = [];
      for await (const c of await t.read('data/big')) chunks.push(c as Buffer);
      assert.deepEqual(Buffer.concat(chunks), bytes);
      const part: Buffer[] = [];
      for await (const c of await t.read('data/big', { range: { start: 1000, end: 2_000_000 } })) part.push(c as Buffer);
      assert.deepEqual(Buffer.concat(part), bytes.subarray(1000, 2_000_000));
    });

    test('list by prefix with sizes; delete; a missing name', async () => {
      const t = h.target();
      await t.put('snapshots/a', Buffer.from('aaa'));
      await t.put('snapshots/b', Buffer.from('bbbbb'));
      await t.put('index/rows-a', Buffer.from('x'));
      await t.put('config', Buffer.from('c'));
      const snaps = (await t.list('snapshots/')).sort((x, y) => x.name.localeCompare(y.name));
      assert.deepEqual(snaps, [{ name: 'snapshots/a', size: 3 }, { name: 'snapshots/b', size: 5 }]);
      assert.deepEqual((await t.list('index/rows-')).map((e) => e.name), ['index/rows-a']);
      assert.deepEqual(await t.list('nothing/'), []);
      await t.delete('snapshots/a');
      await t.delete('snapshots/a');
      assert.equal(await t.get('snapshots/a'), null);
      assert.deepEqual((await t.list('snapshots/')).map((e) => e.name), ['snapshots/b']);
      await assert.rejects(t.read('snapshots/a'), (err) => isTargetError(err, 'missing'));
    });

    test('names outside the repository alphabet are refused before any I/O', async () => {
      const t = h.target();
      for (const bad of ['../x', 'a/b/c', 'A', '.hidden', 'data/.x', '']) {
        await assert.rejects(t.put(bad, Buffer.from('x')), { code: 'INVALID_INPUT' }, bad);
      }
    });

    test('an aborted signal stops a call', async () => {
      const t = h.target();
      const ac = new AbortController();
      ac.abort(new Error('stop'));
      await assert.rejects(t.put('data/aborted', Buffer.from('x'), { signal: ac.signal }), /stop/);
      await assert.rejects(t.list('data/', { signal: ac.signal }), /stop/);
      assert.equal(await t.get('data/aborted'), null);
    });

    test('a missing folder or bucket is reported as missing', async () => {
      const t = h.missing();
      await assert.rejects(t.check(), (err) => isTargetError(err, 'missing'));
      await assert.rejects(t.put('config', Buffer.from('x')), (err) => isTargetError(err, 'missing'));
      await assert.rejects(t.list('snapshots/'), (err) => isTargetError(err, 'missing'));
    });
  });
}

describe('target failures specific to a kind', () => {
  test('s3: wrong credentials are reported as auth, and not retried', async () => {
    const local = await startS3();
    try {
      const t = s3TargetOn(local.endpoint, 'backups', { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'nope' });
      const started = performance.now();
      await assert.rejects(t.put('config', Buffer.from('x')), (err) => isTargetError(err, 'auth') && !/nope/.test(String(err)));
      await assert.rejects(t.check(), (err) => isTargetError(err, 'auth'));
      assert.ok(performance.now() - started < 2000);
    } finally {
      await local.server.close();
      await rm(local.dir, { recursive: true, force: true });
    }
  });

  test('s3: a server that is not there is unreachable, after retries', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const t = s3TargetOn(`http://127.0.0.1:${port}`);
    await assert.rejects(t.list('snapshots/'), (err) => isTargetError(err, 'unreachable'));
  });

  test('local: a full device is reported as full, and leaves no partial file', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'elohim-full-target-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1048576', 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      rmdirSync(dir);
      t.skip(`cannot mount a tmpfs (needs root): ${String(err)}`);
      return;
    }
    try {
      const target = createLocalTarget({ root: dir, retry: FAST_RETRY });
      await assert.rejects(target.put('data/big', randomBytes(2 * 1024 * 1024)), (err) => isTargetError(err, 'full') && (err as { code: string }).code === 'DISK_FULL');
      assert.deepEqual(await target.list('data/'), []);
      await target.put('data/small', randomBytes(1000));
      assert.equal((await target.list('data/')).length, 1);
    } finally {
      execFileSync('umount', [dir]);
      rmdirSync(dir);
    }
  });
});
