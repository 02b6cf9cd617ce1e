/**
 * The assistant's retrieval on SciFact (BEIR test split: 5,183 abstracts, 300 queries with
 * judgments), through the same chunking, analyzer and BM25 index the assistant uses
 * (src/ai's createRetriever), with the figures published for BM25 beside ours; then the context
 * build for a 1,000-message conversation over a 10,000-chunk index.
 *
 *   node bench/retrieval.ts [--data DIR] [--sweep]
 *
 * --sweep also prints nDCG@10 over a grid of k1 and b (how the defaults were checked, not chosen).
 * Ends with one JSON line of its figures.
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { gunzipSync } from 'node:zlib';
import { performance } from 'node:perf_hooks';
import { assistantKeysOf, buildContext, createAssistant, createDenseIndex, createRetriever, DEFAULT_MARGIN, LEXICAL_WEIGHT, loadBpeCounter, reciprocalRankFusion, tokenCounter, weightedFusion } from '../src/ai/index.ts';
import type { AssistantRecord, ContextTurn } from '../src/ai/index.ts';
import { createRecordStore, openDatabase } from '../src/db/index.ts';
import { VaultKey } from '../src/keyring/index.ts';
import { spmTokenizerFromGguf } from '../src/ai/testing/spm.ts';
import { printJsonLine } from './lib.ts';

const args = process.argv.slice(2);
const dataDir = args.includes('--data') ? args[args.indexOf('--data') + 1]! : join(import.meta.dirname, '..', '..', 'shared', 'data', 'scifact');

interface Doc {
  _id: string;
  title: string;
  text: string;
}

const corpus: Doc[] = readFileSync(join(dataDir, 'corpus.jsonl'), 'utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => JSON.parse(l) as Doc);
const queries = gunzipSync(readFileSync(join(dataDir, 'topics.beir-v1.0.0-scifact.test.tsv.gz')))
  .toString('utf8')
  .split('\n')
  .filter((l) => l.trim() !== '')
  .map((l) => {
    const tab = l.indexOf('\t');
    return { id: l.slice(0, tab), text: l.slice(tab + 1) };
  });
const qrels = new Map<string, Map<string, number>>();
for (const line of readFileSync(join(dataDir, 'qrels.beir-v1.0.0-scifact.test.txt'), 'utf8').split('\n')) {
  const [qid, , docId, rel] = line.trim().split(/\s+/);
  if (qid === undefined || docId === undefined || rel === undefined || Number(rel) <= 0) continue;
  if (!qrels.has(qid)) qrels.set(qid, new Map());
  qrels.get(qid)!.set(docId, Number(rel));
}

/** nDCG@k with graded gains (trec_eval's ndcg_cut: gain = rel, discount log2(rank + 1)). */
function ndcg(ranked: string[], rels: Map<string, number>, k: number): number {
  let dcg = 0;
  ranked.slice(0, k).forEach((id, i) => (dcg += (rels.get(id) ?? 0) / Math.log2(i + 2)));
  const ideal = [...rels.values()].sort((a, b) => b - a).slice(0, k);
  let idcg = 0;
  ideal.forEach((rel, i) => (idcg += rel / Math.log2(i + 2)));
  return idcg === 0 ? 0 : dcg / idcg;
}
const recall = (ranked: string[], rels: Map<string, number>, k: number): number =>
  ranked.slice(0, k).filter((id) => rels.has(id)).length / rels.size;
const p = (xs: number[], q: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))]!;
const round = (x: number, d = 4) => Math.round(x * 10 ** d) / 10 ** d;
/** CPU milliseconds of this process since `from` (a process.cpuUsage()): on a shared machine under load, wall time mostly measures the others. */
const cpuMs = (from: NodeJS.CpuUsage) => {
  const d = process.cpuUsage(from);
  return (d.user + d.system) / 1000;
};

/** Anserini indexes title and text as one field ("flat"); so do we. */
const docText = (d: Doc) => `${d.title}\n\n${d.text}`;

function evaluate(opts: { k1?: number; b?: number }) {
  const retriever = createRetriever(opts);
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  for (const d of corpus) retriever.addDocument(d._id, docText(d));
  const indexMs = performance.now() - t0;
  const indexCpuMs = cpuMs(c0);
  let n10 = 0;
  let r100 = 0;
  let judged = 0;
  const times: number[] = [];
  const cpuTimes: number[] = [];
  for (const q of queries) {
    const rels = qrels.get(q.id);
    if (rels === undefined) continue;
    const t = performance.now();
    const c = process.cpuUsage();
    const ranked = retriever.searchDocuments(q.text, 100).map((h) => h.docId);
    times.push(performance.now() - t);
    cpuTimes.push(cpuMs(c));
    n10 += ndcg(ranked, rels, 10);
    r100 += recall(ranked, rels, 100);
    judged++;
  }
  return { ndcg10: n10 / judged, recall100: r100 / judged, judged, indexMs, indexCpuMs, chunks: retriever.chunks, queryP95Ms: p(times, 0.95), queryP50Ms: p(times, 0.5), queryCpuP95Ms: p(cpuTimes, 0.95) };
}

if (args.includes('--sweep')) {
  for (const k1 of [0.6, 0.9, 1.2, 1.5]) {
    const row = [0.3, 0.4, 0.5, 0.75, 0.9].map((b) => `b=${b}: ${evaluate({ k1, b }).ndcg10.toFixed(4)}`);
    console.log(`k1=${k1}  ${row.join('  ')}`);
  }
}

// Warm-up round (JIT), then the measured one.
evaluate({});
const r = evaluate({});
const words = corpus.reduce((s, d) => s + (docText(d).match(/\S+/g) ?? []).length, 0);
console.log(`SciFact: ${corpus.length} documents (${r.chunks} chunks), ${r.judged} judged queries`);
console.log(`  nDCG@10    ${r.ndcg10.toFixed(4)}   (BM25 published: BEIR 0.665, Anserini flat 0.679)`);
console.log(`  recall@100 ${r.recall100.toFixed(4)}   (BEIR BM25 0.908, Anserini flat 0.925)`);
console.log(`  indexing   ${(corpus.length / (r.indexMs / 1000)).toFixed(0)} documents/s, ${(words / (r.indexMs / 1000) / 1e6).toFixed(2)} M words/s (${r.indexMs.toFixed(0)} ms wall, ${r.indexCpuMs.toFixed(0)} ms CPU)`);
console.log(`  query      p50 ${r.queryP50Ms.toFixed(2)} ms, p95 ${r.queryP95Ms.toFixed(2)} ms wall, p95 ${r.queryCpuP95Ms.toFixed(2)} ms CPU (top 100 documents)`);

// Context build: a 1,000-message conversation over a 10,000-chunk index. The index is the corpus,
// then the corpus again under other ids until 10,000 chunks; messages are SciFact queries and
// abstracts, so their lengths are real prose.
const big = createRetriever();
for (let i = 0; big.chunks < 10_000; i++) {
  const d = corpus[i % corpus.length]!;
  big.addDocument(i < corpus.length ? d._id : `copy-${d._id}`, i < corpus.length ? docText(d) : `${d.text}\n\n${d.title}`);
}
const turns: ContextTurn[] = Array.from({ length: 1000 }, (_, i) => ({
  id: `m${i}`,
  role: i % 2 === 0 ? 'user' : 'assistant',
  content: i % 2 === 0 ? queries[i % queries.length]!.text : corpus[i % corpus.length]!.text.slice(0, 600),
}));
const count = tokenCounter(await loadBpeCounter(), { margin: DEFAULT_MARGIN });
const buildTimes: number[] = [];
const buildCpu: number[] = [];
let report: ReturnType<typeof buildContext>['report'] | undefined;
for (let round = 0; round < 200; round++) {
  const question = queries[round % queries.length]!.text;
  const t = performance.now();
  const c = process.cpuUsage();
  const excerpts = big.search(question, 8).map((h) => ({ id: `${h.docId}#${h.chunk.index}`, source: h.docId, text: h.chunk.text }));
  const built = buildContext({
    window: 8192,
    replyReserve: 1024,
    count,
    system: 'You are the ElohimOS assistant. Answer from the excerpts when they help, and cite them.',
    preferences: 'Short answers. Metric units.',
    memories: [{ id: 'mem1', text: 'The clinic generator fails above 40 °C.' }],
    excerpts,
    summary: { text: 'Earlier the user asked about several biomedical claims.', through: 'm500' },
    turns,
    user: { id: `u${round}`, content: question },
  });
  buildTimes.push(performance.now() - t);
  buildCpu.push(cpuMs(c));
  report = built.report;
}
// The first 20 rounds count the conversation's messages for the first time (then remembered).
const buildP95 = p(buildTimes.slice(20), 0.95);
const buildCpuP95 = p(buildCpu.slice(20), 0.95);
console.log(`Context build (1,000 messages, ${big.chunks} chunks, window 8192, incl. retrieval of 8 excerpts): p95 ${buildP95.toFixed(2)} ms wall, ${buildCpuP95.toFixed(2)} ms CPU (target ≤ 10 ms)`);
console.log(`  last report: ${JSON.stringify(report?.parts)}`);

// The token margin: cl100k against a Llama-2 model's own count (llama.cpp's SPM over the real
// Llama-2 vocabulary, src/ai/testing/spm.ts) on 300 abstracts; see DEFAULT_MARGIN.
const llama = spmTokenizerFromGguf(join(dataDir, '..', 'models', 'llama-2-tiny-random', 'llama-2-tiny-random.gguf'));
const bpe = await loadBpeCounter();
const sample = corpus.slice(0, 300).map(docText);
const ratios = sample.map((t) => llama.count(t) / bpe(t)).sort((a, b) => a - b);
const totalRatio = sample.reduce((s, t) => s + llama.count(t), 0) / sample.reduce((s, t) => s + bpe(t), 0);
console.log(`Tokens: Llama-2 / cl100k on ${sample.length} abstracts: total ${totalRatio.toFixed(3)}, p95 ${p(ratios, 0.95).toFixed(3)}, max ${ratios.at(-1)!.toFixed(3)}; margin used ${DEFAULT_MARGIN}`);

// What the index costs at unlock: SciFact's texts kept sealed (as the assistant keeps a vault's
// extracted text) until the index has 10,000 chunks, then the assistant opened again from the
// data folder: records read and opened, texts chunked and indexed. Memory is the heap it adds.
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;
const home = mkdtempSync(join(tmpdir(), 'elohim-bench-ai-'));
let unlockMs = 0;
let unlockCpuMs = 0;
let indexMiB = 0;
let sealedDocsPerSec = 0;
let unlockChunks = 0;
const VECTOR_DIMS = 768;
let vectorsUnlockCpuMs = 0;
let vectorsMiB = 0;
let vectorCount = 0;
let vectorSearchCpuP95Ms = 0;
try {
  const key = new VaultKey(randomBytes(32));
  const recordsOf = (db: ReturnType<typeof openDatabase>) => createRecordStore<AssistantRecord>({ db, keys: assistantKeysOf((l) => key.derive(l)) });
  let db = openDatabase(join(home, 'db.sqlite'));
  const writer = createAssistant({ records: recordsOf(db), clock: Date.now, provider: null, count });
  // a first full index: files in batches of 100, one commit each
  const t0 = performance.now();
  let docs = 0;
  while (writer.index.chunks < 10_000) {
    const batch = Array.from({ length: 100 }, (_, k) => {
      const i = docs + k;
      const d = corpus[i % corpus.length]!;
      return { item: `item-${i}`, name: `${d._id}.txt`, text: i < corpus.length ? docText(d) : `${d.text}\n\n${d.title}` };
    });
    writer.indexDocuments(batch);
    docs += batch.length;
  }
  sealedDocsPerSec = docs / ((performance.now() - t0) / 1000);
  db.close();
  db = openDatabase(join(home, 'db.sqlite'));
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const t1 = performance.now();
  const c1 = process.cpuUsage();
  const reader = createAssistant({ records: recordsOf(db), clock: Date.now, provider: null, count });
  unlockMs = performance.now() - t1;
  unlockCpuMs = cpuMs(c1);
  gc();
  indexMiB = (process.memoryUsage().heapUsed - heap0) / 2 ** 20;
  unlockChunks = reader.index.chunks;
  // Then vectors of a 768-dimension embedding model for every chunk, kept sealed as the
  // assistant keeps them, and the whole opened again: what the vectors add to an unlock (records
  // opened, decoded, handed to the dense index as src/ai/vectors.ts load does), beside the index.
  for (const item of reader.store.documentItems()) {
    const n = reader.index.chunksOf(item)!.length;
    reader.store.putVectors(item, 'bench-768', VECTOR_DIMS, Float32Array.from({ length: n * VECTOR_DIMS }, () => Math.random() - 0.5));
  }
  db.close();
  db = openDatabase(join(home, 'db.sqlite'));
  gc();
  const mem = () => process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
  const before = mem();
  const c2 = process.cpuUsage();
  const withVectors = createAssistant({ records: recordsOf(db), clock: Date.now, provider: null, count });
  const vectorsIndex = createDenseIndex();
  for (const item of withVectors.store.documentItems()) {
    const v = withVectors.store.takeVectors(item, 'bench-768');
    if (v !== null) vectorsIndex.set(item, v, VECTOR_DIMS);
  }
  vectorsUnlockCpuMs = cpuMs(c2) - unlockCpuMs;
  gc();
  vectorsMiB = (mem() - before) / 2 ** 20 - indexMiB;
  vectorCount = vectorsIndex.size;
  const q = Float32Array.from({ length: VECTOR_DIMS }, () => Math.random() - 0.5);
  const searchTimes: number[] = [];
  for (let i = 0; i < 50; i++) {
    const c = process.cpuUsage();
    vectorsIndex.search(q, 100);
    searchTimes.push(cpuMs(c));
  }
  vectorSearchCpuP95Ms = p(searchTimes, 0.95);
  db.close();
} finally {
  rmSync(home, { recursive: true, force: true });
}
console.log(`Index at unlock: ${unlockChunks} chunks from sealed records in ${unlockMs.toFixed(0)} ms wall, ${unlockCpuMs.toFixed(0)} ms CPU; ${indexMiB.toFixed(1)} MiB of heap; first index with sealing ${sealedDocsPerSec.toFixed(0)} documents/s (batches of 100)`);

// Fusion with a dense retriever, as the assistant fuses when an embedding model is configured
// (src/ai/vectors.ts: the top FUSION_DEPTH chunks of each list, then weightedFusion). No
// embedding model can be fetched here, so the dense side is a weak one made here: character
// trigrams hashed into 256 signed dimensions (log tf), the kind of embedder that finds spelling
// neighbours but knows no meaning. It shows what each fusion does with an embedder much weaker
// than BM25: equal-weight RRF against the weighted mix the assistant uses.
const DIMS = 256;
function trigramVector(text: string): Float32Array {
  const v = new Float32Array(DIMS);
  const counts = new Map<string, number>();
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    const w = ` ${word} `;
    for (let i = 0; i + 3 <= w.length; i++) counts.set(w.slice(i, i + 3), (counts.get(w.slice(i, i + 3)) ?? 0) + 1);
  }
  for (const [g, n] of counts) {
    let h = 2166136261;
    for (let i = 0; i < g.length; i++) h = Math.imul(h ^ g.charCodeAt(i), 16777619);
    v[(h >>> 1) % DIMS]! += (h & 1 ? 1 : -1) * (1 + Math.log(n));
  }
  return v;
}
const fusedRetriever = createRetriever();
for (const d of corpus) fusedRetriever.addDocument(d._id, docText(d));
const dense = createDenseIndex();
for (const d of corpus) {
  const chunks = fusedRetriever.chunksOf(d._id)!;
  const vectors = new Float32Array(chunks.length * DIMS);
  chunks.forEach((c, i) => vectors.set(trigramVector(c.text), i * DIMS));
  dense.set(d._id, vectors, DIMS);
}
const DEPTH = 100;
const keyOf = (docId: string, chunk: number) => `${docId}\u0000${chunk}`;
const docsOf = (ranked: { key: string }[]) => [...new Set(ranked.map((h) => h.key.slice(0, h.key.lastIndexOf('\u0000'))))];
function fusionScore(rank: (q: string) => string[]) {
  let n10 = 0;
  let judged = 0;
  for (const q of queries) {
    const rels = qrels.get(q.id);
    if (rels === undefined) continue;
    n10 += ndcg(rank(q.text), rels, 10);
    judged++;
  }
  return n10 / judged;
}
const lexicalOf = (q: string) => fusedRetriever.search(q, DEPTH).map((h) => ({ key: keyOf(h.docId, h.chunk.index), score: h.score }));
const denseOf = (q: string) => dense.search(trigramVector(q), DEPTH).map((h) => ({ key: keyOf(h.docId, h.chunk), score: h.score }));
const fusion = {
  bm25: fusionScore((q) => docsOf(lexicalOf(q))),
  dense: fusionScore((q) => docsOf(denseOf(q))),
  rrf: fusionScore((q) => docsOf(reciprocalRankFusion([lexicalOf(q), denseOf(q)]))),
  weighted: Object.fromEntries([0.5, 0.6, LEXICAL_WEIGHT, 0.8, 0.9].map((w) => [w, fusionScore((q) => docsOf(weightedFusion(lexicalOf(q), denseOf(q), w)))])),
};
console.log(`Fusion (chunk lists of ${DEPTH}, weak trigram-hash embedder, ${DIMS} dims): nDCG@10 BM25 ${fusion.bm25.toFixed(4)}, dense alone ${fusion.dense.toFixed(4)}, RRF ${fusion.rrf.toFixed(4)}`);
console.log(`  weighted mix (lexical weight: nDCG@10): ${Object.entries(fusion.weighted).map(([w, n]) => `${w}: ${n.toFixed(4)}`).join(', ')}; the assistant uses ${LEXICAL_WEIGHT}`);

console.log(`Vectors at unlock: ${vectorCount} of ${VECTOR_DIMS} dimensions from sealed records add about ${vectorsUnlockCpuMs.toFixed(0)} ms CPU and ${vectorsMiB.toFixed(1)} MiB to the index's; exhaustive search of them p95 ${vectorSearchCpuP95Ms.toFixed(1)} ms CPU`);

printJsonLine('retrieval', {
  vectorsUnlock768CpuMs: Math.round(vectorsUnlockCpuMs),
  vectors768MiB: round(vectorsMiB, 1),
  vectorSearch768CpuP95Ms: round(vectorSearchCpuP95Ms, 2),
  fusionBm25Ndcg10: round(fusion.bm25),
  fusionDenseNdcg10: round(fusion.dense),
  fusionRrfNdcg10: round(fusion.rrf),
  fusionWeightedNdcg10: round(fusion.weighted[LEXICAL_WEIGHT]!),
  fusionLexicalWeight: LEXICAL_WEIGHT,
  ndcg10: round(r.ndcg10),
  recall100: round(r.recall100),
  publishedBm25: { beir: 0.665, anseriniFlat: 0.679 },
  indexDocsPerSec: Math.round(corpus.length / (r.indexMs / 1000)),
  indexMs: Math.round(r.indexMs),
  indexCpuMs: Math.round(r.indexCpuMs),
  queryP95Ms: round(r.queryP95Ms, 3),
  queryCpuP95Ms: round(r.queryCpuP95Ms, 3),
  contextBuildP95Ms: round(buildP95, 3),
  contextBuildCpuP95Ms: round(buildCpuP95, 3),
  contextChunks: big.chunks,
  llama2PerCl100k: round(totalRatio, 3),
  llama2PerCl100kP95: round(p(ratios, 0.95), 3),
  tokenMargin: DEFAULT_MARGIN,
  unlockChunks,
  unlockIndexMs: Math.round(unlockMs),
  unlockIndexCpuMs: Math.round(unlockCpuMs),
  indexHeapMiB: round(indexMiB, 1),
  sealedIndexDocsPerSec: Math.round(sealedDocsPerSec),
});
