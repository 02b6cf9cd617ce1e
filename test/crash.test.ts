/**
 * Crash safety (DESIGN "Crash safety": a kill -9 at any moment leaves a consistent vault): puts
 * are killed with SIGKILL part-way, then the vault must open, show exactly what was committed,
 * verify clean, hold no plaintext, and clean up what the killed put left behind.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, test } from 'node:test';
import {
  CLI,
  NODE,
  PASSPHRASE,
  cliEnv,
  describeRun,
  findInFiles,
  initHome,
  listTrash,
  listTree,
  markerLines,
  objectFiles,
  removeTempDirs,
  sha256,
  tempFiles,
} from './helpers.ts';
import type { Entry, TestHome } from './helpers.ts';

after(removeTempDirs);

const MARKER = 'PLAINTEXT-MARKER';
const text = (b: Buffer): string => b.toString('utf8');

/** A vault with a few committed small files; returns their sha256 by vault path. */
async function committedVault(): Promise<{ t: TestHome; committed: Map<string, string> }> {
  const t = await initHome();
  const committed = new Map<string, string>();
  const src = join(t.work, 'committed');
  await mkdir(join(src, 'sub'), { recursive: true });
  const files: Record<string, Buffer> = {
    'a.txt': markerLines(`${MARKER}-committed-a`, 0, 3000).data,
    'sub/b.txt': markerLines(`${MARKER}-committed-b`, 0, 200_000).data,
    'c.bin': Buffer.from('small'),
  };
  for (const [rel, data] of Object.entries(files)) {
    await writeFile(join(src, rel), data);
    committed.set(`/committed/${rel}`, sha256(data));
  }
  await t.ok(['put', src, '/committed']);
  await t.ok(['put', '-', '/alone.txt'], { stdin: `${MARKER} alone\n` });
  committed.set('/alone.txt', sha256(`${MARKER} alone\n`));
  return { t, committed };
}

/** Polls `cond` every 5 ms until it returns true; fails after `ms`. */
async function waitFor(what: string, cond: () => Promise<boolean>, ms = 60_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!(await cond())) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

/**
 * Starts `elohim put - /big.bin` fed up to `totalBytes` of marker lines, and SIGKILLs it as soon
 * as `killWhen` says so. Resolves after the child is gone, with how it ended.
 */
async function killedBigPut(t: TestHome, killWhen: () => Promise<boolean>, totalBytes = 1024 ** 3) {
  const child = spawn(NODE, [CLI, 'put', '-', '/big.bin'], {
    env: cliEnv({ ELOHIM_HOME: t.home, ELOHIM_PASSPHRASE: PASSPHRASE }),
    stdio: ['pipe', 'ignore', 'pipe'],
  });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }>((resolve) => {
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    child.on('close', (code, signal) => resolve({ code, signal, stderr }));
  });
  let gone = false;
  void exited.then(() => (gone = true));
  child.stdin.on('error', () => {}); // EPIPE once it is killed
  // feed deterministic plaintext, honouring backpressure, until killed or done
  const feeding = (async () => {
    let sent = 0;
    let n = 0;
    while (sent < totalBytes && !gone) {
      const { data, next } = markerLines(MARKER, n, 1 << 20);
      n = next;
      sent += data.length;
      if (!child.stdin.write(data)) {
        await new Promise<void>((resolve) => {
          const done = () => resolve();
          child.stdin.once('drain', done);
          void exited.then(done);
        });
      }
    }
    if (!gone) child.stdin.end();
  })();
  try {
    await waitFor('the moment to kill the put', async () => gone || (await killWhen()));
  } finally {
    child.kill('SIGKILL');
  }
  const end = await exited;
  await feeding;
  return end;
}

/** The checks every crash must pass, in the order a user would meet them. */
async function assertConsistentAfterCrash(t: TestHome, committed: Map<string, string>, leftover: string[]) {
  // before anything opens the vault: the abandoned temp file holds no plaintext either
  assert.deepEqual(await findInFiles(t.home, [MARKER]), [], 'plaintext on disk right after the kill');

  const tree = await listTree(t); // the first command after the crash opens the vault
  const files = tree.filter((e: Entry) => e.kind === 'file').map((e) => e.path).sort();
  assert.deepEqual(files, [...committed.keys()].sort(), 'the vault should list exactly the committed files');
  assert.deepEqual(await listTrash(t), []);

  const stillThere = (await tempFiles(t.home)).map((f) => f.path).filter((p) => leftover.includes(p));
  assert.deepEqual(stillThere, [], 'the temp file of the killed put survived the next open (its intent did not clean it up)');

  for (const [path, hash] of committed) {
    const r = await t.ok(['get', path, '-']);
    assert.equal(sha256(r.stdout), hash, `${path} changed`);
  }
  const verify = await t.run(['verify']);
  assert.equal(verify.code, 0, describeRun(verify));
  assert.match(text(verify.stdout), new RegExp(`^${committed.size} files, .* 0 damaged$`, 'm'));
  // every object file belongs to a listed file: nothing leaked by the killed put
  assert.equal((await objectFiles(t.home)).length, committed.size, 'object files of the killed put were left behind');
  assert.deepEqual(await findInFiles(t.home, [MARKER]), [], 'plaintext on disk');
}

describe('kill -9 during a 1 GiB put from stdin', () => {
  test('once its temp file is past 50 MiB: the vault stays consistent and the temp file is cleaned up', async () => {
    const { t, committed } = await committedVault();
    const end = await killedBigPut(t, async () => (await tempFiles(t.home)).some((f) => f.size > 50 * 1024 * 1024));
    assert.equal(end.signal, 'SIGKILL', `the put ended on its own before the kill: exit ${end.code}; ${end.stderr}`);
    const leftover = (await tempFiles(t.home)).map((f) => f.path);
    assert.ok(leftover.length >= 1, 'the killed put left no temp file: the test did not kill it mid-write');
    await assertConsistentAfterCrash(t, committed, leftover);
    // and the vault goes on working: the same path can be put now
    await t.ok(['put', '-', '/big.bin'], { stdin: 'small after all' });
    assert.equal(text((await t.ok(['get', '/big.bin', '-'])).stdout), 'small after all');
  });

  test('right after its temp file appears: the same', async () => {
    const { t, committed } = await committedVault();
    const end = await killedBigPut(t, async () => (await tempFiles(t.home)).length > 0);
    assert.equal(end.signal, 'SIGKILL', `the put ended on its own before the kill: exit ${end.code}; ${end.stderr}`);
    const leftover = (await tempFiles(t.home)).map((f) => f.path);
    assert.ok(leftover.length >= 1, 'the killed put left no temp file');
    await assertConsistentAfterCrash(t, committed, leftover);
  });
});

describe('kill -9 while a folder of many small files is put', () => {
  test('whatever was committed is whole; nothing half-written is listed or left in objects/', async () => {
    const { t, committed } = await committedVault();
    const src = join(t.work, 'many');
    const count = 1500;
    const hashes = new Map<string, string>();
    for (let d = 0; d < 15; d++) {
      await mkdir(join(src, `d${d}`), { recursive: true });
      for (let i = 0; i < count / 15; i++) {
        const data = markerLines(`${MARKER}-many-${d}-${i}`, 0, 1000 + ((d * 97 + i * 31) % 3000)).data;
        await writeFile(join(src, `d${d}`, `f${i}.txt`), data);
        hashes.set(`/many/d${d}/f${i}.txt`, sha256(data));
      }
    }
    const before = (await objectFiles(t.home)).length;
    const child = spawn(NODE, [CLI, 'put', src, '/many'], {
      env: cliEnv({ ELOHIM_HOME: t.home, ELOHIM_PASSPHRASE: PASSPHRASE }),
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
    let gone = false;
    void exited.then(() => (gone = true));
    // kill it mid-way: after a few hundred objects exist (past the first batch of 256 files)
    try {
      await waitFor('objects to appear', async () => gone || (await objectFiles(t.home)).length - before >= 400);
    } finally {
      child.kill('SIGKILL');
    }
    const signal = await exited;
    assert.equal(signal, 'SIGKILL', `the folder put finished before the kill (${stderr}); make the folder bigger`);

    assert.deepEqual(await findInFiles(t.home, [MARKER]), [], 'plaintext on disk right after the kill');
    const tree = await listTree(t);
    const listed = tree.filter((e) => e.kind === 'file').map((e) => e.path);
    const many = listed.filter((p) => p.startsWith('/many/'));
    assert.ok(many.length < count, 'all files were committed: the kill came too late to test anything');
    for (const p of listed) assert.ok(committed.has(p) || hashes.has(p), `unexpected ${p}`);
    for (const p of committed.keys()) assert.ok(listed.includes(p), `committed ${p} is gone`);
    // every listed file reads back whole (verify checks each against its recorded SHA-256) …
    const verify = await t.run(['verify', '--json']);
    assert.equal(verify.code, 0, describeRun(verify));
    assert.equal((JSON.parse(text(verify.stdout)) as { files: number }).files, listed.length);
    // … and matches its source, checked for a sample
    for (const p of many.filter((_, i) => i % Math.max(1, Math.floor(many.length / 5)) === 0).slice(0, 6)) {
      assert.equal(sha256((await t.ok(['get', p, '-'])).stdout), hashes.get(p), p);
    }
    // objects written for files that never committed were removed when the vault opened again
    assert.equal((await objectFiles(t.home)).length, listed.length, 'objects of uncommitted files were left behind');
    assert.deepEqual(await tempFiles(t.home), []);
    // putting the rest works
    const rest = await t.run(['put', src, '/many-again']);
    assert.equal(rest.code, 0, describeRun(rest));
  });
});
