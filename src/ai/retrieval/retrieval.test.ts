import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { createAnalyzer } from './analyzer.ts';
import { createBm25Index } from './bm25.ts';
import { chunkText } from './chunk.ts';
import { porterStem } from './porter.ts';
import { createRetriever } from './retriever.ts';

test('Porter stemmer: the examples of Porter (1980), through every step', () => {
  const vectors: Record<string, string> = {
    caresses: 'caress', ponies: 'poni', ties: 'ti', caress: 'caress', cats: 'cat', feed: 'feed', agreed: 'agre',
    plastered: 'plaster', bled: 'bled', motoring: 'motor', sing: 'sing', conflated: 'conflat', troubled: 'troubl',
    sized: 'size', hopping: 'hop', tanned: 'tan', falling: 'fall', hissing: 'hiss', fizzed: 'fizz', failing: 'fail',
    filing: 'file', happy: 'happi', sky: 'sky', relational: 'relat', conditional: 'condit', rational: 'ration',
    valenci: 'valenc', hesitanci: 'hesit', digitizer: 'digit', conformabli: 'conform', radicalli: 'radic',
    differentli: 'differ', vileli: 'vile', analogousli: 'analog', vietnamization: 'vietnam', predication: 'predic',
    operator: 'oper', feudalism: 'feudal', decisiveness: 'decis', hopefulness: 'hope', callousness: 'callous',
    formaliti: 'formal', sensitiviti: 'sensit', sensibiliti: 'sensibl', triplicate: 'triplic', formative: 'form',
    formalize: 'formal', electriciti: 'electr', electrical: 'electr', hopeful: 'hope', goodness: 'good',
    revival: 'reviv', allowance: 'allow', inference: 'infer', airliner: 'airlin', gyroscopic: 'gyroscop',
    adjustable: 'adjust', defensible: 'defens', irritant: 'irrit', replacement: 'replac', adjustment: 'adjust',
    dependent: 'depend', adoption: 'adopt', homologou: 'homolog', communism: 'commun', activate: 'activ',
    angulariti: 'angular', homologous: 'homolog', effective: 'effect', bowdlerize: 'bowdler', probate: 'probat',
    rate: 'rate', cease: 'ceas', controll: 'control', roll: 'roll', generalizations: 'gener', oscillators: 'oscil',
  };
  for (const [word, stem] of Object.entries(vectors)) assert.equal(porterStem(word), stem, word);
});

test('analyzer: words across apostrophes and decimals, possessives, stop words, stems, NFKC', () => {
  const analyze = createAnalyzer();
  assert.deepEqual(analyze("The clinic's generators fail above 40.5 °C, not at 10,000 rpm"), ['clinic', 'gener', 'fail', 'abov', '40.5', 'c', '10,000', 'rpm']);
  assert.deepEqual(analyze('ﬁle ＡＢＣ o’neill u.s.a.'), ['file', 'abc', 'o’neill', 'u.s.a']);
  assert.deepEqual(createAnalyzer({ stem: false, stopWords: new Set() })('The Cats'), ['the', 'cats']);
});

test('BM25: a score is Lucene BM25 computed by hand', () => {
  const index = createBm25Index({ k1: 1.2, b: 0.75, analyzer: (t) => t.split(' ') });
  index.add('a', 'x y y');
  index.add('b', 'y z');
  index.add('c', 'z z z z');
  const [hit] = index.search('x', 10);
  // N = 3, df(x) = 1, len(a) = 3, avgLen = 3
  const idf = Math.log(1 + (3 - 1 + 0.5) / (1 + 0.5));
  assert.equal(hit!.id, 'a');
  assert.ok(Math.abs(hit!.score - (idf * 1 * 2.2) / (1 + 1.2)) < 1e-12);
  const y = index.search('y', 10);
  // a has tf 2 but is longer; both match: a first
  assert.deepEqual(y.map((h) => h.id), ['a', 'b']);
  const idfY = Math.log(1 + (3 - 2 + 0.5) / (2 + 0.5));
  assert.ok(Math.abs(y[1]!.score - (idfY * 2.2) / (1 + 1.2 * (1 - 0.75 + (0.75 * 2) / 3))) < 1e-12);
  assert.deepEqual(index.search('q', 10), []);
});

test('BM25: after any adds, replacements and removals, results equal an index built from what is left', () => {
  const words = ['alpha', 'beta', 'gamma', 'delta', 'eps', 'zeta'];
  const doc = fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 8 }).map((w) => w.join(' '));
  const op = fc.oneof(fc.tuple(fc.constant('add' as const), fc.integer({ min: 0, max: 7 }), doc), fc.tuple(fc.constant('remove' as const), fc.integer({ min: 0, max: 7 }), fc.constant('')));
  fc.assert(
    fc.property(fc.array(op, { maxLength: 30 }), fc.array(fc.constantFrom(...words), { minLength: 1, maxLength: 3 }), (ops, q) => {
      const live = createBm25Index();
      const state = new Map<string, string>();
      for (const [kind, n, text] of ops) {
        if (kind === 'add') {
          live.add(`d${n}`, text);
          state.set(`d${n}`, text);
        } else {
          assert.equal(live.remove(`d${n}`), state.delete(`d${n}`));
        }
      }
      const fresh = createBm25Index();
      for (const [id, text] of [...state].sort()) fresh.add(id, text);
      const query = q.join(' ');
      const a = live.search(query, 5);
      const b = fresh.search(query, 5);
      assert.deepEqual(a.map((h) => h.id), b.map((h) => h.id));
      a.forEach((h, i) => assert.ok(Math.abs(h.score - b[i]!.score) < 1e-9));
      assert.equal(live.size, state.size);
    }),
    { numRuns: 300 },
  );
});

test('chunks: cover the text at paragraph and sentence ends, within the word limit, overlapping', () => {
  const para = (n: number, w: number) => Array.from({ length: n }, (_, i) => `Sentence ${i} ${'word '.repeat(w - 2).trim()}.`).join(' ');
  const text = [para(3, 10), para(8, 10), 'x '.repeat(75).trim()].join('\n\n');
  const chunks = chunkText(text, { maxWords: 40, overlapWords: 10 });
  for (const c of chunks) {
    assert.equal(text.slice(c.start, c.end), c.text);
    assert.ok((c.text.match(/\S+/g) ?? []).length <= 40);
  }
  // whole paragraphs and sentences: a chunk ends at a sentence end, except in the long run of x
  assert.ok(chunks[0]!.text.startsWith(`${para(3, 10)}\n\nSentence 0 `));
  assert.ok(chunks.filter((c) => !c.text.includes('x')).every((c) => c.text.endsWith('.')));
  assert.ok(chunks.filter((c) => c.text.includes('x')).length >= 2);
  // overlap: the next chunk starts before the previous one ended
  assert.ok(chunks.some((c, i) => i > 0 && c.start < chunks[i - 1]!.end));
  // every word of the text is in some chunk
  for (const m of text.matchAll(/\S+/g)) assert.ok(chunks.some((c) => c.start <= m.index && m.index + m[0].length <= c.end));
});

test('chunks: any text, never a cut word, never over the limit, every word covered', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('a', 'b', ' ', '.', '\n', 'é'), maxLength: 300 }), fc.integer({ min: 1, max: 12 }), (text, max) => {
      const chunks = chunkText(text, { maxWords: max, overlapWords: Math.floor(max / 3) });
      for (const c of chunks) {
        assert.equal(text.slice(c.start, c.end), c.text);
        assert.ok((c.text.match(/\S+/g) ?? []).length <= max);
        assert.ok(c.start === 0 || /\s/.test(text[c.start - 1]!), 'starts at a word');
        assert.ok(c.end === text.length || /\s/.test(text[c.end]!), 'ends at a word');
      }
      for (const m of text.matchAll(/\S+/g)) assert.ok(chunks.some((c) => c.start <= m.index && m.index + m[0].length <= c.end));
    }),
    { numRuns: 300 },
  );
});

test('retriever: finds a document by any of its chunks, forgets a removed one', () => {
  const r = createRetriever({ maxWords: 20, overlapWords: 0 });
  const long = `${'filler text about nothing much at all here. '.repeat(10)}The generator fails above forty degrees.`;
  assert.ok(r.addDocument('manual', long) > 1);
  r.addDocument('recipe', 'Bread needs flour, water and salt.');
  const [hit] = r.searchDocuments('generator failing', 5);
  assert.equal(hit!.docId, 'manual');
  assert.match(hit!.best.chunk.text, /generator fails/);
  assert.equal(long.slice(hit!.best.chunk.start, hit!.best.chunk.end), hit!.best.chunk.text);
  assert.ok(r.removeDocument('manual'));
  assert.deepEqual(r.searchDocuments('generator', 5), []);
  assert.equal(r.chunks, 1);
});
