/**
 * The environment an elohim process runs in, as users start it: `npm start` (the README's way to
 * bring the app up) and the bin run as a program (`npx elohim`, its shebang). Both give glibc
 * MALLOC_ARENA_MAX=2, which only works when set before the process starts, and V8's 1 MiB young
 * generation (bin/elohim.js says why for both: the mesh's servers over their 250 MiB limit
 * without them). `npm start`'s server also grows V8's old generation by a fixed half
 * (ARCHITECTURE, Runtime and toolchain; not the CLI's, where it raised a first backup's peak).
 * The bin run as a program also asks glibc for huge pages for malloc's big blocks (Argon2id's
 * 64 MiB: bin/elohim.js says why); `npm start`'s server does not (it gained nothing).
 * Read from /proc of the running server, not from the files meant to set them.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { readdir, readFile } from 'node:fs/promises';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';
import { CLI, cliEnv, REPO } from './helpers.ts';

const onLinux = process.platform === 'linux';

/** The process ids below `pid`, all generations (from /proc's children lists). */
async function descendants(pid: number): Promise<number[]> {
  const out: number[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    const kids = (await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean).map(Number);
    for (const kid of kids) out.push(kid, ...(await descendants(kid)));
  }
  return out;
}

/** Variables of a running process, from /proc/<pid>/environ. */
async function environOf(pid: number): Promise<Map<string, string>> {
  const raw = await readFile(`/proc/${pid}/environ`, 'utf8');
  return new Map(raw.split('\0').filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

/**
 * Starts `command` (in a process group of its own, so that npm's children go with it) and waits
 * until the server says where it listens; then the pid of the node process running the bin.
 */
async function startServer(t: test.TestContext, command: string, args: string[], env: NodeJS.ProcessEnv): Promise<number> {
  const child: ChildProcess = spawn(command, args, { cwd: REPO, env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      try {
        process.kill(-child.pid!, 'SIGTERM');
      } catch {
        // gone already
      }
      const killer = setTimeout(() => {
        try {
          process.kill(-child.pid!, 'SIGKILL');
        } catch {
          // gone already
        }
      }, 10_000);
      await exited;
      clearTimeout(killer);
    }
  });
  let output = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start in 60 s:\n${output}`)), 60_000);
    const keep = (chunk: Buffer) => {
      output = (output + chunk.toString('utf8')).slice(-20_000);
      if (/serving http:\/\/\S+ \(/.test(output)) {
        clearTimeout(timer);
        resolve();
      }
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      reject(new Error(`exited (${code ?? signal}) before listening:\n${output}`));
    });
  });
  for (const pid of [child.pid!, ...(await descendants(child.pid!))]) {
    const cmdline = await readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.split('\0').some((a) => a.endsWith(join('bin', 'elohim.js')))) return pid;
  }
  throw new Error('no process runs bin/elohim.js');
}

async function tempHome(t: test.TestContext): Promise<string> {
  const home = await mkdtemp(join(tmpdir(), 'elohim-env-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  return home;
}

const serveArgs = ['--host', '127.0.0.1', '--port', '0', '--log-level', 'warn'];

test('npm start runs the server with two glibc arenas, the 1 MiB young generation and a fixed old-generation growth', { skip: !onLinux && 'reads /proc', timeout: 120_000 }, async (t) => {
  const env = cliEnv({ ELOHIM_HOME: await tempHome(t), MALLOC_ARENA_MAX: undefined, GLIBC_TUNABLES: undefined });
  const pid = await startServer(t, 'npm', ['start', '--silent', '--', ...serveArgs], env);
  const environ = await environOf(pid);
  assert.equal(environ.get('MALLOC_ARENA_MAX'), '2');
  assert.equal(environ.get('GLIBC_TUNABLES'), undefined, 'no huge pages for the server');
  // And the V8 flag bench:sync measures the server with (bin/elohim.js says why).
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  assert.ok(argv.includes('--max-semi-space-size=1'), argv.join(' '));
  // Old-generation limits a fixed half above what a full collection left (package.json; without
  // it a forced collection could leave V8 collecting every ~100 ms through a sync's big files).
  assert.ok(argv.includes('--heap-growing-percent=50'), argv.join(' '));
});

test('the bin run as a program (npx elohim) runs with two glibc arenas, huge pages for malloc and its V8 flag', { skip: !onLinux && 'reads /proc', timeout: 120_000 }, async (t) => {
  // As npx runs it: node_modules/.bin first on PATH, so `env` finds the pinned Node.
  const env = cliEnv({ ELOHIM_HOME: await tempHome(t), MALLOC_ARENA_MAX: undefined, GLIBC_TUNABLES: undefined, PATH: [join(REPO, 'node_modules', '.bin'), process.env.PATH].join(delimiter) });
  const pid = await startServer(t, CLI, ['serve', ...serveArgs], env);
  const environ = await environOf(pid);
  assert.equal(environ.get('MALLOC_ARENA_MAX'), '2');
  assert.equal(environ.get('GLIBC_TUNABLES'), 'glibc.malloc.hugetlb=1');
  const argv = (await readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0');
  assert.ok(argv.includes('--max-semi-space-size=1'), argv.join(' '));
});
