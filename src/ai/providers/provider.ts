/**
 * One interface for every model provider (an Ollama server, an OpenAI-compatible server such as
 * llama.cpp's llama-server, LM Studio or vLLM; the embedded llama.cpp next). The compliance suite
 * in test/ai-providers.test.ts runs against each.
 *
 * Every call takes `signal` (the Stop button, a locked workspace) and `timeoutMs`: for a
 * streamed call the longest silence allowed between two pieces (a model may stream for minutes,
 * but a silent one is stuck), otherwise the whole call. Errors (src/errors.ts):
 * AI_PROVIDER_UNREACHABLE (nothing listens, DNS, connection reset before an answer),
 * AI_MODEL_NOT_FOUND, AI_TIMEOUT, AI_PROVIDER_FAILED (an HTTP error, a malformed answer, an
 * error reported in the middle of a stream). An abort by `signal` rejects with the signal's reason.
 */
import type { ChatMessage } from '../context/builder.ts';

export interface CallOptions {
  signal?: AbortSignal;
  /** default DEFAULT_TIMEOUT_MS */
  timeoutMs?: number;
}

/** Long enough for a model to load into memory before its first token. */
export const DEFAULT_TIMEOUT_MS = 120_000;

export interface ChatRequest {
  model: string;
  messages: readonly ChatMessage[];
  /**
   * The context window to run the model with (Ollama's `num_ctx`: without it Ollama runs a
   * 2–4 K window and silently drops the start of a longer prompt). The builder budgets for it.
   */
  contextLength?: number;
  /** the most tokens to generate */
  maxTokens?: number;
  temperature?: number;
}

export type ChatEvent =
  | { type: 'delta'; content: string }
  | { type: 'done'; reason: string; promptTokens?: number; completionTokens?: number };

export interface ModelInfo {
  name: string;
  /** bytes on disk, when the provider says */
  size?: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
}

export interface ModelDetails extends ModelInfo {
  /** the model's trained context length, when the provider says */
  contextLength?: number;
  /** e.g. 'completion', 'embedding', 'vision', 'tools' */
  capabilities: string[];
}

export interface PullProgress {
  status: string;
  digest?: string;
  total?: number;
  completed?: number;
}

export interface ModelProvider {
  readonly kind: 'ollama' | 'openai' | 'embedded';
  /** where it is, for the UI */
  readonly baseUrl: string;
  /** false when the provider is on another machine: the conversation leaves this device */
  readonly local: boolean;
  /** A streamed answer: deltas, then exactly one 'done'. */
  chat(request: ChatRequest, opts?: CallOptions): AsyncIterable<ChatEvent>;
  /** One vector per input, in order. */
  embed(model: string, input: readonly string[], opts?: CallOptions): Promise<number[][]>;
  listModels(opts?: CallOptions): Promise<ModelInfo[]>;
  /** Throws AI_MODEL_NOT_FOUND for a model the provider does not have. */
  showModel(name: string, opts?: CallOptions): Promise<ModelDetails>;
  /** Downloads a model, reporting progress; absent where the provider cannot. */
  pullModel?(name: string, opts?: CallOptions): AsyncIterable<PullProgress>;
  /** Throws AI_MODEL_NOT_FOUND; absent where the provider cannot. */
  deleteModel?(name: string, opts?: CallOptions): Promise<void>;
}

export interface ProviderConfig {
  /** e.g. http://127.0.0.1:11434 */
  baseUrl: string;
  /**
   * A provider on another machine receives the conversation in the clear: refused unless the
   * user opted in (and the UI says so).
   */
  allowRemote?: boolean;
  /** sent as a Bearer token (an OpenAI-compatible server may want one) */
  apiKey?: string;
}
