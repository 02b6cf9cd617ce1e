import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { createLocalHasher, createWorkerHasher } from './hasher.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the worker hasher gives the SHA-256 of everything fed, whatever the piece sizes', async () => {
  const data = randomBytes(5 * (1 << 20) + 12345); // more than the ring holds, not slot-aligned
  for (const piece of [999, 65536, 1 << 20, 3 * (1 << 20)]) {
    const h = createWorkerHasher();
    for (let off = 0; off < data.length; off += piece) await h.update(data.subarray(off, off + piece));
    assert.equal(await h.digest(), sha256(data), `pieces of ${piece}`);
  }
});

test('empty input hashes like empty input, on both hashers', async () => {
  assert.equal(await createWorkerHasher().digest(), sha256(new Uint8Array(0)));
  assert.equal(await createLocalHasher().digest(), sha256(new Uint8Array(0)));
});

test('a destroyed worker hasher does not keep the process alive', async () => {
  // In a child process with a deadline: a worker left running here would keep the whole test
  // file from ever finishing (a hang, not a failure). The child must exit on its own, with
  // nothing left to do, well before the deadline. The script is a file, not `-e`: a script given
  // by -e or on stdin exits when it ends, whatever still runs, and so could never show the bug.
  const dir = await mkdtemp(join(tmpdir(), 'elohim-hasher-'));
  const script = join(dir, 'destroy.mjs');
  await writeFile(
    script,
    [
      `import { createWorkerHasher } from ${JSON.stringify(new URL('./hasher.ts', import.meta.url).href)};`,
      'const h = createWorkerHasher();',
      'await h.update(new Uint8Array(100).fill(7));',
      'h.destroy();',
    ].join('\n'),
  );
  const deadline = 10_000;
  const child = spawn(process.execPath, [script], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = once(child, 'exit') as Promise<[number | null, NodeJS.Signals | null]>;
  const timer = setTimeout(() => child.kill('SIGKILL'), deadline);
  try {
    const [code, signal] = await exited;
    assert.equal(signal, null, `the process was still alive ${deadline} ms after destroy(): the worker keeps it running`);
    assert.equal(code, 0, stderr);
  } finally {
    clearTimeout(timer);
    await rm(dir, { recursive: true, force: true });
  }
});
