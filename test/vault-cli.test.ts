/**
 * End-to-end suite of the encrypted vault through the real `elohim` CLI (issue "The spine"):
 * every test runs `node bin/elohim.js …` as a child process on its own temporary ELOHIM_HOME.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, open, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import {
  CHEAP_KDF,
  FOREIGN_RECIPIENT,
  describeRun,
  initHome,
  listFiles,
  listTrash,
  listTree,
  makeHome,
  objectFiles,
  removeTempDirs,
  requireTool,
  runCli,
  runTool,
  sha256,
  sha256File,
  snapshot,
} from './helpers.ts';
import type { Entry, RunResult, TestHome } from './helpers.ts';

after(removeTempDirs);

/** Asserts a run failed with `code` and a one-line `elohim: …` message on stderr. */
function assertFails(r: RunResult, code: number, what: string, message?: RegExp): void {
  assert.equal(r.code, code, `${what}: expected exit ${code}, got ${describeRun(r)}`);
  assert.match(r.stderr, /^elohim: \S.*$/m, `${what}: no "elohim: …" message on stderr: ${describeRun(r)}`);
  if (message) assert.match(r.stderr, message, `${what}: ${describeRun(r)}`);
}

const json = <T>(r: RunResult): T => JSON.parse(r.stdout.toString('utf8')) as T;
const text = (r: RunResult): string => r.stdout.toString('utf8');
const byPath = (entries: Entry[]) => new Map(entries.map((e) => [e.path, e]));

// Suites use their own homes, so two run at a time; the tests inside each run in order.
describe('elohim vault CLI', { concurrency: 2 }, () => {
  describe('init', { concurrency: 1 }, () => {
    test('prints exactly 10 distinct recovery codes, once', async () => {
      const t = await makeHome();
      const r = await t.ok(['init', ...CHEAP_KDF]);
      const out = text(r);
      const codes = [...out.matchAll(/^\s*\d+\.\s+([0-9A-Z]{4}(?:-[0-9A-Z]{4}){5})\s*$/gm)].map((m) => m[1]!);
      assert.equal(codes.length, 10, `expected 10 recovery codes in:\n${out}`);
      assert.equal(new Set(codes).size, 10, 'recovery codes must differ');
      assert.ok(existsSync(join(t.home, 'keyslots.bin')));
      // and nothing else is printed that looks like a code (e.g. a decoy's)
      assert.doesNotMatch(out, /DECOY/i);
    });

    test('a second init fails with exit 5 and leaves the vault as it was', async () => {
      const t = await initHome();
      await writeFile(join(t.work, 'a.txt'), 'kept');
      await t.ok(['put', join(t.work, 'a.txt'), '/a.txt']);
      const slotsBefore = sha256(await readFile(join(t.home, 'keyslots.bin')));
      const r = await t.run(['init', ...CHEAP_KDF], { env: { ELOHIM_PASSPHRASE: 'another passphrase' } });
      assertFails(r, 5, 'init twice', /already/);
      assert.equal(sha256(await readFile(join(t.home, 'keyslots.bin'))), slotsBefore, 'keyslots.bin changed');
      assert.equal(text(await t.ok(['get', '/a.txt', '-'])), 'kept');
    });
  });

  describe('put and get round trips', { concurrency: 1 }, () => {
    let t: TestHome;

    test('host files of 0, 1, 65536, 65537 bytes and ~5 MiB come back byte for byte', async () => {
      t = await initHome();
      for (const size of [0, 1, 65536, 65537, 5 * 1024 * 1024 + 123]) {
        const data = randomBytes(size);
        const src = join(t.work, `in-${size}.bin`);
        await writeFile(src, data);
        await t.ok(['put', '-p', src, `/sizes/file-${size}.bin`]);
        const dst = join(t.work, `out-${size}.bin`);
        await t.ok(['get', `/sizes/file-${size}.bin`, dst]);
        assert.equal(await sha256File(dst), sha256(data), `round trip of ${size} bytes`);
      }
      const listed = json<Entry[]>(await t.ok(['ls', '--json', '/sizes']));
      assert.deepEqual(listed.map((e) => [e.name, e.size]).sort(), [0, 1, 65536, 65537, 5 * 1024 * 1024 + 123].map((n) => [`file-${n}.bin`, n]).sort());
    });

    test('stdin → put - /path, and get /path - to stdout', async () => {
      const data = Buffer.concat([Buffer.from('from stdin\n'), randomBytes(200_000)]);
      await t.ok(['put', '-', '/stdin.bin'], { stdin: data });
      const r = await t.ok(['get', '/stdin.bin', '-']);
      assert.equal(sha256(r.stdout), sha256(data));
      assert.equal(r.stdout.length, data.length);
      // empty stdin is an empty file, not an error
      await t.ok(['put', '-', '/empty-stdin'], { stdin: '' });
      assert.equal((await t.ok(['get', '/empty-stdin', '-'])).stdout.length, 0);
    });

    test('get to a host file that exists fails with exit 5 and leaves it alone; -f overwrites', async () => {
      const dst = join(t.work, 'exists.txt');
      await writeFile(dst, 'mine');
      assertFails(await t.run(['get', '/stdin.bin', dst]), 5, 'get onto an existing host file');
      assert.equal(await readFile(dst, 'utf8'), 'mine');
      await t.ok(['get', '-f', '/stdin.bin', dst]);
      assert.ok((await readFile(dst)).subarray(0, 11).equals(Buffer.from('from stdin\n')));
    });
  });

  describe('folders: put recursively, ls, ls -l, ls --json', { concurrency: 1 }, () => {
    let t: TestHome;
    const files: Record<string, Buffer> = {
      'a.txt': Buffer.from('alpha\n'),
      'sub/b.bin': randomBytes(100_000),
      'sub/deeper/c.txt': Buffer.from('charlie\n'),
      'sub/deeper/empty.txt': Buffer.alloc(0),
      'big.bin': randomBytes(1536 * 1024), // above the small-file limit: the streaming path
    };

    test('a nested host folder lands under its own name with every file intact', async () => {
      t = await initHome();
      const src = join(t.work, 'tree');
      for (const [rel, data] of Object.entries(files)) {
        await mkdir(join(src, rel, '..'), { recursive: true });
        await writeFile(join(src, rel), data);
      }
      await t.ok(['put', src]);
      const tree = byPath(await listTree(t));
      for (const [rel, data] of Object.entries(files)) {
        const e = tree.get(`/tree/${rel}`);
        assert.ok(e, `/tree/${rel} missing from ${[...tree.keys()].join(', ')}`);
        assert.equal(e.kind, 'file');
        assert.equal(e.size, data.length);
        assert.equal(sha256((await t.ok(['get', `/tree/${rel}`, '-'])).stdout), sha256(data), `/tree/${rel}`);
      }
      assert.equal(tree.get('/tree/sub')?.kind, 'folder');
      assert.equal(tree.get('/tree/sub/deeper')?.kind, 'folder');
      assert.equal([...tree.values()].filter((e) => e.kind === 'file').length, Object.keys(files).length);
    });

    test('ls prints names, folders first with a slash; ls -l adds kind, size and date', async () => {
      const plain = text(await t.ok(['ls', '/tree']));
      assert.deepEqual(plain.trimEnd().split('\n'), ['sub/', 'a.txt', 'big.bin']);
      const long = text(await t.ok(['ls', '-l', '/tree'])).trimEnd().split('\n');
      assert.equal(long.length, 3);
      assert.match(long[0]!, /^d\s.*\d{4}-\d\d-\d\d \d\d:\d\d\s+sub\/$/);
      assert.match(long[1]!, /^-\s+6 B\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+a\.txt$/);
      assert.match(long[2]!, /^-\s+1\.5 MiB\s+\d{4}-\d\d-\d\d \d\d:\d\d\s+big\.bin$/);
    });

    test('ls --json gives kind, name, path and size of each entry', async () => {
      const entries = json<Entry[]>(await t.ok(['ls', '--json', '/tree/sub']));
      assert.deepEqual(
        entries.map((e) => [e.kind, e.name, e.path, e.size]),
        [
          ['folder', 'deeper', '/tree/sub/deeper', 0],
          ['file', 'b.bin', '/tree/sub/b.bin', 100_000],
        ],
      );
      for (const e of entries) assert.match(e.id, /^[0-9a-f]{32}$/);
    });

    test('a folder put into an existing folder given with a trailing slash goes under its own name', async () => {
      // `put --help`: "a folder (or a path ending in /) receives it under its own name"
      const src = join(t.work, 'photos');
      await mkdir(src);
      await writeFile(join(src, 'p1.jpg'), 'one');
      await t.ok(['mkdir', '/backup']);
      await t.ok(['put', src, '/backup/']);
      const tree = byPath(await listTree(t));
      assert.ok(tree.has('/backup/photos/p1.jpg'), `expected /backup/photos/p1.jpg, have ${[...tree.keys()].join(', ')}`);
    });
  });

  describe('mkdir, mv, rm and the trash', { concurrency: 1 }, () => {
    let t: TestHome;

    test('mkdir -p creates missing parents and accepts an existing folder; plain mkdir of an existing one is exit 5', async () => {
      t = await initHome();
      await t.ok(['mkdir', '-p', '/projects/2026/q1']);
      await t.ok(['mkdir', '-p', '/projects/2026']);
      assertFails(await t.run(['mkdir', '/projects']), 5, 'mkdir of an existing folder');
      assertFails(await t.run(['mkdir', '/nope/child']), 4, 'mkdir without -p under a missing folder');
      const tree = byPath(await listTree(t));
      assert.deepEqual([...tree.keys()], ['/projects', '/projects/2026', '/projects/2026/q1']);
    });

    test('mv renames, moves into a folder, and refuses to move a folder into itself (exit 2)', async () => {
      await writeFile(join(t.work, 'r.txt'), 'report');
      await t.ok(['put', join(t.work, 'r.txt'), '/report.txt']);
      await t.ok(['mv', '/report.txt', '/renamed.txt']);
      await t.ok(['mv', '/renamed.txt', '/projects/2026/']);
      let tree = byPath(await listTree(t));
      assert.ok(!tree.has('/report.txt') && !tree.has('/renamed.txt'));
      assert.equal(text(await t.ok(['get', '/projects/2026/renamed.txt', '-'])), 'report');

      const before = await snapshot(t);
      assertFails(await t.run(['mv', '/projects', '/projects/2026/q1']), 2, 'mv folder into its own subfolder', /itself/);
      assertFails(await t.run(['mv', '/projects', '/projects']), 2, 'mv folder into itself');
      assertFails(await t.run(['mv', '/projects', '/projects/2026/new-name']), 2, 'mv folder to a new name inside itself');
      assert.deepEqual(await snapshot(t), before, 'a refused mv changed the vault');

      await t.ok(['mv', '/projects/2026', '/archive']);
      tree = byPath(await listTree(t));
      assert.ok(tree.has('/archive/renamed.txt') && tree.has('/archive/q1') && !tree.has('/projects/2026'));
    });

    let trashedId = '';
    test('rm sends a file to the trash, where trash ls shows it with its id', async () => {
      await writeFile(join(t.work, 'n.txt'), 'note v1');
      await t.ok(['put', join(t.work, 'n.txt'), '/archive/note.txt']);
      const r = await t.ok(['rm', '/archive/note.txt']);
      assert.ok(!byPath(await listTree(t)).has('/archive/note.txt'));
      const trash = await listTrash(t);
      assert.equal(trash.length, 1);
      assert.equal(trash[0]!.originalPath, '/archive/note.txt');
      trashedId = trash[0]!.id;
      const human = text(await t.ok(['trash', 'ls']));
      assert.match(human, new RegExp(`^${trashedId.slice(0, 8)}\\s.*/archive/note\\.txt$`, 'm'));
      assert.match(r.stderr, new RegExp(trashedId.slice(0, 8)));
    });

    test('trash restore <id> puts it back where it was', async () => {
      await t.ok(['trash', 'restore', trashedId.slice(0, 8)]);
      assert.equal(text(await t.ok(['get', '/archive/note.txt', '-'])), 'note v1');
      assert.deepEqual(await listTrash(t), []);
    });

    test('restoring onto a name taken meanwhile restores under a "(restored)" name', async () => {
      await t.ok(['rm', '/archive/note.txt']);
      await writeFile(join(t.work, 'n2.txt'), 'note v2');
      await t.ok(['put', join(t.work, 'n2.txt'), '/archive/note.txt']);
      const id = (await listTrash(t))[0]!.id;
      await t.ok(['trash', 'restore', id]);
      assert.equal(text(await t.ok(['get', '/archive/note.txt', '-'])), 'note v2');
      assert.equal(text(await t.ok(['get', '/archive/note (restored).txt', '-'])), 'note v1');
    });

    test('rm + trash empty deletes the file for good, object file included', async () => {
      const objectsBefore = new Set(await objectFiles(t.home));
      await writeFile(join(t.work, 'doomed.bin'), randomBytes(70_000));
      await t.ok(['put', join(t.work, 'doomed.bin'), '/doomed.bin']);
      const added = (await objectFiles(t.home)).filter((o) => !objectsBefore.has(o));
      assert.equal(added.length, 1, 'one put adds one object file');
      const keep = await objectFiles(t.home);
      await t.ok(['rm', '/doomed.bin', '/archive/note (restored).txt']);
      assert.equal((await listTrash(t)).length, 2);
      await t.ok(['trash', 'empty']);
      assert.deepEqual(await listTrash(t), []);
      const after = await objectFiles(t.home);
      assert.ok(!after.includes(added[0]!), 'the object of the deleted file is still in objects/');
      assert.equal(after.length, keep.length - 2, 'exactly the two emptied files lost their objects');
      assert.equal(text(await t.ok(['get', '/archive/note.txt', '-'])), 'note v2');
    });

    test('rm of a folder trashes everything in it; restore brings it all back', async () => {
      await t.ok(['rm', '/archive']);
      assert.deepEqual((await listTree(t)).map((e) => e.path), ['/projects'], 'only /projects should be left');
      const trash = await listTrash(t);
      assert.deepEqual(trash.map((e) => [e.kind, e.originalPath]), [['folder', '/archive']]);
      await t.ok(['trash', 'restore', trash[0]!.id]);
      assert.equal(text(await t.ok(['get', '/archive/renamed.txt', '-'])), 'report');
    });
  });

  describe('find', { concurrency: 1 }, () => {
    test('matches names case-insensitively, anywhere in the tree, and skips the trash', async () => {
      const t = await initHome();
      await t.ok(['mkdir', '-p', '/Reports/Old']);
      for (const [name, where] of [['Quarterly-REPORT.pdf', '/Reports'], ['report-draft.txt', '/Reports/Old'], ['notes.txt', '/'], ['trashed-report.txt', '/']]) {
        await writeFile(join(t.work, name!), name!);
        await t.ok(['put', join(t.work, name!), `${where}/${name}`.replace('//', '/')]);
      }
      await t.ok(['rm', '/trashed-report.txt']);
      const found = text(await t.ok(['find', 'RePoRt'])).trimEnd().split('\n').sort();
      assert.deepEqual(found, ['/Reports/', '/Reports/Old/report-draft.txt', '/Reports/Quarterly-REPORT.pdf']);
      const asJson = json<Entry[]>(await t.ok(['find', '--json', 'notes']));
      assert.deepEqual(asJson.map((e) => e.path), ['/notes.txt']);
      assert.equal(text(await t.ok(['find', 'no-such-thing'])), '');
    });
  });

  describe('put onto an existing name', { concurrency: 1 }, () => {
    test('fails with exit 5 and changes nothing; -f replaces and the old version goes to the trash', async () => {
      const t = await initHome();
      await writeFile(join(t.work, 'v1.txt'), 'version 1');
      await writeFile(join(t.work, 'v2.txt'), 'version 2');
      await t.ok(['put', join(t.work, 'v1.txt'), '/doc.txt']);
      const before = await snapshot(t);
      assertFails(await t.run(['put', join(t.work, 'v2.txt'), '/doc.txt']), 5, 'put onto an existing file', /exists/);
      assertFails(await t.run(['put', '-', '/doc.txt'], { stdin: 'version 3' }), 5, 'put - onto an existing file');
      assert.deepEqual(await snapshot(t), before, 'a refused put changed the vault');
      assert.equal(text(await t.ok(['get', '/doc.txt', '-'])), 'version 1');

      await t.ok(['put', '-f', join(t.work, 'v2.txt'), '/doc.txt']);
      assert.equal(text(await t.ok(['get', '/doc.txt', '-'])), 'version 2');
      const trash = await listTrash(t);
      assert.equal(trash.length, 1);
      assert.equal(trash[0]!.originalPath, '/doc.txt');
      await t.ok(['trash', 'restore', trash[0]!.id]);
      assert.equal(text(await t.ok(['get', '/doc (restored).txt', '-'])), 'version 1');
    });
  });

  describe('bad input', { concurrency: 1 }, () => {
    test('gets exit 2 (bad input) or 4 (not found), a clear message, and leaves the vault unchanged', async () => {
      const t = await initHome();
      const src = join(t.work, 'ok.txt');
      await writeFile(src, 'fine');
      await t.ok(['put', src, '/ok.txt']);
      await t.ok(['mkdir', '/dir']);
      await t.ok(['put', src, '/dir/inner.txt']);
      await t.ok(['rm', '/dir/inner.txt']);
      // a host folder with a name the vault cannot hold, beside good files: nothing may be written
      const badTree = join(t.work, 'badtree');
      await mkdir(badTree);
      await writeFile(join(badTree, 'good.txt'), 'good');
      await writeFile(join(badTree, 'bad\nname.txt'), 'bad');
      const long = 'x'.repeat(300);

      const before = await snapshot(t);
      const cases: [string[], number, string, RegExp?][] = [
        [['put', src, '/dir/../ok2.txt'], 2, '".." in a vault path', /\.\./],
        [['put', src, '/..'], 2, '".." as the whole name'],
        [['put', src, '/./x.txt'], 2, '"." as a name'],
        [['put', src, '/a\x01b.txt'], 2, 'control character \\x01 in a name', /control/],
        [['put', src, '/line\nbreak.txt'], 2, 'newline in a name', /control/],
        [['put', '-', '/tab\there'], 2, 'tab in a name read from stdin'],
        [['put', src, `/${long}`], 2, '300-byte name', /255/],
        [['put', src, `/${'é'.repeat(128)}`], 2, '256-byte name (multi-byte characters)', /255/],
        [['put', src, '/back\\slash'], 2, 'backslash in a name'],
        [['mkdir', '/ok/..'], 2, 'mkdir with ".."'],
        [['mkdir', `/${long}`], 2, 'mkdir with a 300-byte name'],
        [['mv', '/ok.txt', '/bad\x01.txt'], 2, 'mv to a name with a control character'],
        [['mv', '/ok.txt', '/dir/..'], 2, 'mv to ".."'],
        [['mv', '/ok.txt', '/ok.txt.'], 2, 'mv to a name with a trailing dot', /dot/],
        [['mkdir', '-p', '/new/deeper/ca\u200bfe'], 2, 'mkdir -p whose last name holds a zero-width space', /invisible/],
        [['mkdir', '-p', '/new/in\u202evoice/c'], 2, 'mkdir -p with a right-to-left override in a parent', /direction/],
        [['put', '-p', src, '/new/\u3164/ok.txt'], 2, 'put -p into a folder named by a Hangul filler', /visible/],
        [['put', badTree, '/imported'], 2, 'a host folder holding a name with a newline'],
        [['put', '-'], 2, 'put - without a vault path'],
        [['get', '/dir'], 2, 'get of a folder'],
        [['trash', 'restore', 'not-an-id'], 2, 'trash restore of a malformed id'],
        [['find', ''], 2, 'find of empty text'],
        [['put', join(t.work, 'missing.txt'), '/missing.txt'], 4, 'put of a missing host file', /missing\.txt/],
        [['put', src, '/nope/ok.txt'], 4, 'put under a missing folder without -p'],
        [['get', '/nope.txt', '-'], 4, 'get of an unknown path', /nope\.txt/],
        [['get', '/dir/inner.txt', '-'], 4, 'get of a trashed file'],
        [['ls', '/nope'], 4, 'ls of an unknown folder'],
        [['rm', '/nope'], 4, 'rm of an unknown path'],
        [['rm', '/ok.txt', '/nope'], 4, 'rm of a good and an unknown path (nothing trashed)'],
        [['mv', '/nope', '/x'], 4, 'mv of an unknown path'],
        [['mv', '/ok.txt', '/nope/x.txt'], 4, 'mv into a missing folder'],
        [['trash', 'restore', '0123456789abcdef'], 4, 'trash restore of an unknown id'],
        [['export', '/nope.txt', '-r', FOREIGN_RECIPIENT], 4, 'export of an unknown path'],
        [['export', '/ok.txt', '-r', 'age1notarecipient'], 2, 'export to a malformed recipient'],
      ];
      // every case runs, and all mismatches are reported together
      const wrong: string[] = [];
      for (const [args, code, what, message] of cases) {
        const r = await t.run(args);
        try {
          assertFails(r, code, what, message);
          assert.doesNotMatch(r.stderr, /internal error|\n\s+at /, `${what}: a stack trace or internal error: ${describeRun(r)}`);
        } catch (err) {
          wrong.push((err as Error).message.split('\n')[0]!);
        }
      }
      assert.deepEqual(await snapshot(t), before, 'bad input changed the vault');
      assert.deepEqual(wrong, []);
    });
  });

  describe('secrets', { concurrency: 1 }, () => {
    test('a wrong passphrase is exit 3; after 3 failures the message names the wait and the 4th attempt waits ≥ 1 s', async () => {
      const t = await initHome();
      const wrong = { env: { ELOHIM_PASSPHRASE: 'not the passphrase' } };
      const r1 = await t.run(['ls'], wrong);
      assertFails(r1, 3, 'first wrong passphrase', /wrong passphrase/);
      assertFails(await t.run(['ls'], wrong), 3, 'second wrong passphrase', /wrong passphrase/);
      assertFails(await t.run(['ls'], wrong), 3, 'third wrong passphrase', /wait/);
      // A fourth failure (after waiting out 1 s) sets a 2 s delay: a window wide enough that the
      // next command starts inside it even on a loaded machine.
      const r3 = await t.run(['ls'], wrong);
      const thirdDone = performance.now();
      assertFails(r3, 3, 'fourth wrong passphrase', /wait/);
      assert.match(r3.stderr, /\d+ s/, 'the message should say how long');
      // Counted from the moment the third attempt returned: spawn, start-up and the wait itself.
      const r4 = await t.run(['ls']);
      const fourth = performance.now() - thirdDone;
      assert.equal(r4.code, 0, describeRun(r4));
      assert.ok(fourth >= 1000, `the 4th attempt took ${fourth.toFixed(0)} ms, expected at least 1000`);
      assert.match(r4.stderr, /wait/);
    });

    test('a recovery code unlocks (env ELOHIM_RECOVERY_CODE); a wrong one is exit 3', async () => {
      const t = await initHome();
      await t.ok(['put', '-', '/x.txt'], { stdin: 'secret' });
      const viaCode = await t.ok(['get', '/x.txt', '-'], { env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: t.codes[3]! } });
      assert.equal(text(viaCode), 'secret');
      // lower-case and without dashes is the same code
      await t.ok(['ls'], { env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: t.codes[4]!.replace(/-/g, '').toLowerCase() } });
      // a code wins over a passphrase in the environment: the wrong code is not rescued by the right passphrase
      const wrongCode = 'ABCD-EFGH-JKMN-PQRS-TVWX-YZ01';
      assertFails(await t.run(['ls'], { env: { ELOHIM_RECOVERY_CODE: wrongCode } }), 3, 'wrong recovery code', /recovery code/);
      assertFails(await t.run(['ls'], { env: { ELOHIM_RECOVERY_CODE: 'nonsense' } }), 2, 'malformed recovery code');
    });

    test('passwd: the old passphrase stops working, the new one works, files and recovery codes still open', async () => {
      const t = await initHome();
      const data = randomBytes(150_000);
      await t.ok(['put', '-', '/keep.bin'], { stdin: data });
      const next = 'a brand new passphrase';
      const r = await t.ok(['passwd'], { env: { ELOHIM_NEW_PASSPHRASE: next } });
      assert.match(r.stderr, /changed/i);
      assertFails(await t.run(['ls']), 3, 'old passphrase after passwd', /wrong passphrase/);
      assert.equal(sha256((await t.ok(['get', '/keep.bin', '-'], { env: { ELOHIM_PASSPHRASE: next } })).stdout), sha256(data));
      const viaCode = await t.ok(['get', '/keep.bin', '-'], { env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: t.codes[0]! } });
      assert.equal(sha256(viaCode.stdout), sha256(data));
      // a forgotten passphrase: a recovery code sets a new one
      const third = 'set with a recovery code';
      await t.ok(['passwd'], { env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: t.codes[1]!, ELOHIM_NEW_PASSPHRASE: third } });
      assertFails(await t.run(['ls'], { env: { ELOHIM_PASSPHRASE: next } }), 3, 'second passphrase after the recovery passwd');
      assert.equal(sha256((await t.ok(['get', '/keep.bin', '-'], { env: { ELOHIM_PASSPHRASE: third } })).stdout), sha256(data));
      await t.ok(['ls'], { env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: t.codes[2]! } });
    });
  });

  describe('export interoperates with the age tool', { concurrency: 1 }, () => {
    let t: TestHome;
    let age: string;
    let keyFile: string;
    let recipient: string;
    const sizes = [0, 1, 65536, 65537, 300_000];
    const data = new Map<number, Buffer>();

    test('export -r age1… -o FILE decrypts with `age -d -i key` to the original bytes (chunk-boundary sizes)', async () => {
      age = requireTool('age');
      const ageKeygen = requireTool('age-keygen');
      t = await initHome();
      keyFile = join(t.work, 'key.txt');
      const kg = runTool(ageKeygen, ['-o', keyFile]);
      assert.equal(kg.code, 0, kg.stderr);
      recipient = runTool(ageKeygen, ['-y', keyFile]).stdout.toString('utf8').trim();
      assert.match(recipient, /^age1[0-9a-z]+$/);
      for (const size of sizes) {
        const d = randomBytes(size);
        data.set(size, d);
        await t.ok(['put', '-', `/f-${size}.bin`], { stdin: d });
        const out = join(t.work, `f-${size}.age`);
        await t.ok(['export', `/f-${size}.bin`, '-r', recipient, '-o', out]);
        const head = (await readFile(out)).subarray(0, 22).toString('latin1');
        assert.equal(head, 'age-encryption.org/v1\n', 'an export starts with the age header');
        const dec = runTool(age, ['-d', '-i', keyFile, out]);
        assert.equal(dec.code, 0, `age -d of a ${size}-byte export: ${dec.stderr}`);
        assert.equal(sha256(dec.stdout), sha256(d), `age -d of a ${size}-byte export gave other bytes`);
      }
    });

    test('export -a (armored, to stdout) decrypts with age too; several -r all work', async () => {
      assert.ok(t, 'needs the vault of the previous test');
      const d = data.get(65537)!;
      const r = await t.ok(['export', '/f-65537.bin', '-r', FOREIGN_RECIPIENT, '-r', recipient, '-a']);
      assert.match(text(r), /^-----BEGIN AGE ENCRYPTED FILE-----\n/);
      assert.match(text(r), /-----END AGE ENCRYPTED FILE-----\n?$/);
      const dec = runTool(age, ['-d', '-i', keyFile], r.stdout);
      assert.equal(dec.code, 0, dec.stderr);
      assert.equal(sha256(dec.stdout), sha256(d));
    });

    test('export --identity prints AGE-SECRET-KEY-1…, which opens exports to the vault’s own recipient', async () => {
      assert.ok(t, 'needs the vault of the previous test');
      const ageKeygen = requireTool('age-keygen');
      const r = await t.ok(['export', '--identity']);
      assert.match(text(r), /^AGE-SECRET-KEY-1[0-9A-Z]+\n$/);
      const idFile = join(t.work, 'vault-identity.txt');
      await writeFile(idFile, r.stdout, { mode: 0o600 });
      const own = runTool(ageKeygen, ['-y', idFile]);
      assert.equal(own.code, 0, own.stderr);
      const ownRecipient = own.stdout.toString('utf8').trim();
      assert.match(ownRecipient, /^age1[0-9a-z]+$/);
      const out = join(t.work, 'own.age');
      await t.ok(['export', '/f-300000.bin', '-r', ownRecipient, '-o', out]);
      const dec = runTool(age, ['-d', '-i', idFile, out]);
      assert.equal(dec.code, 0, dec.stderr);
      assert.equal(sha256(dec.stdout), sha256(data.get(300_000)!));
      // the identity is the vault's: the same on the next run
      assert.equal(text(await t.ok(['export', '--identity'])), text(r));
    });
  });

  describe('verify and damaged objects', { concurrency: 1 }, () => {
    test('verify is 0 when healthy; one flipped byte makes verify exit 6 naming the file, and get exit 6 with no output file', async () => {
      const t = await initHome();
      const good = randomBytes(90_000);
      await t.ok(['put', '-', '/good.bin'], { stdin: good });
      await t.ok(['put', '-p', '-', '/docs/also-good.txt'], { stdin: 'fine' });
      const before = new Set(await objectFiles(t.home));
      const victim = randomBytes(4 * 65536 + 100); // five chunks
      await t.ok(['put', '-', '/docs/victim.bin'], { stdin: victim });
      const added = (await objectFiles(t.home)).filter((o) => !before.has(o));
      assert.equal(added.length, 1);

      const healthy = await t.run(['verify']);
      assert.equal(healthy.code, 0, describeRun(healthy));
      assert.match(text(healthy), /^3 files, .* 0 damaged$/m);

      // flip one byte in the last chunk, so a reader has already produced output when it notices
      const objPath = join(t.home, 'objects', added[0]!);
      const fh = await open(objPath, 'r+');
      try {
        const size = (await fh.stat()).size;
        const b = Buffer.alloc(1);
        await fh.read(b, 0, 1, size - 40);
        b[0]! ^= 0x01;
        await fh.write(b, 0, 1, size - 40);
      } finally {
        await fh.close();
      }

      const damaged = await t.run(['verify']);
      assert.equal(damaged.code, 6, describeRun(damaged));
      assert.match(text(damaged), /^DAMAGED \/docs\/victim\.bin/m);
      assert.doesNotMatch(text(damaged), /DAMAGED \/(good\.bin|docs\/also-good\.txt)/);
      const report = JSON.parse(text(await t.run(['verify', '--json']))) as { files: number; damaged: { path: string }[] };
      assert.equal(report.files, 3);
      assert.deepEqual(report.damaged.map((d) => d.path), ['/docs/victim.bin']);

      const outDir = join(t.work, 'out');
      await mkdir(outDir);
      const get = await t.run(['get', '/docs/victim.bin', join(outDir, 'victim.bin')]);
      assertFails(get, 6, 'get of a damaged file');
      assert.deepEqual(await readdir(outDir), [], 'a failed get left a file (or a partial temp file) behind');
      assert.equal((await t.run(['get', '/docs/victim.bin', '-'])).code, 6, 'get of a damaged file to stdout');
      // the other files are unharmed
      assert.equal(sha256((await t.ok(['get', '/good.bin', '-'])).stdout), sha256(good));
      // and verify still reports the damaged file after it went to the trash
      await t.ok(['rm', '/docs/victim.bin']);
      const inTrash = await t.run(['verify']);
      assert.equal(inTrash.code, 6);
      assert.match(text(inTrash), /DAMAGED \/docs\/victim\.bin/);
    });
  });

  describe('--help', { concurrency: 1 }, () => {
    test('works on every command and subcommand (exit 0) and touches no data', async () => {
      const t = await makeHome();
      const top = await runCli(['--help'], { env: { ELOHIM_HOME: t.home } });
      assert.equal(top.code, 0, describeRun(top));
      const section = (text(top).split(/^Commands:$/m)[1] ?? '').split('\n\n')[0]!;
      const commands = [...section.matchAll(/^ {2}(\S+)/gm)].map((m) => m[1]!.split('|')[0]!).filter((c) => c !== 'help');
      for (const expected of ['init', 'passwd', 'put', 'get', 'ls', 'mkdir', 'mv', 'rm', 'trash', 'find', 'verify', 'export']) {
        assert.ok(commands.includes(expected), `${expected} missing from elohim --help`);
      }
      const all = [...commands.map((c) => [c]), ['trash', 'ls'], ['trash', 'restore'], ['trash', 'empty']];
      for (const cmd of all) {
        const r = await runCli([...cmd, '--help'], { env: { ELOHIM_HOME: t.home } });
        assert.equal(r.code, 0, `${cmd.join(' ')} --help: ${describeRun(r)}`);
        assert.match(text(r), new RegExp(`^Usage: elohim ${cmd.join(' ')}\\b`, 'm'), `${cmd.join(' ')} --help`);
      }
      assert.deepEqual(await listFiles(t.home), [], '--help created files in ELOHIM_HOME');
    });
  });
});
