/**
 * Models under kill -9 and races, through the CLI as a user runs it: a pull killed mid-download
 * resumes from its partial; an import killed while llama.cpp checks the file leaves a temp file
 * that the next import removes, and no model; two imports of one name at once leave one model.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { createModels, probeModel } from '../src/ai/models/index.ts';
import { isElohimError } from '../src/errors.ts';
import { TINY_GGUF, TINY_SHA256, tinyMissing } from './helpers/llama-data.ts';
import { startFileServer } from './helpers/model-file-server.ts';
import { CLI, cliEnv, makeHome, NODE, removeTempDirs } from './helpers.ts';

after(removeTempDirs);

/** Starts `elohim …args`, SIGKILLs it once `ready(stderr)` holds (polled), and waits for it to end. */
async function killWhen(home: string, args: string[], ready: (stderr: string) => boolean | Promise<boolean>): Promise<string> {
  const child = spawn(NODE, [CLI, ...args], { env: cliEnv({ ELOHIM_HOME: home }), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  let exited = false;
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const closed = new Promise<NodeJS.Signals | null>((resolve) => child.on('close', (_code, signal) => ((exited = true), resolve(signal))));
  for (;;) {
    if (exited) throw new Error(`ended before it was killed: ${stderr}`);
    if (await ready(stderr)) break;
    await new Promise((r) => setTimeout(r, 20));
  }
  child.kill('SIGKILL');
  assert.equal(await closed, 'SIGKILL');
  return stderr;
}

test('kill -9 mid-pull: the partial stays and the same pull resumes with a Range request', { skip: tinyMissing }, async (t) => {
  const files = await startFileServer(new Map([['/tiny.gguf', readFileSync(TINY_GGUF)]]));
  t.after(() => files.close());
  files.slow.set('/tiny.gguf', 80);
  const h = await makeHome();
  const url = `${files.url}/tiny.gguf`;
  const partDir = join(h.home, 'models', 'partial');
  // killed once some bytes are on disk
  const landed = async () => {
    const parts = (await readdir(partDir).catch(() => [] as string[])).filter((f) => f.endsWith('.part'));
    return parts.length === 1 && (await stat(join(partDir, parts[0]!))).size > 64 * 1024;
  };
  await killWhen(h.home, ['models', 'pull', url, '--name', 'tiny', '--sha256', TINY_SHA256], landed);
  const partial = await readdir(join(h.home, 'models', 'partial'));
  assert.equal(partial.filter((f) => f.endsWith('.part')).length, 1);
  assert.match((await h.ok(['models', 'ls'])).stderr, /^paused pull: tiny \(/m);
  files.slow.delete('/tiny.gguf');
  files.seen.length = 0;
  await h.ok(['models', 'pull', url]);
  assert.match(files.seen[0]!.range ?? '', /^bytes=[1-9]\d*-$/, 'resumed from the partial');
  assert.match((await h.ok(['models', 'show', 'tiny'])).stdout.toString(), new RegExp(TINY_SHA256));
  assert.deepEqual(await readdir(join(h.home, 'models', 'partial')), []);
});

test('kill -9 while llama.cpp checks an import: no model, and the next import sweeps the temp file', { skip: tinyMissing }, async () => {
  const h = await makeHome();
  await killWhen(h.home, ['models', 'import', TINY_GGUF, '--name', 'killed'], (e) => /checking/.test(e));
  assert.equal((await readdir(join(h.home, 'models', 'tmp'))).length, 1, 'the killed import left its temp file');
  assert.ok(!(await readdir(join(h.home, 'models'))).includes('killed.gguf'));
  await h.ok(['models', 'import', TINY_GGUF, '--name', 'next']);
  assert.deepEqual(await readdir(join(h.home, 'models', 'tmp')), []);
  assert.deepEqual((JSON.parse((await h.ok(['models', 'ls', '--json'])).stdout.toString()) as { name: string }[]).map((m) => m.name), ['next']);
});

test('two imports of one name at once: one model, the other MODEL_EXISTS, nothing left over', { skip: tinyMissing }, async () => {
  const home = await mkdtemp(join(tmpdir(), 'elohim-models-race-'));
  try {
    const models = createModels({ dir: join(home, 'models') });
    const results = await Promise.allSettled([models.importFile(TINY_GGUF, { name: 'same' }), models.importFile(TINY_GGUF, { name: 'same' })]);
    assert.deepEqual(results.map((r) => r.status).sort(), ['fulfilled', 'rejected']);
    const failed = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
    assert.ok(isElohimError(failed.reason, 'MODEL_EXISTS'), String(failed.reason));
    assert.deepEqual((await models.list()).map((m) => m.name), ['same']);
    assert.deepEqual(await readdir(join(home, 'models', 'tmp')), []);
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

/** Child processes of this process, from /proc (Linux). */
function children(): number[] {
  const out: number[] = [];
  for (const pid of readdirSync('/proc').filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      // pid (comm) state ppid …: comm may hold spaces, so read after the last ')'
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === process.pid) out.push(Number(pid));
    } catch {
      // the process ended meanwhile
    }
  }
  return out;
}

test('llama.cpp aborting in the probe (SIGABRT, as a GGML_ASSERT does) is MODEL_INVALID, and this process lives on', { skip: tinyMissing }, async () => {
  const before = new Set(children());
  const probing = probeModel(TINY_GGUF).then(() => null, (err: unknown) => err);
  let child: number | undefined;
  for (let i = 0; i < 500 && child === undefined; i++) {
    child = children().find((p) => !before.has(p));
    if (child === undefined) await new Promise((r) => setTimeout(r, 10));
  }
  assert.ok(child !== undefined, 'the probe runs in a child process');
  process.kill(child, 'SIGABRT');
  const err = await probing;
  assert.ok(isElohimError(err, 'MODEL_INVALID'), String(err));
  assert.match((err as Error).message, /the model loader \(llama\.cpp\) crashed on it \(SIGABRT\)/);
});

test('a real crasher found by fuzzing (a tensor name 2.6 GB long): the header parser refuses it; the probe alone would crash in its child, not here', { skip: tinyMissing }, async () => {
  const home = await mkdtemp(join(tmpdir(), 'elohim-models-crash-'));
  try {
    const bytes = Buffer.from(readFileSync(TINY_GGUF));
    bytes[724_071] = 158; // the high byte of a tensor name's length
    const path = join(home, 'crash.gguf');
    await writeFile(path, bytes);
    const models = createModels({ dir: join(home, 'models') });
    await assert.rejects(models.importFile(path), (err) => isElohimError(err, 'MODEL_INVALID') && /tensor name length 2650800147 is out of bounds/.test((err as Error).message));
    // without the parser in front, the loader reads a 2.6 GB length: here V8 aborted the process it
    // runs in (SIGABRT; a machine with more memory may refuse it instead), which is the probe's child
    await assert.rejects(probeModel(path), (err) => isElohimError(err, 'MODEL_INVALID') && /crashed on it \(SIGABRT\)|refused it/.test((err as Error).message));
  } finally {
    await rm(home, { recursive: true, force: true });
  }
});

test('the CLI beside another process on the same folder (the server): a pull of the same URL is MODEL_BUSY, an import of another name leaves the other\'s temp file alone', { skip: tinyMissing }, async (t) => {
  const files = await startFileServer(new Map([['/tiny.gguf', readFileSync(TINY_GGUF)]]));
  t.after(() => files.close());
  const h = await makeHome();
  // this test process stands for the server
  const models = createModels({ dir: join(h.home, 'models') });
  files.slow.set('/tiny.gguf', 60);
  const url = `${files.url}/tiny.gguf`;
  let started = false;
  const pulling = models.pull(url, { name: 'server-pull', onStart: () => (started = true) }).then(() => null, (err: unknown) => err);
  for (let i = 0; i < 500 && !started; i++) await new Promise((r) => setTimeout(r, 10));
  const busy = await h.run(['models', 'pull', url]);
  assert.equal(busy.code, 5, busy.stderr);
  assert.match(busy.stderr, /being pulled already/);
  const cancel = await h.run(['models', 'pull', url, '--cancel']);
  assert.equal(cancel.code, 5, cancel.stderr);
  // an import here while the CLI imports another model: neither sweeps the other's temp file
  const importing = models.importFile(TINY_GGUF, { name: 'server-import' });
  await h.ok(['models', 'import', TINY_GGUF, '--name', 'cli-import']);
  await importing;
  files.slow.delete('/tiny.gguf');
  assert.equal(await pulling, null);
  assert.deepEqual((await models.list()).map((m) => m.name), ['cli-import', 'server-import', 'server-pull']);
  assert.deepEqual(await readdir(join(h.home, 'models', 'tmp')), []);
  assert.deepEqual(await readdir(join(h.home, 'models', 'partial')), []);
});
