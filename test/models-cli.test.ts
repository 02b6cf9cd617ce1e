/**
 * `elohim models …` run as a user runs it (bin/elohim.js in a child process) on a fresh data
 * folder: import, ls, show, a pull paused by Ctrl-C and resumed by the same command, rm with its
 * confirmation, and `default`, which is per vault (the decoy has its own).
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { TINY_GGUF, TINY_SHA256, TINY_SIZE, tinyMissing } from './helpers/llama-data.ts';
import { startFileServer } from './helpers/model-file-server.ts';
import { AS_DECOY, CLI, cliEnv, describeRun, initHome, NODE, PASSPHRASE, removeTempDirs } from './helpers.ts';

after(removeTempDirs);

test('elohim models: import, ls, show, pull paused by Ctrl-C and resumed, rm, default per vault', { skip: tinyMissing }, async (t) => {
  const files = await startFileServer(new Map([['/tiny.gguf', readFileSync(TINY_GGUF)]]));
  t.after(() => files.close());
  const h = await initHome({ decoy: true });

  // import with the expected hash; the listing has size, family, quantisation and context
  const imported = await h.ok(['models', 'import', TINY_GGUF, '--name', 'tiny', '--sha256', TINY_SHA256]);
  assert.match(imported.stderr, /^imported tiny$/m);
  const listed = JSON.parse((await h.ok(['models', 'ls', '--json'])).stdout.toString()) as { name: string; size: number; family: string; quantization: string; contextLength: number }[];
  assert.deepEqual(listed.map((m) => [m.name, m.size, m.family, m.quantization, m.contextLength]), [['tiny', TINY_SIZE, 'llama', 'F16', 4096]]);
  const table = (await h.ok(['models', 'ls'])).stdout.toString();
  assert.match(table, /^NAME +SIZE +FAMILY +PARAMS +QUANT +CONTEXT +CAN$/m);
  assert.match(table, /^tiny +1\.7 MiB +llama +513K +F16 +4096 ctx +completion$/m);
  assert.match((await h.ok(['models', 'show', 'tiny'])).stdout.toString(), new RegExp(`^sha256 +${TINY_SHA256}$`, 'm'));

  // bad input: clear errors, exit codes by kind, nothing kept
  const notGguf = join(h.work, 'notes.gguf');
  await writeFile(notGguf, 'plain text');
  const refused = await h.run(['models', 'import', notGguf]);
  assert.equal(refused.code, 6, describeRun(refused));
  assert.match(refused.stderr, /not a usable GGUF model: no GGUF magic/);
  assert.equal((await h.run(['models', 'import', TINY_GGUF, '--name', 'tiny'])).code, 5);
  assert.equal((await h.run(['models', 'import', join(h.work, 'missing.gguf')])).code, 4);
  assert.equal((await h.run(['models', 'show', 'nope'])).code, 4);
  assert.equal((await h.run(['models', 'pull', 'ftp://example/x.gguf'])).code, 2);

  // a pull interrupted with Ctrl-C keeps what it has; the same command resumes it
  files.slow.set('/tiny.gguf', 60);
  const url = `${files.url}/tiny.gguf`;
  const child = spawn(NODE, [CLI, 'models', 'pull', url, '--name', 'pulled', '--sha256', TINY_SHA256], { env: cliEnv({ ELOHIM_HOME: h.home }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  // wait until some bytes are on disk, then Ctrl-C
  for (let i = 0; i < 400; i++) {
    const paused = files.seen.length > 0;
    if (paused) break;
    await new Promise((r) => setTimeout(r, 25));
  }
  await new Promise((r) => setTimeout(r, 400));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
  assert.equal(code, 130, stderr);
  assert.match(stderr, /paused with [\d.]+ [KM]iB kept: run the same command to resume/);
  const ls = await h.ok(['models', 'ls']);
  assert.match(ls.stderr, /^paused pull: pulled \(/m);
  files.slow.delete('/tiny.gguf');
  files.seen.length = 0;
  const resumed = await h.ok(['models', 'pull', url]);
  assert.match(resumed.stderr, /^pulled pulled$/m);
  assert.match(files.seen[0]!.range ?? '', /^bytes=[1-9]\d*-$/, 'the second run asked only for the rest');
  assert.match((await h.ok(['models', 'show', 'pulled'])).stdout.toString(), new RegExp(TINY_SHA256));

  // defaults: per vault, and they need the passphrase
  const noPass = await h.run(['models', 'default'], { env: { ELOHIM_PASSPHRASE: undefined } });
  assert.notEqual(noPass.code, 0);
  assert.equal((await h.run(['models', 'default', '--chat', 'embedded/nope'], { env: { ELOHIM_PASSPHRASE: PASSPHRASE } })).code, 4);
  assert.equal((await h.run(['models', 'default', '--chat', 'tiny'], { env: { ELOHIM_PASSPHRASE: PASSPHRASE } })).code, 2);
  const set = await h.ok(['models', 'default', '--chat', 'embedded/tiny', '--embedding', 'embedded/tiny'], { env: { ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(set.stdout.toString(), 'chat        embedded/tiny\nembedding   embedded/tiny\n');
  assert.equal((await h.ok(['models', 'default'], AS_DECOY)).stdout.toString(), 'chat        (none)\nembedding   (none)\n');
  // and the CLI chats with it: the answer streamed by llama.cpp in this process, the budget line
  // (counted with the model's own tokenizer) and its token counts
  const chat = await h.ok(['chat', 'Say hello to the clinic.'], { env: { ELOHIM_PASSPHRASE: PASSPHRASE }, timeoutMs: 240_000 });
  assert.match(chat.stderr, /^budget: system \d+ · .*reply reserve [\d,]+/m);
  assert.match(chat.stderr, /^done \(prompt \d+, answer \d+ tokens\)/m);
  assert.ok(chat.stdout.toString().trim().length > 0, 'an answer was printed');
  // the decoy sees the same models: they are the device's
  assert.deepEqual((await h.ok(['models', 'ls', '--json'], AS_DECOY)).stdout.toString(), (await h.ok(['models', 'ls', '--json'])).stdout.toString());

  // rm: asks unless --yes; not on a terminal it refuses rather than guess
  const asked = await h.run(['models', 'rm', 'pulled']);
  assert.equal(asked.code, 2);
  assert.match(asked.stderr, /add --yes/);
  await h.ok(['models', 'rm', 'pulled', '--yes']);
  assert.equal((await h.run(['models', 'rm', 'pulled', '--yes'])).code, 4);
  assert.deepEqual((JSON.parse((await h.ok(['models', 'ls', '--json'])).stdout.toString()) as { name: string }[]).map((m) => m.name), ['tiny']);
});
