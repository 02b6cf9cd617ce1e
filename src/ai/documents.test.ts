import assert from 'node:assert/strict';
import { test } from 'node:test';
import { makeDocx, makePdf } from './testing/documents.ts';
import { bytesToRead, extractDocument, MAX_PACKED_BYTES, MAX_TEXT_BYTES } from './documents.ts';
import { createExtractor } from './extractor.ts';

test('PDF and DOCX text come out; a file that only claims the format is refused with the reason', async () => {
  const pdf = await extractDocument('Report.PDF', makePdf('the borehole yields 4 cubic metres (per hour)'));
  assert.deepEqual(pdf, { ok: true, text: 'the borehole yields 4 cubic metres (per hour)', format: 'pdf', truncated: false });
  const docx = await extractDocument('minutes.docx', await makeDocx(['Meeting minutes', 'Buy diesel on Friday & check the pump']));
  assert.equal(docx?.ok, true);
  assert.match((docx as { text: string }).text, /Meeting minutes\n+Buy diesel on Friday & check the pump/);
  assert.deepEqual(await extractDocument('fake.pdf', Buffer.from('this is plain text, not a PDF')), { ok: false, reason: 'not a valid PDF file' });
  const broken = await extractDocument('broken.pdf', Buffer.from('%PDF-1.4\n1 0 obj << /Type /Catalog >> garbage'));
  assert.equal(broken?.ok, false);
  assert.match((broken as { reason: string }).reason, /^not a valid PDF file \(|^the PDF could not be read/);
  assert.deepEqual(await extractDocument('fake.docx', Buffer.from('nope')), { ok: false, reason: 'not a valid DOCX file' });
  const zipNotDocx = await extractDocument('other.docx', await (async () => { const { default: JSZip } = await import('jszip'); const z = new JSZip(); z.file('a.txt', 'x'); return z.generateAsync({ type: 'nodebuffer' }); })());
  assert.equal(zipNotDocx?.ok, false);
  assert.equal(await extractDocument('photo.jpg', Buffer.from([0xff, 0xd8, 0xff])), null);
});

test('bounds: a text file is read up to MAX_TEXT_BYTES and cut on a character boundary; a PDF or DOCX over MAX_PACKED_BYTES is not read', async () => {
  assert.deepEqual(bytesToRead('huge.txt', 500 * 1024 * 1024), { bytes: MAX_TEXT_BYTES, truncated: true });
  assert.deepEqual(bytesToRead('small.md', 10), { bytes: 10, truncated: false });
  assert.deepEqual(bytesToRead('huge.pdf', MAX_PACKED_BYTES + 1), { skip: 'too large to index (over 64 MiB)' });
  assert.equal(bytesToRead('movie.mkv', 10), null);
  // "é" is two bytes: a read that ends between them drops the half
  const cut = Buffer.concat([Buffer.from('café crème'), Buffer.from('é').subarray(0, 1)]);
  assert.deepEqual(await extractDocument('notes.txt', cut, { truncated: true }), { ok: true, text: 'café crème', format: 'text', truncated: true });
  assert.equal(await extractDocument('notes.txt', cut), null, 'an uncut file with invalid UTF-8 is not text');
});

test('the extractor reads PDF and DOCX on a worker thread, and a file that takes too long is reported, the worker replaced', async (t) => {
  const extractor = createExtractor();
  t.after(() => extractor.close());
  assert.deepEqual(await extractor.extract('a.pdf', makePdf('hello from the worker')), { ok: true, text: 'hello from the worker', format: 'pdf', truncated: false });
  assert.equal((await extractor.extract('m.docx', await makeDocx(['docx via worker'])))?.ok, true);
  assert.deepEqual(await extractor.extract('fake.pdf', Buffer.from('nope')), { ok: false, reason: 'not a valid PDF file' });
  assert.deepEqual(await extractor.extract('n.txt', Buffer.from('plain')), { ok: true, text: 'plain', format: 'text', truncated: false });

  const slow = createExtractor({ timeoutMs: 1 });
  t.after(() => slow.close());
  assert.deepEqual(await slow.extract('a.pdf', makePdf('too slow')), { ok: false, reason: 'took too long to read (over 0 s)' });
  const stop = new AbortController();
  const pending = extractor.extract('b.pdf', makePdf('stopped'), { signal: stop.signal });
  stop.abort(new Error('locked'));
  await assert.rejects(pending, /locked/);
  // a new worker serves the next file
  assert.equal((await extractor.extract('c.pdf', makePdf('after the abort')))?.ok, true);
});
