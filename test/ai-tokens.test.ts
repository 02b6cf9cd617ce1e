/**
 * The token margin (src/ai/context/tokens.ts DEFAULT_MARGIN) against a Llama-2 model's real
 * count: llama.cpp's SPM algorithm (src/ai/testing/spm.ts) over the Llama-2 vocabulary in
 * ../shared/data/models, on SciFact text (../shared/data/scifact).
 */
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { before, test } from 'node:test';
import { DEFAULT_MARGIN, loadBpeCounter, PER_ITEM, tokenCounter } from '../src/ai/index.ts';
import type { TokenCount } from '../src/ai/index.ts';
import { spmTokenizerFromGguf } from '../src/ai/testing/spm.ts';
import type { SpmTokenizer } from '../src/ai/testing/spm.ts';

/** The shared test data (never copied into the repository): ELOHIM_TEST_DATA, or ../shared/data beside the checkout. */
const shared = process.env.ELOHIM_TEST_DATA ?? join(import.meta.dirname, '..', '..', 'shared', 'data');
const gguf = join(shared, 'models', 'llama-2-tiny-random', 'llama-2-tiny-random.gguf');
// Without the data this suite cannot run; it says so in the report (a skip with the reason), never silently.
const missing = existsSync(gguf) && existsSync(join(shared, 'scifact')) ? false : `test data not found in ${shared} (set ELOHIM_TEST_DATA)`;
let llama: SpmTokenizer;
let bpe: TokenCount;
before(async () => {
  if (missing) return;
  llama = spmTokenizerFromGguf(gguf);
  bpe = await loadBpeCounter();
});

test('the SPM reference gives the Llama-2 token ids llama.cpp gives', { skip: missing }, () => {
  // llama.cpp's README example prompt and common checks (ids without BOS)
  assert.deepEqual(llama.encode('I believe the meaning of life is'), [306, 4658, 278, 6593, 310, 2834, 338]);
  assert.deepEqual(llama.encode('Hello world'), [15043, 3186]);
  assert.deepEqual(llama.encode(' Hello'), [29871, 15043]);
  // byte fallback: 🦙 is not in the vocabulary, its UTF-8 bytes are <0xF0> <0x9F> <0xA6> <0x99>
  assert.deepEqual(llama.encode('🦙').slice(1), [0xf0 + 3, 0x9f + 3, 0xa6 + 3, 0x99 + 3]);
});

test('cl100k with DEFAULT_MARGIN does not under-count Llama-2 on real prose', { skip: missing }, () => {
  const corpus = readFileSync(join(shared, 'scifact', 'corpus.jsonl'), 'utf8').split('\n').filter(Boolean).slice(0, 80);
  const abstracts = corpus.map((l) => {
    const d = JSON.parse(l) as { title: string; text: string };
    return `${d.title}\n\n${d.text}`;
  });
  const queries = gunzipSync(readFileSync(join(shared, 'scifact', 'topics.beir-v1.0.0-scifact.test.tsv.gz'))).toString('utf8').split('\n').filter(Boolean).map((l) => l.slice(l.indexOf('\t') + 1));
  const count = tokenCounter(bpe, { margin: DEFAULT_MARGIN });
  for (const texts of [abstracts, queries]) {
    const real = texts.reduce((s, t) => s + llama.count(t), 0);
    const ours = texts.reduce((s, t) => s + count(t), 0);
    // what a context of these texts would be counted at, against what the model counts
    assert.ok(ours >= real * 1.05, `${ours} counted for ${real} real tokens`);
    // each text as the builder charges it (with its PER_ITEM) is rarely under
    const under = texts.filter((t) => count(t) + PER_ITEM < llama.count(t)).length;
    assert.ok(under <= texts.length * 0.05, `${under} of ${texts.length} under-counted`);
  }
  // and without the margin, cl100k alone under-counts: the margin is needed
  const plain = abstracts.reduce((s, t) => s + bpe(t), 0);
  assert.ok(plain < abstracts.reduce((s, t) => s + llama.count(t), 0) * 0.85);
});
