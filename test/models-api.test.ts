/**
 * /api/v1/models… on a real server (temp data folder, unlocked over HTTP): import a GGUF from a
 * path, a corrupt one refused while the server stays up, list and show, the vault's defaults,
 * a pull over Server-Sent Events paused by closing the stream and resumed by the same POST,
 * cancel, delete with confirmation; and every route in the OpenAPI document.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { readdir, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PER_ITEM } from '../src/ai/index.ts';
import { startOllamaServer } from '../src/ai/testing/loopback.ts';
import { API, apiPath } from '../src/server/protocol.ts';
import { TINY_GGUF, TINY_SHA256, TINY_SIZE, tinyMissing } from './helpers/llama-data.ts';
import { startFileServer } from './helpers/model-file-server.ts';
import { start } from './server-helpers.ts';
import { jsonEvents } from './sse.ts';

type Started = Awaited<ReturnType<typeof start>>;
const json = (body: unknown, method = 'POST') => ({ method, headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });

/** The events of a text/event-stream body, read to its end (or until `stopWhen` says so: the stream is then closed). */
async function readEvents(res: Response, stopWhen?: (e: { event: string; data: unknown }) => boolean) {
  assert.match(res.headers.get('content-type') ?? '', /^text\/event-stream/);
  const events: { event: string; data: unknown }[] = [];
  for await (const e of jsonEvents(res.body!)) {
    events.push(e);
    // leaving the loop closes the stream
    if (stopWhen?.(e)) break;
  }
  return events;
}

describe('models API', { skip: tinyMissing }, () => {
  let s: Started;
  let files: Awaited<ReturnType<typeof startFileServer>>;
  before(async () => {
    s = await start();
    files = await startFileServer(new Map([['/tiny.gguf', readFileSync(TINY_GGUF)]]));
  });
  after(async () => {
    await files?.close();
    await s?.server.stop();
  });

  test('a corrupt GGUF is a 422 with a clear message, nothing is kept, and the server stays up', async (t) => {
    // Outside the data folder (an import from anywhere), and removed after: it was left in the OS temp folder.
    const bad = join(s.home, '..', `corrupt-${process.pid}.gguf`);
    t.after(() => rm(bad, { force: true }));
    // a real header with its tensor data cut off: llama.cpp refuses it (in a child process)
    await writeFile(bad, readFileSync(TINY_GGUF).subarray(0, 1_200_000));
    const res = await s.api(API.modelImport, json({ path: bad, name: 'corrupt' }));
    assert.equal(res.status, 422);
    const { error } = (await res.json()) as { error: { code: string; message: string } };
    assert.equal(error.code, 'MODEL_INVALID');
    assert.match(error.message, /llama\.cpp/);
    assert.ok(!error.message.includes(bad), 'the message does not carry the path');
    assert.equal((await s.api(API.health)).status, 200);
    assert.deepEqual(await readdir(join(s.home, 'models', 'tmp')), []);
    // and other bad input
    assert.equal((await s.api(API.modelImport, json({ path: 'relative/x.gguf' }))).status, 400);
    assert.equal((await s.api(API.modelImport, json({ path: '/nowhere/x.gguf' }))).status, 404);
    assert.equal((await s.api(API.modelImport, json({ path: TINY_GGUF, name: '../x' }))).status, 400);
    assert.equal((await s.api(API.modelImport, json({ path: TINY_GGUF, extra: 1 }))).status, 400);
    const mismatch = await s.api(API.modelImport, json({ path: TINY_GGUF, name: 'other', sha256: '0'.repeat(64) }));
    assert.equal(mismatch.status, 422);
    assert.equal(((await mismatch.json()) as { error: { code: string } }).error.code, 'MODEL_CHECKSUM_MISMATCH');
  });

  test('import, list, show; the same name again is a 409', async () => {
    const res = await s.api(API.modelImport, json({ path: TINY_GGUF, name: 'tiny', sha256: TINY_SHA256 }));
    assert.equal(res.status, 201);
    const { model } = (await res.json()) as { model: Record<string, unknown> };
    assert.deepEqual(model, { id: 'embedded/tiny', provider: 'embedded', name: 'tiny', size: TINY_SIZE, family: 'llama', title: 'LLaMA v2', quantization: 'F16', parameterSize: '513K', contextLength: 4096, capabilities: ['completion'] });
    assert.equal((await s.api(API.modelImport, json({ path: TINY_GGUF, name: 'tiny' }))).status, 409);
    const list = (await (await s.api(API.models)).json()) as { providers: { kind: string; models: { id: string }[] }[]; defaults: unknown };
    assert.deepEqual(list.providers.map((p) => [p.kind, p.models.map((m) => m.id)]), [['embedded', ['embedded/tiny']]]);
    assert.deepEqual(list.defaults, { chat: null, embedding: null });
    const shown = (await (await s.api(apiPath(API.model, 'embedded/tiny'))).json()) as { sha256: string };
    assert.equal(shown.sha256, TINY_SHA256);
    assert.equal((await s.api(apiPath(API.model, 'embedded/nope'))).status, 404);
    assert.equal((await s.api(apiPath(API.model, 'bogus/x'))).status, 400);
  });

  test('defaults are the vault\'s: choosing an embedded model points the assistant at it', async () => {
    assert.equal((await s.api(API.modelDefaults, json({ chat: 'embedded/missing' }, 'PATCH'))).status, 404);
    assert.equal((await s.api(API.modelDefaults, json({ chat: 'embedded/tiny', embedding: 'ollama/x' }, 'PATCH'))).status, 400);
    const res = await s.api(API.modelDefaults, json({ chat: 'embedded/tiny', embedding: 'embedded/tiny' }, 'PATCH'));
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { chat: 'embedded/tiny', embedding: 'embedded/tiny' });
    const settings = (await (await s.api(API.assistantProvider)).json()) as { provider: { kind: string }; chatModel: string };
    assert.equal(settings.provider.kind, 'embedded');
    assert.equal(settings.chatModel, 'tiny');
    assert.deepEqual(((await (await s.api(API.models)).json()) as { defaults: unknown }).defaults, { chat: 'embedded/tiny', embedding: 'embedded/tiny' });
  });

  test('a chat with the imported model through the assistant: streamed by llama.cpp, its prompt counted by the model\'s own tokenizer', async () => {
    const conv = (await (await s.api(API.conversations, json({ title: 'embedded' }))).json()) as { conversation: { id: string } };
    const res = await s.api(apiPath(API.conversationMessages, conv.conversation.id), json({ text: 'when does the generator fail?' }));
    assert.equal(res.status, 200, await res.clone().text());
    const events = await readEvents(res);
    assert.equal(events[0]!.event, 'context');
    assert.ok(events.some((e) => e.event === 'token'));
    const done = events.find((e) => e.event === 'done')!.data as { message: { role: string; content: string; model?: string }; promptTokens?: number; completionTokens?: number };
    assert.equal(done.message.role, 'assistant');
    assert.ok(done.message.content.length > 0);
    assert.ok((done.promptTokens ?? 0) > 0 && (done.completionTokens ?? 0) > 0, JSON.stringify(done));
    // the builder counted the message with Llama-2's own tokenizer: 6 tokens + PER_ITEM (6), where
    // cl100k × 1.35 would have said 9 + 6
    const report = (events[0]!.data as { report: { parts: { user: { tokens: number } } } }).report;
    assert.equal(report.parts.user.tokens, 6 + PER_ITEM);
  });

  test('pull over SSE: closing the stream pauses it, the same POST resumes it, cancel removes a partial', async () => {
    files.slow.set('/tiny.gguf', 30);
    const body = { provider: 'embedded', url: `${files.url}/tiny.gguf`, name: 'pulled', sha256: TINY_SHA256 };
    const first = await readEvents(await s.api(API.modelPull, json(body)), (e) => e.event === 'progress' && ((e.data as { completed?: number }).completed ?? 0) > 300_000);
    assert.equal(first[0]!.event, 'started');
    const { pull } = first[0]!.data as { pull: string };
    // the server notices the closed stream and pauses
    let pulls: { pull: string; active: boolean; completed: number }[] = [];
    for (let i = 0; i < 200; i++) {
      pulls = ((await (await s.api(API.modelPulls)).json()) as { pulls: typeof pulls }).pulls;
      if (pulls.length === 1 && !pulls[0]!.active) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal(pulls[0]!.pull, pull);
    assert.equal(pulls[0]!.active, false);
    assert.ok(pulls[0]!.completed > 300_000 && pulls[0]!.completed < TINY_SIZE);
    files.slow.delete('/tiny.gguf');
    files.seen.length = 0;
    const rest = await readEvents(await s.api(API.modelPull, json(body)));
    assert.match(files.seen[0]!.range ?? '', /^bytes=\d+-$/, 'resumed with a Range request');
    const done = rest.at(-1)!;
    assert.equal(done.event, 'done', JSON.stringify(rest.at(-1)));
    assert.equal((done.data as { model: { id: string } }).model.id, 'embedded/pulled');
    assert.deepEqual(((await (await s.api(API.modelPulls)).json()) as { pulls: unknown[] }).pulls, []);

    // bad input before the stream starts is plain JSON
    assert.equal((await s.api(API.modelPull, json({ provider: 'embedded', url: 'file:///etc/passwd' }))).status, 400);
    assert.equal((await s.api(API.modelPull, json({ provider: 'embedded' }))).status, 400);
    assert.equal((await s.api(API.modelPull, json({ provider: 'ollama', name: 'x' }))).status, 404);
    // an error after it starts is an error event
    const missing = await readEvents(await s.api(API.modelPull, json({ provider: 'embedded', url: `${files.url}/missing.gguf` })));
    assert.deepEqual(missing.at(-1)!.event, 'error');
    assert.equal((missing.at(-1)!.data as { code: string }).code, 'AI_MODEL_NOT_FOUND');

    // a paused pull, cancelled
    files.slow.set('/tiny.gguf', 30);
    const again = await readEvents(await s.api(API.modelPull, json({ ...body, name: 'cancelme' })), (e) => e.event === 'progress' && ((e.data as { completed?: number }).completed ?? 0) > 100_000);
    const id = (again[0]!.data as { pull: string }).pull;
    for (let i = 0; i < 200; i++) {
      const p = ((await (await s.api(API.modelPulls)).json()) as { pulls: { active: boolean }[] }).pulls;
      if (p.length === 1 && !p[0]!.active) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    assert.equal((await s.api(apiPath(API.modelPullCancel, id), { method: 'DELETE' })).status, 204);
    assert.deepEqual(((await (await s.api(API.modelPulls)).json()) as { pulls: unknown[] }).pulls, []);
    assert.equal((await s.api(apiPath(API.modelPullCancel, id), { method: 'DELETE' })).status, 404);
    files.slow.delete('/tiny.gguf');
  });

  test('delete needs the model\'s name as confirmation, and clears a default that named it', async () => {
    const wrong = await s.api(apiPath(API.model, 'embedded/tiny'), json({ confirm: 'tin' }, 'DELETE'));
    assert.equal(wrong.status, 400);
    assert.equal((await s.api(apiPath(API.model, 'embedded/tiny'), { method: 'DELETE' })).status, 400);
    assert.ok(((await (await s.api(API.models)).json()) as { providers: { models: { id: string }[] }[] }).providers[0]!.models.some((m) => m.id === 'embedded/tiny'));
    assert.equal((await s.api(apiPath(API.model, 'embedded/tiny'), json({ confirm: 'tiny' }, 'DELETE'))).status, 204);
    assert.equal((await s.api(apiPath(API.model, 'embedded/tiny'), json({ confirm: 'tiny' }, 'DELETE'))).status, 404);
    assert.deepEqual(((await (await s.api(API.models)).json()) as { defaults: unknown }).defaults, { chat: null, embedding: null });
  });

  test("the vault's Ollama is listed beside the device's models (size, context); pulled over SSE; a provider that is down shows its error, the others still list", async () => {
    const ollama = await startOllamaServer();
    try {
      assert.equal((await s.api(API.assistantProvider, json({ provider: { kind: 'ollama', baseUrl: ollama.url } }, 'PATCH'))).status, 200);
      const list = (await (await s.api(API.models)).json()) as { providers: { kind: string; error?: unknown; models: { id: string; size?: number; contextLength?: number; family?: string }[] }[] };
      const o = list.providers.find((p) => p.kind === 'ollama')!;
      const tinyOllama = o.models.find((m) => m.id === 'ollama/tiny:latest')!;
      assert.equal(tinyOllama.size, 1_700_000);
      assert.equal(tinyOllama.contextLength, 2048);
      assert.equal(tinyOllama.family, 'llama');
      assert.ok(list.providers.some((p) => p.kind === 'embedded'));
      const pulled = await readEvents(await s.api(API.modelPull, json({ provider: 'ollama', name: 'fresh:7b' })));
      assert.equal(pulled.at(-1)!.event, 'done', JSON.stringify(pulled.at(-1)));
      assert.ok(pulled.some((e) => e.event === 'progress' && (e.data as { status: string }).status === 'success'));
      assert.equal((await s.api(apiPath(API.model, 'ollama/fresh:7b'), json({ confirm: 'fresh:7b' }, 'DELETE'))).status, 204);
    } finally {
      await ollama.close();
    }
    const down = (await (await s.api(API.models)).json()) as { providers: { kind: string; error?: { code: string } }[] };
    assert.equal(down.providers.find((p) => p.kind === 'ollama')!.error!.code, 'AI_PROVIDER_UNREACHABLE');
    assert.equal(down.providers[0]!.kind, 'embedded');
    assert.equal((await s.api(API.assistantProvider, json({ provider: null }, 'PATCH'))).status, 200);
  });

  test('every models route is in the OpenAPI document; without a session they are refused', async () => {
    const doc = (await (await fetch(`${s.base}/api/v1/openapi.json`)).json()) as { paths: Record<string, unknown> };
    for (const route of [API.models, API.model, API.modelImport, API.modelPull, API.modelPulls, API.modelPullCancel, API.modelDefaults]) {
      assert.ok(doc.paths[route.replace(':id', '{id}')], `${route} in OpenAPI`);
    }
    assert.equal((await fetch(`${s.base}${API.models}`)).status, 401);
  });
});
