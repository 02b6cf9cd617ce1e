/**
 * The backup's CLI face end to end (issue 12): the real `elohim` as a child process on temp
 * folders. target add/ls/test/rm, run with progress, ls with the last proven restore, verify
 * finding a tampered pack, `restore --from` on a fresh data folder (passphrase, recovery code,
 * wrong passphrase), `backup restore PATH` beside the current folder, and kill -9 of the CLI
 * mid-backup and mid-restore, then the same command again moving only what was missing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CHEAP_KDF, CLI, cliEnv, DECOY_PASSPHRASE as DECOY, describeRun, makeTempDir, NODE, parseRecoveryCodes, PASSPHRASE, removeTempDirs, runCli } from './helpers.ts';

let home: string;
let usb: string;
let codes: string[];
const env = (extra: Record<string, string | undefined> = {}) => ({ ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE, ...extra });
const files: Record<string, Buffer> = {};

before(async () => {
  home = join(await makeTempDir('elohim-bk-cli-'), 'home');
  usb = await makeTempDir('elohim-bk-usb-');
  const init = await runCli(['init', ...CHEAP_KDF], { env: env() });
  assert.equal(init.code, 0, describeRun(init));
  codes = parseRecoveryCodes(init.stdout.toString(), 'Recovery codes:');
  assert.equal(codes.length, 10);
  const src = await makeTempDir('elohim-bk-src-');
  // Eight big files (a pack each, so a kill lands between packs) and a few small ones.
  for (let i = 0; i < 8; i++) files[`big${i}.bin`] = randomBytes(4 * 1024 * 1024 + 17 * i + 1);
  for (let i = 0; i < 5; i++) files[`note${i}.txt`] = Buffer.from(`note number ${i} about the secret garden`);
  for (const [name, bytes] of Object.entries(files)) {
    await writeFile(join(src, name), bytes);
    const put = await runCli(['put', join(src, name), '/'], { env: env() });
    assert.equal(put.code, 0, describeRun(put));
  }
});
after(removeTempDirs);

/** Runs the CLI until it has printed `lines` progress lines on stderr, then kills it with SIGKILL. */
function runAndKill(args: string[], extra: Record<string, string>, lines: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(NODE, [CLI, ...args], { env: cliEnv({ ...extra, ELOHIM_PROGRESS: 'lines' }), stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    let seen = 0;
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
      seen = (err.match(/ files, /g) ?? []).length;
      if (seen >= lines && child.exitCode === null) child.kill('SIGKILL');
    });
    child.on('error', reject);
    child.on('close', (code, signal) => (signal === 'SIGKILL' ? resolve(seen) : reject(new Error(`ended (${code}) before the kill: ${err}`))));
  });
}

test('target add, ls, test; bad input changes nothing', async () => {
  const bad = await runCli(['backup', 'target', 'add', 'usb', 'relative/path'], { env: env() });
  assert.equal(bad.code, 2, describeRun(bad));
  const noSecret = await runCli(['backup', 'target', 'add', 'office', 's3://bucket/x', '--access-key-id', 'AK'], { env: env() });
  assert.equal(noSecret.code, 2, describeRun(noSecret));
  const add = await runCli(['backup', 'target', 'add', 'usb', usb], { env: env() });
  assert.equal(add.code, 0, describeRun(add));
  const ls = await runCli(['backup', 'target', 'ls', '--json'], { env: env() });
  assert.deepEqual(JSON.parse(ls.stdout.toString()).map((t: { name: string; where: string }) => [t.name, t.where]), [['usb', usb]]);
  const t = await runCli(['backup', 'target', 'test', 'usb'], { env: env() });
  assert.match(t.stdout.toString(), /no backup there yet/);
  const missing = await runCli(['backup', 'target', 'test', 'nope'], { env: env() });
  assert.equal(missing.code, 4, describeRun(missing));
});

test('kill -9 mid-backup, then the same command uploads only what was missing; ls shows the last proven restore', async () => {
  const seen = await runAndKill(['backup', 'run'], env(), 3);
  assert.ok(seen >= 3);
  assert.deepEqual(await readdir(join(usb, 'snapshots')).catch(() => []), [], 'no snapshot from the killed run');
  const run = await runCli(['backup', 'run', '--json'], { env: env() });
  assert.equal(run.code, 0, describeRun(run));
  const r = JSON.parse(run.stdout.toString());
  assert.ok(r.summary.objects.uploaded < r.summary.objects.total, `resumed: ${r.summary.objects.uploaded} of ${r.summary.objects.total} uploaded`);
  assert.ok(r.proof.ok && r.proof.sampled > 0);
  const ls = await runCli(['backup', 'ls'], { env: env() });
  assert.match(ls.stdout.toString(), /last proven restore: \d{4}-\d\d-\d\d \d\d:\d\d:\d\dZ, \d+ objects/);
  // No plaintext name or content on the target.
  for (const sub of await readdir(usb, { recursive: true })) {
    const bytes = await readFile(join(usb, sub)).catch(() => null);
    if (bytes === null) continue;
    for (const needle of ['note0.txt', 'secret garden', 'big3.bin']) assert.equal(bytes.includes(Buffer.from(needle)), false, `${needle} in ${sub}`);
  }
});

test('restore --from on a fresh data folder: wrong passphrase (exit 3, nothing written), kill -9 midway then resume, recovery code', async () => {
  const fresh = join(await makeTempDir('elohim-bk-fresh-'), 'home');
  const wrong = await runCli(['restore', '--from', usb], { env: { ELOHIM_HOME: fresh, ELOHIM_PASSPHRASE: 'not it at all' } });
  assert.equal(wrong.code, 3, describeRun(wrong));
  assert.equal(await readFile(join(fresh, 'keyslots.bin')).catch(() => null), null);

  await runAndKill(['restore', '--from', usb], { ELOHIM_HOME: fresh, ELOHIM_PASSPHRASE: PASSPHRASE }, 3);
  assert.equal(await readFile(join(fresh, 'keyslots.bin')).catch(() => null), null, 'a killed restore leaves no key slots');
  const again = await runCli(['restore', '--from', usb, '--json'], { env: { ELOHIM_HOME: fresh, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(again.code, 0, describeRun(again));
  const r = JSON.parse(again.stdout.toString());
  assert.ok(r.objects.fetched < r.objects.total, `resumed: ${r.objects.fetched} of ${r.objects.total} fetched`);
  const audit = await runCli(['audit', 'ls', '--event', 'restore'], { env: { ELOHIM_HOME: fresh, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.match(audit.stdout.toString(), /restore .*fresh=true.*target=local/, describeRun(audit));
  const out = await makeTempDir('elohim-bk-out-');
  for (const name of ['big5.bin', 'note3.txt']) {
    const get = await runCli(['get', `/${name}`, join(out, name)], { env: { ELOHIM_HOME: fresh, ELOHIM_PASSPHRASE: PASSPHRASE } });
    assert.equal(get.code, 0, describeRun(get));
    assert.ok((await readFile(join(out, name))).equals(files[name]!), name);
  }
  const byCode = join(await makeTempDir('elohim-bk-code-'), 'home');
  const rc = await runCli(['--recovery', 'restore', '--from', usb], { env: { ELOHIM_HOME: byCode, ELOHIM_RECOVERY_CODE: codes[4]! } });
  assert.equal(rc.code, 0, describeRun(rc));
  const ls = await runCli(['ls', '/'], { env: { ELOHIM_HOME: byCode, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.match(ls.stdout.toString(), /note4\.txt/);
  const twice = await runCli(['restore', '--from', usb], { env: { ELOHIM_HOME: byCode, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(twice.code, 5, describeRun(twice));
});

test('backup restore PATH beside the current folder, restore --file of one file; verify finds a tampered pack', async () => {
  const beside = join(await makeTempDir('elohim-bk-beside-'), 'home');
  const r = await runCli(['backup', 'restore', beside], { env: env() });
  assert.equal(r.code, 0, describeRun(r));
  const ls = await runCli(['ls', '/'], { env: { ELOHIM_HOME: beside, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.match(ls.stdout.toString(), /big7\.bin/);

  // One file of the snapshot, decrypted to a host file; an existing one is kept without --force.
  const outDir = await makeTempDir('elohim-bk-one-');
  const one = await runCli(['backup', 'restore', '--file', '/note2.txt', '--to', join(outDir, 'n.txt')], { env: env() });
  assert.equal(one.code, 0, describeRun(one));
  assert.ok((await readFile(join(outDir, 'n.txt'))).equals(files['note2.txt']!));
  const again = await runCli(['backup', 'restore', '--file', '/note2.txt', '--to', join(outDir, 'n.txt')], { env: env() });
  assert.equal(again.code, 5, describeRun(again));
  const missingFile = await runCli(['backup', 'restore', '--file', '/nope.txt', '--to', join(outDir, 'x')], { env: env() });
  assert.equal(missingFile.code, 4, describeRun(missingFile));

  const ok = await runCli(['backup', 'verify', '--read-data'], { env: env() });
  assert.equal(ok.code, 0, describeRun(ok));
  const pack = (await readdir(join(usb, 'data')))[0]!;
  const bytes = await readFile(join(usb, 'data', pack));
  bytes[bytes.length >> 1]! ^= 1;
  await writeFile(join(usb, 'data', pack), bytes);
  const quick = await runCli(['backup', 'verify'], { env: env() });
  assert.equal(quick.code, 0, 'a flipped bit keeps the size: the quick verify does not read data');
  const full = await runCli(['backup', 'verify', '--read-data'], { env: env() });
  assert.equal(full.code, 6, describeRun(full));
  assert.match(full.stdout.toString(), /do not match their SHA-256/);
});

test('restore --from refuses a folder that holds other files, and changes nothing there', async () => {
  const dir = await makeTempDir('elohim-bk-notempty-');
  await writeFile(join(dir, 'thesis.docx'), 'mine');
  const r = await runCli(['restore', '--from', usb], { env: { ELOHIM_HOME: dir, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(r.code, 2, describeRun(r));
  assert.deepEqual(await readdir(dir), ['thesis.docx']);
});

test('the vault behind a decoy is told that its backups have no entry in the decoy\'s log; the decoy is told nothing', async () => {
  const h = join(await makeTempDir('elohim-bk-decoy-'), 'home');
  const target = await makeTempDir('elohim-bk-decoy-usb-');
  const init = await runCli(['init', ...CHEAP_KDF, '--decoy'], { env: { ELOHIM_HOME: h, ELOHIM_PASSPHRASE: PASSPHRASE, ELOHIM_DECOY_PASSPHRASE: DECOY } });
  assert.equal(init.code, 0, describeRun(init));
  for (const passphrase of [PASSPHRASE, DECOY]) {
    const add = await runCli(['backup', 'target', 'add', 'usb', target], { env: { ELOHIM_HOME: h, ELOHIM_PASSPHRASE: passphrase } });
    assert.equal(add.code, 0, describeRun(add));
  }
  const real = await runCli(['backup', 'run'], { env: { ELOHIM_HOME: h, ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(real.code, 0, describeRun(real));
  assert.match(real.stderr, /stands behind a decoy/);
  const decoy = await runCli(['backup', 'run'], { env: { ELOHIM_HOME: h, ELOHIM_PASSPHRASE: DECOY } });
  assert.equal(decoy.code, 0, describeRun(decoy));
  assert.doesNotMatch(decoy.stderr, /decoy/);
});
