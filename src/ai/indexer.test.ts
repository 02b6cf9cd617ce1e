import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { test } from 'node:test';
import { asSealKey } from '../crypto/index.ts';
import { createRecordStore, openDatabase } from '../db/index.ts';
import { openTestVault } from '../vault/testing.ts';
import { createAssistant } from './assistant.ts';
import { MAX_PACKED_BYTES } from './documents.ts';
import { createExtractor } from './extractor.ts';
import { createIndexer } from './indexer.ts';
import type { IndexStatus } from './indexer.ts';
import type { AssistantRecord } from './store/records.ts';

test('a first full index: progress while it runs, every readable file indexed in batches, no download in the audit log, a lock stops it', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const files = Array.from({ length: 120 }, (_, i) => ({ names: [`note-${i}.txt`], size: 0, text: `note ${i} about the pump number ${i}` }));
  await tv.vault.putMany(null, [
    ...files.map((f) => ({ names: f.names, size: Buffer.byteLength(f.text), read: async () => Buffer.from(f.text) })),
    { names: ['photo.bin'], size: 4, read: async () => Buffer.from([0, 1, 2, 3]) },
    { names: ['fake.pdf'], size: 4, read: async () => Buffer.from('nope') },
  ]);
  const db = openDatabase(join(tv.dir, 'ai.sqlite'));
  t.after(() => db.close());
  const records = createRecordStore<AssistantRecord>({ db, keys: { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) } });
  const assistant = createAssistant({ records, clock: Date.now, provider: null });
  const stop = new AbortController();
  const seen: IndexStatus[] = [];
  const extractor = createExtractor();
  t.after(() => extractor.close());
  const indexer = createIndexer({ vault: tv.vault, assistant, signal: stop.signal, extractor, onIndexed: () => seen.push(indexer.status()) });
  indexer.start();
  assert.equal(indexer.status().state, 'indexing');
  await indexer.idle();
  const end = indexer.status();
  assert.equal(end.documents, 120);
  assert.equal(end.state, 'idle');
  assert.deepEqual(end.failed.map((f) => [f.name, f.reason]), [['fake.pdf', 'not a valid PDF file']]);
  assert.ok(seen.length >= 3, `committed in batches: ${seen.length}`);
  assert.ok(seen.some((s) => s.state === 'indexing' && s.done < s.total && s.total === 121), JSON.stringify(seen.map((s) => [s.done, s.total])));
  assert.deepEqual(tv.events.filter((e) => e.event === 'download'), [], 'indexing reads are not downloads');

  // a lock in the middle of a rebuild: it stops, nothing throws, what was committed stays
  indexer.rebuild();
  stop.abort(new DOMException('locked', 'AbortError'));
  await indexer.idle();
  assert.ok(assistant.index.documents < 120);
});

test('a PDF over the parsing limit is not read at all, and the status names it; renamed to a name the index does not read, a file is forgotten', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const big = await tv.vault.put(null, 'scan.pdf', Readable.from([Buffer.alloc(MAX_PACKED_BYTES + 1, 0x25)]));
  const note = await tv.vault.put(null, 'note.txt', Readable.from([Buffer.from('the spare key is under the mat')]));
  const db = openDatabase(join(tv.dir, 'ai.sqlite'));
  t.after(() => db.close());
  const assistant = createAssistant({ records: createRecordStore<AssistantRecord>({ db, keys: { seal: asSealKey(randomBytes(32)), tag: randomBytes(32) } }), clock: Date.now, provider: null });
  const extractor = createExtractor();
  t.after(() => extractor.close());
  const indexer = createIndexer({ vault: tv.vault, assistant, signal: new AbortController().signal, extractor });
  indexer.start();
  await indexer.idle();
  const s = indexer.status();
  assert.deepEqual(s.failed, [{ item: big.id, name: 'scan.pdf', reason: 'too large to index (over 64 MiB)' }]);
  assert.equal(s.skipped, 1);
  assert.equal(s.documents, 1);
  // replaced by bytes that are not text: the old text goes with the old contents
  const replaced = await tv.vault.put(null, 'note.txt', Readable.from([Buffer.from([0, 1, 2, 0])]), { replace: true });
  indexer.changed([note.id, replaced.id]);
  await indexer.idle();
  assert.equal(indexer.status().documents, 0);
  await tv.vault.put(null, 'note.txt', Readable.from([Buffer.from('text again')]), { replace: true });
  indexer.start();
  await indexer.idle();
  assert.equal(indexer.status().documents, 1);
  const current = tv.vault.resolve('/note.txt')!;
  tv.vault.update(current, { name: 'note.bin' });
  indexer.changed([current]);
  await indexer.idle();
  assert.equal(indexer.status().documents, 0);
});
