import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, test } from 'node:test';
import { createRecordStore, openDatabase } from '../db/index.ts';
import type { Database } from '../db/index.ts';
import { VaultKey } from '../keyring/index.ts';
import { createAssistant } from './assistant.ts';
import { createOllamaProvider } from './providers/ollama.ts';
import { assistantKeysOf } from './store/records.ts';
import type { AssistantRecord } from './store/records.ts';
import { startOllamaServer } from './testing/loopback.ts';
import type { LoopbackServer } from './testing/loopback.ts';
import { MEMORY_PROMPT, SUMMARY_PROMPT } from './upkeep.ts';

let server: LoopbackServer;
let db: Database;
/** what the test model says to each kind of request */
const said = { summaries: 0 };
before(async () => {
  server = await startOllamaServer({
    reply: (messages) => {
      const system = messages[0]?.content;
      if (system === SUMMARY_PROMPT) return `summary ${++said.summaries}`;
      if (system === MEMORY_PROMPT) return 'Here is what I found:\n- The clinic generator fails above 40 °C\n- likes tea\nnot a list item\n- \n- One\n- Two\n- Three';
      return 'fine';
    },
  });
  db = openDatabase(':memory:');
});
after(async () => {
  db.close();
  await server.close();
});

function assistant() {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<AssistantRecord>({ db, keys: assistantKeysOf((l) => key.derive(l)) });
  return createAssistant({ records, clock: Date.now, provider: createOllamaProvider({ baseUrl: server.url }), count: (t) => Math.ceil(t.length / 4) });
}

test('the running summary is updated incrementally: old summary plus only the turns since', async () => {
  const a = assistant();
  const c = a.store.createConversation('long');
  const ids = [];
  for (let i = 0; i < 12; i++) ids.push(a.store.appendMessage(c.id, { role: i % 2 ? 'assistant' : 'user', content: `turn-${i}` }).id);
  const first = await a.summarize(c.id, { model: 'tiny', keep: 8 });
  assert.equal(first!.text, `summary ${said.summaries}`);
  assert.equal(first!.through, ids[3]);
  let input = (server.requests.at(-1)!.body as { messages: { content: string }[] }).messages[1]!.content;
  assert.match(input, /Summary so far: \(none yet\)/);
  assert.deepEqual(input.match(/turn-\d+/g), ['turn-0', 'turn-1', 'turn-2', 'turn-3']);
  // nothing new to fold
  assert.equal(await a.summarize(c.id, { model: 'tiny', keep: 8 }), null);
  for (let i = 12; i < 16; i++) ids.push(a.store.appendMessage(c.id, { role: i % 2 ? 'assistant' : 'user', content: `turn-${i}` }).id);
  const second = await a.summarize(c.id, { model: 'tiny', keep: 8 });
  assert.equal(second!.through, ids[7]);
  input = (server.requests.at(-1)!.body as { messages: { content: string }[] }).messages[1]!.content;
  assert.match(input, new RegExp(`Summary so far:\\n${first!.text}`));
  assert.deepEqual(input.match(/turn-\d+/g), ['turn-4', 'turn-5', 'turn-6', 'turn-7']);
  assert.equal(a.store.summary(c.id)!.text, second!.text);
});

test('proposed memories: list items only, at most three, none already known, with provenance', async () => {
  const a = assistant();
  const c = a.store.createConversation('x');
  a.store.addMemory({ text: 'Likes tea' });
  const user = a.store.appendMessage(c.id, { role: 'user', content: 'the generator died again at 41 degrees' });
  a.store.appendMessage(c.id, { role: 'assistant', content: 'Sorry to hear.' });
  const proposed = await a.proposeMemories(c.id, { model: 'tiny' });
  assert.deepEqual(proposed.map((m) => [m.text, m.status]), [['The clinic generator fails above 40 °C', 'proposed'], ['One', 'proposed'], ['Two', 'proposed']]);
  assert.deepEqual(proposed[0]!.source, { conversation: c.id, message: user.id });
  const sent = (server.requests.at(-1)!.body as { messages: { content: string }[] }).messages[1]!.content;
  assert.equal(sent, 'User: the generator died again at 41 degrees\n\nAssistant: Sorry to hear.');
  const auto = await a.proposeMemories(c.id, { model: 'tiny', autoApprove: true });
  assert.deepEqual(auto.map((m) => [m.text, m.status]), [['Three', 'approved']]);
});
