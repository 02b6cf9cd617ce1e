/**
 * The assistant against a real llama.cpp `llama-server` (built from the source node-llama-cpp
 * ships, by test/helpers/llama-server.ts) serving the tiny Llama-2 GGUF with random weights: its
 * words are noise, but the streaming, token counts, Stop and embeddings are llama.cpp's own.
 * Skipped, with the reason, when the binary or the test data is missing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { indexed, json, putFile, readEvents } from './assistant-helpers.ts';
import { TINY_GGUF, tinyMissing } from './helpers/llama-data.ts';
import { llamaServerMissing, startLlamaServer } from './helpers/llama-server.ts';
import { eventually } from './http-helpers.ts';
import { start } from './server-helpers.ts';

const skip = tinyMissing || llamaServerMissing();

test('chat through the OpenAI-compatible provider against llama-server: streamed, counted, stopped; embeddings for the index', { skip, timeout: 300_000 }, async (t) => {
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
  await indexed(s.api, 1);
  const conv = ((await (await s.api('/api/v1/assistant/conversations', { method: 'POST', ...json({}) })).json()) as { conversation: { id: string } }).conversation.id;
  const ask = (text: string, init: RequestInit = {}) => s.api(`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text }), ...init, headers: { 'content-type': 'application/json' } });

  // A model with random weights writes noise, and long noise (the assistant allows 1,024 tokens)
  // is often rejected by llama-server's own output parser when the answer ends ("does not match
  // the expected peg-native format"): that comes as an error event with the partial answer kept.
  // Either ending is llama.cpp's; the stream before it is checked either way.
  const events = await readEvents(await ask('borehole pump?'));
  assert.equal(events[0]!.event, 'context');
  assert.equal((events[0]!.data as { report: { window: number } }).report.window, 2048, 'the window llama-server runs with (-c 2048), not the model\'s trained 4,096');
  assert.deepEqual((events[0]!.data as { citations: { name: string }[] }).citations.map((c) => c.name), ['notes.md']);
  assert.ok(events.filter((e) => e.event === 'token').length > 0, chat.log().slice(-2000));
  const last = events.at(-1)!;
  if (last.event === 'done') assert.ok((last.data.completionTokens as number) > 0 && (last.data.promptTokens as number) > 0);
  else assert.match(String(last.data.message), /peg-native format/, JSON.stringify(last.data));

  // a short answer at temperature 0 through the same provider ends with llama.cpp's token counts
  const { createOpenAiProvider } = await import('../src/ai/index.ts');
  const provider = createOpenAiProvider({ baseUrl: chat.url });
  let counted: { promptTokens?: number; completionTokens?: number } | undefined;
  let pieces = 0;
  for await (const e of provider.chat({ model: 'tiny', messages: [{ role: 'user', content: 'hi' }], maxTokens: 8, temperature: 0 })) {
    if (e.type === 'delta') pieces++;
    else counted = e;
  }
  assert.ok(pieces > 0);
  assert.equal(counted?.completionTokens, 8);
  assert.ok((counted?.promptTokens ?? 0) > 0);

  // Stop: closing the stream ends generation (the partial answer kept)
  const stop = new AbortController();
  await readEvents(await ask('tell me a long story', { signal: stop.signal }), (e) => e.event === 'token' && stop.abort()).catch(() => {});
  // the server saves the partial answer once it has seen the client go
  const lastOf = async () => ((await (await s.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; content: string; partial?: boolean }[] }).messages.at(-1)!;
  assert.ok(await eventually(async () => (await lastOf()).partial === true, 10_000), JSON.stringify(await lastOf()));

  // the embedding server answers the provider's embed as the index asks it to
  const vectors = await createOpenAiProvider({ baseUrl: embed.url }).embed('tiny-embed', ['one chunk', 'another chunk']);
  assert.equal(vectors.length, 2);
  assert.ok(vectors[0]!.length > 0 && vectors[0]!.length === vectors[1]!.length);
});
