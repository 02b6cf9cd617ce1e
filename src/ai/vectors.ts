/**
 * Dense vectors for the assistant's index, when the vault has an embedding model configured:
 * each indexed file's chunks are embedded by the provider in the background, kept sealed
 * (store.putVectors) so the next unlock does not embed them again, and held in memory
 * (retrieval/dense.ts). Retrieval then fuses BM25 with them (weightedFusion); without an
 * embedding model, or while the provider is down, it is BM25 alone, never an error.
 */
import { ElohimError } from '../errors.ts';
import type { ModelProvider } from './providers/provider.ts';
import { createDenseIndex, FUSION_DEPTH, weightedFusion } from './retrieval/dense.ts';
import type { ChunkHit, Retriever } from './retrieval/retriever.ts';
import type { AssistantStore } from './store/store.ts';

/** Texts per embedding call. */
const BATCH = 16;
/** A query's embedding must come quickly, or the turn goes on with BM25 alone. */
const QUERY_TIMEOUT_MS = 15_000;

export interface VectorsDeps {
  embeddingModel: () => string | null;
  provider: () => ModelProvider | null;
  index: () => Retriever;
  store: () => AssistantStore;
  signal: AbortSignal;
  onError?: (err: unknown) => void;
}

export interface Vectors {
  /** Puts the sealed vectors of the configured model into memory; queues documents without. */
  load(): void;
  /** Embeds these documents' chunks (they were just indexed). */
  queue(items: readonly string[]): void;
  forget(item: string): void;
  /** The model or provider changed: drop what is held and embed everything again. */
  reset(): void;
  /** BM25, fused with dense vectors when there are any. */
  retrieve(text: string, limit: number, signal: AbortSignal): Promise<ChunkHit[]>;
  readonly size: number;
}

export function createVectors(deps: VectorsDeps): Vectors {
  const dense = createDenseIndex();
  const waiting = new Set<string>();
  let running: Promise<void> | null = null;

  function kick(): void {
    if (running !== null || deps.signal.aborted || deps.embeddingModel() === null) return;
    running = work()
      .catch((err: unknown) => {
        // a provider that is down: the documents stay queued for the next kick
        if (!deps.signal.aborted) deps.onError?.(err);
      })
      .finally(() => {
        running = null;
      });
  }

  async function work(): Promise<void> {
    const model = deps.embeddingModel();
    const provider = deps.provider();
    if (model === null || provider === null) return;
    for (const item of waiting) {
      deps.signal.throwIfAborted();
      const chunks = deps.index().chunksOf(item);
      if (chunks === null) {
        waiting.delete(item);
        continue;
      }
      let out: Float32Array | null = null;
      let dims = 0;
      for (let i = 0; i < chunks.length; i += BATCH) {
        const got = await provider.embed(model, chunks.slice(i, i + BATCH).map((c) => c.text), { signal: deps.signal });
        for (const v of got) {
          if (dims === 0) {
            dims = v.length;
            out = new Float32Array(chunks.length * dims);
          }
          if (v.length !== dims) throw new ElohimError('AI_PROVIDER_FAILED', 'the embedding model answered vectors of different lengths');
        }
        got.forEach((v, j) => out!.set(v, (i + j) * dims));
      }
      // the file may have changed while its chunks were embedded
      if (deps.index().chunksOf(item) !== chunks || deps.embeddingModel() !== model) continue;
      waiting.delete(item);
      if (out === null) continue;
      deps.store().putVectors(item, model, dims, out);
      dense.set(item, out, dims);
    }
  }

  return {
    load() {
      const model = deps.embeddingModel();
      if (model === null) return;
      const store = deps.store();
      for (const item of store.documentItems()) {
        const v = store.takeVectors(item, model);
        const chunks = deps.index().chunksOf(item);
        if (v !== null && chunks !== null && chunks.length > 0 && v.length % chunks.length === 0) dense.set(item, v, v.length / chunks.length);
        else waiting.add(item);
      }
      kick();
    },
    queue(items) {
      for (const item of items) {
        dense.remove(item);
        waiting.add(item);
      }
      kick();
    },
    forget(item) {
      dense.remove(item);
      waiting.delete(item);
    },
    reset() {
      for (const item of deps.store().documentItems()) dense.remove(item);
      waiting.clear();
      this.load();
    },
    async retrieve(text, limit, signal) {
      const index = deps.index();
      const model = deps.embeddingModel();
      const provider = deps.provider();
      if (model === null || provider === null || dense.size === 0) return index.search(text, limit);
      const lexical = index.search(text, FUSION_DEPTH);
      let query: number[];
      try {
        [query] = (await provider.embed(model, [text], { signal, timeoutMs: QUERY_TIMEOUT_MS })) as [number[]];
      } catch (err) {
        if (signal.aborted) throw err;
        deps.onError?.(err);
        return lexical.slice(0, limit);
      }
      const key = (docId: string, chunk: number) => `${docId}\u0000${chunk}`;
      const fused = weightedFusion(
        lexical.map((h) => ({ key: key(h.docId, h.chunk.index), score: h.score })),
        dense.search(query, FUSION_DEPTH).map((h) => ({ key: key(h.docId, h.chunk), score: h.score })),
      );
      const hits: ChunkHit[] = [];
      for (const { key: k, score } of fused) {
        const cut = k.lastIndexOf('\u0000');
        const docId = k.slice(0, cut);
        const chunk = index.chunksOf(docId)?.[Number(k.slice(cut + 1))];
        if (chunk !== undefined) hits.push({ docId, chunk, score });
        if (hits.length === limit) break;
      }
      return hits;
    },
    get size() {
      return dense.size;
    },
  };
}
