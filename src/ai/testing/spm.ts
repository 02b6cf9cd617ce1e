/**
 * A SentencePiece (SPM) tokenizer read from a GGUF file's vocabulary, following llama.cpp's
 * `llm_tokenizer_spm` (llama-vocab.cpp): a space prefix, spaces as "▁", then the adjacent pair
 * whose merge is a token with the highest score merged first (ties: leftmost), and bytes of
 * anything left outside the vocabulary as <0xXX> tokens.
 *
 * Test and benchmark code: it measures how far gpt-tokenizer's count is from a Llama-2 model's
 * real count (the margin the context builder uses), on the Llama-2 vocabulary shipped in
 * ../shared/data/models. The embedded provider will count with llama.cpp's own tokenizer.
 */
import { readFileSync } from 'node:fs';

type Value = string | number | bigint | boolean | Value[];

/** The metadata key/values of a GGUF file (GGUF v2/v3: little-endian). Throws on anything else. */
export function readGgufMetadata(path: string): Map<string, Value> {
  const buf = readFileSync(path);
  let at = 0;
  const u32 = () => ((at += 4), buf.readUInt32LE(at - 4));
  const u64 = () => ((at += 8), buf.readBigUInt64LE(at - 8));
  const str = () => {
    const n = Number(u64());
    at += n;
    return buf.toString('utf8', at - n, at);
  };
  const value = (type: number): Value => {
    switch (type) {
      case 0: return buf.readUInt8(at++);
      case 1: return buf.readInt8(at++);
      case 2: return ((at += 2), buf.readUInt16LE(at - 2));
      case 3: return ((at += 2), buf.readInt16LE(at - 2));
      case 4: return u32();
      case 5: return ((at += 4), buf.readInt32LE(at - 4));
      case 6: return ((at += 4), buf.readFloatLE(at - 4));
      case 7: return buf.readUInt8(at++) !== 0;
      case 8: return str();
      case 9: {
        const elem = u32();
        const n = Number(u64());
        return Array.from({ length: n }, () => value(elem));
      }
      case 10: return u64();
      case 11: return ((at += 8), buf.readBigInt64LE(at - 8));
      case 12: return ((at += 8), buf.readDoubleLE(at - 8));
      default: throw new Error(`unknown GGUF value type ${type}`);
    }
  };
  if (buf.toString('latin1', 0, 4) !== 'GGUF') throw new Error('not a GGUF file');
  at = 4;
  const version = u32();
  if (version !== 2 && version !== 3) throw new Error(`GGUF version ${version} is not supported`);
  u64(); // tensor count
  const count = Number(u64());
  const meta = new Map<string, Value>();
  for (let i = 0; i < count; i++) {
    const key = str();
    meta.set(key, value(u32()));
  }
  return meta;
}

export interface SpmTokenizer {
  /** token ids, without BOS */
  encode(text: string): number[];
  count(text: string): number;
}

export function spmTokenizerFromGguf(path: string): SpmTokenizer {
  const meta = readGgufMetadata(path);
  if (meta.get('tokenizer.ggml.model') !== 'llama') throw new Error('not a SentencePiece (llama) vocabulary');
  const tokens = meta.get('tokenizer.ggml.tokens') as string[];
  const scores = meta.get('tokenizer.ggml.scores') as number[];
  const addSpacePrefix = meta.get('tokenizer.ggml.add_space_prefix') !== false;
  const idOf = new Map<string, number>();
  tokens.forEach((t, i) => idOf.set(t, i));
  const byteToken = (b: number) => idOf.get(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`) ?? 0;

  function encode(text: string): number[] {
    if (text === '') return [];
    const spaced = (addSpacePrefix ? ` ${text}` : text).replaceAll(' ', '\u2581');
    const symbols = Array.from(spaced); // code points
    const prev = symbols.map((_, i) => i - 1);
    const next = symbols.map((_, i) => (i + 1 < symbols.length ? i + 1 : -1));
    const alive = symbols.map(() => true);
    // a binary heap of candidate merges: [score, left index, text]
    type Bigram = { score: number; left: number; right: number; text: string };
    const heap: Bigram[] = [];
    const better = (a: Bigram, b: Bigram) => a.score > b.score || (a.score === b.score && a.left < b.left);
    const push = (b: Bigram) => {
      heap.push(b);
      for (let i = heap.length - 1; i > 0; ) {
        const p = (i - 1) >> 1;
        if (!better(heap[i]!, heap[p]!)) break;
        [heap[i], heap[p]] = [heap[p]!, heap[i]!];
        i = p;
      }
    };
    const pop = (): Bigram => {
      const top = heap[0]!;
      const last = heap.pop()!;
      if (heap.length > 0) {
        heap[0] = last;
        for (let i = 0; ; ) {
          const l = 2 * i + 1;
          const r = l + 1;
          let best = i;
          if (l < heap.length && better(heap[l]!, heap[best]!)) best = l;
          if (r < heap.length && better(heap[r]!, heap[best]!)) best = r;
          if (best === i) break;
          [heap[i], heap[best]] = [heap[best]!, heap[i]!];
          i = best;
        }
      }
      return top;
    };
    const tryAdd = (left: number, right: number) => {
      if (left < 0 || right < 0) return;
      const text = symbols[left]! + symbols[right]!;
      const id = idOf.get(text);
      if (id !== undefined) push({ score: scores[id]!, left, right, text });
    };
    for (let i = 1; i < symbols.length; i++) tryAdd(i - 1, i);
    while (heap.length > 0) {
      const b = pop();
      // stale: one side was merged away since, or changed
      if (!alive[b.left] || !alive[b.right] || symbols[b.left]! + symbols[b.right]! !== b.text) continue;
      symbols[b.left] = b.text;
      alive[b.right] = false;
      next[b.left] = next[b.right]!;
      if (next[b.left]! >= 0) prev[next[b.left]!] = b.left;
      tryAdd(prev[b.left]!, b.left);
      tryAdd(b.left, next[b.left]!);
    }
    const out: number[] = [];
    for (let i = 0; i >= 0 && i < symbols.length; i = next[i]!) {
      const id = idOf.get(symbols[i]!);
      if (id !== undefined) out.push(id);
      else for (const byte of Buffer.from(symbols[i]!, 'utf8')) out.push(byteToken(byte));
    }
    return out;
  }
  return { encode, count: (text) => encode(text).length };
}
