/**
 * The assistant and the vault it belongs to, on a real server: the index follows files as they
 * are put, replaced, renamed, moved, trashed and restored; nothing the user typed, the model
 * answered or a file held reaches the data folder in plaintext (the database's WAL included);
 * and a decoy vault sees nothing of the real one's assistant.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { MEMORY_PROMPT } from '../src/ai/index.ts';
import { startOllamaServer } from '../src/ai/testing/loopback.ts';
import { createApp } from '../src/app.ts';
import { createServer } from '../src/server/index.ts';
import { indexed, json, putFile, readEvents, startAssistant } from './assistant-helpers.ts';
import type { Api } from './assistant-helpers.ts';
import { findInFiles, listFiles } from './helpers.ts';

const citationsOf = async (ask: (c: string, t: string) => Promise<Response>, conv: string, text: string) =>
  ((await readEvents(await ask(conv, text)))[0]!.data as { citations: { name: string; path: string | null }[] }).citations;

async function waitIndexed(api: Api, documents: number) {
  for (let i = 0; i < 400; i++) {
    const s = (await (await api('/api/v1/assistant/index')).json()) as { state: string; documents: number };
    if (s.state === 'idle' && s.documents === documents) return;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`the index did not settle at ${documents} documents`);
}

test('the index follows the vault: put, replace, rename, move, trash, restore, a folder trashed and restored, a rebuild', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const conv = await a.conversation();
  const ask = (c: string, text: string) => a.ask(c, text);
  const id = await putFile(a.api, 'pump.md', 'The pump flurbex needs a new seal.');
  await waitIndexed(a.api, 1);
  assert.deepEqual((await citationsOf(ask, conv, 'flurbex seal')).map((c) => c.path), ['/pump.md']);

  const replaced = await a.api('/api/v1/files?name=pump.md&replace=true', { method: 'PUT', body: 'The pump grimbold runs fine now.' });
  assert.equal(replaced.status, 201);
  const newId = ((await replaced.json()) as { item: { id: string } }).item.id;
  await waitIndexed(a.api, 1);
  assert.deepEqual(await citationsOf(ask, conv, 'flurbex seal'), [], 'the old text is gone with the old version');
  assert.deepEqual((await citationsOf(ask, conv, 'grimbold')).map((c) => c.path), ['/pump.md']);
  void id;

  const folder = ((await (await a.api('/api/v1/folders', { method: 'POST', ...json({ name: 'kit' }) })).json()) as { item: { id: string } }).item.id;
  await a.api(`/api/v1/items/${newId}`, { method: 'PATCH', ...json({ name: 'pump-log.md', parent: folder }) });
  assert.deepEqual((await citationsOf(ask, conv, 'grimbold')).map((c) => [c.name, c.path]), [['pump-log.md', '/kit/pump-log.md']]);

  await a.api(`/api/v1/items/${newId}`, { method: 'DELETE' });
  await waitIndexed(a.api, 0);
  assert.deepEqual(await citationsOf(ask, conv, 'grimbold'), []);
  await a.api(`/api/v1/trash/${newId}/restore`, { method: 'POST' });
  await waitIndexed(a.api, 1);

  await a.api(`/api/v1/items/${folder}`, { method: 'DELETE' });
  await waitIndexed(a.api, 0);
  await a.api(`/api/v1/trash/${folder}/restore`, { method: 'POST' });
  await waitIndexed(a.api, 1);
  assert.deepEqual((await citationsOf(ask, conv, 'grimbold')).map((c) => c.path), ['/kit/pump-log.md']);

  const rebuilt = await a.api('/api/v1/assistant/index/rebuild', { method: 'POST' });
  assert.equal(rebuilt.status, 202);
  await waitIndexed(a.api, 1);
});

test('no plaintext on disk: after chatting, approving memories, setting preferences and indexing a file, no marker appears anywhere under the data folder (WAL included)', async (t) => {
  const M = { file: 'qzfilemarker', ask: 'qzaskmarker', memory: 'qzmemorymarker', title: 'qztitlemarker', prefs: 'qzprefsmarker', key: 'qzapikeymarker', model: 'qzmodelmarker' };
  const a = await startAssistant({ reply: (m) => (m[0]?.content === MEMORY_PROMPT ? `- the user mentioned ${M.memory}` : `answer about ${M.ask}`) });
  t.after(() => a.close());
  await putFile(a.api, 'secret-notes.txt', `the field station ${M.file} is behind the ridge`);
  await indexed(a.api, 1);
  const conv = await a.conversation(`trip ${M.title}`);
  const events = await readEvents(await a.ask(conv, `where is ${M.ask} and ${M.file}?`));
  const proposed = (events.at(-1)!.data as { proposed: { id: string }[] }).proposed;
  assert.equal((await a.api(`/api/v1/assistant/memories/${proposed[0]!.id}/approve`, { method: 'POST', ...json({}) })).status, 200);
  await a.api('/api/v1/assistant/preferences', { method: 'PATCH', ...json({ text: `always mention ${M.prefs}` }) });
  await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'ollama', baseUrl: a.model.url, apiKey: M.key }, embeddingModel: `embed-${M.model}` }) });

  const files = (await listFiles(a.home)).map((f) => f.path);
  assert.ok(files.includes('db.sqlite-wal'), `the WAL is there to be searched: ${files.join(', ')}`);
  const needles = Object.values(M);
  // the search reads every file, the database and its WAL included: it finds what is there in clear
  const known = (await findInFiles(a.home, ['SQLite format 3'])).map((h) => h.file);
  assert.ok(known.includes('db.sqlite'), `the search reads the database: ${known.join(', ')}`);
  assert.deepEqual(await findInFiles(a.home, needles), [], 'while the server runs');
  await a.stop();
  assert.deepEqual(await findInFiles(a.home, needles), [], 'after it stopped');
  // the markers were really used: the file's and the question's went to the model (over loopback)
  const sent = JSON.stringify(a.model.requests);
  assert.ok(sent.includes(M.file) && sent.includes(M.ask));
});

test('a decoy vault has its own assistant: nothing of the real vault\'s conversations, memories, settings or index shows in it', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'elohim-ai-decoy-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const cheap = { memory: 19 * 1024, passes: 2, parallelism: 1 };
  const init = createApp({ home });
  await init.init({ passphrase: 'pass', decoyPassphrase: 'decoy pass', argon2: cheap });
  init.close();
  const model = await startOllamaServer();
  t.after(() => model.close());
  const real = await startAssistant({ home });
  t.after(() => real.close());
  const realConv = await real.conversation('real trip');
  await putFile(real.api, 'real.md', 'the hidden cache krumblefox is under the floor');
  await indexed(real.api, 1);
  await readEvents(await real.ask(realConv, 'krumblefox?'));
  await real.api('/api/v1/assistant/memories', { method: 'POST', ...json({ text: 'real memory' }) });

  // the decoy's session on the same server
  const res = await fetch(`${real.base}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-elohim-csrf': '1' }, body: JSON.stringify({ passphrase: 'decoy pass' }) });
  assert.equal(res.status, 201);
  const { csrfToken } = (await res.json()) as { csrfToken: string };
  const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
  const decoy: Api = (path, init = {}) => fetch(`${real.base}${path}`, { ...init, headers: { cookie, 'x-elohim-csrf': csrfToken, ...(init.headers as Record<string, string>) } });
  assert.deepEqual(await (await decoy('/api/v1/assistant/conversations')).json(), { conversations: [] });
  assert.deepEqual(await (await decoy('/api/v1/assistant/memories')).json(), { memories: [] });
  const status = (await (await decoy('/api/v1/assistant/status')).json()) as { provider: unknown; ready: boolean; index: { documents: number } };
  assert.deepEqual([status.provider, status.ready, status.index.documents], [null, false, 0]);
  assert.equal((await decoy(`/api/v1/assistant/conversations/${realConv}`)).status, 404);
  // with a provider of its own, asking about the real vault's file finds nothing
  await decoy('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'ollama', baseUrl: model.url }, chatModel: 'tiny' }) });
  const conv = ((await (await decoy('/api/v1/assistant/conversations', { method: 'POST', ...json({}) })).json()) as { conversation: { id: string } }).conversation.id;
  const events = await readEvents(await decoy(`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text: 'krumblefox?' }), headers: { 'content-type': 'application/json' } }));
  assert.deepEqual((events[0]!.data as { citations: unknown[] }).citations, []);
  assert.doesNotMatch(JSON.stringify(model.requests), /under the floor|real memory/);
  // and the real vault's assistant is as it was
  const realList = (await (await real.api('/api/v1/assistant/conversations')).json()) as { conversations: { title: string }[] };
  assert.deepEqual(realList.conversations.map((c) => c.title), ['real trip']);
});

test('removing a decoy removes every row its assistant wrote: conversations, memories, settings, indexed text and vectors', async (t) => {
  const home = await mkdtemp(join(tmpdir(), 'elohim-ai-wipe-'));
  t.after(() => rm(home, { recursive: true, force: true }));
  const model = await startOllamaServer();
  t.after(() => model.close());
  const app = createApp({ home });
  t.after(() => app.close());
  await app.init({ passphrase: 'pass', decoyPassphrase: 'decoy pass', argon2: { memory: 19 * 1024, passes: 2, parallelism: 1 } });
  const rowIds = () => {
    const db = new DatabaseSync(join(home, 'db.sqlite'), { readOnly: true });
    try {
      return new Set((db.prepare('SELECT hex(id) AS id FROM records').all() as { id: string }[]).map((r) => r.id));
    } finally {
      db.close();
    }
  };
  const decoy = (await app.workspaces.unlock({ passphrase: 'decoy pass' })).workspace;
  const before = rowIds();
  decoy.assistant.configure({ provider: { kind: 'ollama', baseUrl: model.url }, chatModel: 'tiny', embeddingModel: 'embedder' });
  await decoy.vault.put(null, 'decoy-notes.md', Readable.from([Buffer.from('the decoy keeps a shopping list')]));
  await decoy.assistant.index.idle();
  for (let i = 0; i < 200 && decoy.assistant.index.status().vectors === 0; i++) await new Promise((r) => setTimeout(r, 25));
  const conv = decoy.assistant.store.createConversation('groceries');
  for await (const e of decoy.assistant.ask(conv.id, 'shopping list?')) void e;
  decoy.assistant.store.addMemory({ text: 'likes tea' });
  const written = [...rowIds()].filter((id) => !before.has(id));
  assert.ok(written.length >= 8, `the decoy's assistant wrote rows: ${written.length}`);
  app.workspaces.release(decoy.id);

  const real = (await app.workspaces.unlock({ passphrase: 'pass' })).workspace;
  await real.removeDecoy();
  const left = rowIds();
  assert.deepEqual(written.filter((id) => left.has(id)), [], 'none of the rows the decoy wrote is left');
  app.workspaces.release(real.id);
});
