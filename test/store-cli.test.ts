/**
 * The deniable store end to end, through the stock CLI on a real data folder (issue 9): set-up
 * with `init --reserve`, files in the decoy and the hidden vault, a kill -9 in the middle of a
 * write, and a full store.
 */
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { readdir, readFile, stat, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, test } from 'node:test';
import { AS_DECOY, CHEAP_KDF, CLI, cliEnv, DECOY_PASSPHRASE, describeRun, findInFiles, makeHome, markerLines, NODE, PASSPHRASE, removeTempDirs, sha256 } from './helpers.ts';
import type { TestHome } from './helpers.ts';

after(removeTempDirs);

const MiB = 1 << 20;

async function storeHome(size: string): Promise<TestHome> {
  const t = await makeHome();
  await t.ok(['init', ...CHEAP_KDF, '--decoy', '--reserve', size], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
  return t;
}

/** `ls --json` of a folder, as names. */
async function names(t: TestHome, path: string, opts = {}): Promise<string[]> {
  const r = await t.ok(['ls', '--json', path], opts);
  return (JSON.parse(r.stdout.toString('utf8')) as { name: string }[]).map((e) => e.name).sort();
}

test('init --reserve: one store.bin of the size asked for and nothing else; each vault sees only its files; large and many small files round-trip', async () => {
  const t = await storeHome('24M');
  const files = (await readdir(t.home)).sort();
  assert.deepEqual(files.filter((f) => f !== 'reserve' && f !== 'lock'), ['config.json', 'keyslots.bin', 'store.bin', 'unlock-throttle.json']);
  assert.equal((await stat(join(t.home, 'store.bin'))).size, 24 * MiB);

  const big = markerLines('big-file', 0, 5 * MiB + 333).data;
  await writeFile(join(t.work, 'big.bin'), big);
  const small = join(t.work, 'small');
  await mkdir(small);
  const smallFiles = Array.from({ length: 150 }, (_, i) => ({ name: `f${i}.txt`, data: markerLines(`small-${i}`, 0, 1 + ((i * 53) % 6000)).data }));
  for (const f of smallFiles) await writeFile(join(small, f.name), f.data);

  await t.ok(['put', join(t.work, 'big.bin'), '/']);
  await t.ok(['put', small, '/']);
  await t.ok(['put', join(t.work, 'big.bin'), '/decoy-big.bin'], AS_DECOY);

  assert.deepEqual(await names(t, '/'), ['big.bin', 'small']);
  assert.deepEqual(await names(t, '/', AS_DECOY), ['decoy-big.bin']);
  const out = join(t.work, 'back.bin');
  await t.ok(['get', '/big.bin', out]);
  assert.equal(sha256(await readFile(out)), sha256(big));
  await t.ok(['get', '/decoy-big.bin', join(t.work, 'decoy-back.bin')], AS_DECOY);
  assert.equal(sha256(await readFile(join(t.work, 'decoy-back.bin'))), sha256(big));
  for (const f of smallFiles.filter((_, i) => i % 10 === 0)) {
    const r = await t.ok(['get', `/small/${f.name}`, '-']);
    assert.ok(r.stdout.equals(f.data), `${f.name} came back different`);
  }
  const verify = await t.ok(['verify']);
  assert.match(verify.stdout.toString('utf8') + verify.stderr, /151 files/);
  assert.equal((await stat(join(t.home, 'store.bin'))).size, 24 * MiB, 'the store changed size');
  assert.deepEqual(await findInFiles(t.home, ['big-file', 'small-1']), [], 'plaintext in the data folder');
});

/** Starts `put - <dest>` fed marker lines without end, and kills it with SIGKILL after `killAfter` bytes. */
async function killedPut(t: TestHome, dest: string, passphrase: string, killAfter: number): Promise<{ signal: NodeJS.Signals | null; stderr: string }> {
  const child = spawn(NODE, [CLI, 'put', '-', dest], { env: cliEnv({ ELOHIM_HOME: t.home, ELOHIM_PASSPHRASE: passphrase }), stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('utf8')));
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => resolve(signal)));
  child.stdin.on('error', () => {});
  let sent = 0;
  let n = 0;
  let gone = false;
  void exited.then(() => (gone = true));
  while (!gone && sent < killAfter) {
    const { data, next } = markerLines('killed-put', n, MiB);
    n = next;
    sent += data.length;
    if (!child.stdin.write(data)) await Promise.race([new Promise((r) => child.stdin.once('drain', r)), exited]);
  }
  // Let the child take what it was sent, then kill it mid-write.
  await sleep(150);
  child.kill('SIGKILL');
  return { signal: await exited, stderr };
}

test('kill -9 in the middle of a write, in either vault, leaves both vaults opening with every committed file', async () => {
  const t = await storeHome('64M');
  const keep = markerLines('kept', 0, 2 * MiB).data;
  await writeFile(join(t.work, 'keep.bin'), keep);
  await t.ok(['put', join(t.work, 'keep.bin'), '/keep.bin']);
  await t.ok(['put', join(t.work, 'keep.bin'), '/decoy-keep.bin'], AS_DECOY);

  for (const [who, passphrase] of [['hidden', PASSPHRASE], ['decoy', DECOY_PASSPHRASE]] as const) {
    const end = await killedPut(t, `/${who}-killed.bin`, passphrase, 12 * MiB);
    assert.equal(end.signal, 'SIGKILL', `the put ended before the kill: ${end.stderr}`);
    assert.deepEqual(await names(t, '/'), ['keep.bin'], `the hidden vault after the kill in the ${who} vault`);
    assert.deepEqual(await names(t, '/', AS_DECOY), ['decoy-keep.bin'], `the decoy after the kill in the ${who} vault`);
    for (const [path, opts] of [['/keep.bin', {}], ['/decoy-keep.bin', AS_DECOY]] as const) {
      const r = await t.ok(['get', path, '-'], opts);
      assert.ok(r.stdout.equals(keep), `${path} changed after the kill in the ${who} vault`);
    }
    await t.ok(['verify']);
    await t.ok(['verify'], AS_DECOY);
  }
  // The blocks the killed puts took are free again: a file of most of a region still fits.
  await writeFile(join(t.work, 'large.bin'), markerLines('large', 0, 24 * MiB).data);
  await t.ok(['put', join(t.work, 'large.bin'), '/large.bin']);
  assert.deepEqual(await findInFiles(t.home, ['killed-put', 'kept-']), [], 'plaintext in the data folder');
});

test('a full store: the put fails with DISK_FULL (exit 7), nothing committed is lost, and removing files makes room', async () => {
  const t = await storeHome('16M');
  const first = markerLines('first', 0, 3 * MiB).data;
  await writeFile(join(t.work, 'first.bin'), first);
  await t.ok(['put', join(t.work, 'first.bin'), '/first.bin']);
  await writeFile(join(t.work, 'huge.bin'), markerLines('huge', 0, 7 * MiB).data);
  const full = await t.run(['put', join(t.work, 'huge.bin'), '/huge.bin']);
  assert.equal(full.code, 7, describeRun(full));
  assert.match(full.stderr, /deniable store is full/);
  assert.deepEqual(await names(t, '/'), ['first.bin']);
  assert.ok((await t.ok(['get', '/first.bin', '-'])).stdout.equals(first));
  // The decoy's region is its own: the hidden vault filling its region leaves the decoy room.
  await t.ok(['put', join(t.work, 'first.bin'), '/decoy.bin'], AS_DECOY);
  await t.ok(['rm', '/first.bin']);
  await t.ok(['trash', 'empty']);
  await writeFile(join(t.work, 'fits.bin'), markerLines('fits', 0, 6 * MiB).data);
  await t.ok(['put', join(t.work, 'fits.bin'), '/fits.bin']);
  await t.ok(['verify']);
});

test('a store folder is backed up from the decoy and restored with `restore --from` on a fresh folder, by the decoy\'s passphrase and by the hidden vault\'s: both vaults open with their files', async () => {
  const t = await storeHome('16M');
  const hidden = markerLines('hidden-file', 0, 1_500_000).data;
  const decoy = markerLines('decoy-file', 0, 200_000).data;
  await writeFile(join(t.work, 'h.bin'), hidden);
  await writeFile(join(t.work, 'd.bin'), decoy);
  await t.ok(['put', join(t.work, 'h.bin'), '/h.bin']);
  await t.ok(['put', join(t.work, 'd.bin'), '/d.bin'], AS_DECOY);
  const target = join(t.work, 'usb');
  await mkdir(target);
  await t.ok(['backup', 'target', 'add', 'usb', target], AS_DECOY);
  const run = await t.ok(['backup', 'run'], AS_DECOY);
  assert.match(run.stdout.toString('utf8') + run.stderr, /proven|proof/i, 'a proof of restore follows the backup');

  for (const by of [AS_DECOY, {}]) {
    const fresh = await makeHome();
    const wrong = await fresh.run(['restore', '--from', target], { env: { ELOHIM_PASSPHRASE: 'no vault has this one' } });
    assert.equal(wrong.code, 3, describeRun(wrong));
    assert.equal(existsSync(join(fresh.home, 'keyslots.bin')), false);
    await fresh.ok(['restore', '--from', target], by);
    assert.deepEqual((await readdir(fresh.home)).filter((f) => f !== 'reserve' && f !== 'lock').sort(), ['config.json', 'keyslots.bin', 'store.bin', 'unlock-throttle.json']);
    assert.ok((await fresh.ok(['get', '/h.bin', '-'])).stdout.equals(hidden));
    assert.ok((await fresh.ok(['get', '/d.bin', '-'], AS_DECOY)).stdout.equals(decoy));
    assert.deepEqual(await names(fresh, '/', AS_DECOY), ['d.bin']);
    await fresh.ok(['verify']);
  }
});

test('decoy remove in a store folder: the decoy never opens again, the hidden vault keeps its files, a new decoy starts empty', async () => {
  const t = await storeHome('16M');
  const data = markerLines('hidden-file', 0, 300_000).data;
  await writeFile(join(t.work, 'h.bin'), data);
  await t.ok(['put', join(t.work, 'h.bin'), '/h.bin']);
  await t.ok(['put', join(t.work, 'h.bin'), '/d.bin'], AS_DECOY);
  await t.ok(['decoy', 'remove', '--yes']);
  const gone = await t.run(['ls', '/'], AS_DECOY);
  assert.notEqual(gone.code, 0, 'the removed decoy still opens');
  assert.ok((await t.ok(['get', '/h.bin', '-'])).stdout.equals(data));
  await t.ok(['init', '--decoy', '--yes'], { env: { ELOHIM_DECOY_PASSPHRASE: 'a brand new decoy passphrase' } });
  assert.deepEqual(await names(t, '/', asPassphrase('a brand new decoy passphrase')), []);
  assert.deepEqual(await names(t, '/'), ['h.bin']);
  await t.ok(['verify']);
});

const asPassphrase = (p: string) => ({ env: { ELOHIM_PASSPHRASE: p } });
