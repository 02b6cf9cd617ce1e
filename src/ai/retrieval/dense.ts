/**
 * Dense retrieval beside BM25: chunk vectors from an embedding model, searched by cosine
 * similarity over every vector (exhaustive: 10,000 chunks of 768 dimensions is ~8 M
 * multiply-adds, a few milliseconds, and exact), and the two rankings fused.
 *
 * Fusion, measured on SciFact (bench/retrieval.ts, README "AI assistant"): reciprocal rank fusion
 * with equal weights lets a weak embedder pull good lexical hits down, so the assistant mixes
 * scores instead: each list's scores are scaled to [0, 1] by its own maximum and minimum over
 * its top candidates, and a chunk scores `weight · lexical + (1 − weight) · dense` (a chunk
 * absent from a list scores 0 there). DENSE_WEIGHT keeps BM25 in charge.
 *
 * Pure: no I/O; vectors are given, not fetched.
 */

/** The share of the lexical score in the mix (bench: see README). */
export const LEXICAL_WEIGHT = 0.7;
/** How many candidates each list contributes to a fusion. */
export const FUSION_DEPTH = 100;

export interface DenseHit {
  docId: string;
  /** the chunk's index in its document */
  chunk: number;
  score: number;
}

export interface DenseIndex {
  /**
   * A document's chunk vectors, `dims` floats per chunk in chunk order (replacing any). Takes
   * `vectors` over (normalized in place, not copied: 10,000 × 768 floats are 30 MB).
   */
  set(docId: string, vectors: Float32Array, dims: number): void;
  remove(docId: string): boolean;
  has(docId: string): boolean;
  /** The `limit` chunks most similar to `query` (cosine), best first. */
  search(query: ArrayLike<number>, limit: number): DenseHit[];
  /** number of chunk vectors */
  readonly size: number;
  readonly dims: number | null;
}

/** Vectors normalized to unit length once, so a search is a dot product. */
export function createDenseIndex(): DenseIndex {
  const docs = new Map<string, Float32Array>();
  let dims: number | null = null;
  let size = 0;

  const normalize = (v: Float32Array, d: number) => {
    for (let r = 0; r < v.length; r += d) {
      let n = 0;
      for (let i = r; i < r + d; i++) n += v[i]! * v[i]!;
      const scale = n > 0 ? 1 / Math.sqrt(n) : 0;
      for (let i = r; i < r + d; i++) v[i]! *= scale;
    }
    return v;
  };

  return {
    set(docId, vectors, d) {
      if (!Number.isInteger(d) || d <= 0 || vectors.length % d !== 0) throw new RangeError('vectors must be whole rows of dims floats');
      // a new model of another width replaces every old vector
      if (dims !== null && d !== dims) {
        docs.clear();
        size = 0;
      }
      dims = d;
      this.remove(docId);
      docs.set(docId, normalize(vectors, d));
      size += vectors.length / d;
    },
    remove(docId) {
      const v = docs.get(docId);
      if (v === undefined) return false;
      size -= v.length / dims!;
      docs.delete(docId);
      return true;
    },
    has: (docId) => docs.has(docId),
    search(query, limit) {
      if (dims === null || query.length !== dims || limit <= 0) return [];
      let qn = 0;
      for (let i = 0; i < dims; i++) qn += query[i]! * query[i]!;
      if (qn === 0) return [];
      const q = new Float32Array(dims);
      for (let i = 0; i < dims; i++) q[i] = query[i]! / Math.sqrt(qn);
      // keep the best `limit` in a small sorted array: limit is small (≤ FUSION_DEPTH)
      const best: DenseHit[] = [];
      for (const [docId, v] of docs) {
        for (let r = 0, c = 0; r < v.length; r += dims, c++) {
          let s = 0;
          for (let i = 0; i < dims; i++) s += q[i]! * v[r + i]!;
          if (best.length === limit && s <= best[best.length - 1]!.score) continue;
          let at = best.length;
          while (at > 0 && best[at - 1]!.score < s) at--;
          best.splice(at, 0, { docId, chunk: c, score: s });
          if (best.length > limit) best.pop();
        }
      }
      return best;
    },
    get size() {
      return size;
    },
    get dims() {
      return dims;
    },
  };
}

/** A ranked list for fusion: keys (e.g. "doc#chunk") with scores, best first. */
export type Ranked = readonly { key: string; score: number }[];

/** `weight · lexical + (1 − weight) · dense`, each min-max scaled over its own list; best first. */
export function weightedFusion(lexical: Ranked, dense: Ranked, weight = LEXICAL_WEIGHT): { key: string; score: number }[] {
  const scaled = (list: Ranked) => {
    const out = new Map<string, number>();
    if (list.length === 0) return out;
    const max = list[0]!.score;
    const min = list[list.length - 1]!.score;
    for (const { key, score } of list) out.set(key, max === min ? 1 : (score - min) / (max - min));
    return out;
  };
  const a = scaled(lexical);
  const b = scaled(dense);
  const keys = new Set([...a.keys(), ...b.keys()]);
  return [...keys]
    .map((key) => ({ key, score: weight * (a.get(key) ?? 0) + (1 - weight) * (b.get(key) ?? 0) }))
    .sort((x, y) => y.score - x.score || (x.key < y.key ? -1 : 1));
}

/** Reciprocal rank fusion (Cormack et al. 2009), equal weights: Σ 1 / (k + rank). For comparison. */
export function reciprocalRankFusion(lists: readonly Ranked[], k = 60): { key: string; score: number }[] {
  const scores = new Map<string, number>();
  for (const list of lists) list.forEach(({ key }, rank) => scores.set(key, (scores.get(key) ?? 0) + 1 / (k + rank + 1)));
  return [...scores].map(([key, score]) => ({ key, score })).sort((x, y) => y.score - x.score || (x.key < y.key ? -1 : 1));
}
