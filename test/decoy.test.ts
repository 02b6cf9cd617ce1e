/**
 * End-to-end suite of the decoy vault (plausible deniability, README "Decoy vault"): what is on
 * disk looks the same with or without a decoy, stored objects look random, and nothing in one
 * vault's session shows anything of the other.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { KEYSLOTS_FILE_SIZE } from '../src/keyring/index.ts';
import {
  AS_DECOY,
  CLI,
  NODE,
  cliEnv,
  DECOY_PASSPHRASE,
  PASSPHRASE,
  byteUniformity,
  describeRun,
  findInFiles,
  initHome,
  listFiles,
  listTrash,
  listTree,
  allObjectFiles,
  objectFiles,
  parseRecoveryCodes,
  removeTempDirs,
  sha256,
} from './helpers.ts';
import type { Entry, RunOptions, RunResult, TestHome } from './helpers.ts';

after(removeTempDirs);

const text = (r: RunResult): string => r.stdout.toString('utf8');
const asCode = (code: string): RunOptions => ({ env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: code } });

/** keyslots.bin: 56-byte header (magic, version, reserved, Argon2id parameters, salt), then 64 slots of 128 bytes. */
const KEYSLOTS_HEADER = 56;

/** The same small set of files for every home of the shape test. */
async function sampleFolder(dir: string): Promise<string> {
  const src = join(dir, 'sample');
  await mkdir(join(src, 'inner'), { recursive: true });
  await writeFile(join(src, 'one.txt'), 'one\n'.repeat(100));
  await writeFile(join(src, 'inner', 'two.bin'), Buffer.alloc(70_000, 7));
  await writeFile(join(src, 'inner', 'three.txt'), 'three');
  return src;
}

/** A file's place in the home with object ids blanked out: the structure an observer sees. */
function shapeOf(path: string): string {
  return path.replace(/^objects\/[0-9a-f]{2}\/[0-9a-f]+$/, 'objects/<shard>/<object>');
}

describe('(a) on-disk shape is the same with or without a decoy', () => {
  let plain: TestHome;
  let withDecoy: TestHome;

  before(async () => {
    plain = await initHome();
    withDecoy = await initHome({ decoy: true });
    for (const t of [plain, withDecoy]) await t.ok(['put', await sampleFolder(t.work), '/sample']);
  });

  test('init --decoy printed the decoy’s own 10 recovery codes, and they open the decoy', async () => {
    assert.equal(withDecoy.decoyCodes.length, 10);
    assert.equal(new Set([...withDecoy.codes, ...withDecoy.decoyCodes]).size, 20);
    assert.deepEqual(await listTree(withDecoy, asCode(withDecoy.decoyCodes[0]!)), []);
    assert.equal((await listTree(withDecoy, AS_DECOY)).length, 0);
    assert.equal((await listTree(withDecoy)).filter((e) => e.kind === 'file').length, 3);
  });

  test('same file names, modes and object layout; same keyslots.bin size; identical config and throttle files', async () => {
    // The chaff each folder was set up with (src/cover) differs in number and sizes by design:
    // it is compared by the examiner suite; here the files the vaults made are.
    const chaff = async (t: TestHome) => {
      const made = new Set(await objectFiles(t.home));
      return new Set((await allObjectFiles(t.home)).filter((o) => !made.has(o)));
    };
    const [chaffA, chaffB] = [await chaff(plain), await chaff(withDecoy)];
    const a = (await listFiles(plain.home)).filter((f) => !chaffA.has(f.path.slice('objects/'.length)));
    const b = (await listFiles(withDecoy.home)).filter((f) => !chaffB.has(f.path.slice('objects/'.length)));
    const shape = (files: typeof a) => files.map((f) => `${shapeOf(f.path)} ${f.mode.toString(8)}`).sort();
    assert.deepEqual(shape(b), shape(a));
    assert.equal(a.filter((f) => f.path.startsWith('objects/') && !f.path.startsWith('objects/tmp/')).length, 3);
    const size = (files: typeof a, p: string) => files.find((f) => f.path === p)?.size;
    assert.equal(size(a, 'keyslots.bin'), KEYSLOTS_FILE_SIZE);
    assert.equal(size(b, 'keyslots.bin'), KEYSLOTS_FILE_SIZE);
    // same-sized files of the same contents put in each: the objects have the same sizes too
    const objSizes = (files: typeof a) => files.filter((f) => /^objects\/[0-9a-f]{2}\//.test(f.path)).map((f) => f.size).sort();
    assert.deepEqual(objSizes(b), objSizes(a));
    for (const name of ['config.json', 'unlock-throttle.json']) {
      assert.deepEqual(await readFile(join(withDecoy.home, name)), await readFile(join(plain.home, name)), `${name} differs`);
    }
  });

  test('keyslots.bin has no readable markers beyond its fixed header', async () => {
    const a = await readFile(join(plain.home, 'keyslots.bin'));
    const b = await readFile(join(withDecoy.home, 'keyslots.bin'));
    // the header says the same (apart from the random salt) with or without a decoy
    assert.deepEqual(b.subarray(0, 24), a.subarray(0, 24));
    for (const [label, buf] of [['without decoy', a], ['with decoy', b]] as const) {
      const slots = buf.subarray(KEYSLOTS_HEADER);
      // Markers of 4+ bytes only: a 2-byte one like '{"' occurs by chance in 8 KiB of random
      // bytes about one time in eight. Sealed JSON would fail the printable-run check below.
      for (const marker of ['ELOHIM', 'elohim', 'age-encryption', 'AGE-SECRET', 'decoy', 'DECOY', 'vault', 'slot', 'recovery', 'passphrase']) {
        assert.equal(slots.indexOf(marker), -1, `${label}: "${marker}" in the slot area`);
      }
      // A run of 32 printable ASCII bytes happens by chance with p ≈ 1e-10 in the 8 KiB slot area;
      // any text worth finding (a JSON slot, a label) is longer. 20 (p ≈ 1.3e-5) failed CI once on
      // random bytes: "Gd!RZ#'.X\Y,9nw7h\m5k".
      assert.doesNotMatch(slots.toString('latin1'), /[\x20-\x7e]{32}/, `${label}: readable text in the slot area`);
      assert.ok(byteUniformity(slots).z < 5, `${label}: the slot area does not look random`);
    }
  });
});

describe('(b) no stored object has a readable header', () => {
  test('no object starts with or contains "age-encryption.org"; together they pass a byte chi-square test', async () => {
    const t = await initHome({ decoy: true });
    // very non-uniform plaintext: repeated text and zeros
    const plainParts = [Buffer.from('age-encryption.org/v1\n-> X25519 looks like a header\n'.repeat(8000)), Buffer.alloc(300_000)];
    await t.ok(['put', '-', '/text.txt'], { stdin: plainParts[0] });
    await t.ok(['put', '-', '/zeros.bin'], { stdin: plainParts[1] });
    await t.ok(['put', '-', '/decoy-text.txt'], { stdin: plainParts[0], ...AS_DECOY });
    await t.ok(['put', '-', '/tiny.txt'], { stdin: 'x' });
    // a folder put writes small files another way (in memory, several at a time)
    const folder = join(t.work, 'folder');
    await mkdir(folder);
    for (let i = 0; i < 4; i++) await writeFile(join(folder, `f${i}.txt`), plainParts[0]!.subarray(0, 20_000 + i));
    await t.ok(['put', folder, '/folder']);
    const objects = await objectFiles(t.home);
    assert.equal(objects.length, 8);
    const contents = await Promise.all(objects.map((o) => readFile(join(t.home, 'objects', o))));
    for (const [i, c] of contents.entries()) {
      assert.ok(!c.subarray(0, 32).toString('latin1').startsWith('age'), `object ${objects[i]} starts like an age header`);
      assert.equal(c.indexOf('age-encryption.org'), -1, `object ${objects[i]} contains "age-encryption.org"`);
      assert.equal(c.indexOf('X25519'), -1, `object ${objects[i]} contains a stanza type`);
    }
    const all = Buffer.concat(contents);
    const { z, chi2 } = byteUniformity(all);
    assert.ok(z < 5, `objects' bytes are not uniform: chi2 ${chi2.toFixed(0)} (z ${z.toFixed(1)}) over ${all.length} bytes`);
    // the test has the power to tell: the plaintext fails it by far
    assert.ok(byteUniformity(Buffer.concat([...plainParts, plainParts[0]!.subarray(0, 80_000)])).z > 100);
  });
});

describe('(c) decoy isolation', () => {
  let t: TestHome;
  const realFiles: Record<string, Buffer> = {
    '/REALSECRET-projects/real-plans-Zq7.txt': Buffer.from('REAL-CONTENT-MARKER-9f3e the real plans\n'),
    '/REALSECRET-projects/nested/real-ledger-Zq7.bin': randomBytes(140_000),
    '/real-top-Zq7.txt': Buffer.from('REAL-CONTENT-MARKER-9f3e top\n'),
  };
  const decoyFiles: Record<string, Buffer> = {
    '/decoy-recipes/decoy-soup-Kx2.txt': Buffer.from('DECOY-CONTENT-MARKER-51ab soup\n'),
    '/decoy-holiday-Kx2.txt': Buffer.from('DECOY-CONTENT-MARKER-51ab beach\n'),
  };
  const realTrashed = '/real-trashed-Zq7.txt';
  const decoyTrashed = '/decoy-trashed-Kx2.txt';

  before(async () => {
    t = await initHome({ decoy: true });
    for (const [path, data] of Object.entries(realFiles)) await t.ok(['put', '-p', '-', path], { stdin: data });
    for (const [path, data] of Object.entries(decoyFiles)) await t.ok(['put', '-p', '-', path], { stdin: data, ...AS_DECOY });
    for (const [vaultDir, vaultFiles, opts] of [['/REALSECRET-projects', realFiles, {}], ['/decoy-recipes', decoyFiles, AS_DECOY]] as const) {
      // the files of a folder put take another path to disk than single puts: have both
      const host = join(t.work, vaultDir.slice(1));
      await mkdir(join(host, 'folder-put'), { recursive: true });
      const tag = vaultDir.startsWith('/REAL') ? 'REAL-CONTENT-MARKER-9f3e real-folder-Zq7' : 'DECOY-CONTENT-MARKER-51ab decoy-folder-Kx2';
      for (let i = 0; i < 3; i++) {
        const name = `${tag.split(' ')[1]}-${i}.txt`;
        const data = Buffer.from(`${tag} file ${i}\n`.repeat(50));
        await writeFile(join(host, 'folder-put', name), data);
        (vaultFiles as Record<string, Buffer>)[`${vaultDir}/folder-put/${name}`] = data;
      }
      await t.ok(['put', join(host, 'folder-put'), `${vaultDir}/folder-put`], opts);
    }
    await t.ok(['put', '-', realTrashed], { stdin: 'REAL-CONTENT-MARKER-9f3e trashed' });
    await t.ok(['rm', realTrashed]);
    await t.ok(['put', '-', decoyTrashed], { stdin: 'DECOY-CONTENT-MARKER-51ab trashed', ...AS_DECOY });
    await t.ok(['rm', decoyTrashed], AS_DECOY);
  });

  const filePaths = (entries: Entry[]) => entries.filter((e) => e.kind === 'file').map((e) => e.path).sort();

  test('each session lists only its own files, all the way down', async () => {
    const decoyTree = await listTree(t, AS_DECOY);
    assert.deepEqual(filePaths(decoyTree), Object.keys(decoyFiles).sort());
    assert.ok(decoyTree.every((e) => !/real/i.test(e.path)), JSON.stringify(decoyTree));
    const realTree = await listTree(t);
    assert.deepEqual(filePaths(realTree), Object.keys(realFiles).sort());
    assert.ok(realTree.every((e) => !/decoy/i.test(e.path)), JSON.stringify(realTree));
  });

  test('find in one session finds nothing of the other', async () => {
    for (const needle of ['realsecret', 'real-plans', 'zq7', 'REAL']) {
      assert.equal(text(await t.ok(['find', needle], AS_DECOY)), '', `decoy find ${needle}`);
    }
    for (const needle of ['decoy', 'kx2', 'soup']) {
      assert.equal(text(await t.ok(['find', needle])), '', `real find ${needle}`);
    }
    assert.match(text(await t.ok(['find', 'zq7'])), /real-plans-Zq7\.txt/);
    assert.match(text(await t.ok(['find', 'kx2'], AS_DECOY)), /decoy-soup-Kx2\.txt/);
  });

  test('trash ls shows only the session’s own trash', async () => {
    const decoyTrash = text(await t.ok(['trash', 'ls'], AS_DECOY));
    assert.doesNotMatch(decoyTrash, /real/i);
    assert.match(decoyTrash, /decoy-trashed-Kx2/);
    const realTrash = text(await t.ok(['trash', 'ls']));
    assert.doesNotMatch(realTrash, /decoy/i);
  });

  test('verify counts only the session’s own files', async () => {
    const decoyReport = JSON.parse(text(await t.ok(['verify', '--json'], AS_DECOY))) as { files: number; bytes: number; damaged: unknown[] };
    const decoyBytes = [...Object.values(decoyFiles), Buffer.from('DECOY-CONTENT-MARKER-51ab trashed')].reduce((n, b) => n + b.length, 0);
    const decoyCount = Object.keys(decoyFiles).length + 1; // and its trashed file
    assert.deepEqual(decoyReport, { files: decoyCount, bytes: decoyBytes, damaged: [] });
    assert.match(text(await t.ok(['verify'], AS_DECOY)), new RegExp(`^${decoyCount} files, `, 'm'));
    const realReport = JSON.parse(text(await t.ok(['verify', '--json']))) as { files: number };
    assert.equal(realReport.files, Object.keys(realFiles).length + 1);
  });

  test('errors about the other vault’s paths and ids are the plain "not found" of a path that never existed', async () => {
    const realTrashId = (await listTrash(t))[0]!.id;
    const pairs: [string[], string[]][] = [
      [['get', '/REALSECRET-projects/real-plans-Zq7.txt', '-'], ['get', '/NEVERWAS-projects/real-plans-Zq7.txt', '-']],
      [['ls', '/REALSECRET-projects'], ['ls', '/NEVERWAS-projects']],
      [['rm', '/real-top-Zq7.txt'], ['rm', '/never-top-Zq7.txt']],
      [['mv', '/real-top-Zq7.txt', '/x.txt'], ['mv', '/never-top-Zq7.txt', '/x.txt']],
      [['export', '/real-top-Zq7.txt', '-r', 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p'], ['export', '/never-top-Zq7.txt', '-r', 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p']],
      [['trash', 'restore', realTrashId], ['trash', 'restore', 'abcdef0123456789abcdef0123456789']],
    ];
    for (const [other, never] of pairs) {
      const a = await t.run(other, AS_DECOY);
      const b = await t.run(never, AS_DECOY);
      assert.equal(a.code, 4, `decoy ${other.join(' ')}: ${describeRun(a)}`);
      assert.equal(b.code, 4, `decoy ${never.join(' ')}: ${describeRun(b)}`);
      const norm = (r: RunResult, args: string[]) => args.reduce((s, arg) => s.split(arg).join('<ARG>'), r.stderr);
      assert.equal(norm(a, other), norm(b, never), `decoy ${other.join(' ')} answers differently from a path that never existed`);
      assert.equal(a.stdout.length, 0);
    }
    // and the same from the real side about the decoy's
    const a = await t.run(['get', '/decoy-holiday-Kx2.txt', '-']);
    const b = await t.run(['get', '/never-holiday-Kx2.txt', '-']);
    assert.equal(a.code, 4);
    assert.equal(a.stderr.replace('/decoy-holiday-Kx2.txt', '<P>'), b.stderr.replace('/never-holiday-Kx2.txt', '<P>'));
  });

  test('emptying the decoy’s trash leaves every real file intact, trash included', async () => {
    await t.ok(['trash', 'empty'], AS_DECOY);
    assert.deepEqual(await listTrash(t, AS_DECOY), []);
    for (const [path, data] of Object.entries(realFiles)) {
      assert.equal(sha256((await t.ok(['get', path, '-'])).stdout), sha256(data), path);
    }
    const realTrash = await listTrash(t);
    assert.deepEqual(realTrash.map((e) => e.originalPath), [realTrashed]);
    assert.equal((await t.run(['verify'])).code, 0);
    await t.ok(['trash', 'restore', realTrash[0]!.id]);
    assert.equal(text(await t.ok(['get', realTrashed, '-'])), 'REAL-CONTENT-MARKER-9f3e trashed');
    for (const [path, data] of Object.entries(decoyFiles)) {
      assert.equal(sha256((await t.ok(['get', path, '-'], AS_DECOY)).stdout), sha256(data), path);
    }
  });

  test('(e) no plaintext anywhere under ELOHIM_HOME: no names, no contents, of either vault', async () => {
    const needles = [
      'REAL-CONTENT-MARKER-9f3e',
      'DECOY-CONTENT-MARKER-51ab',
      'REALSECRET',
      'real-plans-Zq7',
      'real-ledger-Zq7',
      'real-top-Zq7',
      'real-trashed-Zq7',
      'decoy-recipes',
      'decoy-soup-Kx2',
      'decoy-holiday-Kx2',
      'decoy-trashed-Kx2',
      'real-folder-Zq7',
      'decoy-folder-Kx2',
      'folder-put',
      PASSPHRASE,
      DECOY_PASSPHRASE,
      ...t.codes,
      ...t.decoyCodes,
    ];
    const files = (await listFiles(t.home)).map((f) => f.path);
    assert.ok(files.includes('db.sqlite'), `no db.sqlite among ${files.join(', ')}`);
    assert.deepEqual(await findInFiles(t.home, needles), []);

    // Once more while a session is open mid-put, when SQLite's -wal and -shm files exist and
    // hold the latest pages: start a put and keep its stdin open.
    const pendingName = '/real-pending-Zq7.txt';
    const child = spawn(NODE, [CLI, 'put', '-', pendingName], {
      env: cliEnv({ ELOHIM_HOME: t.home, ELOHIM_PASSPHRASE: PASSPHRASE }),
      stdio: ['pipe', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    child.stdin.write('REAL-CONTENT-MARKER-9f3e pending\n'.repeat(5000));
    try {
      const deadline = performance.now() + 30_000;
      while ((await listFiles(join(t.home, 'objects', 'tmp'))).length === 0) {
        assert.ok(performance.now() < deadline, 'the put never started writing');
        await sleep(10);
      }
      const open = (await listFiles(t.home)).map((f) => f.path);
      assert.ok(open.includes('db.sqlite-wal'), `no db.sqlite-wal while a session is open: ${open.join(', ')}`);
      assert.deepEqual(await findInFiles(t.home, [...needles, 'real-pending-Zq7']), []);
    } finally {
      child.stdin.end();
    }
    assert.equal(await exited, 0);
    assert.deepEqual(await findInFiles(t.home, [...needles, 'real-pending-Zq7']), []);
  });
});

describe('(d) adding a decoy to an existing vault', () => {
  test('init --decoy --yes with the real passphrase adds a decoy in front; the vault moves behind it with new recovery codes, its files untouched', async () => {
    const t = await initHome();
    const data = randomBytes(80_000);
    await t.ok(['put', '-', '/mine.bin'], { stdin: data });
    const sizeBefore = (await readFile(join(t.home, 'keyslots.bin'))).length;
    const unconfirmed = await t.run(['init', '--decoy'], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
    assert.equal(unconfirmed.code, 2, describeRun(unconfirmed));
    const r = await t.ok(['init', '--decoy', '--yes'], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
    const decoyCodes = parseRecoveryCodes(text(r), 'Decoy vault created. Recovery codes of the DECOY vault:');
    assert.equal(decoyCodes.length, 10, text(r));
    const ownCodes = parseRecoveryCodes(text(r), 'This vault now stands behind the decoy. Its NEW recovery codes (the old ones no longer work):');
    assert.equal(ownCodes.length, 10, text(r));
    assert.equal((await readFile(join(t.home, 'keyslots.bin'))).length, sizeBefore);
    // The old codes were sealed in the slots the decoy now holds (two tried: within the free attempts).
    for (const code of t.codes.slice(0, 2)) assert.notEqual((await t.run(['ls'], asCode(code))).code, 0);
    await t.ok(['ls']); // a good unlock resets the growing delay those failures earned
    t.codes.splice(0, t.codes.length, ...ownCodes);

    assert.deepEqual(await listTree(t, AS_DECOY), []);
    await t.ok(['put', '-', '/decoy.txt'], { stdin: 'decoy', ...AS_DECOY });
    assert.deepEqual((await listTree(t, AS_DECOY)).map((e) => e.path), ['/decoy.txt']);
    assert.deepEqual((await listTree(t)).map((e) => e.path), ['/mine.bin']);
    assert.equal(sha256((await t.ok(['get', '/mine.bin', '-'])).stdout), sha256(data));
    assert.equal(text(await t.ok(['get', '/decoy.txt', '-'], asCode(decoyCodes[0]!))), 'decoy');
    for (const code of t.codes) await t.ok(['ls'], asCode(code));

    // a second decoy is refused and breaks nothing
    const again = await t.run(['init', '--decoy', '--yes'], { env: { ELOHIM_DECOY_PASSPHRASE: 'a third passphrase' } });
    assert.notEqual(again.code, 0, describeRun(again));
    assert.deepEqual((await listTree(t)).map((e) => e.path), ['/mine.bin']);
    assert.deepEqual((await listTree(t, AS_DECOY)).map((e) => e.path), ['/decoy.txt']);
  });

  test('init --decoy without --yes, run in the decoy session, refuses and never destroys the real vault’s key slots', async () => {
    // README: adding a decoy later asks for --yes, since from a decoy it would destroy the vault behind it.
    const t = await initHome({ decoy: true });
    await t.ok(['put', '-', '/real.txt'], { stdin: 'real' });
    const r = await t.run(['init', '--decoy'], { env: { ELOHIM_PASSPHRASE: DECOY_PASSPHRASE, ELOHIM_DECOY_PASSPHRASE: 'a third passphrase' } });
    assert.equal(r.code, 2, describeRun(r));
    const lost: string[] = [];
    const check = async (what: string, opts: RunOptions) => {
      const got = await t.run(['get', '/real.txt', '-'], opts);
      if (got.code === 0 && text(got) === 'real') return;
      lost.push(what);
      await t.ok(['ls'], AS_DECOY); // a good unlock resets the growing delay, so the next check runs at once
    };
    await check('the passphrase', {});
    for (const [i, code] of t.codes.entries()) await check(`recovery code ${i + 1}`, asCode(code));
    assert.deepEqual(lost, [], `the real vault can no longer be opened with: ${lost.join(', ')} (init --decoy exit ${r.code})`);
    await t.ok(['ls'], AS_DECOY);
  });

  test('init --decoy --yes in the decoy session does what the README warns: the decoy moves behind a new front vault, and the vault that stood there is gone', async () => {
    const t = await initHome({ decoy: true });
    await t.ok(['put', '-', '/real.txt'], { stdin: 'real' });
    await t.ok(['put', '-', '/decoy.txt'], { stdin: 'decoy', ...AS_DECOY });
    await t.ok(['init', '--decoy', '--yes'], { env: { ELOHIM_PASSPHRASE: DECOY_PASSPHRASE, ELOHIM_DECOY_PASSPHRASE: 'a third passphrase' } });
    assert.equal(text(await t.ok(['get', '/decoy.txt', '-'], AS_DECOY)), 'decoy');
    assert.deepEqual(await listTree(t, { env: { ELOHIM_PASSPHRASE: 'a third passphrase' } }), []);
    assert.notEqual((await t.run(['ls'])).code, 0, 'the vault that stood behind the decoy still opens');
  });

  test('init --decoy refuses a decoy passphrase equal to the real one (exit 2)', async () => {
    const t = await initHome();
    const r = await t.run(['init', '--decoy', '--yes'], { env: { ELOHIM_DECOY_PASSPHRASE: PASSPHRASE } });
    assert.equal(r.code, 2, describeRun(r));
    await t.ok(['ls']);
  });

  test('init --decoy with a wrong real passphrase counts as a failed unlock (the growing delay applies)', async () => {
    // README: "After three wrong attempts each further attempt waits longer … across runs."
    const t = await initHome();
    for (let i = 0; i < 3; i++) {
      const r = await t.run(['init', '--decoy', '--yes'], { env: { ELOHIM_PASSPHRASE: `guess ${i}`, ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
      assert.equal(r.code, 3, describeRun(r));
    }
    // Counted where every unlock counts them (a check of the next command's wait message would
    // depend on how fast the machine starts it: the first delay is only 1 s).
    const throttle = JSON.parse(await readFile(join(t.home, 'unlock-throttle.json'), 'utf8')) as { failures: number; notBefore: number };
    assert.equal(throttle.failures, 3, 'three wrong passphrases through init --decoy earned no delay: an unthrottled guessing oracle');
    assert.ok(throttle.notBefore > Date.now() - 60_000, 'no delay was set');
    const next = await t.run(['ls', '--json']);
    assert.equal(next.code, 0, describeRun(next));
  });
});
