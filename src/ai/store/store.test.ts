import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, test } from 'node:test';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import type { RecordId } from '../../db/index.ts';
import { isElohimError } from '../../errors.ts';
import { VaultKey } from '../../keyring/index.ts';
import { assistantKeysOf, DOCUMENT_PART_CHARS, MAX_DOCUMENT_CHARS } from './records.ts';
import type { AssistantRecord } from './records.ts';
import { openAssistantStore } from './store.ts';
import type { StoredDocument } from './store.ts';

const db = openDatabase(':memory:');
after(() => db.close());

function open(clock: () => number) {
  const key = new VaultKey(randomBytes(32));
  const records = createRecordStore<AssistantRecord>({ db, keys: assistantKeysOf((l) => key.derive(l)) });
  return { records, store: openAssistantStore({ records, clock }) };
}

test('conversations: newest activity first, rename, trash and restore, search, export, delete', () => {
  let t = 0;
  const { store, records } = open(() => (t += 10));
  const a = store.createConversation('Generator');
  const b = store.createConversation('Groceries');
  assert.deepEqual(store.listConversations().map((c) => c.title), ['Groceries', 'Generator']);
  store.appendMessage(a.id, { role: 'user', content: 'It stops when HOT' });
  store.appendMessage(a.id, { role: 'assistant', content: 'Shade it.', model: 'tiny' });
  assert.deepEqual(store.listConversations().map((c) => c.title), ['Generator', 'Groceries']);
  assert.deepEqual(store.messages(a.id).map((m) => m.seq), [0, 1]);
  assert.equal(store.renameConversation(b.id, 'Shopping').title, 'Shopping');
  assert.deepEqual(store.searchConversations('hot').map((c) => c.id), [a.id]);
  assert.deepEqual(store.searchConversations('shop').map((c) => c.id), [b.id]);
  store.trashConversation(b.id);
  assert.deepEqual(store.listConversations().map((c) => c.id), [a.id]);
  assert.deepEqual(store.listConversations({ trashed: true }).map((c) => c.id), [b.id]);
  assert.equal(store.trashConversation(b.id, false).trashed, undefined);
  assert.equal(store.exportMarkdown(a.id).split('\n').filter((l) => l.startsWith('#')).join('|'), '# Generator|## You|## Assistant (tiny)');
  assert.match(store.exportMarkdown(a.id), /It stops when HOT\n\n## Assistant \(tiny\)\n\nShade it\./);
  const [first] = store.messages(a.id);
  store.setSummary(a.id, 'heat trouble', first!.id);
  assert.equal(store.summary(a.id)!.through, first!.id);
  assert.throws(() => store.setSummary(b.id, 'x', first!.id), (err) => isElohimError(err, 'ITEM_NOT_FOUND'));
  store.deleteConversation(a.id);
  assert.throws(() => store.messages(a.id), (err) => isElohimError(err, 'ITEM_NOT_FOUND'));
  assert.equal(store.summary(a.id), null);
  assert.deepEqual([...records.loadAll().values()].map((r) => r.t), ['conversation']);
  assert.throws(() => store.createConversation('  '), (err) => isElohimError(err, 'INVALID_INPUT'));
});

test('memories: proposed then approved or edited, with provenance and an expiry', () => {
  let now = 1000;
  const { store, records } = open(() => now);
  const c = store.createConversation('x');
  const msg = store.appendMessage(c.id, { role: 'user', content: 'the generator fails above 40' });
  const proposed = store.addMemory({ text: 'generator fails above 40 °C', status: 'proposed', source: { conversation: c.id, message: msg.id } });
  assert.deepEqual(store.listMemories({ status: 'approved' }), []);
  now = 2000;
  const approved = store.updateMemory(proposed.id, { status: 'approved', text: 'The generator fails above 40 °C' });
  assert.deepEqual([approved.status, approved.text, approved.updated, approved.source], ['approved', 'The generator fails above 40 °C', 2000, { conversation: c.id, message: msg.id }]);
  const brief = store.addMemory({ text: 'visiting until Friday', expires: 5000 });
  assert.equal(store.listMemories().length, 2);
  now = 5000;
  assert.deepEqual(store.listMemories().map((m) => m.id), [proposed.id]);
  assert.deepEqual(store.listMemories({ expired: true }).map((m) => m.id), [proposed.id, brief.id]);
  assert.equal(store.updateMemory(brief.id, { expires: null }).expires, undefined);
  assert.equal(store.listMemories().length, 2);
  store.removeMemory(brief.id);
  assert.throws(() => store.removeMemory(brief.id), (err) => isElohimError(err, 'ITEM_NOT_FOUND'));
  // reopened: the same
  const again = openAssistantStore({ records, clock: () => now });
  assert.deepEqual(again.listMemories(), store.listMemories());
  assert.throws(() => again.updateMemory('f'.repeat(32) as RecordId, { text: 'x' }), (err) => isElohimError(err, 'ITEM_NOT_FOUND'));
});

test('documents: kept in parts, handed back whole at open, replaced, cut past the limit, removed', () => {
  const { store, records } = open(Date.now);
  const long = `${'é🦙'.repeat(DOCUMENT_PART_CHARS)}end`;
  assert.deepEqual(store.putDocument('item-a', 'a.txt', long), { text: long, truncated: false });
  store.putDocument('item-b', 'b.txt', 'first version');
  store.putDocument('item-b', 'b.txt', 'second version');
  assert.equal([...records.loadAll().values()].filter((r) => r.t === 'document').length, 5);
  const seen: StoredDocument[] = [];
  const again = openAssistantStore({ records, clock: Date.now, onDocument: (d) => seen.push(d) });
  assert.deepEqual(seen.map((d) => [d.item, d.name, d.text.length, d.truncated]).sort(), [['item-a', 'a.txt', long.length, false], ['item-b', 'b.txt', 14, false]]);
  assert.equal(seen.find((d) => d.item === 'item-a')!.text, long);
  // many at once, one item twice: the last text wins, one commit
  store.putDocuments([{ item: 'item-d', name: 'd.txt', text: 'old' }, { item: 'item-e', name: 'e.txt', text: 'e' }, { item: 'item-d', name: 'd.txt', text: 'new' }]);
  const batch: StoredDocument[] = [];
  openAssistantStore({ records, clock: Date.now, onDocument: (d) => batch.push(d) });
  assert.deepEqual(batch.filter((d) => d.item >= 'item-d').map((d) => [d.item, d.text]).sort(), [['item-d', 'new'], ['item-e', 'e']]);
  store.removeDocument('item-d');
  store.removeDocument('item-e');
  const huge = store.putDocument('item-c', 'c.txt', 'x'.repeat(MAX_DOCUMENT_CHARS + 10));
  assert.deepEqual([huge.text.length, huge.truncated], [MAX_DOCUMENT_CHARS, true]);
  assert.ok(again.removeDocument('item-a'));
  assert.equal(again.removeDocument('item-a'), false);
  const last: StoredDocument[] = [];
  openAssistantStore({ records, clock: Date.now, onDocument: (d) => last.push(d) });
  assert.deepEqual(last.map((d) => [d.item, d.truncated]).sort(), [['item-b', false], ['item-c', true]]);
});

test('settings, vectors and replaced answers: kept sealed, read back at the next open, and refused when malformed', () => {
  let t = 0;
  const { store, records } = open(() => ++t);
  assert.deepEqual(store.config(), { provider: null, chatModel: null, embeddingModel: null, autoApprove: false, proposeMemories: true });
  store.setConfig({ ...store.config(), provider: { kind: 'ollama', baseUrl: 'http://127.0.0.1:11434', allowRemote: false }, chatModel: 'tiny' });
  store.putDocument('item1', 'a.md', 'some text', 'f'.repeat(64));
  const v = Float32Array.from({ length: 3 * 5000 }, (_, i) => i / 7);
  store.putVectors('item1', 'embedder', 5000, v);
  assert.throws(() => store.putVectors('nope', 'embedder', 2, new Float32Array(2)), (e: unknown) => isElohimError(e, 'ITEM_NOT_FOUND'));
  assert.throws(() => store.putVectors('item1', 'embedder', 4, new Float32Array(6)), RangeError);
  const c = store.createConversation('c');
  const q = store.appendMessage(c.id, { role: 'user', content: 'q' });
  const old = store.appendMessage(c.id, { role: 'assistant', content: 'old' });
  store.setSummary(c.id, 'summary through the old answer', old.id);
  store.appendMessage(c.id, { role: 'assistant', content: 'new' }, [old.id]);
  assert.deepEqual(store.messages(c.id).map((m) => m.content), ['q', 'new']);
  assert.equal(store.summary(c.id), null, 'a summary through a replaced message goes with it');
  assert.throws(() => store.appendMessage(c.id, { role: 'assistant', content: 'x' }, [q.id.replace(/^./, (first) => (first === '0' ? '1' : '0')) as RecordId]), (e: unknown) => isElohimError(e, 'ITEM_NOT_FOUND'));

  const again = openAssistantStore({ records, clock: () => ++t });
  assert.equal(again.config().chatModel, 'tiny');
  assert.deepEqual(again.documentInfo('item1'), { name: 'a.md', sha256: 'f'.repeat(64) });
  assert.deepEqual(again.takeVectors('item1', 'embedder'), v, 'three parts of 8,192 floats or fewer, in order');
  assert.equal(again.takeVectors('item1', 'other-model'), null);
  // new text for the file: its vectors were of the old one
  again.putDocument('item1', 'a.md', 'other text', 'e'.repeat(64));
  assert.equal(again.takeVectors('item1', 'embedder'), null);
  assert.equal(openAssistantStore({ records, clock: () => ++t }).takeVectors('item1', 'embedder'), null);
  // limits, whichever face the text came through
  assert.throws(() => again.addMemory({ text: 'm'.repeat(2001) }), (e: unknown) => isElohimError(e, 'INVALID_INPUT'));
  assert.throws(() => again.createConversation('t'.repeat(201)), (e: unknown) => isElohimError(e, 'INVALID_INPUT'));
  assert.throws(() => again.setPreferences('p'.repeat(4001)), (e: unknown) => isElohimError(e, 'INVALID_INPUT'));
});
