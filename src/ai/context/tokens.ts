/**
 * Token counting for the context builder. The builder takes any synchronous counter; the model's
 * own tokenizer is best (an embedded model's, or a provider's count). Otherwise a real BPE
 * (gpt-tokenizer's cl100k_base) scaled by a margin, since local models tokenize differently:
 * Llama-2's 32 K SentencePiece vocabulary makes more tokens of the same English than cl100k.
 *
 * DEFAULT_MARGIN is measured, not guessed: llama.cpp's tokenizer vectors (models/ggml-vocab-*.gguf
 * with .inp/.out) ship inside node-llama-cpp, which is not installed yet, so the reference is
 * llama.cpp's SPM algorithm (src/ai/testing/spm.ts, checked on Llama-2 token ids llama.cpp
 * documents) over the real Llama-2 vocabulary in ../shared/data/models. On SciFact's 5,183
 * abstracts Llama-2 makes 1.24× cl100k's tokens in total, per abstract p50 1.24, p95 1.34, p99
 * 1.39, max 1.53; on its 300 short queries 1.25 in total (max 1.88: a query of 15 tokens for
 * cl100k's 8, which PER_ITEM covers). 1.35 covers the total with room, and an abstract at p99 is
 * under-counted by 3 %, which the reply reserve absorbs: Ollama truncates only a prompt over
 * num_ctx, and the builder leaves the reserve below it. Newer vocabularies (Llama 3's 128 K,
 * Qwen's 150 K) count close to cl100k, so for them 1.35 only wastes room; the provider's own
 * count of each prompt (Ollama's prompt_eval_count) is the way to tighten it per model.
 */
export type TokenCount = (text: string) => number;

export const DEFAULT_MARGIN = 1.35;

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
