/**
 * The assistant under bad input, on a real server: a provider that dies mid-stream or reports an
 * error inside it, a missing model, a message larger than the model's whole window, a 500 MB
 * text file, files that claim a format they do not have. Each gives a clear error, loses
 * nothing the user typed, and leaves the server answering.
 */
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { makePdf } from '../src/ai/testing/documents.ts';
import { indexed, json, putFile, readEvents, startAssistant } from './assistant-helpers.ts';
import { openSession } from './server-helpers.ts';

const messagesOf = async (api: (p: string) => Promise<Response>, conv: string) =>
  ((await (await api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; content: string; partial?: boolean }[] }).messages;

async function healthy(base: string) {
  const res = await fetch(`${base}/api/v1/health`);
  assert.equal(res.status, 200);
}

test('a provider that dies mid-stream, or reports an error inside the stream: an error event, the partial answer kept, the server still up', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const conv = await a.conversation();
  // `broken` streams two words, then an error line with status 200 already sent (Ollama does this)
  await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'broken' }) });
  const events = await readEvents(await a.ask(conv, 'one two three four'));
  const error = events.at(-1)!;
  assert.equal(error.event, 'error');
  assert.equal(error.data.code, 'AI_PROVIDER_FAILED');
  assert.match(error.data.message as string, /unexpected EOF/);
  assert.deepEqual((error.data.partial as { content: string }).content, 'echo: one');
  assert.deepEqual((await messagesOf(a.api, conv)).map((m) => [m.role, m.content, m.partial ?? false]), [
    ['user', 'one two three four', false],
    ['assistant', 'echo: one', true],
  ]);

  // `stall` sends a word, then the provider process goes away
  await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'stall' }) });
  const dying = await readEvents(await a.ask(conv, 'are you there'), (e) => {
    if (e.event === 'token') void a.model.close();
  });
  assert.equal(dying.at(-1)!.event, 'error');
  assert.equal(dying.at(-1)!.data.code, 'AI_PROVIDER_UNREACHABLE');
  assert.equal((await messagesOf(a.api, conv)).filter((m) => m.role === 'user').at(-1)!.content, 'are you there');
  await healthy(a.base);

  // now nothing listens: the context is built, then the error; the message kept
  const down = await readEvents(await a.ask(conv, 'hello?'));
  assert.deepEqual(down.map((e) => e.event), ['context', 'error']);
  assert.equal(down[1]!.data.code, 'AI_PROVIDER_UNREACHABLE');
  assert.equal((await messagesOf(a.api, conv)).at(-1)!.content, 'hello?');
  await healthy(a.base);
});

test('a missing model is a 404 and a message larger than the whole window a 413; both keep the message', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const conv = await a.conversation();
  const missing = await a.api(`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text: 'hi there', model: 'nosuch' }) });
  assert.equal(missing.status, 404);
  assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'AI_MODEL_NOT_FOUND');
  // the loopback "tiny" model has a 2,048-token window; 50,000 characters of words is far more
  const huge = Array.from({ length: 10_000 }, (_, i) => `w${i}`).join(' ');
  const tooLarge = await a.ask(conv, huge);
  assert.equal(tooLarge.status, 413);
  const body = (await tooLarge.json()) as { error: { code: string; message: string } };
  assert.equal(body.error.code, 'AI_CONTEXT_TOO_LARGE');
  assert.match(body.error.message, /the message needs \d+ tokens; the model's window leaves 1024 \(your message is saved\)/);
  assert.deepEqual((await messagesOf(a.api, conv)).map((m) => m.content.length), ['hi there'.length, huge.length]);
  assert.equal(a.model.requests.filter((r) => r.path === '/api/chat').length, 0, 'nothing too large was sent');
  await healthy(a.base);
});

// 500 MB through the server and 16 MB of text indexed: more than the suite's default per-test time on a loaded machine
test('a 500 MB text file: its start is indexed and said to be cut, the server answers meanwhile; a PDF that is not a PDF is named with the reason', { timeout: 400_000 }, async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const MiB = 1024 * 1024;
  const line = Buffer.from('the water tower zorblatt leaks at the north valve every night\n');
  async function* big() {
    const block = Buffer.alloc(MiB);
    for (let i = 0; i < MiB; i += line.length) line.copy(block, i);
    for (let n = 0; n < 500; n++) yield block;
  }
  const put = await a.api('/api/v1/files?name=huge.txt', { method: 'PUT', body: Readable.toWeb(Readable.from(big())) as ReadableStream, duplex: 'half', headers: { 'content-type': 'application/octet-stream' } } as RequestInit);
  assert.equal(put.status, 201, await put.clone().text());
  const huge = ((await put.json()) as { item: { id: string; size: number } }).item;
  assert.equal(huge.size, 500 * MiB);
  await putFile(a.api, 'fake.pdf', 'this is not a PDF at all');
  await putFile(a.api, 'real.pdf', makePdf('the solar inverter quennel trips at noon'));
  await healthy(a.base);
  const status = (await indexed(a.api, 2, 240_000)) as { truncated: { item: string; name: string }[]; failed: { name: string; reason: string }[]; documents: number };
  assert.deepEqual(status.truncated, [{ item: huge.id, name: 'huge.txt' }]);
  assert.deepEqual(status.failed.map((f) => [f.name, f.reason]), [['fake.pdf', 'not a valid PDF file']]);
  assert.equal(status.documents, 2);
  const conv = await a.conversation();
  const context = (await readEvents(await a.ask(conv, 'when does the quennel inverter trip?')))[0]!.data as { citations: { name: string }[] };
  assert.equal(context.citations[0]!.name, 'real.pdf');
  const tower = (await readEvents(await a.ask(conv, 'zorblatt water tower leak')))[0]!.data as { citations: { name: string }[] };
  assert.equal(tower.citations[0]!.name, 'huge.txt');
  await healthy(a.base);
  // locked and unlocked: the index is rebuilt from its sealed texts, and still says which was cut
  assert.equal((await a.api('/api/v1/session', { method: 'DELETE' })).status, 204);
  const again = await openSession(a.base);
  const after = (await indexed(again.api, 2, 120_000)) as { truncated: { name: string }[] };
  assert.deepEqual(after.truncated.map((x) => x.name), ['huge.txt']);
});

test('limits are the same through every face: a 200,001-character message, a 2,001-character memory, a 201-character title are refused and change nothing', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const conv = await a.conversation();
  const long = await a.ask(conv, 'x'.repeat(200_001));
  assert.equal(long.status, 400);
  const ok = await a.ask(conv, `${'word '.repeat(30_000)}end`);
  assert.equal(ok.status, 413, 'a 150,000-character message passes the body limit and is refused as too large for the window');
  assert.equal((await messagesOf(a.api, conv)).length, 1);
  assert.equal((await a.api('/api/v1/assistant/memories', { method: 'POST', ...json({ text: 'm'.repeat(2001) }) })).status, 400);
  assert.equal((await a.api(`/api/v1/assistant/conversations/${conv}`, { method: 'PATCH', ...json({ title: 't'.repeat(201) }) })).status, 400);
  assert.equal((await a.api('/api/v1/assistant/preferences', { method: 'PATCH', ...json({ text: 'p'.repeat(4001) }) })).status, 400);
  assert.deepEqual(await (await a.api('/api/v1/assistant/memories')).json(), { memories: [] });
  await healthy(a.base);
});
