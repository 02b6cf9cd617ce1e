/**
 * What a GGUF file says about itself, read from its header (GGUF v2/v3, little-endian:
 * magic "GGUF", u32 version, u64 tensor count, u64 key/value count, the key/values, then one
 * info per tensor; ggml's docs/gguf.md). Pure: bytes in, a summary out.
 *
 * The bytes are untrusted (a file from a USB drive or the network), so every length and count is
 * checked against what is left before anything is allocated, arrays may not nest more than two
 * deep, and the header must fit in the bytes given (the caller reads at most MAX_HEADER_BYTES).
 * Anything else throws MODEL_INVALID with what was wrong. A header that parses is not yet a model
 * llama.cpp can load: probe.ts runs that check in a child process.
 */
import { ElohimError } from '../../errors.ts';

/** A real model's header (a 256 K-token vocabulary with scores and merges) is under ~20 MiB. */
export const MAX_HEADER_BYTES = 64 * 1024 * 1024;
const MAX_KEYS = 65_536;
const MAX_TENSORS = 1_000_000;
const MAX_DIMS = 8;

export interface GgufSummary {
  version: number;
  /** general.architecture, e.g. "llama" */
  architecture: string;
  /** general.name, when set */
  title?: string;
  /** the quantisation the file says it mostly uses (general.file_type), e.g. "Q4_K_M" */
  quantization?: string;
  /** <arch>.context_length: the context the model was trained with */
  contextLength?: number;
  /** the number of weights, when the tensor infos fit in the bytes read */
  parameters?: number;
  /** 'completion' for a generative model, 'embedding' for an encoder (BERT-like) or a pooled model */
  capabilities: string[];
  /** tokenizer.ggml.model, e.g. "llama" (SentencePiece) or "gpt2" (BPE) */
  tokenizer?: string;
}

/** llama.cpp's LLAMA_FTYPE names, by number (llama.h), without the MOSTLY_/ALL_ prefix. */
const FILE_TYPES: Record<number, string> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 7: 'Q8_0', 8: 'Q5_0', 9: 'Q5_1', 10: 'Q2_K', 11: 'Q3_K_S',
  12: 'Q3_K_M', 13: 'Q3_K_L', 14: 'Q4_K_S', 15: 'Q4_K_M', 16: 'Q5_K_S', 17: 'Q5_K_M', 18: 'Q6_K',
  19: 'IQ2_XXS', 20: 'IQ2_XS', 21: 'Q2_K_S', 22: 'IQ3_XS', 23: 'IQ3_XXS', 24: 'IQ1_S', 25: 'IQ4_NL',
  26: 'IQ3_S', 27: 'IQ3_M', 28: 'IQ2_S', 29: 'IQ2_M', 30: 'IQ4_XS', 31: 'IQ1_M', 32: 'BF16',
  36: 'TQ1_0', 37: 'TQ2_0', 38: 'MXFP4_MOE',
};

/** Encoder architectures: they embed, they do not generate. */
const ENCODERS = new Set(['bert', 'nomic-bert', 'nomic-bert-moe', 'jina-bert-v2', 'jina-bert-v3', 'neo-bert', 'modern-bert', 't5encoder']);

const invalid = (why: string) => new ElohimError('MODEL_INVALID', `not a usable GGUF model: ${why}`);

type Value = number | bigint | string | boolean | Value[] | { skipped: number };

/** Thrown when `bytes` is not the whole file and the header goes on past it: read more. */
export class NeedMoreBytes extends Error {}

/**
 * Parses the header in `bytes`, the start of the file; `complete` says whether that is all there
 * is (the whole file, or MAX_HEADER_BYTES of it). Throws MODEL_INVALID, or NeedMoreBytes when
 * the header goes on past bytes that are not complete.
 */
export function parseGgufHeader(bytes: Uint8Array, complete = true): GgufSummary {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let at = 0;
  const need = (n: number) => {
    if (at + n <= bytes.byteLength) return;
    if (!complete) throw new NeedMoreBytes();
    throw invalid(bytes.byteLength >= MAX_HEADER_BYTES ? `header larger than ${MAX_HEADER_BYTES >> 20} MiB` : 'the file ends inside its header');
  };
  const u8 = () => (need(1), view.getUint8(at++));
  const u32 = () => (need(4), (at += 4), view.getUint32(at - 4, true));
  const u64 = () => (need(8), (at += 8), view.getBigUint64(at - 8, true));
  /** a u64 count or length that must fit in what is left at `unit` bytes each */
  const count = (unit: number, max: number, what: string) => {
    const n = u64();
    if (n > BigInt(max)) throw invalid(`${what} ${n} is out of bounds`);
    need(Number(n) * unit);
    return Number(n);
  };
  const decoder = new TextDecoder('utf-8', { fatal: true });
  const str = (what: string) => {
    const n = count(1, bytes.byteLength, `${what} length`);
    at += n;
    try {
      return decoder.decode(bytes.subarray(at - n, at));
    } catch {
      throw invalid(`${what} is not UTF-8`);
    }
  };
  const SIZES: Record<number, number> = { 0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8 };
  const value = (type: number, depth: number, keep: boolean): Value => {
    switch (type) {
      case 0: return u8();
      case 1: return (need(1), view.getInt8(at++));
      case 2: return (need(2), (at += 2), view.getUint16(at - 2, true));
      case 3: return (need(2), (at += 2), view.getInt16(at - 2, true));
      case 4: return u32();
      case 5: return (need(4), (at += 4), view.getInt32(at - 4, true));
      case 6: return (need(4), (at += 4), view.getFloat32(at - 4, true));
      case 7: {
        const b = u8();
        if (b > 1) throw invalid('a boolean is neither 0 nor 1');
        return b === 1;
      }
      case 8: return str('a string');
      case 9: {
        if (depth >= 2) throw invalid('arrays nested too deep');
        const elem = u32();
        const unit = elem === 8 ? 8 : elem === 9 ? 12 : SIZES[elem];
        if (unit === undefined) throw invalid(`unknown array element type ${elem}`);
        const n = count(unit, Number.MAX_SAFE_INTEGER, 'an array length');
        // Big arrays (the vocabulary) are walked but not kept: only scalars are needed here.
        if (!keep || n > 64) {
          if (elem === 8 || elem === 9) for (let i = 0; i < n; i++) value(elem, depth + 1, false);
          else at += n * unit;
          return { skipped: n };
        }
        return Array.from({ length: n }, () => value(elem, depth + 1, keep));
      }
      case 10: return u64();
      case 11: return (need(8), (at += 8), view.getBigInt64(at - 8, true));
      case 12: return (need(8), (at += 8), view.getFloat64(at - 8, true));
      default: throw invalid(`unknown value type ${type}`);
    }
  };

  need(4);
  if (String.fromCharCode(...bytes.subarray(0, 4)) !== 'GGUF') throw invalid('no GGUF magic at its start');
  at = 4;
  const version = u32();
  if (version !== 2 && version !== 3) throw invalid(`GGUF version ${version} (only 2 and 3 are read)`);
  const tensors = count(0, MAX_TENSORS, 'the tensor count');
  const keys = count(0, MAX_KEYS, 'the key count');
  const meta = new Map<string, Value>();
  for (let i = 0; i < keys; i++) {
    const key = str('a key');
    if (meta.has(key)) throw invalid(`key ${key} appears twice`);
    meta.set(key, value(u32(), 0, true));
  }

  const text = (key: string): string | undefined => {
    const v = meta.get(key);
    if (v === undefined) return undefined;
    if (typeof v !== 'string') throw invalid(`${key} is not a string`);
    return v;
  };
  const int = (key: string): number | undefined => {
    const v = meta.get(key);
    if (v === undefined) return undefined;
    const n = typeof v === 'bigint' ? Number(v) : v;
    if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) throw invalid(`${key} is not a count`);
    return n;
  };

  const architecture = text('general.architecture');
  if (architecture === undefined || !/^[a-z0-9_.-]{1,64}$/.test(architecture)) throw invalid('general.architecture is missing or malformed');
  const summary: GgufSummary = { version, architecture, capabilities: [] };
  const title = text('general.name');
  if (title !== undefined) summary.title = title.slice(0, 200);
  const fileType = int('general.file_type');
  if (fileType !== undefined) summary.quantization = FILE_TYPES[fileType] ?? `type ${fileType}`;
  const context = int(`${architecture}.context_length`);
  if (context !== undefined) summary.contextLength = context;
  const tokenizer = text('tokenizer.ggml.model');
  if (tokenizer !== undefined) summary.tokenizer = tokenizer;
  const encoder = ENCODERS.has(architecture);
  summary.capabilities = encoder ? ['embedding'] : meta.has(`${architecture}.pooling_type`) ? ['completion', 'embedding'] : ['completion'];

  // Tensor infos: name, dimensions, type, offset; only the weight count is kept.
  let parameters = 0;
  for (let i = 0; i < tensors; i++) {
    str('a tensor name');
    const dims = u32();
    if (dims === 0 || dims > MAX_DIMS) throw invalid(`a tensor with ${dims} dimensions`);
    let elements = 1;
    for (let d = 0; d < dims; d++) elements *= Number(u64());
    u32(); // ggml type
    u64(); // offset into the data section
    parameters += elements;
  }
  if (tensors === 0) throw invalid('it has no tensors');
  if (Number.isSafeInteger(parameters)) summary.parameters = parameters;
  return summary;
}

/** "7B", "137M", "1.1B": the usual way to say a weight count. */
export function formatParameters(n: number): string {
  const [div, unit] = n >= 1e9 ? [1e9, 'B'] : n >= 1e6 ? [1e6, 'M'] : n >= 1e3 ? [1e3, 'K'] : [1, ''];
  const v = n / div;
  return `${v >= 10 || unit === '' ? Math.round(v) : Math.round(v * 10) / 10}${unit}`;
}
