import { createAnalyzer } from './analyzer.ts';
import type { Analyzer } from './analyzer.ts';

/**
 * Okapi BM25 over an in-memory inverted index, Lucene's variant (the one the published SciFact
 * figures use): idf = ln(1 + (N − df + 0.5) / (df + 0.5)), term score
 * idf · tf · (k1 + 1) / (tf + k1 · (1 − b + b · len / avgLen)), summed over the query's terms
 * (a term repeated in the query counts again, as in a Lucene BooleanQuery).
 *
 * Defaults k1 = 1.2, b = 0.75 are Lucene's own (BM25Similarity), not fitted to SciFact's test
 * queries. Measured on SciFact (title + text): indexed whole with Anserini's k1 0.9, b 0.4 this
 * gives nDCG@10 0.6776 against Anserini's published 0.6789, so the analyzer and scoring match
 * Lucene's; chunked as the assistant chunks (200 words) 0.6852 at 0.9/0.4 and 0.6913 at the
 * defaults. `node bench/retrieval.ts --sweep` prints the grid: 0.678–0.696 over
 * k1 ∈ {0.6, 0.9, 1.2, 1.5} × b ∈ {0.3…0.9}, its best (1.5 / 0.75) not taken, being fitted to
 * the test queries.
 *
 * Pure and synchronous: documents are added and removed one by one (files arrive, move, are
 * trashed), and every change keeps document frequencies and the mean length exact.
 */
export interface Bm25Index {
  /** Adds a document, replacing one with the same id. */
  add(id: string, text: string): void;
  /** Removes a document; false when there was none. */
  remove(id: string): boolean;
  has(id: string): boolean;
  /** The best `limit` documents for `query`, best first; equal scores in id order. */
  search(query: string, limit: number): SearchHit[];
  /** Number of documents. */
  readonly size: number;
  /** Number of distinct terms. */
  readonly terms: number;
}

export interface SearchHit {
  id: string;
  score: number;
}

export interface Bm25Options {
  k1?: number;
  b?: number;
  analyzer?: Analyzer;
}

interface Postings {
  /** document slots, in no particular order */
  docs: number[];
  /** term frequency in each, same order */
  tfs: number[];
}

export function createBm25Index(opts: Bm25Options = {}): Bm25Index {
  const k1 = opts.k1 ?? 1.2;
  const b = opts.b ?? 0.75;
  if (!(k1 >= 0) || !(b >= 0 && b <= 1)) throw new RangeError('BM25 needs k1 ≥ 0 and 0 ≤ b ≤ 1');
  const analyze = opts.analyzer ?? createAnalyzer();

  const postings = new Map<string, Postings>();
  const slotOf = new Map<string, number>();
  const ids: (string | undefined)[] = [];
  const lengths: number[] = [];
  /** the distinct terms of each document, to remove it */
  const termsOf: (string[] | undefined)[] = [];
  const free: number[] = [];
  let totalLength = 0;
  let scores = new Float64Array(0);

  function remove(id: string): boolean {
    const slot = slotOf.get(id);
    if (slot === undefined) return false;
    for (const term of termsOf[slot]!) {
      const p = postings.get(term)!;
      const at = p.docs.lastIndexOf(slot);
      // swap-remove: order inside a postings list does not matter
      p.docs[at] = p.docs[p.docs.length - 1]!;
      p.tfs[at] = p.tfs[p.tfs.length - 1]!;
      p.docs.pop();
      p.tfs.pop();
      if (p.docs.length === 0) postings.delete(term);
    }
    totalLength -= lengths[slot]!;
    ids[slot] = undefined;
    termsOf[slot] = undefined;
    lengths[slot] = 0;
    slotOf.delete(id);
    free.push(slot);
    return true;
  }

  return {
    add(id, text) {
      remove(id);
      const tokens = analyze(text);
      const counts = new Map<string, number>();
      for (const t of tokens) counts.set(t, (counts.get(t) ?? 0) + 1);
      const slot = free.pop() ?? ids.length;
      ids[slot] = id;
      lengths[slot] = tokens.length;
      termsOf[slot] = [...counts.keys()];
      slotOf.set(id, slot);
      totalLength += tokens.length;
      for (const [term, tf] of counts) {
        let p = postings.get(term);
        if (p === undefined) postings.set(term, (p = { docs: [], tfs: [] }));
        p.docs.push(slot);
        p.tfs.push(tf);
      }
    },
    remove,
    has: (id) => slotOf.has(id),
    search(query, limit) {
      const n = slotOf.size;
      if (n === 0 || limit <= 0) return [];
      if (scores.length < ids.length) scores = new Float64Array(Math.max(ids.length, scores.length * 2));
      const avgLength = totalLength / n || 1;
      const queryTerms = new Map<string, number>();
      for (const t of analyze(query)) queryTerms.set(t, (queryTerms.get(t) ?? 0) + 1);
      const touched: number[] = [];
      for (const [term, qtf] of queryTerms) {
        const p = postings.get(term);
        if (p === undefined) continue;
        const idf = Math.log(1 + (n - p.docs.length + 0.5) / (p.docs.length + 0.5)) * qtf;
        for (let i = 0; i < p.docs.length; i++) {
          const slot = p.docs[i]!;
          const tf = p.tfs[i]!;
          if (scores[slot] === 0) touched.push(slot);
          scores[slot]! += (idf * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * lengths[slot]!) / avgLength));
        }
      }
      const hits = topK(touched, scores, ids, limit);
      for (const slot of touched) scores[slot] = 0;
      return hits;
    },
    get size() {
      return slotOf.size;
    },
    get terms() {
      return postings.size;
    },
  };
}

/** Ranks `a` before `b`: higher score, then lower id (so results never depend on insertion history). */
const before = (a: SearchHit, b: SearchHit): boolean => a.score > b.score || (a.score === b.score && a.id < b.id);

/** The best `k` of the touched slots through a bounded min-heap: O(n log k). */
function topK(touched: number[], scores: Float64Array, ids: (string | undefined)[], k: number): SearchHit[] {
  const heap: SearchHit[] = [];
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let worst = i;
      if (l < heap.length && before(heap[worst]!, heap[l]!)) worst = l;
      if (r < heap.length && before(heap[worst]!, heap[r]!)) worst = r;
      if (worst === i) return;
      [heap[i], heap[worst]] = [heap[worst]!, heap[i]!];
      i = worst;
    }
  };
  for (const slot of touched) {
    const hit = { id: ids[slot]!, score: scores[slot]! };
    if (heap.length < k) {
      heap.push(hit);
      for (let i = heap.length - 1; i > 0; ) {
        const parent = (i - 1) >> 1;
        if (!before(heap[parent]!, heap[i]!)) break;
        [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
        i = parent;
      }
    } else if (before(hit, heap[0]!)) {
      heap[0] = hit;
      siftDown(0);
    }
  }
  return heap.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
}
