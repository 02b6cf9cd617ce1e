/**
 * The assistant with the embedded model (node-llama-cpp in the server's process, H-AI-MODELS's
 * provider) running the tiny Llama-2 GGUF with random weights: imported, chosen for the vault,
 * asked over HTTP; the context is counted with the model's own tokenizer. Skipped, with the
 * reason, when the test data is missing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, readEvents } from './assistant-helpers.ts';
import { TINY_GGUF, tinyMissing } from './helpers/llama-data.ts';
import { start } from './server-helpers.ts';

test('chat with the embedded model: streamed over HTTP, counted with its own tokenizer, saved', { skip: tinyMissing, timeout: 300_000 }, async (t) => {
  const s = await start();
  t.after(() => s.server.stop());
  // the models folder is the device's, shared by every vault (H-AI-MODELS's route imports the file)
  const imported = await s.api('/api/v1/models/import', { method: 'POST', ...json({ path: TINY_GGUF }) });
  assert.ok(imported.status === 200 || imported.status === 201, await imported.clone().text());
  const name = ((await imported.json()) as { model: { name: string } }).model.name;
  const set = await s.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'embedded' }, chatModel: name }) });
  assert.equal(set.status, 200, await set.clone().text());
  assert.deepEqual(((await set.json()) as { provider: { kind: string; local: boolean } }).provider, { kind: 'embedded', baseUrl: null, local: true, allowRemote: false, hasApiKey: false });
  const conv = ((await (await s.api('/api/v1/assistant/conversations', { method: 'POST', ...json({}) })).json()) as { conversation: { id: string } }).conversation.id;
  // 100 digits: Llama-2's tokenizer makes a token of each digit (100), cl100k one of every three (34, × 1.35 = 46)
  const digits = '1234567890'.repeat(10);
  const events = await readEvents(await s.api(`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text: digits }), headers: { 'content-type': 'application/json' } }));
  assert.equal(events[0]!.event, 'context');
  const user = (events[0]!.data as { report: { parts: { user: { tokens: number } } } }).report.parts.user.tokens;
  assert.ok(user >= 100 && user <= 110, `counted with the model's own tokenizer: ${user} tokens (PER_ITEM 6 included)`);
  assert.ok(events.some((e) => e.event === 'token'));
  const done = events.find((e) => e.event === 'done');
  assert.ok(done, JSON.stringify(events.at(-1)));
  const saved = (await (await s.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; model?: string }[] };
  assert.deepEqual(saved.messages.map((m) => [m.role, m.model ?? null]), [['user', null], ['assistant', name]]);
});
