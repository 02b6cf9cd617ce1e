/**
 * The assistant's command line, run as a user runs it (bin/elohim.js in a child process) on a
 * fresh data folder, against the loopback Ollama server of src/ai/testing.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { startOllamaServer } from '../src/ai/testing/loopback.ts';
import { MEMORY_PROMPT } from '../src/ai/index.ts';
import { CLI, cliEnv, describeRun, initHome, NODE, PASSPHRASE, removeTempDirs } from './helpers.ts';

after(removeTempDirs);

test('elohim chat, chats, memory and ai: a file put, asked about with a citation; a memory approved and used in a new conversation', async (t) => {
  // The model proposes one memory when asked for memories, and otherwise echoes.
  const model = await startOllamaServer({
    reply: (messages) => (messages[0]?.content === MEMORY_PROMPT ? '- the clinic generator is a Honda EU22i' : `echo: ${messages.at(-1)!.content}`),
  });
  t.after(() => model.close());
  const h = await initHome();
  const provider = await h.ok(['ai', 'provider', '--ollama', model.url, '--chat-model', 'tiny']);
  assert.match(provider.stdout.toString(), /provider {4}ollama http:\/\/127\.0\.0\.1:\d+\nchat model {2}tiny/);

  await writeFile(join(h.work, 'field-notes.txt'), 'Water pump quorvant\n\nThe quorvant pump needs priming every morning.\n');
  await h.ok(['put', join(h.work, 'field-notes.txt'), '/']);
  const status = await h.ok(['ai', 'index', 'status', '--json']);
  assert.equal(JSON.parse(status.stdout.toString()).documents, 1);

  const asked = await h.ok(['chat', 'how often does the quorvant pump need priming?']);
  assert.equal(asked.stdout.toString(), 'echo: how often does the quorvant pump need priming?\n');
  assert.match(asked.stderr, /^budget: system \d+ · vault 1 excerpt \(\d+\) · 1 recent turn \(\d+\) · reply reserve 1,024$/m, describeRun(asked));
  assert.match(asked.stderr, /^\[1\] \/field-notes\.txt {2}[0-9a-f]{32}$/m);
  const conversation = /^conversation ([0-9a-f]{32})$/m.exec(asked.stderr)![1]!;
  assert.match(asked.stderr, /^proposed memory ([0-9a-f]{32}): the clinic generator is a Honda EU22i {2}\(elohim memory approve \1\)$/m);
  const memoryId = /^proposed memory ([0-9a-f]{32})/m.exec(asked.stderr)![1]!;

  const ls = await h.ok(['chats', 'ls']);
  assert.match(ls.stdout.toString(), new RegExp(`^${conversation} {2}\\S+ \\S+Z {2}how often does the quorvant pump need priming\\?$`, 'm'));
  const md = (await h.ok(['chats', 'export', conversation])).stdout.toString();
  assert.match(md, /^# how often does the quorvant pump need priming\?\n/);
  assert.match(md, /## Assistant \(tiny\)\n\necho: how often/);

  // approved, it is sent to the model in a new conversation
  assert.match((await h.ok(['memory', 'ls', '--proposed'])).stdout.toString(), /proposed {2}the clinic generator is a Honda EU22i/);
  await h.ok(['memory', 'approve', memoryId]);
  const before = model.requests.length;
  await h.ok(['chat', 'which generator does the clinic have?']);
  const sent = model.requests.slice(before).find((r) => r.path === '/api/chat')!.body as { messages: { role: string; content: string }[] };
  assert.match(sent.messages[0]!.content, /What you remember about the user:\n- the clinic generator is a Honda EU22i/);

  const added = (await h.ok(['memory', 'add', 'prefers metric units'])).stdout.toString().trim();
  assert.match((await h.ok(['memory', 'ls'])).stdout.toString(), /approved {2}prefers metric units/);
  await h.ok(['memory', 'rm', added]);
  assert.doesNotMatch((await h.ok(['memory', 'ls'])).stdout.toString(), /metric/);

  await h.ok(['chats', 'rm', conversation]);
  assert.doesNotMatch((await h.ok(['chats', 'ls'])).stdout.toString(), new RegExp(conversation));
  assert.match((await h.ok(['chats', 'ls', '--trashed'])).stdout.toString(), new RegExp(conversation));
});

test('elohim chat: bad input and a provider that is down give clear errors and exit codes, and keep the message', async () => {
  const h = await initHome();
  const none = await h.run(['chat', 'hello']);
  assert.equal(none.code, 2, describeRun(none));
  assert.match(none.stderr, /no model yet: import a GGUF or point to your Ollama/);
  const remote = await h.run(['ai', 'provider', '--ollama', 'http://10.1.2.3:11434', '--chat-model', 'tiny']);
  assert.equal(remote.code, 2, describeRun(remote));
  assert.match(remote.stderr, /another machine: conversations would leave this device/);
  const bad = await h.run(['chats', 'export', 'nope']);
  assert.equal(bad.code, 2);

  const model = await startOllamaServer();
  await h.ok(['ai', 'provider', '--ollama', model.url, '--chat-model', 'tiny']);
  await model.close(); // nothing listens there now
  const down = await h.run(['chat', 'is anyone there?']);
  assert.equal(down.code, 1, describeRun(down));
  assert.match(down.stderr, /the model provider cannot be reached/);
  const id = /^conversation ([0-9a-f]{32})$/m.exec(down.stderr)![1]!;
  assert.match((await h.ok(['chats', 'export', id])).stdout.toString(), /## You\n\nis anyone there\?/);
  const missing = await h.run(['chat', '--model', 'nosuch', 'hello']);
  assert.equal(missing.code, 1); // unreachable before the model is looked up
});

test('elohim chat without a message: a conversation on the terminal, line by line, in one conversation; --regenerate', async (t) => {
  const model = await startOllamaServer();
  t.after(() => model.close());
  const h = await initHome();
  await h.ok(['ai', 'provider', '--ollama', model.url, '--chat-model', 'tiny']);
  const r = await h.ok(['chat'], { stdin: 'first question\n\nsecond question\n/quit\nnever sent\n' });
  assert.equal(r.stdout.toString(), 'echo: first question\necho: second question\n');
  const id = /^conversation ([0-9a-f]{32})$/m.exec(r.stderr)![1]!;
  assert.equal(r.stderr.match(/^conversation /gm)!.length, 1, 'one conversation');
  const answers = model.requests.filter((q) => q.path === '/api/chat' && (q.body as { messages: { content: string }[] }).messages[0]!.content !== MEMORY_PROMPT);
  const sent = answers.at(-1)!.body as { messages: { role: string; content: string }[] };
  assert.deepEqual(sent.messages.filter((m) => m.role !== 'system').map((m) => m.content), ['first question', 'echo: first question', 'second question']);
  assert.ok(!JSON.stringify(model.requests).includes('never sent'));
  const again = await h.ok(['chat', '--conversation', id, '--regenerate']);
  assert.equal(again.stdout.toString(), 'echo: second question\n');
  const md = (await h.ok(['chats', 'export', id])).stdout.toString();
  assert.equal(md.match(/## Assistant/g)!.length, 2, 'the regenerated answer replaced the old one');
});

test('kill -9 while an answer streams: the question is kept, the vault opens, the conversation goes on', async (t) => {
  const model = await startOllamaServer();
  t.after(() => model.close());
  const h = await initHome();
  await h.ok(['ai', 'provider', '--ollama', model.url, '--chat-model', 'stall']);
  const child = spawn(NODE, [CLI, 'chat', 'what is the borehole depth?'], { env: cliEnv({ ELOHIM_HOME: h.home, ELOHIM_PASSPHRASE: PASSPHRASE }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await new Promise((resolve) => child.once('close', resolve));
  const id = /^conversation ([0-9a-f]{32})$/m.exec(stderr)![1]!;
  const verify = await h.run(['verify']);
  assert.equal(verify.code, 0, describeRun(verify));
  await h.ok(['ai', 'provider', '--chat-model', 'tiny']);
  const md = (await h.ok(['chats', 'export', id])).stdout.toString();
  assert.match(md, /## You\n\nwhat is the borehole depth\?/);
  const next = await h.ok(['chat', '-c', id, 'and its yield?']);
  assert.equal(next.stdout.toString(), 'echo: and its yield?\n');
});

test('Ctrl-C (SIGINT) while an answer streams stops it: the partial answer is kept, the model server sees its client go', async (t) => {
  const model = await startOllamaServer();
  t.after(() => model.close());
  const h = await initHome();
  await h.ok(['ai', 'provider', '--ollama', model.url, '--chat-model', 'stall']);
  const child = spawn(NODE, [CLI, 'chat', 'go on and on'], { env: cliEnv({ ELOHIM_HOME: h.home, ELOHIM_PASSPHRASE: PASSPHRASE }), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGINT');
  const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
  assert.equal(code, 0, stderr);
  assert.match(stderr, /^stopped: the partial answer is kept$/m);
  assert.equal(model.closedByClient, 1);
  const id = /^conversation ([0-9a-f]{32})$/m.exec(stderr)![1]!;
  const md = (await h.ok(['chats', 'export', id])).stdout.toString();
  assert.match(md, /## Assistant \(stall\)\n\necho:/);
});
