/**
 * Token counting for the context builder. The builder takes any synchronous counter; the model's
 * own tokenizer is best (an embedded model's, or a provider's count). Otherwise a real BPE
 * (gpt-tokenizer's cl100k_base) scaled by a margin, since local models tokenize differently:
 * Llama-2's 32 K SentencePiece vocabulary makes more tokens of the same English than cl100k.
 *
 * DEFAULT_MARGIN is a safety factor, not yet measured against llama.cpp's tokenizer vectors
 * (models/ggml-vocab-*.gguf with .inp/.out ship in node-llama-cpp's bundled llama.cpp source,
 * and node-llama-cpp is not installed yet): 1.25 covers the usual 10–20 % by which Llama-2 and
 * Mistral vocabularies exceed cl100k on English prose. Replace it with the measured figure when
 * the embedded provider lands.
 */
export type TokenCount = (text: string) => number;

export const DEFAULT_MARGIN = 1.25;

/** cl100k_base's counter, loaded on first use: the import parses 1.7 MB of ranks (about 0.7 s). */
export async function loadBpeCounter(): Promise<TokenCount> {
  const { countTokens } = await import('gpt-tokenizer/encoding/cl100k_base');
  return (text) => countTokens(text);
}

/**
 * `count` scaled by `margin` (rounded up) and remembered per text, so a long conversation's
 * messages are counted once, not on every turn. The memory is bounded (least recently used
 * texts go first).
 */
export function tokenCounter(count: TokenCount, opts: { margin?: number; maxEntries?: number } = {}): TokenCount {
  const margin = opts.margin ?? 1;
  if (!(margin >= 1)) throw new RangeError('a token margin is at least 1');
  const maxEntries = opts.maxEntries ?? 20_000;
  const memo = new Map<string, number>();
  return (text) => {
    const hit = memo.get(text);
    if (hit !== undefined) {
      // refresh: Map keeps insertion order, so the first key is the least recently used
      memo.delete(text);
      memo.set(text, hit);
      return hit;
    }
    const n = Math.ceil(count(text) * margin);
    if (memo.size >= maxEntries) memo.delete(memo.keys().next().value!);
    memo.set(text, n);
    return n;
  };
}
