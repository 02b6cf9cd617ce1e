/**
 * Dense vectors end to end: with an embedding model configured, the indexed chunks are embedded
 * through the provider, kept sealed, fused with BM25 at query time, and loaded again at the next
 * unlock without embedding anything again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { json, putFile, readEvents, startAssistant } from './assistant-helpers.ts';
import type { Api } from './assistant-helpers.ts';
import { openSession } from './server-helpers.ts';

type Status = { state: string; documents: number; chunks: number; vectors: number };
const statusOf = async (api: Api) => (await (await api('/api/v1/assistant/index')).json()) as Status;
async function until(api: Api, ok: (s: Status) => boolean): Promise<Status> {
  for (let i = 0; i < 400; i++) {
    const s = await statusOf(api);
    if (ok(s)) return s;
    await new Promise((r) => setTimeout(r, 25));
  }
  assert.fail(`the index never got there: ${JSON.stringify(await statusOf(api))}`);
}

test('dense vectors: embedded through the provider, sealed, fused with BM25, reloaded at unlock without embedding again', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  await putFile(a.api, 'a.md', 'The generator at the clinic runs on diesel.');
  await putFile(a.api, 'b.md', 'Vaccines are kept in the solar fridge.');
  await until(a.api, (s) => s.documents === 2 && s.state === 'idle');
  const conv = await a.conversation();
  // no word of this question is in any file: BM25 alone finds nothing
  const lexical = (await readEvents(await a.ask(conv, 'qwxz')))[0]!.data as { citations: unknown[] };
  assert.deepEqual(lexical.citations, []);

  assert.equal((await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ embeddingModel: 'embedder' }) })).status, 200);
  const s = await until(a.api, (x) => x.vectors === x.chunks && x.chunks === 2);
  assert.equal(s.vectors, 2);
  const embedded = a.model.requests.filter((r) => r.path === '/api/embed').length;
  assert.ok(embedded >= 1);
  // with vectors, the nearest chunks come from the dense side and are cited
  const fused = (await readEvents(await a.ask(conv, 'qwxz')))[0]!.data as { citations: { name: string }[] };
  assert.deepEqual(fused.citations.map((c) => c.name).sort(), ['a.md', 'b.md']);
  const queryEmbeds = a.model.requests.filter((r) => r.path === '/api/embed').length - embedded;
  assert.equal(queryEmbeds, 1, 'the question was embedded once');

  // lock and unlock: the vectors come back from their sealed records, nothing is embedded again
  assert.equal((await a.api('/api/v1/session', { method: 'DELETE' })).status, 204);
  const again = await openSession(a.base);
  const before = a.model.requests.filter((r) => r.path === '/api/embed').length;
  const reloaded = await until(again.api, (x) => x.documents === 2 && x.state === 'idle');
  assert.equal(reloaded.vectors, 2);
  assert.equal(a.model.requests.filter((r) => r.path === '/api/embed').length, before);

  // the embedding model removed: BM25 alone again, no vectors held
  await again.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ embeddingModel: null }) });
  assert.equal((await statusOf(again.api)).vectors, 0);
});
