import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createRecordStore, openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { isElohimError } from '../errors.ts';
import { VaultKey } from '../keyring/index.ts';
import { createAssistant } from './assistant.ts';
import type { AskEvent, AssistantDeps } from './assistant.ts';
import { createOllamaProvider } from './providers/ollama.ts';
import { assistantKeysOf } from './store/records.ts';
import type { AssistantRecord } from './store/records.ts';
import { startOllamaServer } from './testing/loopback.ts';
import type { LoopbackServer } from './testing/loopback.ts';

let server: LoopbackServer;
let db: Database;
before(async () => {
  server = await startOllamaServer();
  db = openDatabase(':memory:');
});
after(async () => {
  db.close();
  await server.close();
});

const chars4 = (t: string) => Math.ceil(t.length / 4);

function assistant(over: Partial<AssistantDeps> = {}) {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<AssistantRecord>({ db, keys: assistantKeysOf((l) => key.derive(l)) });
  return createAssistant({ records, clock: Date.now, provider: createOllamaProvider({ baseUrl: server.url }), count: chars4, ...over });
}

async function drain(events: AsyncIterable<AskEvent>, seen: AskEvent[] = []) {
  for await (const e of events) seen.push(e);
  return seen;
}

test('a turn: memories and excerpts that match go to the model, the answer streams and is saved with its sources', async () => {
  const a = assistant();
  const c = a.store.createConversation('clinic');
  a.store.addMemory({ text: 'The clinic generator fails above 40 °C' });
  a.store.addMemory({ text: 'The user likes tea' });
  a.store.addMemory({ text: 'generator proposal not yet approved', status: 'proposed' });
  a.indexDocument('item-manual', 'manual.txt', 'Generator manual. Keep the generator in the shade when it is hot.');
  a.indexDocument('item-recipe', 'bread.md', 'Bread: flour, water, salt.');
  const events = await drain(a.ask(c.id, 'why does the generator stop when hot', { model: 'tiny' }));
  const context = events[0]!;
  assert.equal(context.type, 'context');
  if (context.type !== 'context') return;
  assert.deepEqual(context.sources, ['item-manual']);
  assert.equal(context.report.window, 2048, "the model's own window, from /api/show");
  assert.equal(context.report.parts.memories.included, 1);
  const sent = server.requests.at(-1)!.body as { messages: { role: string; content: string }[]; options: { num_ctx: number } };
  assert.equal(sent.options.num_ctx, 2048);
  assert.match(sent.messages[0]!.content, /- The clinic generator fails above 40 °C/);
  assert.doesNotMatch(sent.messages[0]!.content, /tea|not yet approved/);
  assert.match(sent.messages[0]!.content, /\[1\] \(manual\.txt\)\nGenerator manual/);
  const done = events.at(-1)!;
  assert.equal(done.type, 'done');
  if (done.type === 'done') assert.deepEqual([done.promptTokens, done.completionTokens], [7, 8]);
  const saved = a.store.messages(c.id);
  assert.deepEqual(saved.map((m) => [m.role, m.content]), [['user', 'why does the generator stop when hot'], ['assistant', 'echo: why does the generator stop when hot']]);
  assert.deepEqual(saved[1]!.sources, ['item-manual']);
  // the next turn sends the earlier turns
  await drain(a.ask(c.id, 'and in winter', { model: 'tiny' }));
  const next = server.requests.at(-1)!.body as { messages: { role: string; content: string }[] };
  assert.deepEqual(next.messages.slice(1).map((m) => m.content), ['why does the generator stop when hot', 'echo: why does the generator stop when hot', 'and in winter']);
});

test('nothing typed is lost: provider down, message too large, stopped midway', async () => {
  const gone = await startOllamaServer();
  await gone.close();
  const down = assistant({ provider: createOllamaProvider({ baseUrl: gone.url }) });
  const c = down.store.createConversation('x');
  await assert.rejects(drain(down.ask(c.id, 'are you there', { model: 'tiny', contextLength: 4096 })), (err) => isElohimError(err, 'AI_PROVIDER_UNREACHABLE'));
  assert.deepEqual(down.store.messages(c.id).map((m) => m.content), ['are you there']);

  const a = assistant();
  const big = a.store.createConversation('big');
  await assert.rejects(drain(a.ask(big.id, 'word '.repeat(2000), { model: 'tiny' })), (err) => isElohimError(err, 'AI_CONTEXT_TOO_LARGE'));
  assert.equal(a.store.messages(big.id).length, 1);

  const stop = new AbortController();
  const s = a.store.createConversation('stop');
  const seen: AskEvent[] = [];
  await assert.rejects(
    (async () => {
      for await (const e of a.ask(s.id, Array.from({ length: 500 }, (_, i) => `w${i}`).join(' '), { model: 'tiny', signal: stop.signal })) {
        seen.push(e);
        if (seen.length === 4) stop.abort(new Error('Stop'));
      }
    })(),
    /Stop/,
  );
  const [, answer] = a.store.messages(s.id);
  assert.equal(answer!.partial, true);
  assert.equal(answer!.content, 'echo: w0 w1');

  // locking the vault stops an answer in flight
  const l = a.store.createConversation('lock');
  const events = a.ask(l.id, Array.from({ length: 500 }, (_, i) => `w${i}`).join(' '), { model: 'tiny' });
  await events.next();
  await events.next();
  a.stop();
  await assert.rejects(drain(events), (err: Error) => err.name === 'AbortError');
});

test('no provider yet: a clear error, and the message is not taken', async () => {
  const a = assistant({ provider: null });
  const c = a.store.createConversation('x');
  await assert.rejects(drain(a.ask(c.id, 'hi', { model: 'tiny' })), /no model yet/);
  assert.equal(a.store.messages(c.id).length, 0);
});
