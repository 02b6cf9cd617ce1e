import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexed, json, putFile, readEvents, startAssistant } from './assistant-helpers.ts';

test('chat over HTTP: the answer streams as SSE with the context report, then is saved with its citation to a vault file', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const item = await putFile(a.api, 'generator-notes.md', '# Generator\n\nThe clinic generator zanzibarine fails above 40 degrees.\n');
  await indexed(a.api, 1);
  const conv = await a.conversation();
  const events = await readEvents(await a.ask(conv, 'when does the zanzibarine generator fail?'));
  const names = events.map((e) => e.event);
  assert.equal(names[0], 'context');
  assert.ok(names.filter((n) => n === 'token').length >= 3, names.join(','));
  assert.equal(names.at(-1), 'done');
  const context = events[0]!.data as { budget: string; citations: { n: number; item: string; path: string }[]; report: { parts: { excerpts: { included: number } } } };
  assert.match(context.budget, /vault 1 excerpt .*reply reserve/);
  assert.deepEqual(context.citations, [{ n: 1, item, name: 'generator-notes.md', path: '/generator-notes.md' }]);
  // the model was given the excerpt, and Ollama's window was set (num_ctx)
  const sent = a.model.requests.find((r) => r.path === '/api/chat')!.body as { messages: { content: string }[]; options: { num_ctx: number } };
  assert.match(sent.messages[0]!.content, /\[1\] \(generator-notes\.md\)\n# Generator/);
  assert.equal(sent.options.num_ctx, 2048);
  const tokens = events.filter((e) => e.event === 'token').map((e) => e.data.content).join('');
  assert.equal(tokens, 'echo: when does the zanzibarine generator fail?');
  const done = events.at(-1)!.data as { message: { content: string; citations: unknown[] }; completionTokens: number };
  assert.equal(done.message.content, tokens);
  assert.equal(done.completionTokens, 7);
  const saved = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; content: string; citations?: unknown[] }[] };
  assert.deepEqual(saved.messages.map((m) => m.role), ['user', 'assistant']);
  assert.deepEqual(saved.messages[1]!.citations, context.citations);

  // renamed and moved: the citation follows the file
  const folder = ((await (await a.api('/api/v1/folders', { method: 'POST', ...json({ name: 'power' }) })).json()) as { item: { id: string } }).item.id;
  assert.equal((await a.api(`/api/v1/items/${item}`, { method: 'PATCH', ...json({ name: 'gen.md', parent: folder }) })).status, 200);
  const again = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { citations?: { path: string | null }[] }[] };
  assert.equal(again.messages[1]!.citations![0]!.path, '/power/gen.md');
});
