/**
 * The embedded provider: llama.cpp in this process (embedded-runtime.ts) running the GGUF models
 * of the device's models folder (src/ai/models). Same interface and compliance suite as the HTTP
 * providers (test/llama-embedded.test.ts); nothing leaves the process.
 *
 * - chat: the model's own chat template (node-llama-cpp resolves it from the GGUF, "General"
 *   when the file has none); deltas as llama.cpp detokenizes them; `done` with the exact prompt
 *   and completion token counts. A prompt that does not fit the window is AI_CONTEXT_TOO_LARGE,
 *   never silently shortened (node-llama-cpp would otherwise shift the context, dropping turns).
 * - `timeoutMs` is the longest silence: loading the model and the first token count too.
 * - `signal` stops generation between two tokens; the call rejects with its reason.
 * - `tokenCounter(model)`: the model's own tokenizer, synchronous, for the context builder.
 */
import type { LlamaChat } from 'node-llama-cpp';
import { ElohimError } from '../../errors.ts';
import type { TokenCount } from '../context/tokens.ts';
import type { Models } from '../models/index.ts';
import { createRuntime } from './embedded-runtime.ts';

export { defaultThreads } from './embedded-runtime.ts';
import type { Runtime, RuntimeOptions } from './embedded-runtime.ts';
import { DEFAULT_TIMEOUT_MS } from './provider.ts';
import type { CallOptions, ChatEvent, ChatRequest, ModelDetails, ModelInfo, ModelProvider } from './provider.ts';

/** The window used when the request does not say (the model's own, if smaller). */
export const EMBEDDED_DEFAULT_CONTEXT = 4096;

export interface EmbeddedProvider extends ModelProvider {
  readonly kind: 'embedded';
  /** A synchronous counter with `model`'s own tokenizer (loaded once). Throws AI_MODEL_NOT_FOUND, MODEL_INVALID. */
  tokenCounter(model: string, opts?: CallOptions): Promise<TokenCount>;
  /** llama.cpp threads in use */
  readonly threads: number;
  /** Frees the loaded models. */
  dispose(): Promise<void>;
}

export interface EmbeddedDeps extends RuntimeOptions {
  models: Models;
}

/**
 * A call's deadline: aborted by the caller's signal, or after `timeoutMs` without `touch()`.
 */
function watch(opts: CallOptions = {}) {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => controller.abort(new ElohimError('AI_TIMEOUT', `the model sent nothing for ${Math.max(1, Math.round(ms / 1000))} s`)), ms);
  };
  const onAbort = () => controller.abort(opts.signal!.reason);
  opts.signal?.throwIfAborted();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  arm();
  return {
    signal: controller.signal,
    touch: arm,
    /** Throws the abort's reason if the deadline passed or the caller stopped. */
    check: () => controller.signal.throwIfAborted(),
    /** Stops the call (a consumer that stopped reading); no-op once aborted. */
    stop: (reason: unknown) => controller.abort(reason),
    done() {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    },
  };
}

type Watch = ReturnType<typeof watch>;

/** Runs `work` under the watch, so an abort ends the wait even while llama.cpp is busy. */
async function within<T>(w: Watch, work: Promise<T>): Promise<T> {
  w.check();
  let onAbort!: () => void;
  const aborted = new Promise<never>((_, reject) => {
    onAbort = () => reject(w.signal.reason);
    w.signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    return await Promise.race([work, aborted]);
  } finally {
    w.signal.removeEventListener('abort', onAbort);
  }
}

export function createEmbeddedProvider(deps: EmbeddedDeps): EmbeddedProvider {
  const { models } = deps;
  const runtime: Runtime = createRuntime(deps);

  async function turn(name: string, w: Watch) {
    const { path, model } = await within(w, models.loadablePath(name, { signal: w.signal }));
    w.touch();
    const t = await within(w, runtime.turn(name, path, w.signal));
    w.touch();
    return { ...t, info: model };
  }

  async function* chat(request: ChatRequest, opts?: CallOptions): AsyncGenerator<ChatEvent> {
    const w = watch(opts);
    let slot: Awaited<ReturnType<typeof turn>> | null = null;
    // Chunks from llama.cpp's callback to this generator.
    const queue: string[] = [];
    let wake: (() => void) | null = null;
    let generation: Promise<unknown> | null = null;
    let session: LlamaChat | null = null;
    try {
      slot = await turn(request.model, w);
      const { model } = slot.loaded;
      const size = Math.min(request.contextLength ?? EMBEDDED_DEFAULT_CONTEXT, model.trainContextSize);
      const sequence = await within(w, runtime.chatSequence(slot.loaded, size));
      const { LlamaChat: Chat } = await import('node-llama-cpp');
      session = new Chat({ contextSequence: sequence, autoDisposeSequence: false });
      const history = [
        ...request.messages.map((m) =>
          m.role === 'assistant' ? { type: 'model' as const, response: [m.content] } : m.role === 'system' ? { type: 'system' as const, text: m.content } : { type: 'user' as const, text: m.content },
        ),
        { type: 'model' as const, response: [] },
      ];
      const promptTokens = session.chatWrapper.generateContextState({ chatHistory: history }).contextText.tokenize(model.tokenizer).length;
      if (promptTokens >= size) {
        throw new ElohimError('AI_CONTEXT_TOO_LARGE', `the conversation is ${promptTokens} tokens, the window ${size}`);
      }
      const room = size - promptTokens;
      const maxTokens = Math.min(request.maxTokens ?? room, room);
      let completionTokens = 0;
      let outcome: { reason?: string; err?: unknown } | null = null;
      generation = session
        .generateResponse(history, {
          maxTokens,
          ...(request.temperature !== undefined ? { temperature: request.temperature } : {}),
          signal: w.signal,
          onResponseChunk: (chunk) => {
            if (chunk.type !== undefined) return; // thoughts and other segments are not the answer
            completionTokens += chunk.tokens.length;
            if (chunk.text !== '') queue.push(chunk.text);
            w.touch();
            wake?.();
          },
        })
        .then(
          (res) => (outcome = { reason: res.metadata.stopReason === 'maxTokens' ? 'length' : 'stop' }),
          (err: unknown) => (outcome = { err }),
        )
        .finally(() => wake?.());
      for (;;) {
        while (queue.length > 0) yield { type: 'delta', content: queue.shift()! };
        if (outcome !== null) break;
        await within(w, new Promise<void>((resolve) => (wake = resolve)));
        wake = null;
      }
      const end = outcome as { reason?: string; err?: unknown };
      if (end.err !== undefined) {
        if (w.signal.aborted) throw w.signal.reason;
        throw new ElohimError('AI_PROVIDER_FAILED', `llama.cpp failed while answering${runtime.lastError() ? `: ${runtime.lastError()}` : ''}`, { cause: end.err });
      }
      yield { type: 'done', reason: end.reason ?? 'stop', promptTokens, completionTokens };
    } finally {
      // Stopped, timed out, or the consumer broke out: stop llama.cpp and wait for it to let go
      // of the context before the next call may use it.
      if (generation !== null) {
        w.stop(new Error('the reader stopped'));
        await generation;
      }
      session?.dispose({ disposeSequence: false });
      w.done();
      slot?.release();
    }
  }

  return {
    kind: 'embedded',
    baseUrl: 'embedded:',
    local: true,
    threads: runtime.threads,
    chat,

    async embed(name, input, opts) {
      const w = watch(opts);
      const slot = await turn(name, w).catch((err: unknown) => {
        w.done();
        throw err;
      });
      try {
        const context = await within(w, runtime.embeddingContext(slot.loaded));
        const out: number[][] = [];
        for (const text of input) {
          const n = slot.loaded.model.tokenize(text).length;
          if (n > context.model.trainContextSize) throw new ElohimError('AI_CONTEXT_TOO_LARGE', `an input of ${n} tokens is larger than the model's window`);
          const e = await within(w, context.getEmbeddingFor(text));
          w.touch();
          out.push(Array.from(e.vector));
        }
        return out;
      } finally {
        w.done();
        slot.release();
      }
    },

    async listModels() {
      return (await models.list()).map((m): ModelInfo => {
        const info: ModelInfo = { name: m.name, size: m.size, family: m.family };
        if (m.parameterSize !== undefined) info.parameterSize = m.parameterSize;
        if (m.quantization !== undefined) info.quantization = m.quantization;
        return info;
      });
    },

    async showModel(name) {
      const found = (await models.list()).find((m) => m.name === name);
      if (found === undefined) throw new ElohimError('AI_MODEL_NOT_FOUND', `no model named ${name}`);
      const details: ModelDetails = { name: found.name, size: found.size, family: found.family, capabilities: [...found.capabilities] };
      if (found.parameterSize !== undefined) details.parameterSize = found.parameterSize;
      if (found.quantization !== undefined) details.quantization = found.quantization;
      if (found.contextLength !== undefined) details.contextLength = found.contextLength;
      return details;
    },

    async deleteModel(name) {
      await runtime.unload(name);
      await models.remove(name);
    },

    async tokenCounter(name, opts) {
      const w = watch(opts);
      try {
        const { path } = await within(w, models.loadablePath(name, { signal: w.signal }));
        const vocabulary = await within(w, runtime.vocabulary(path));
        return (text) => vocabulary.tokenize(text).length;
      } finally {
        w.done();
      }
    },

    dispose: () => runtime.dispose(),
  };
}
