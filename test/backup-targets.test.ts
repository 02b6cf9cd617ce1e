/**
 * The compliance suite every backup target passes (STYLE.md habit 11): the same cases against a
 * local folder, an S3 bucket on s3rver, WebDAV on two real servers (`rclone serve webdav` and
 * Apache mod_dav_fs, the strict one) and rclone remotes of type webdav and s3 pointing at those,
 * every server started by this file on 127.0.0.1. Failure cases (missing folder or bucket, wrong
 * credentials, a full device, an unreachable server, a server killed mid-upload, an abort) are
 * the errors the faces turn into words, so each is checked by its reason.
 *
 * s3rver does not check SigV4 signatures (only that the access key exists): signing is the AWS
 * SDK's own, exercised by every call here; wrong credentials are an unknown access key.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmdirSync } from 'node:fs';
import { chown, mkdir, mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, before, describe, test } from 'node:test';
import { createLocalTarget, createRcloneTarget, createS3Target, createWebDavTarget, isTargetError } from '../src/backup/index.ts';
import type { Target } from '../src/backup/index.ts';
import { startS3rverProcess } from './helpers/s3rver-process.ts';
import type { S3Process } from './helpers/s3rver-process.ts';
import { startApacheDav, startRcloneWebdav } from './helpers/webdav-servers.ts';
import type { DavServer } from './helpers/webdav-servers.ts';

const FAST_RETRY = { attempts: 3, baseMs: 5, maxMs: 20 };
const CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' };

interface Harness {
  name: string;
  setUp(): Promise<void>;
  target(): Target;
  /** a target whose folder or bucket does not exist */
  missing(): Target;
  /** a target with a wrong password or key (none for a folder) */
  wrongCredentials?(): Target;
  /** the server killed at once (SIGKILL), and started again (none for a folder) */
  kill?(): Promise<void>;
  restart?(): Promise<void>;
  /** why this server may keep a part of an interrupted upload under its name (a test server's quirk) */
  keepsPartialUploads?: string;
  tearDown(): Promise<void>;
}

/** `name` is absent, or (on a server with that quirk) shorter than what was being sent. */
async function assertNotWhole(h: Harness, t: Target, name: string, full: number): Promise<void> {
  const got = await t.get(name);
  if (h.keepsPartialUploads) assert.ok(got === null || got.length < full, h.keepsPartialUploads);
  else assert.equal(got, null);
}

function davHarness(name: string, start: () => Promise<DavServer>): Harness {
  let dav: DavServer;
  const make = (url: string, password: string) => createWebDavTarget({ url, username: dav.user, password, retry: FAST_RETRY });
  return {
    name,
    async setUp() {
      dav = await start();
    },
    target: () => make(dav.url, dav.pass),
    missing: () => make(`${dav.url}not-there/`, dav.pass),
    wrongCredentials: () => make(dav.url, 'not the password'),
    kill: () => dav.kill(),
    restart: () => dav.restart(),
    tearDown: () => dav.stop(),
  };
}

/** rclone's obscured form of a password, as `rclone config` writes it in the file. */
const obscure = (p: string) => execFileSync('rclone', ['obscure', p]).toString().trim();

function rcloneDavHarness(name: string, start: () => Promise<DavServer>): Harness {
  let dav: DavServer;
  const config = (pass: string) => `# the user's own rclone.conf\n[office-dav]\ntype = webdav\nurl = ${dav.url}\nvendor = other\nuser = ${dav.user}\npass = ${obscure(pass)}\n`;
  return {
    name,
    async setUp() {
      dav = await start();
      await mkdir(join(dav.dir, 'repo'));
      if (dav.kind === 'apache') await chown(join(dav.dir, 'repo'), (await stat(dav.dir)).uid, (await stat(dav.dir)).gid);
    },
    target: () => createRcloneTarget({ config: config(dav.pass), remote: 'office-dav:repo', retry: FAST_RETRY }),
    missing: () => createRcloneTarget({ config: config(dav.pass), remote: 'office-dav:not-there', retry: FAST_RETRY }),
    wrongCredentials: () => createRcloneTarget({ config: config('not the password'), remote: 'office-dav:repo', retry: FAST_RETRY }),
    kill: () => dav.kill(),
    restart: () => dav.restart(),
    tearDown: () => dav.stop(),
  };
}

function rcloneS3Harness(): Harness {
  let s3p: S3Process;
  const config = (secret: string) => `[store]\ntype = s3\nprovider = Other\naccess_key_id = ${secret}\nsecret_access_key = ${secret}\nendpoint = ${s3p.endpoint}\nforce_path_style = true\n`;
  return {
    name: 'rclone → s3 (s3rver)',
    async setUp() {
      s3p = await startS3rverProcess(['backups']);
    },
    target: () => createRcloneTarget({ config: config('S3RVER'), remote: 'store:backups/repo', retry: FAST_RETRY }),
    missing: () => createRcloneTarget({ config: config('S3RVER'), remote: 'store:no-such-bucket/repo', retry: FAST_RETRY }),
    wrongCredentials: () => createRcloneTarget({ config: config('NOT-A-KEY'), remote: 'store:backups/repo', retry: FAST_RETRY }),
    kill: () => s3p.kill(),
    restart: () => s3p.restart(),
    tearDown: () => s3p.stop(),
  };
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
  (() => {
    let s3p: S3Process;
    return {
      name: 's3 (s3rver)',
      async setUp() {
        s3p = await startS3rverProcess(['backups']);
      },
      target: () => s3TargetOn(s3p.endpoint),
      missing: () => s3TargetOn(s3p.endpoint, 'no-such-bucket'),
      wrongCredentials: () => s3TargetOn(s3p.endpoint, 'backups', { accessKeyId: 'NOT-A-KEY', secretAccessKey: 'nope' }),
      kill: () => s3p.kill(),
      restart: () => s3p.restart(),
      // Real S3 stores a PUT whole or not at all; s3rver writes the body as it comes.
      keepsPartialUploads: 's3rver keeps the part of an interrupted PUT it received',
      tearDown: () => s3p.stop(),
    };
  })(),
  davHarness('webdav (rclone serve webdav)', startRcloneWebdav),
  davHarness('webdav (apache mod_dav)', startApacheDav),
  rcloneDavHarness('rclone → webdav (apache mod_dav)', startApacheDav),
  rcloneDavHarness('rclone → webdav (rclone serve webdav)', startRcloneWebdav),
  rcloneS3Harness(),
];

/** A streamed body of `size` bytes whose first open calls `onFirstChunk` after its first 256 KiB. */
function trickle(bytes: Buffer, onFirstChunk: () => Promise<void>) {
  let opens = 0;
  const body = {
    size: bytes.length,
    open: async () => {
      const first = ++opens === 1;
      return Readable.from((async function* () {
        for (let at = 0; at < bytes.length; at += 256 * 1024) {
          yield bytes.subarray(at, at + 256 * 1024);
          if (first && at === 0) await onFirstChunk();
        }
      })());
    },
  };
  return { body, opens: () => opens };
}

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

    test('existence: a missing name is null for get, missing for read, absent from list', async () => {
      const t = h.target();
      assert.equal(await t.get('data/never-written'), null);
      assert.equal(await t.get('data/never-written', { range: { start: 0, end: 10 } }), null);
      await assert.rejects(t.read('data/never-written'), (err) => isTargetError(err, 'missing'));
      await t.delete('data/never-written');
      await t.put('data/empty', Buffer.alloc(0));
      assert.equal((await t.get('data/empty'))!.length, 0);
      assert.deepEqual((await t.list('data/empty')).map((e) => [e.name, e.size]), [['data/empty', 0]]);
    });

    test('hostile names are refused by every call, before any I/O', async () => {
      const t = h.target();
      for (const bad of ['../x', '../../etc/passwd', 'a/../../x', 'data/%2e%2e', 'data/x?y', 'data/x#y', 'data/\u0000', '/abs', 'data\\x']) {
        await assert.rejects(t.put(bad, Buffer.from('x')), { code: 'INVALID_INPUT' }, bad);
        await assert.rejects(t.get(bad), { code: 'INVALID_INPUT' }, bad);
        await assert.rejects(t.read(bad), { code: 'INVALID_INPUT' }, bad);
        await assert.rejects(t.delete(bad), { code: 'INVALID_INPUT' }, bad);
      }
      for (const bad of ['../', '../../', 'a/../']) await assert.rejects(t.list(bad), { code: 'INVALID_INPUT' }, bad);
    });

    test('an abort mid-upload stops the call with the reason and leaves no file', async () => {
      const t = h.target();
      const ac = new AbortController();
      const reason = new Error('user pressed stop');
      const { body } = trickle(randomBytes(4 * 1024 * 1024), async () => ac.abort(reason));
      await assert.rejects(t.put('data/stopped', body, { signal: ac.signal }), (err) => err === reason);
      await assertNotWhole(h, t, 'data/stopped', 4 * 1024 * 1024);
      if (!h.keepsPartialUploads) assert.deepEqual((await t.list('data/stopped')).map((e) => e.name), []);
    });

    // Reported as auth, a reason withRetry never retries (src/backup/target.test.ts checks that).
    test('wrong credentials are reported as auth, without the secret in the message', { skip: !h.wrongCredentials && 'a folder has no credentials' }, async () => {
      const t = h.wrongCredentials!();
      await assert.rejects(t.check(), (err) => isTargetError(err, 'auth'));
      await assert.rejects(t.put('data/x', Buffer.from('x')), (err) => isTargetError(err, 'auth') && !/not the password|nope/.test(String((err as Error).message)));
      await assert.rejects(t.list('data/'), (err) => isTargetError(err, 'auth'));
    });

    test('a server killed mid-upload: retried, then a clear unreachable error, and no partial file', { skip: !h.kill && 'a folder has no server' }, async () => {
      const t = h.target();
      const bytes = randomBytes(6 * 1024 * 1024);
      const { body, opens } = trickle(bytes, () => h.kill!());
      try {
        await assert.rejects(t.put('data/killed', body), (err) => isTargetError(err, 'unreachable') && /cannot be reached/.test((err as Error).message));
        assert.ok(opens() >= 2, `the upload was retried (${opens()} attempts)`);
      } finally {
        await h.restart!();
      }
      await assertNotWhole(h, t, 'data/killed', bytes.length);
      if (!h.keepsPartialUploads) assert.deepEqual((await t.list('data/')).filter((e) => e.name.startsWith('data/killed')), []);
      // The same upload again, to the server back up, goes through whole.
      await t.put('data/killed', { size: bytes.length, open: async () => Readable.from([bytes]) });
      assert.deepEqual(await t.get('data/killed'), bytes);
    });
  });
}

describe('target failures specific to a kind', () => {
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

  test('webdav: a full disk (507 Insufficient Storage from Apache) is reported as full, directly and through rclone', async (t) => {
    const dir = mkdtempSync(join(tmpdir(), 'elohim-full-dav-'));
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=1048576', 'tmpfs', dir], { stdio: 'pipe' });
    } catch (err) {
      rmdirSync(dir);
      t.skip(`cannot mount a tmpfs (needs root): ${String(err)}`);
      return;
    }
    const dav = await startApacheDav({ dir });
    try {
      const target = createWebDavTarget({ url: dav.url, username: dav.user, password: dav.pass, retry: FAST_RETRY });
      await assert.rejects(target.put('data/big', randomBytes(2 * 1024 * 1024)), (err) => isTargetError(err, 'full') && (err as { code: string }).code === 'DISK_FULL');
      assert.deepEqual(await target.list('data/'), []);
      await target.put('data/small', randomBytes(1000));
      assert.deepEqual((await target.list('data/')).map((e) => e.name), ['data/small']);
      const config = `[dav]\ntype = webdav\nurl = ${dav.url}\nvendor = other\nuser = ${dav.user}\npass = ${obscure(dav.pass)}\n`;
      const viaRclone = createRcloneTarget({ config, remote: 'dav:', retry: FAST_RETRY });
      await assert.rejects(viaRclone.put('data/big2', randomBytes(2 * 1024 * 1024)), (err) => isTargetError(err, 'full'));
    } finally {
      await dav.stop();
      execFileSync('umount', ['-l', dir]);
      rmdirSync(dir);
    }
  });

  test('webdav and rclone: a server that is not there is unreachable, after retries', async () => {
    const port = await new Promise<number>((resolve) => {
      const srv = createServer().listen(0, '127.0.0.1', () => {
        const p = (srv.address() as { port: number }).port;
        srv.close(() => resolve(p));
      });
    });
    const dav = createWebDavTarget({ url: `http://127.0.0.1:${port}/dav/`, username: 'u', password: 'p', retry: FAST_RETRY });
    await assert.rejects(dav.list('snapshots/'), (err) => isTargetError(err, 'unreachable'));
    await assert.rejects(dav.put('config', Buffer.from('x')), (err) => isTargetError(err, 'unreachable'));
    const config = `[dav]\ntype = webdav\nurl = http://127.0.0.1:${port}/\nvendor = other\n`;
    const viaRclone = createRcloneTarget({ config, remote: 'dav:repo', retry: FAST_RETRY });
    await assert.rejects(viaRclone.list('snapshots/'), (err) => isTargetError(err, 'unreachable'));
  });

  test('webdav: a server that takes the connection and never answers fails as transient after the idle time, retried', async () => {
    let connections = 0;
    const sockets = new Set<import('node:net').Socket>();
    const hung = createServer((socket) => {
      connections++;
      sockets.add(socket);
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => hung.listen(0, '127.0.0.1', resolve));
    try {
      const port = (hung.address() as { port: number }).port;
      const dav = createWebDavTarget({ url: `http://127.0.0.1:${port}/dav/`, username: 'u', password: 'p', retry: FAST_RETRY, idleTimeoutMs: 300 });
      await assert.rejects(dav.get('config'), (err) => isTargetError(err, 'transient') && /did not answer/.test((err as Error).message));
      await assert.rejects(dav.put('data/x', { size: 10, open: async () => Readable.from([Buffer.alloc(10)]) }), (err) => isTargetError(err, 'transient'));
      assert.ok(connections >= 2 * FAST_RETRY.attempts, `every attempt was made (${connections} connections)`);
    } finally {
      for (const s of sockets) s.destroy();
      await new Promise((resolve) => hung.close(resolve));
    }
  });

  test('webdav: bad addresses are refused when the target is made', () => {
    const bad = ['not a url', 'ftp://host/dav/', 'https://user:pw@host/dav/', 'https://host/dav/?x=1', 'http://nas.office.example/dav/'];
    for (const url of bad) assert.throws(() => createWebDavTarget({ url }), { code: 'INVALID_INPUT' }, url);
    // Plain http to this device is fine; to another host only when said so.
    createWebDavTarget({ url: 'http://127.0.0.1:8080/dav' });
    createWebDavTarget({ url: 'http://nas.office.example/dav/', allowInsecureHttp: true });
  });

  test('rclone: configs and remotes that cannot be used are refused when the target is made', () => {
    const ok = '[a]\ntype = local\n';
    const cases: [string, string][] = [
      ['RCLONE_ENCRYPT_V0:\nabc', 'a:x'],
      ['[a b]\ntype = local\n', 'a:x'],
      ['[a]\nno equals sign\n', 'a:x'],
      ['key = before any section\n', 'a:x'],
      ['[a]\nurl = x\n', 'a:x'],
      ['[a]\ntype = local\n[A]\ntype = local\n', 'a:x'],
      ['[a]\ntype = local\nbad-key = 1\n', 'a:x'],
      ['[a]\ntype = lo\u0000cal\n', 'a:x'],
      [ok, 'b:x'],
      [ok, ':local:/etc'],
      [ok, 'a'],
      [ok, 'a:x\ny'],
    ];
    for (const [config, remote] of cases) assert.throws(() => createRcloneTarget({ config, remote }), { code: 'INVALID_INPUT' }, `${JSON.stringify(config)} ${remote}`);
    createRcloneTarget({ config: ok, remote: 'A:some/folder' });
  });

  test('rclone: a missing rclone binary is a clear error, not a retried one', async () => {
    const t = createRcloneTarget({ config: '[a]\ntype = local\n', remote: 'a:/tmp', binary: '/nonexistent/rclone', retry: FAST_RETRY });
    await assert.rejects(t.list('snapshots/'), (err) => (err as { code?: string }).code === 'HOST_IO' && /rclone is not installed/.test((err as Error).message));
  });

  test('rclone: the config reaches rclone through the environment only, never a file or the command line', async () => {
    // A fake rclone that records its argv, its RCLONE_ variables and any rclone.conf it can see.
    const dir = await mkdtemp(join(tmpdir(), 'elohim-fake-rclone-'));
    try {
      const fake = join(dir, 'rclone');
      const out = join(dir, 'seen.json');
      const { writeFile, chmod, readFile } = await import('node:fs/promises');
      await writeFile(fake, `#!/usr/bin/env node\nrequire('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({ argv: process.argv.slice(2), env: Object.fromEntries(Object.entries(process.env).filter(([k]) => k.startsWith('RCLONE_') || k.startsWith('AWS_'))) }));\nprocess.stdout.write('[]');\n`);
      await chmod(fake, 0o755);
      process.env.AWS_CA_BUNDLE = '/should/not/pass';
      try {
        const t = createRcloneTarget({ config: '[vault-secret]\ntype = s3\nsecret_access_key = TOP-SECRET-KEY\n', remote: 'vault-secret:b', binary: fake, retry: FAST_RETRY });
        await t.list('snapshots/');
      } finally {
        delete process.env.AWS_CA_BUNDLE;
      }
      const seen = JSON.parse(await readFile(out, 'utf8')) as { argv: string[]; env: Record<string, string> };
      assert.equal(seen.env['RCLONE_CONFIG_VAULT-SECRET_SECRET_ACCESS_KEY'], 'TOP-SECRET-KEY');
      assert.equal(seen.env['RCLONE_CONFIG_VAULT-SECRET_TYPE'], 's3');
      assert.ok(!seen.argv.join(' ').includes('TOP-SECRET'));
      assert.equal(seen.env.AWS_CA_BUNDLE, undefined);
      assert.match(seen.env.RCLONE_CONFIG!, /^\/nonexistent\//);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
