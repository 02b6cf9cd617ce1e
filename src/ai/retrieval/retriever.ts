import { createBm25Index } from './bm25.ts';
import type { Bm25Options } from './bm25.ts';
import { chunkText } from './chunk.ts';
import type { Chunk, ChunkOptions } from './chunk.ts';

/** A chunk found for a query. */
export interface ChunkHit {
  docId: string;
  chunk: Chunk;
  score: number;
}

/** A document found for a query: its best chunk's score. */
export interface DocumentHit {
  docId: string;
  score: number;
  best: ChunkHit;
}

/**
 * What the assistant searches: documents (a vault file's extracted text, keyed by its item id)
 * cut into chunks (chunk.ts), each chunk a BM25 document. The working index lives in memory
 * while the vault is unlocked; nothing here touches a disk.
 */
export interface Retriever {
  /** Indexes a document's text, replacing what was indexed under `docId`; returns its chunk count. */
  addDocument(docId: string, text: string): number;
  removeDocument(docId: string): boolean;
  /** The best `limit` chunks, best first. */
  search(query: string, limit: number): ChunkHit[];
  /** The best `limit` documents, each scored by its best chunk, best first. */
  searchDocuments(query: string, limit: number): DocumentHit[];
  /** A document's chunks in order (for embedding them, and for dense hits); null when not indexed. */
  chunksOf(docId: string): readonly Chunk[] | null;
  readonly documents: number;
  readonly chunks: number;
}

export interface RetrieverOptions extends Bm25Options, ChunkOptions {}

// A NUL cannot occur in an item id, so the key splits back unambiguously.
const keyOf = (docId: string, index: number) => `${docId}\u0000${index}`;

export function createRetriever(opts: RetrieverOptions = {}): Retriever {
  const index = createBm25Index(opts);
  const chunksOf = new Map<string, Chunk[]>();
  let chunkCount = 0;

  function removeDocument(docId: string): boolean {
    const chunks = chunksOf.get(docId);
    if (chunks === undefined) return false;
    for (const c of chunks) index.remove(keyOf(docId, c.index));
    chunkCount -= chunks.length;
    chunksOf.delete(docId);
    return true;
  }

  function search(query: string, limit: number): ChunkHit[] {
    return index.search(query, limit).map((hit) => {
      const cut = hit.id.lastIndexOf('\u0000');
      const docId = hit.id.slice(0, cut);
      return { docId, chunk: chunksOf.get(docId)![Number(hit.id.slice(cut + 1))]!, score: hit.score };
    });
  }

  return {
    addDocument(docId, text) {
      if (docId.includes('\u0000')) throw new RangeError('a document id cannot contain NUL');
      removeDocument(docId);
      const chunks = chunkText(text, opts);
      for (const c of chunks) index.add(keyOf(docId, c.index), c.text);
      chunksOf.set(docId, chunks);
      chunkCount += chunks.length;
      return chunks.length;
    },
    removeDocument,
    search,
    chunksOf: (docId) => chunksOf.get(docId) ?? null,
    searchDocuments(query, limit) {
      // A document's chunks compete with each other for places; fetch more and keep the best of each.
      const seen = new Map<string, DocumentHit>();
      for (const hit of search(query, limit * 3)) {
        if (!seen.has(hit.docId)) seen.set(hit.docId, { docId: hit.docId, score: hit.score, best: hit });
        if (seen.size === limit) break;
      }
      return [...seen.values()];
    },
    get documents() {
      return chunksOf.size;
    },
    get chunks() {
      return chunkCount;
    },
  };
}
