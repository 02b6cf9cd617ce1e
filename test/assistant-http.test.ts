import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { MEMORY_PROMPT, SUMMARY_PROMPT } from '../src/ai/index.ts';
import { indexed, json, putFile, readEvents, startAssistant } from './assistant-helpers.ts';
import { eventually } from './http-helpers.ts';

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
  const saved = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; content: string; citations?: unknown[]; budget?: string; report?: { parts: unknown } }[] };
  assert.deepEqual(saved.messages.map((m) => m.role), ['user', 'assistant']);
  assert.deepEqual(saved.messages[1]!.citations, context.citations);
  // the budget bar of an older answer: its report is kept with it
  assert.equal(saved.messages[1]!.budget, context.budget);
  assert.deepEqual(saved.messages[1]!.report!.parts, context.report.parts);

  // renamed and moved: the citation follows the file
  const folder = ((await (await a.api('/api/v1/folders', { method: 'POST', ...json({ name: 'power' }) })).json()) as { item: { id: string } }).item.id;
  assert.equal((await a.api(`/api/v1/items/${item}`, { method: 'PATCH', ...json({ name: 'gen.md', parent: folder }) })).status, 200);
  const again = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { citations?: { path: string | null }[] }[] };
  assert.equal(again.messages[1]!.citations![0]!.path, '/power/gen.md');
});

test('an answer holding line and paragraph separators (U+2028, U+2029), CR, LF and emoji streams and is saved intact', async (t) => {
  // JSON.stringify leaves U+2028/U+2029 as they are, and an SSE line ends only at CR or LF: a
  // reader that also split there (as a regular expression's `$` does) cut a token of
  // llama-server's noise in two in CI. The UI's parser, which the suites read with, must not.
  const answer = 'one\u2028two \u2029three\r\nfour\n\nfive \u{1F6F0}\u00A0six';
  const a = await startAssistant({ reply: (m) => (m[0]?.content === MEMORY_PROMPT ? 'NONE' : answer) });
  t.after(() => a.close());
  const conv = await a.conversation();
  const events = await readEvents(await a.ask(conv, 'anything'));
  assert.equal(events.at(-1)!.event, 'done', JSON.stringify(events.at(-1)));
  const tokens = events.filter((e) => e.event === 'token').map((e) => e.data.content).join('');
  assert.equal(tokens, answer);
  assert.equal((events.at(-1)!.data as { message: { content: string } }).message.content, answer);
  const saved = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { content: string }[] };
  assert.equal(saved.messages[1]!.content, answer);
});

test('Stop: the client closing the stream stops generation at the provider, keeps the partial answer, and frees the conversation', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const conv = await a.conversation();
  // `stall` sends one word and then nothing: only a Stop ends it
  assert.equal((await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'stall' }) })).status, 200);
  const stop = new AbortController();
  const res = await a.ask(conv, 'tell me everything', { signal: stop.signal });
  const seen: string[] = [];
  await readEvents(res, (e) => {
    seen.push(e.event);
    if (e.event === 'token') stop.abort();
  }).catch((err: unknown) => assert.equal((err as Error).name, 'AbortError'));
  assert.deepEqual(seen, ['context', 'token']);
  // the server closed its request to the model: generation really stopped
  assert.ok(await eventually(() => a.model.closedByClient === 1), `closed by client: ${a.model.closedByClient}`);
  const saved = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; content: string; partial?: boolean }[] };
  assert.deepEqual(saved.messages.map((m) => [m.role, m.content, m.partial ?? false]), [['user', 'tell me everything', false], ['assistant', 'echo:', true]]);
  // the conversation takes the next message (not AI_BUSY), and the explicit stop route stops too
  assert.equal((await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'tiny' }) })).status, 200);
  const next = await readEvents(await a.ask(conv, 'again'));
  assert.equal(next.at(-1)!.event, 'done');

  assert.equal((await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'stall' }) })).status, 200);
  let streaming!: () => void;
  const started = new Promise<void>((r) => (streaming = r));
  const reading = readEvents(await a.ask(conv, 'and again'), (e) => e.event === 'token' && streaming());
  await started;
  const busy = await a.ask(conv, 'meanwhile');
  assert.equal(busy.status, 409);
  assert.equal(((await busy.json()) as { error: { code: string } }).error.code, 'AI_BUSY');
  const stopped = await a.api(`/api/v1/assistant/conversations/${conv}/stop`, { method: 'POST' });
  assert.deepEqual(await stopped.json(), { stopped: true });
  const events = await reading;
  assert.equal(events.at(-1)!.event, 'error');
  assert.ok(await eventually(() => a.model.closedByClient === 2));
});

test('Regenerate answers the last message again and replaces the old answer; lock aborts an answer in flight', async (t) => {
  let n = 0;
  const a = await startAssistant({ reply: (m) => (m[0]?.content === MEMORY_PROMPT ? 'NONE' : `answer number ${++n}`) });
  t.after(() => a.close());
  const conv = await a.conversation();
  await readEvents(await a.ask(conv, 'first question'));
  const events = await readEvents(await a.api(`/api/v1/assistant/conversations/${conv}/regenerate`, { method: 'POST', ...json({}) }));
  assert.equal((events[0]!.data as { user: unknown }).user, null);
  assert.equal(events.filter((e) => e.event === 'token').map((e) => e.data.content).join(''), 'answer number 2');
  const saved = (await (await a.api(`/api/v1/assistant/conversations/${conv}`)).json()) as { messages: { role: string; content: string }[] };
  assert.deepEqual(saved.messages.map((m) => m.content), ['first question', 'answer number 2']);
  // the model saw the question once, not twice
  const answers = a.model.requests.filter((r) => r.path === '/api/chat' && (r.body as { messages: { content: string }[] }).messages[0]!.content !== MEMORY_PROMPT);
  const sent = answers.at(-1)!.body as { messages: { role: string; content: string }[] };
  assert.deepEqual(sent.messages.filter((m) => m.role !== 'system').map((m) => m.content), ['first question']);

  assert.equal((await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'stall' }) })).status, 200);
  let streaming!: () => void;
  const started = new Promise<void>((r) => (streaming = r));
  const reading = readEvents(await a.ask(conv, 'a long one'), (e) => e.event === 'token' && streaming());
  await started;
  assert.equal((await a.api('/api/v1/session', { method: 'DELETE' })).status, 204);
  const last = (await reading).at(-1)!;
  assert.equal(last.event, 'error');
  assert.ok(await eventually(() => a.model.closedByClient === 1), 'the lock closed the request to the model');
});

test('memories over HTTP: proposed after a turn, approved with an edit, then sent to the model in a new conversation; auto-approve', async (t) => {
  const memoriesOf = (exchange: string) => (/Honda/.test(exchange) ? '- the clinic generator is a Honda' : /heat/.test(exchange) ? '- the generator fails above 40 °C\n- NONE of this' : 'NONE');
  const a = await startAssistant({ reply: (m) => (m[0]?.content === MEMORY_PROMPT ? memoriesOf(m[1]!.content) : 'ok') });
  t.after(() => a.close());
  const conv = await a.conversation();
  const events = await readEvents(await a.ask(conv, 'our generator keeps failing in the heat'));
  assert.deepEqual(events.map((e) => e.event).slice(-2), ['done', 'memories']);
  const proposed = (events.at(-1)!.data as { proposed: { id: string; text: string; status: string; source: { conversation: string } }[] }).proposed;
  assert.equal(proposed.length, 2);
  assert.equal(proposed[0]!.status, 'proposed');
  assert.equal(proposed[0]!.source.conversation, conv);
  // not used before approval
  const conv2 = await a.conversation('second');
  await readEvents(await a.ask(conv2, 'what about the generator?'));
  const before = a.model.requests.filter((r) => r.path === '/api/chat').at(-2)!.body as { messages: { content: string }[] };
  assert.doesNotMatch(before.messages[0]!.content, /40 °C/);
  const approved = await a.api(`/api/v1/assistant/memories/${proposed[0]!.id}/approve`, { method: 'POST', ...json({ text: 'the clinic generator fails above 40 °C' }) });
  assert.equal(((await approved.json()) as { memory: { status: string } }).memory.status, 'approved');
  assert.equal((await a.api(`/api/v1/assistant/memories/${proposed[1]!.id}`, { method: 'DELETE' })).status, 204);
  const conv3 = await a.conversation('third');
  const count = a.model.requests.length;
  await readEvents(await a.ask(conv3, 'what about the generator?'));
  const sent = a.model.requests.slice(count).find((r) => r.path === '/api/chat')!.body as { messages: { content: string }[] };
  assert.match(sent.messages[0]!.content, /What you remember about the user:\n- the clinic generator fails above 40 °C/);
  const status = (await (await a.api('/api/v1/assistant/status')).json()) as { proposedMemories: number; ready: boolean };
  assert.equal(status.ready, true);

  // auto-approve: the next proposal is approved at once
  assert.deepEqual(await (await a.api('/api/v1/assistant/preferences', { method: 'PATCH', ...json({ autoApprove: true, text: 'answer briefly' }) })).json(), { text: 'answer briefly', autoApprove: true, proposeMemories: true });
  const more = await readEvents(await a.ask(conv3, 'the generator is a Honda'));
  assert.equal(more.at(-1)!.event, 'memories', JSON.stringify(more.map((e) => e.event)));
  const auto = (more.at(-1)!.data as { proposed: { status: string }[] }).proposed;
  assert.ok(auto.every((m) => m.status === 'approved'));
  const list = (await (await a.api('/api/v1/assistant/memories?status=proposed')).json()) as { memories: unknown[] };
  assert.equal(list.memories.length, 0);
});

test('conversations: list, search, rename, trash and restore, export as Markdown, delete for good; bad input is a 4xx that changes nothing', async (t) => {
  const a = await startAssistant({ kind: 'openai' });
  t.after(() => a.close());
  const conv = await a.conversation('Pumps');
  await readEvents(await a.ask(conv, 'the borehole pump is a Grundfos'));
  const other = await a.conversation('Other');
  const search = (await (await a.api('/api/v1/assistant/conversations?q=grundfos')).json()) as { conversations: { id: string }[] };
  assert.deepEqual(search.conversations.map((c) => c.id), [conv]);
  assert.equal((await a.api(`/api/v1/assistant/conversations/${conv}`, { method: 'PATCH', ...json({ title: 'Borehole' }) })).status, 200);
  const md = await a.api(`/api/v1/assistant/conversations/${conv}/export`);
  assert.match(md.headers.get('content-type')!, /^text\/markdown/);
  assert.match(await md.text(), /^# Borehole\n[\s\S]*## You\n\nthe borehole pump is a Grundfos\n\n## Assistant \(tiny:latest\)\n\necho: the borehole pump is a Grundfos/);
  assert.equal((await a.api(`/api/v1/assistant/conversations/${conv}`, { method: 'DELETE' })).status, 200);
  const listed = (await (await a.api('/api/v1/assistant/conversations')).json()) as { conversations: { id: string }[] };
  assert.deepEqual(listed.conversations.map((c) => c.id), [other]);
  const trashed = (await (await a.api('/api/v1/assistant/conversations?trashed=true')).json()) as { conversations: { id: string }[] };
  assert.deepEqual(trashed.conversations.map((c) => c.id), [conv]);
  assert.equal((await a.api(`/api/v1/assistant/conversations/${conv}`, { method: 'PATCH', ...json({ trashed: false }) })).status, 200);
  assert.equal((await a.api(`/api/v1/assistant/conversations/${other}?forever=true`, { method: 'DELETE' })).status, 204);
  assert.equal((await a.api(`/api/v1/assistant/conversations/${other}`)).status, 404);

  for (const [path, init, status] of [
    [`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text: '' }) }, 400],
    [`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text: 'x', extra: 1 }) }, 400],
    [`/api/v1/assistant/conversations/${conv}/messages`, { method: 'POST', ...json({ text: 42 }) }, 400],
    [`/api/v1/assistant/conversations/${'0'.repeat(32)}/messages`, { method: 'POST', ...json({ text: 'hi' }) }, 404],
    ['/api/v1/assistant/conversations/nothex/messages', { method: 'POST', ...json({ text: 'hi' }) }, 400],
    ['/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'ollama', baseUrl: 'http://192.0.2.1:11434' } }) }, 400],
    ['/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'ollama', baseUrl: 'file:///etc/passwd' } }) }, 400],
    ['/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'gpt' } }) }, 400],
    ['/api/v1/assistant/memories', { method: 'POST', ...json({ text: '   ' }) }, 400],
    [`/api/v1/assistant/memories/${'0'.repeat(32)}/approve`, { method: 'POST', ...json({}) }, 404],
  ] as const) {
    const res = await a.api(path, init as RequestInit);
    assert.equal(res.status, status, `${path} ${String(init.body)}: ${await res.text()}`);
  }
  // nothing changed: the provider is still the loopback one, no memory was added
  const settings = (await (await a.api('/api/v1/assistant/provider')).json()) as { provider: { baseUrl: string; local: boolean } };
  assert.equal(settings.provider.baseUrl, a.model.url);
  assert.equal(settings.provider.local, true);
  assert.deepEqual(await (await a.api('/api/v1/assistant/memories')).json(), { memories: [] });
  // a remote provider with the opt-in is taken, and said to be remote
  const remote = (await (await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'ollama', baseUrl: 'http://192.0.2.1:11434', allowRemote: true } }) })).json()) as { provider: { local: boolean; allowRemote: boolean } };
  assert.deepEqual([remote.provider.local, remote.provider.allowRemote], [false, true]);
  // every route is in the OpenAPI document
  const doc = (await (await a.api('/api/v1/openapi.json')).json()) as { paths: Record<string, unknown> };
  for (const p of ['/api/v1/assistant/conversations/{id}/messages', '/api/v1/assistant/memories/{id}/approve', '/api/v1/assistant/index/rebuild', '/api/v1/assistant/provider']) assert.ok(p in doc.paths, p);
});

test('panic ends an answer in flight: the model server sees its client go', async (t) => {
  const a = await startAssistant();
  t.after(() => a.close());
  const conv = await a.conversation();
  await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ chatModel: 'stall' }) });
  let streaming!: () => void;
  const started = new Promise<void>((r) => (streaming = r));
  const reading = readEvents(await a.ask(conv, 'keep talking'), (e) => e.event === 'token' && streaming()).catch((err: unknown) => err);
  await started;
  const panic = await fetch(`${a.base}/api/v1/panic`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-elohim-csrf': '1' }, body: '{}' });
  assert.equal(panic.status, 200);
  await reading;
  assert.ok(await eventually(() => a.model.closedByClient === 1), 'generation stopped at the provider');
  assert.equal((await a.api('/api/v1/assistant/conversations')).status, 401, 'locked');
});

test('a long conversation: older turns are folded into a running summary by the model, which the next turns are given instead', async (t) => {
  const a = await startAssistant({
    reply: (m) => (m[0]?.content === SUMMARY_PROMPT ? 'The user described pump number one through several; all need seals.' : m[0]?.content === MEMORY_PROMPT ? 'NONE' : 'noted'),
  });
  t.after(() => a.close());
  const conv = await a.conversation();
  // 2,048-token window, 1,024 reserved: about a dozen 100-word turns overflow it
  const long = (i: number) => `pump number ${i}: ${'the seal leaks and the impeller wobbles '.repeat(14)}`;
  let last: { report: { parts: { summary: { included: boolean }; turns: { dropped: number; summarised: number } } }; budget: string } | undefined;
  for (let i = 0; i < 16; i++) last = (await readEvents(await a.ask(conv, long(i))))[0]!.data as typeof last;
  const summaries = a.model.requests.filter((r) => r.path === '/api/chat' && (r.body as { messages: { content: string }[] }).messages[0]!.content === SUMMARY_PROMPT);
  assert.ok(summaries.length >= 1, 'the model was asked to summarise');
  // incremental: a later request gives the summary so far, not the whole conversation again
  const input = (summaries.at(-1)!.body as { messages: { content: string }[] }).messages[1]!.content;
  if (summaries.length > 1) assert.match(input, /^Summary so far:\nThe user described pump number one/);
  assert.equal(last!.report.parts.summary.included, true, JSON.stringify(last!.report.parts));
  assert.ok(last!.report.parts.turns.summarised > 0);
  assert.match(last!.budget, /summary \d+ · .* older turns? summarised/);
  const sent = a.model.requests.filter((r) => r.path === '/api/chat').findLast((r) => (r.body as { messages: { content: string }[] }).messages[0]!.content.startsWith('You are the ElohimOS assistant'))!.body as { messages: { content: string }[] };
  assert.match(sent.messages[0]!.content, /Summary of the earlier conversation:\nThe user described pump number one/);
});

test('the conversation takes the next message as soon as the answer is saved, while memory upkeep still runs', async (t) => {
  const a = await startAssistant({ reply: (m) => (m[0]?.content === MEMORY_PROMPT ? 'NONE' : 'ok') });
  t.after(() => a.close());
  // a proxy in front of the model server that holds the memory proposal's request until released
  let release!: () => void;
  const held = new Promise<void>((r) => (release = r));
  let holding = 0;
  const proxy = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = Buffer.concat(chunks);
      if (body.includes(Buffer.from(MEMORY_PROMPT.slice(0, 40)))) {
        holding++;
        await held;
      }
      const upstream = await fetch(`${a.model.url}${req.url}`, { method: req.method, headers: { 'content-type': 'application/json' }, body: req.method === 'GET' ? undefined : body });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end(Buffer.from(await upstream.arrayBuffer()));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  t.after(() => new Promise((r) => { proxy.closeAllConnections(); proxy.close(r); }));
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  assert.equal((await a.api('/api/v1/assistant/provider', { method: 'PATCH', ...json({ provider: { kind: 'ollama', baseUrl: proxyUrl } }) })).status, 200);
  const conv = await a.conversation();
  let sawDone!: () => void;
  const done = new Promise<void>((r) => (sawDone = r));
  const first = readEvents(await a.ask(conv, 'first'), (e) => e.event === 'done' && sawDone());
  await done;
  assert.ok(await eventually(() => holding === 1), 'the memory proposal is being held');
  const second = await a.ask(conv, 'second');
  assert.equal(second.status, 200, `not AI_BUSY: ${second.status === 200 ? '' : await second.clone().text()}`);
  release();
  await readEvents(second);
  await first;
});
