/**
 * The assistant's conversations, messages, summaries, memories and preferences on a real data
 * folder (SQLite file, sealed record store, keys derived from a VaultKey): nothing readable on
 * disk, a decoy with its own, and everything back after reopening.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { assistantKeysOf, createAssistant, openAssistantStore } from '../src/ai/index.ts';
import type { AssistantRecord } from '../src/ai/index.ts';
import { startOllamaServer } from '../src/ai/testing/loopback.ts';
import { createOllamaProvider } from '../src/ai/index.ts';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import type { Database } from '../src/db/index.ts';
import { VaultKey } from '../src/keyring/index.ts';
import { vaultRecordKeys } from '../src/keyring/index.ts';

const dirs: string[] = [];
after(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

function folder() {
  const dir = mkdtempSync(join(tmpdir(), 'elohim-ai-'));
  dirs.push(dir);
  return dir;
}

const recordsOf = (db: Database, key: VaultKey) => createRecordStore<AssistantRecord>({ db, keys: assistantKeysOf((l) => key.derive(l)) });

/** Every file under `dir`, its bytes searched for `word` as UTF-8, UTF-16 and any letter case. */
function findOnDisk(dir: string, word: string): string[] {
  const needles = [Buffer.from(word), Buffer.from(word.toUpperCase()), Buffer.from(word.toLowerCase()), Buffer.from(word, 'utf16le')];
  const hits: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const path = join(d, name);
      if (statSync(path).isDirectory()) walk(path);
      else if (needles.some((n) => readFileSync(path).includes(n))) hits.push(path);
    }
  };
  walk(dir);
  return hits;
}

test('after chatting, summarising and approving memories, no marker word is anywhere under the data folder', async () => {
  const dir = folder();
  const server = await startOllamaServer();
  try {
    let db = openDatabase(join(dir, 'db.sqlite'));
    const key = new VaultKey(randomBytes(32));
    const assistant = createAssistant({ records: recordsOf(db, key), clock: Date.now, provider: createOllamaProvider({ baseUrl: server.url }), count: (t) => Math.ceil(t.length / 4) });
    const { store } = assistant;
    const c = store.createConversation('Zanzibarquux generator');
    store.setPreferences('Answer like a Zanzibarquux engineer');
    for await (const e of assistant.ask(c.id, 'does the zanzibarquux generator fail above 40 degrees', { model: 'tiny' })) void e;
    const [first] = store.messages(c.id);
    store.setSummary(c.id, 'We discussed the Zanzibarquux generator', first!.id);
    const proposed = store.addMemory({ text: 'The Zanzibarquux generator fails above 40 °C', status: 'proposed', source: { conversation: c.id, message: first!.id } });
    store.updateMemory(proposed.id, { status: 'approved' });
    store.addMemory({ text: 'zanzibarquux lives in the clinic', expires: Date.now() + 60_000 });
    assistant.indexDocument('item-1', 'zanzibarquux-manual.txt', `The Zanzibarquux manual.\n\n${'Keep it cool. '.repeat(5000)}`);
    assert.equal(store.messages(c.id).length, 2);
    assert.match(store.messages(c.id)[1]!.content, /zanzibarquux/);
    db.close();
    assert.deepEqual(findOnDisk(dir, 'Zanzibarquux'), []);
    // unlocked again: the index is rebuilt from the sealed text, with the file's name
    db = openDatabase(join(dir, 'db.sqlite'));
    const reopened = createAssistant({ records: recordsOf(db, key), clock: Date.now, provider: null });
    const [hit] = reopened.index.searchDocuments('zanzibarquux manual', 5);
    assert.equal(hit!.docId, 'item-1');
    assert.ok(reopened.index.chunks > 5);
    assert.equal(createAssistant({ records: recordsOf(db, new VaultKey(randomBytes(32))), clock: Date.now, provider: null }).index.documents, 0);
    assert.ok(reopened.removeDocument('item-1'));
    assert.deepEqual([...recordsOf(db, key).loadAll().values()].filter((r) => r.t === 'document'), []);
    db.close();
    // and the marker test finds what it looks for: a plaintext copy would be caught
    db = openDatabase(join(dir, 'db.sqlite'));
    db.exec(`CREATE TABLE probe (x TEXT); INSERT INTO probe VALUES ('zanzibarquux');`);
    db.close();
    assert.deepEqual(findOnDisk(dir, 'Zanzibarquux'), [join(dir, 'db.sqlite')]);
  } finally {
    await server.close();
  }
});

test('reopened with the same key, everything is back; a decoy key sees none of it and keeps its own', () => {
  const dir = folder();
  const db = openDatabase(join(dir, 'db.sqlite'));
  try {
    const real = new VaultKey(randomBytes(32));
    const decoy = new VaultKey(randomBytes(32));
    let t = 1000;
    const clock = () => t++;
    const mine = openAssistantStore({ records: recordsOf(db, real), clock });
    const c = mine.createConversation('clinic');
    mine.appendMessage(c.id, { role: 'user', content: 'hello' });
    mine.appendMessage(c.id, { role: 'assistant', content: 'hi', model: 'tiny' });
    const m = mine.addMemory({ text: 'likes short answers' });
    mine.setPreferences('metric units');

    const theirs = openAssistantStore({ records: recordsOf(db, decoy), clock });
    assert.deepEqual(theirs.listConversations(), []);
    assert.deepEqual(theirs.listMemories(), []);
    assert.equal(theirs.preferences(), '');
    const d = theirs.createConversation('groceries');
    theirs.addMemory({ text: 'buys bread' });

    const again = openAssistantStore({ records: recordsOf(db, real), clock });
    assert.deepEqual(again.listConversations().map((x) => x.title), ['clinic']);
    assert.deepEqual(again.messages(c.id).map((x) => [x.role, x.content, x.seq]), [['user', 'hello', 0], ['assistant', 'hi', 1]]);
    assert.deepEqual(again.listMemories().map((x) => x.id), [m.id]);
    assert.equal(again.preferences(), 'metric units');
    assert.throws(() => again.getConversation(d.id), /no such conversation/);
    // the vault's own record store (other keys, same table) does not see assistant rows
    assert.equal(createRecordStore({ db, keys: vaultRecordKeys((l) => real.derive(l)) }).loadAll().size, 0);
    // deleting a conversation removes its messages; the set seal still verifies
    again.deleteConversation(c.id);
    const load = recordsOf(db, real).load();
    assert.equal(load.seal, 'ok');
    assert.deepEqual([...load.records.values()].map((r) => r.t).sort(), ['memory', 'preferences']);
  } finally {
    db.close();
  }
});

test('a record kind from a newer build is refused, not half-read', () => {
  const dir = folder();
  const db = openDatabase(join(dir, 'db.sqlite'));
  try {
    const key = new VaultKey(randomBytes(32));
    const records = recordsOf(db, key);
    records.commit({ put: [['0'.repeat(32) as never, { t: 'hologram', v: 1 } as never]] });
    assert.throws(() => openAssistantStore({ records, clock: Date.now }), (err: { code?: string }) => err.code === 'VAULT_FORMAT_UNKNOWN');
  } finally {
    db.close();
  }
});
