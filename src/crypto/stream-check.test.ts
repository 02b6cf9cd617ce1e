// The STREAM check worker (stream-check.ts) against the local check it mirrors (vault objects'
// staged.ts on this thread, StreamOpener): the same digests, the same refusals with the same
// words; what it hands back is its own copy; its thread stopping fails every check in flight and
// after; and it never keeps a process alive once its checks are done. Real objects, real threads.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Worker } from 'node:worker_threads';
import { isElohimError } from '../errors.ts';
import { createObjectStore, newObjectId } from '../vault/objects/index.ts';
import { stagedCheck } from '../vault/objects/staged.ts';
import { stagedResult } from '../vault/objects/staged.ts';
import { generateFileKey } from './age/index.ts';
import type { FileKey } from './age/index.ts';
import { createHasherPool } from './hasher.ts';
import { createStreamCheckWorker, streamCheckThreads } from './stream-check.ts';
import type { StreamCheckWorker } from './stream-check.ts';

const sha = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const CHUNK = 65536 + 16;

async function setUp(t: { after(fn: () => Promise<void>): void }) {
  const root = await mkdtemp(join(tmpdir(), 'elohim-stream-check-'));
  const worker = createStreamCheckWorker();
  t.after(async () => {
    await worker.close();
    await rm(root, { recursive: true, force: true });
  });
  const store = createObjectStore({ root, hashers: createHasherPool({ maxWorkers: 1 }) });
  /** an object of `size` random plaintext bytes: its key, plaintext and stored bytes */
  const object = async (size: number) => {
    const key = generateFileKey();
    const plain = randomBytes(size);
    const id = newObjectId();
    await store.write(id, plain, key);
    const parts: Buffer[] = [];
    for await (const c of await store.ciphertext.read(id)) parts.push(c as Buffer);
    return { key, plain, stored: Buffer.concat(parts) };
  };
  return { worker, object };
}

/** The worker's verdict on `stored` fed in pieces of `piece` bytes: the digest, or the error. */
async function onWorker(worker: StreamCheckWorker, key: FileKey, stored: Uint8Array, piece: number): Promise<string | { code: string; message: string }> {
  const job = worker.begin(key);
  try {
    for (let at = 0; at < stored.length; at += piece) (await job.feed(stored.subarray(at, at + piece))).release();
    return await job.end();
  } catch (err) {
    job.abort();
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
}

/** The same on this thread (the check the mesh ran before the worker). */
async function onThisThread(key: FileKey, size: number, stored: Uint8Array, piece: number): Promise<string | { code: string; message: string }> {
  // The stored size is counted by the staged check, which refuses other sizes itself: the
  // payload alone (StreamOpener, through the same check with the size the bytes imply) is
  // what is compared here.
  const check = stagedCheck(key, size);
  try {
    for (let at = 0; at < stored.length; at += piece) check.write(stored.subarray(at, at + piece));
    return (await stagedResult(check, key, size)) ?? 'not vouched';
  } catch (err) {
    return { code: (err as { code: string }).code, message: (err as Error).message };
  }
}

test('the worker finds the plaintext SHA-256 of every size and piece length the local check finds', async (t) => {
  const { worker, object } = await setUp(t);
  for (const size of [0, 1, 333, 65536, 65537, 2 * 65536, 300_000, 3 * (1 << 20) + 17]) {
    const { key, plain, stored } = await object(size);
    for (const piece of [7, 70_000, 1 << 20]) {
      if (piece === 7 && size > 300_000) continue;
      assert.equal(await onWorker(worker, key, stored, piece), sha(plain), `${size} bytes in pieces of ${piece}`);
    }
  }
});

test('the worker refuses every damaged payload the local check refuses, with the same words', async (t) => {
  const { worker, object } = await setUp(t);
  const { key, stored } = await object(3 * 65536 + 100); // four chunks, the last short
  const full = await object(2 * 65536); // two chunks, the last full
  const nonce = 16;
  const flip = (b: Buffer, at: number) => {
    const c = Buffer.from(b);
    c[at]! ^= 1;
    return c;
  };
  const cases: [string, Buffer, number, FileKey][] = [
    ['a bit flipped in a middle chunk', flip(stored, nonce + CHUNK + 10), 3 * 65536 + 100, key],
    ['a bit flipped in the last chunk', flip(stored, stored.length - 5), 3 * 65536 + 100, key],
    ['a bit flipped in the nonce', flip(stored, 3), 3 * 65536 + 100, key],
    ['two chunks swapped', Buffer.concat([stored.subarray(0, nonce), stored.subarray(nonce + CHUNK, nonce + 2 * CHUNK), stored.subarray(nonce, nonce + CHUNK), stored.subarray(nonce + 2 * CHUNK)]), 3 * 65536 + 100, key],
    ['the last chunk missing', stored.subarray(0, nonce + 3 * CHUNK), 3 * 65536, key],
    ['a full last chunk missing', full.stored.subarray(0, nonce + CHUNK), 65536, full.key],
    ['another key', stored, 3 * 65536 + 100, generateFileKey()],
  ];
  for (const [what, bytes, size, k] of cases) {
    const local = await onThisThread(k, size, bytes, 70_000);
    assert.equal(typeof local, 'object', `${what}: the local check refuses it`);
    for (const piece of [1000, 1 << 20]) assert.deepEqual(await onWorker(worker, k, bytes, piece), local, `${what}, pieces of ${piece}`);
  }
  // Data after the final chunk: the local check counts the size first, so the payload alone is compared.
  const trailing = Buffer.concat([full.stored, Buffer.alloc(1)]);
  const verdict = await onWorker(worker, full.key, trailing, 1 << 20);
  assert.deepEqual(verdict, { code: 'AGE_PAYLOAD_INVALID', message: 'the age payload has data after its final chunk' });
  // A refusal ends only its own check: the worker goes on with the next.
  assert.equal(await onWorker(worker, full.key, full.stored, 1 << 20), sha(full.plain));
});

test('what feed hands back is the worker\'s own copy: the caller\'s buffer changed after the hand-off changes nothing checked or written', async (t) => {
  const { worker, object } = await setUp(t);
  const { key, plain, stored } = await object(2 * (1 << 20) + 5);
  const job = worker.begin(key);
  const written: Buffer[] = [];
  for (let at = 0; at < stored.length; at += 1 << 20) {
    const mine = Buffer.from(stored.subarray(at, at + (1 << 20)));
    const fed = await job.feed(mine);
    mine.fill(0); // changed at once, before the worker has checked it, most likely
    written.push(Buffer.from(fed.bytes));
    fed.release();
  }
  assert.equal(await job.end(), sha(plain));
  assert.ok(Buffer.concat(written).equals(stored), 'the copy to write holds the bytes handed over');
});

test('a chunk damaged in the middle of an object fails a later feed, before the object ends', async (t) => {
  const { worker, object } = await setUp(t);
  const { key, stored } = await object(12 * (1 << 20));
  const bad = Buffer.from(stored);
  bad[(1 << 20) + 500]! ^= 1;
  const job = worker.begin(key);
  let fedAfter = 0;
  await assert.rejects(async () => {
    for (let at = 0; at < bad.length; at += 1 << 20) {
      (await job.feed(bad.subarray(at, at + (1 << 20)))).release();
      if (at > 1 << 20) fedAfter++;
    }
  }, (e) => isElohimError(e, 'AGE_PAYLOAD_INVALID'));
  // Within the ring's reach (4 MiB), not at the end of the 12 MiB.
  assert.ok(fedAfter <= 6, `${fedAfter} pieces taken after the bad one`);
  job.abort();
});

test('the worker\'s thread stopping fails the check in flight and every later one; nothing waits forever', { timeout: 30_000 }, async (t) => {
  let thread: Worker | null = null;
  streamCheckThreads.started = (w) => void (thread = w);
  t.after(() => void (streamCheckThreads.started = undefined));
  const { worker, object } = await setUp(t);
  const { key, stored } = await object(8 * (1 << 20));
  const job = worker.begin(key);
  (await job.feed(stored.subarray(0, 1 << 20))).release();
  await (thread as Worker | null)!.terminate();
  await assert.rejects(async () => {
    for (let at = 1 << 20; at < stored.length; at += 1 << 20) (await job.feed(stored.subarray(at, at + (1 << 20)))).release();
    await job.end();
  }, (e) => isElohimError(e, 'INTERNAL'));
  const next = worker.begin(key);
  await assert.rejects(async () => {
    (await next.feed(stored.subarray(0, 1 << 20))).release();
    await next.end();
  }, (e) => isElohimError(e, 'INTERNAL'));
});

/** Runs `lines` as a module in a child process: its exit code and signal, within `deadline` ms. */
async function runScript(lines: string[], deadline = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-stream-check-'));
  const script = join(dir, 'exit.mjs');
  await writeFile(script, lines.join('\n'));
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const timer = setTimeout(() => child.kill('SIGKILL'), deadline);
  try {
    const [code, signal] = await exited;
    return { code, signal, stderr };
  } finally {
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  }
}

test('a worker whose checks ended, or that was closed mid-check, does not keep the process alive; closing it is awaited to the end', async () => {
  // In a child process with a deadline, as hasher.test.ts does: a worker left running would keep
  // the test file from ever finishing. The script is a file (a script given by -e exits when it
  // ends, whatever still runs).
  const head = [`import { createStreamCheckWorker } from ${JSON.stringify(new URL('./stream-check.ts', import.meta.url).href)};`, `import { randomBytes } from 'node:crypto';`];
  const left = await runScript([
    ...head,
    'const w = createStreamCheckWorker();',
    'const a = w.begin(randomBytes(16));',
    '(await a.feed(randomBytes(100))).release();',
    'await a.end().catch(() => {});',
    'const b = w.begin(randomBytes(16));',
    '(await b.feed(randomBytes(200000))).release();',
    'const other = createStreamCheckWorker();',
    'const c = other.begin(randomBytes(16));',
    '(await c.feed(randomBytes(100))).release();',
    'await other.close();',
    // b is still open on w: it is abandoned, which must let go too.
    'b.abort();',
  ]);
  assert.equal(left.signal, null, 'the process was still alive after its checks ended: the worker keeps it running');
  assert.equal(left.code, 0, left.stderr);
  // A check given up, then the worker closed as the process's last await (a CLI's bundle
  // import): close() must settle, or Node ends the process with exit code 13 (unsettled await).
  const closing = await runScript([...head, 'const w = createStreamCheckWorker();', 'const a = w.begin(randomBytes(16));', '(await a.feed(randomBytes(1 << 20))).release();', 'await new Promise((r) => setTimeout(r, 200));', 'a.abort();', 'await w.close();']);
  assert.equal(closing.code, 0, closing.stderr);
});
