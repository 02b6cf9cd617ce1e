/**
 * llama.cpp in this process, through node-llama-cpp 3.21.1 (pinned exactly: newer releases
 * break `npm ci` here): CPU only (`gpu: false`), prebuilt binaries only (`build: 'never'`: never a
 * compile or a download at run time), and a thread count chosen for the machine. The library's
 * default of max(4, cores) threads on a 2-core machine made 32 tokens take ~6 s instead of ~30 ms:
 * llama.cpp's threads spin-wait for each other, so more threads than free cores is ruinous.
 *
 * Loaded models are kept (at most `maxLoaded`, least recently used out); each has one chat
 * context and one embedding context, used by one call at a time (a queue), since a context's
 * sequence holds one conversation's state. A file is loaded here only after the models service
 * has seen it load in a child process (probe.ts): llama.cpp may abort the process on a bad file.
 */
import { availableParallelism } from 'node:os';
import type { Llama, LlamaContext, LlamaContextSequence, LlamaEmbeddingContext, LlamaModel } from 'node-llama-cpp';
import { ElohimError } from '../../errors.ts';

/** One less than the cores (the server and the UI need one), at least 1, at most 8. */
export function defaultThreads(cores = availableParallelism()): number {
  return Math.max(1, Math.min(8, cores - 1));
}

export interface RuntimeOptions {
  threads?: number;
  /** models kept loaded at once; default 2 (a chat model and an embedding model) */
  maxLoaded?: number;
}

interface Loaded {
  path: string;
  model: LlamaModel;
  chat: { context: LlamaContext; sequence: LlamaContextSequence; size: number } | null;
  embedding: LlamaEmbeddingContext | null;
  /** the tail of this model's queue: each call waits for the one before */
  queue: Promise<void>;
  users: number;
}

/** A queue slot: wait for `ready`, then call `release` when done (also on failure). */
export interface Turn {
  loaded: Loaded;
  release(): void;
}

export function createRuntime(opts: RuntimeOptions = {}) {
  const threads = opts.threads ?? defaultThreads();
  const maxLoaded = opts.maxLoaded ?? 2;
  let llama: Promise<Llama> | null = null;
  const loaded = new Map<string, Loaded>();
  const vocab = new Map<string, Promise<LlamaModel>>();
  /** The last llama.cpp error line (it says why a load failed); never a prompt, at this level. */
  let lastError = '';

  function getRuntime(): Promise<Llama> {
    llama ??= (async () => {
      const { getLlama, LlamaLogLevel } = await import('node-llama-cpp');
      return getLlama({
        gpu: false,
        build: 'never',
        maxThreads: threads,
        progressLogs: false,
        logLevel: LlamaLogLevel.error,
        logger: (_level, message) => {
          lastError = message.trim().slice(0, 300);
        },
      });
    })();
    llama.catch(() => (llama = null));
    return llama;
  }

  async function load(key: string, path: string): Promise<Loaded> {
    const have = loaded.get(key);
    if (have && have.path === path) {
      // most recently used last
      loaded.delete(key);
      loaded.set(key, have);
      return have;
    }
    const runtime = await getRuntime();
    let model: LlamaModel;
    try {
      model = await runtime.loadModel({ modelPath: path, gpuLayers: 0 });
    } catch (err) {
      throw new ElohimError('AI_PROVIDER_FAILED', `llama.cpp could not load the model${lastError ? `: ${lastError}` : ''}`, { cause: err });
    }
    const entry: Loaded = { path, model, chat: null, embedding: null, queue: Promise.resolve(), users: 0 };
    if (have) void retire(key, have);
    loaded.set(key, entry);
    // Unload the least recently used models no call is using.
    for (const [k, v] of loaded) {
      if (loaded.size <= maxLoaded) break;
      if (v !== entry && v.users === 0) {
        loaded.delete(k);
        void retire(k, v);
      }
    }
    return entry;
  }

  async function retire(key: string, entry: Loaded): Promise<void> {
    if (loaded.get(key) === entry) loaded.delete(key);
    await entry.queue.catch(() => {});
    await entry.model.dispose().catch(() => {});
  }

  return {
    threads,
    /**
     * Waits for this model's turn (the calls before it finish) and returns it; `signal` gives up
     * waiting. The caller must `release()`.
     */
    async turn(key: string, path: string, signal: AbortSignal): Promise<Turn> {
      const entry = await load(key, path);
      entry.users++;
      let release!: () => void;
      const previous = entry.queue;
      entry.queue = new Promise<void>((resolve) => (release = resolve));
      const done = () => {
        entry.users--;
        release();
      };
      try {
        await new Promise<void>((resolve, reject) => {
          const onAbort = () => reject(signal.reason);
          signal.addEventListener('abort', onAbort, { once: true });
          previous.then(() => {
            signal.removeEventListener('abort', onAbort);
            resolve();
          });
        });
      } catch (err) {
        // our slot passes on once the one before ends, so the queue stays in order
        void previous.then(done);
        throw err;
      }
      return { loaded: entry, release: done };
    },

    /**
     * The chat context's one sequence for a loaded model, with `size` tokens (made again when the
     * size changes). Kept between calls: llama.cpp reuses the tokens a new prompt shares with the
     * last one (the conversation so far), so a follow-up evaluates only what is new.
     */
    async chatSequence(entry: Loaded, size: number): Promise<LlamaContextSequence> {
      if (entry.chat?.size === size) return entry.chat.sequence;
      await entry.chat?.context.dispose();
      entry.chat = null;
      const context = await entry.model.createContext({ contextSize: size, threads, sequences: 1 });
      entry.chat = { context, sequence: context.getSequence(), size };
      return entry.chat.sequence;
    },

    async embeddingContext(entry: Loaded): Promise<LlamaEmbeddingContext> {
      entry.embedding ??= await entry.model.createEmbeddingContext({ contextSize: Math.min(entry.model.trainContextSize, 2048), threads });
      return entry.embedding;
    },

    /** The model's vocabulary alone (cheap: no weights), for counting tokens. */
    vocabulary(path: string): Promise<LlamaModel> {
      let v = vocab.get(path);
      if (v === undefined) {
        v = getRuntime().then((runtime) => runtime.loadModel({ modelPath: path, vocabOnly: true }));
        v.catch(() => vocab.delete(path));
        vocab.set(path, v);
      }
      return v;
    },

    lastError: () => lastError,

    /** Unloads a model (deleted, or replaced on disk). */
    async unload(key: string): Promise<void> {
      const entry = loaded.get(key);
      if (entry) await retire(key, entry);
      for (const [path, v] of vocab) if (path.endsWith(`/${key}.gguf`)) {
        vocab.delete(path);
        await (await v).dispose().catch(() => {});
      }
    },

    /** Frees every model and llama.cpp itself. */
    async dispose(): Promise<void> {
      for (const [k, v] of [...loaded]) await retire(k, v);
      for (const v of vocab.values()) await v.then((m) => m.dispose()).catch(() => {});
      vocab.clear();
      const runtime = llama;
      llama = null;
      if (runtime) await (await runtime.catch(() => null))?.dispose();
    },
  };
}

export type Runtime = ReturnType<typeof createRuntime>;
