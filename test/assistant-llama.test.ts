/**
 * The assistant against a real llama.cpp `llama-server` (built from the source node-llama-cpp
 * ships, by test/helpers/llama-server.ts) serving the tiny Llama-2 GGUF with random weights: its
 * words are noise, but the streaming, token counts, Stop and embeddings are llama.cpp's own.
 * Skipped, with the reason, when the binary or the test data is missing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, putFile, readEvents } from './assistant-helpers.ts';
import { TINY_GGUF, tinyMissing } from './helpers/llama-data.ts';
import { llamaServerMissing, startLlamaServer } from './helpers/llama-server.ts';
import { start } from './server-helpers.ts';

const skip = tinyMissing || llamaServerMissing();

test('chat through the OpenAI-compatible provider against llama-server: streamed, counted, stopped; embeddings for the index', { skip }, async (t) => {
  const chat = await startLlamaServer(TINY_GGUF, { alias: 'tiny' });
  t.after(() => chat.close());
  const embed = await startLlamaServer(TINY_GGUF, { alias: 'tiny-embed', embeddings: true });
  t.after(() => embed.close());
  const s = await start();
  t.after(() => s.server.stop());
  // one provider per vault: chat on the chat server; the embedding server is checked on its own below
  const set = await s.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'openai', baseUrl: chat.url }, chatModel: 'tiny' }) });
  assert.equal(set.status, 200, await set.text());
  await putFile(s.api, 'notes.md', 'The borehole pump needs priming.');
  const conv = ((await (await s.api('/api/v1/assistant/conversations', { method: 'POST', ...json({}) })).json()) as { conversation: { id: string } }).conversation.id;
  const ask = (text: string, init: RequestInit = {}) => s.api(`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text }), ...init, headers: { 'content-type': 'application/json' } });

  const events = await readEvents(await ask('borehole pump?'));
  assert.equal(events[0]!.event, 'context');
  assert.equal((events[0]!.data as { report: { window: number } }).report.window, 2048, "llama-server's trained context, from /v1/models meta");
  assert.ok(events.filter((e) => e.event === 'token').length > 0, chat.log().slice(-2000));
  const done = events.at(-1)!;
  assert.equal(done.event, 'done', JSON.stringify(done.data));
  assert.ok((done.data.completionTokens as number) > 0);
  assert.ok((done.data.promptTokens as number) > 0);

  // Stop: closing the stream ends generation (the partial answer kept)
  const stop = new AbortController();
  await readEvents(await ask('tell me a long story', { signal: stop.signal }), (e) => e.event === 'token' && stop.abort()).catch(() => {});
  const saved = (await (await s.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { partial?: boolean }[] };
  assert.equal(saved.messages.at(-1)!.partial, true);

  // the embedding server answers the provider's embed as the index asks it to
  const { createOpenAiProvider } = await import('../src/ai/index.ts');
  const vectors = await createOpenAiProvider({ baseUrl: embed.url }).embed('tiny-embed', ['one chunk', 'another chunk']);
  assert.equal(vectors.length, 2);
  assert.ok(vectors[0]!.length > 0 && vectors[0]!.length === vectors[1]!.length);
});
