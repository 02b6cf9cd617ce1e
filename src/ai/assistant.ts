/**
 * The assistant of one unlocked vault: its sealed conversations and memories (store/), the
 * in-memory index of the vault's text (retrieval/), and one turn of chat that puts them together
 * through the context builder and a model provider.
 *
 * Built by app.ts per workspace with `createAssistant({ records, clock, provider })`; stopped
 * with the workspace (lock, auto-lock, panic), which aborts every answer in flight.
 */
import { ElohimError } from '../errors.ts';
import type { RecordId, RecordStore } from '../db/index.ts';
import { buildContext } from './context/builder.ts';
import type { ContextReport } from './context/builder.ts';
import { DEFAULT_MARGIN, loadBpeCounter, tokenCounter } from './context/tokens.ts';
import type { TokenCount } from './context/tokens.ts';
import type { CallOptions, ModelProvider } from './providers/provider.ts';
import { createBm25Index } from './retrieval/bm25.ts';
import { createRetriever } from './retrieval/retriever.ts';
import type { ChunkHit, Retriever } from './retrieval/retriever.ts';
import type { AssistantRecord } from './store/records.ts';
import { LIMITS, openAssistantStore } from './store/store.ts';
import type { AssistantStore, Memory, Message, Summary } from './store/store.ts';
import { proposeMemories, updateSummary } from './upkeep.ts';

export const DEFAULT_SYSTEM_PROMPT =
  "You are the ElohimOS assistant, running on the user's own device. Answer from the excerpts of the user's files when they help, citing them as [n]. Say so when you do not know.";

/**
 * The window used when a model reports a larger one: Ollama models often report 128 K, and
 * running them at that window costs gigabytes of memory for the KV cache.
 */
export const DEFAULT_MAX_CONTEXT = 8192;
/** Used when the provider does not say (an OpenAI-compatible server other than llama-server). */
export const FALLBACK_CONTEXT = 4096;
export const DEFAULT_REPLY_RESERVE = 1024;
const MEMORIES_PER_TURN = 8;
const EXCERPTS_PER_TURN = 8;

export interface AssistantDeps {
  records: RecordStore<AssistantRecord>;
  clock: () => number;
  /** null until the user configures a model provider; a function when it can change while open */
  provider: ModelProvider | null | (() => ModelProvider | null);
  /** the name the model sees for a vault item's excerpts (the file's current name); default: the name it was indexed under */
  nameOf?: (item: string) => string | null;
  /**
   * Finds the excerpts for a message; default: BM25 over `index`. The service passes a hybrid
   * one (BM25 and dense vectors) when an embedding model is configured.
   */
  retrieve?: (text: string, limit: number, signal: AbortSignal) => Promise<ChunkHit[]>;
  /** default: cl100k with DEFAULT_MARGIN, loaded on the first turn */
  count?: TokenCount;
  /**
   * The model's own token counter, where the provider has one (the embedded model's tokenizer);
   * null falls back to `count`.
   */
  countFor?: (provider: ModelProvider, model: string) => Promise<TokenCount | null>;
  system?: string;
}

export interface AskOptions extends CallOptions {
  model: string;
  /** the window to run the model with; default: the model's own, at most `maxContext` */
  contextLength?: number;
  /** default DEFAULT_MAX_CONTEXT */
  maxContext?: number;
  /** default DEFAULT_REPLY_RESERVE */
  replyReserve?: number;
}

export interface TurnOptions extends AskOptions {
  /**
   * Answer the conversation's last user message again (`text` is ignored): the new answer
   * replaces the answers after it once it is complete; a stopped or failed one is kept beside them.
   */
  regenerate?: boolean;
}

export type AskEvent =
  /** `sources[n-1]` is the vault item that "[n]" cites; `user` is null when regenerating */
  | { type: 'context'; report: ContextReport; user: Message | null; sources: string[] }
  | { type: 'delta'; content: string }
  | { type: 'done'; message: Message; promptTokens?: number; completionTokens?: number };

export interface Assistant {
  readonly store: AssistantStore;
  /** The vault's text, chunked and indexed in memory (rebuilt from the sealed texts at open). */
  readonly index: Retriever;
  /**
   * Indexes a vault file's extracted text under its item id (replacing what was indexed for it)
   * and keeps the text sealed for the next unlock. `name` is what the model sees as the source.
   */
  indexDocument(item: string, name: string, text: string, sha256?: string): { chunks: number; truncated: boolean };
  /** `indexDocument` for many files, kept in one commit (a first full index). */
  indexDocuments(docs: readonly { item: string; name: string; text: string; sha256?: string; truncated?: boolean }[]): { chunks: number; truncated: boolean }[];
  /** Forgets a file (trashed or deleted); false when it was not indexed. */
  removeDocument(item: string): boolean;
  /**
   * One turn: saves the user's message first (a failure loses nothing typed), builds the context,
   * streams the answer and saves it (a partial one too, marked, when stopped or failed midway).
   * Throws AI_CONTEXT_TOO_LARGE (the message alone exceeds the window), ITEM_NOT_FOUND, INVALID_INPUT
   * (no provider), and the provider's errors (providers/provider.ts).
   */
  ask(conversation: RecordId, text: string, opts: TurnOptions): AsyncGenerator<AskEvent>;
  /**
   * Folds the turns older than the newest `keep` (default 8) that the running summary does not
   * cover yet into it, with the model (upkeep.ts). Faces call it after an answer whose report
   * dropped turns; null when there was nothing to fold.
   */
  summarize(conversation: RecordId, opts: AskOptions & { keep?: number }): Promise<Summary | null>;
  /** Memories the model proposes from the last exchange ('approved' at once with `autoApprove`). */
  proposeMemories(conversation: RecordId, opts: AskOptions & { autoApprove?: boolean }): Promise<Memory[]>;
  /** Aborts every answer in flight. */
  stop(): void;
}

export function createAssistant(deps: AssistantDeps): Assistant {
  const index = createRetriever();
  /** item id → file name, for the excerpts' labels */
  const names = new Map<string, string>();
  const store = openAssistantStore({
    records: deps.records,
    clock: deps.clock,
    onDocument: (doc) => {
      index.addDocument(doc.item, doc.text);
      names.set(doc.item, doc.name);
    },
  });
  const stopping = new AbortController();
  let count: TokenCount | undefined = deps.count;
  const windows = new Map<string, number | undefined>();

  async function windowOf(provider: ModelProvider, opts: AskOptions): Promise<number> {
    if (opts.contextLength !== undefined) return opts.contextLength;
    if (!windows.has(opts.model)) windows.set(opts.model, (await provider.showModel(opts.model, opts)).contextLength);
    return Math.min(windows.get(opts.model) ?? FALLBACK_CONTEXT, opts.maxContext ?? DEFAULT_MAX_CONTEXT);
  }

  /** Approved, unexpired memories that share a word with the message, most relevant first. */
  function relevantMemories(text: string) {
    const all = store.listMemories({ status: 'approved' });
    const ranking = createBm25Index();
    for (const m of all) ranking.add(m.id, m.text);
    const byId = new Map(all.map((m) => [m.id as string, m]));
    return ranking.search(text, MEMORIES_PER_TURN).map((hit) => ({ id: hit.id, text: byId.get(hit.id)!.text }));
  }

  const providerOf = (): ModelProvider => {
    const provider = typeof deps.provider === 'function' ? deps.provider() : deps.provider;
    if (provider === null) throw new ElohimError('INVALID_INPUT', 'no model yet: import a GGUF or point to your Ollama');
    return provider;
  };
  const labelOf = (item: string) => deps.nameOf?.(item) ?? names.get(item) ?? item;
  const counter = async (provider: ModelProvider, model: string): Promise<TokenCount> =>
    (await deps.countFor?.(provider, model)) ?? (count ??= tokenCounter(await loadBpeCounter(), { margin: DEFAULT_MARGIN }));
  /** The upkeep calls' dependencies and options, under the service's stop signal. */
  async function upkeep(opts: AskOptions) {
    const provider = providerOf();
    const signal = AbortSignal.any([stopping.signal, ...(opts.signal ? [opts.signal] : [])]);
    const contextLength = await windowOf(provider, { ...opts, signal });
    return { deps: { store, provider, count: await counter(provider, opts.model) }, opts: { ...opts, signal, contextLength } };
  }

  return {
    store,
    index,
    indexDocument(item, name, text, sha256) {
      return this.indexDocuments([{ item, name, text, ...(sha256 === undefined ? {} : { sha256 }) }])[0]!;
    },
    indexDocuments(docs) {
      const kept = store.putDocuments(docs);
      return docs.map((d, i) => {
        names.set(d.item, d.name);
        return { chunks: index.addDocument(d.item, kept[i]!.text), truncated: kept[i]!.truncated };
      });
    },
    removeDocument(item) {
      names.delete(item);
      index.removeDocument(item);
      return store.removeDocument(item);
    },
    async summarize(conversation, opts) {
      const u = await upkeep(opts);
      return updateSummary(u.deps, conversation, { ...u.opts, keep: opts.keep });
    },
    async proposeMemories(conversation, opts) {
      const u = await upkeep(opts);
      return proposeMemories(u.deps, conversation, { ...u.opts, autoApprove: opts.autoApprove });
    },
    async *ask(conversation, text, opts) {
      const provider = providerOf();
      const all = store.messages(conversation);
      let history: Message[];
      let user: Message;
      let replacing: RecordId[] = [];
      if (opts.regenerate) {
        const last = all.findLastIndex((m) => m.role === 'user');
        if (last < 0) throw new ElohimError('INVALID_INPUT', 'there is no message to answer again');
        history = all.slice(0, last);
        user = all[last]!;
        replacing = all.slice(last + 1).map((m) => m.id);
        text = user.content;
      } else {
        if (typeof text !== 'string' || text.trim() === '') throw new ElohimError('INVALID_INPUT', 'a message cannot be empty');
        if (text.length > LIMITS.message) throw new ElohimError('INVALID_INPUT', `a message is at most ${LIMITS.message.toLocaleString('en-US')} characters`);
        history = all;
        user = store.appendMessage(conversation, { role: 'user', content: text });
      }
      const signal = AbortSignal.any([stopping.signal, ...(opts.signal ? [opts.signal] : [])]);

      const window = await windowOf(provider, { ...opts, signal });
      const count = await counter(provider, opts.model);
      const summary = store.summary(conversation);
      const hits = deps.retrieve ? await deps.retrieve(text, EXCERPTS_PER_TURN, signal) : index.search(text, EXCERPTS_PER_TURN);
      const built = buildContext({
        window,
        replyReserve: opts.replyReserve ?? DEFAULT_REPLY_RESERVE,
        count,
        system: deps.system ?? DEFAULT_SYSTEM_PROMPT,
        preferences: store.preferences() || undefined,
        memories: relevantMemories(text),
        excerpts: hits.map((h) => ({ id: `${h.docId}#${h.chunk.index}`, source: labelOf(h.docId), text: h.chunk.text })),
        summary: summary ? { text: summary.text, through: summary.through } : undefined,
        turns: history.map((m) => ({ id: m.id, role: m.role, content: m.content })),
        user: { id: user.id, content: text },
      });
      if (!built.report.fits) {
        throw new ElohimError('AI_CONTEXT_TOO_LARGE', `the message needs ${built.report.parts.user.tokens} tokens; the model's window leaves ${built.report.budget} (your message is saved)`);
      }
      // in the order the model saw them: "[n]" cites sources[n - 1]
      const sources = hits.slice(0, built.report.parts.excerpts.included).map((h) => h.docId);
      yield { type: 'context', report: built.report, user: opts.regenerate ? null : user, sources };

      // the report goes with the answer, without its id lists (they can run to a thousand turns)
      const { included: _i, dropped: _d, ...kept } = built.report;
      let answer = '';
      let finished = false;
      let usage: { promptTokens?: number; completionTokens?: number } = {};
      try {
        for await (const event of provider.chat({ model: opts.model, messages: built.messages, contextLength: window, maxTokens: opts.replyReserve ?? DEFAULT_REPLY_RESERVE }, { signal, timeoutMs: opts.timeoutMs })) {
          if (event.type === 'delta') {
            answer += event.content;
            yield event;
          } else {
            usage = { promptTokens: event.promptTokens, completionTokens: event.completionTokens };
          }
        }
        finished = true;
      } finally {
        // Stopped (Stop, a lock, a reader that went away) or failed midway: keep what came.
        if (!finished && answer !== '') store.appendMessage(conversation, { role: 'assistant', content: answer, model: opts.model, partial: true, ...(sources.length ? { sources } : {}), report: kept });
      }
      const message = store.appendMessage(conversation, { role: 'assistant', content: answer, model: opts.model, ...(sources.length ? { sources } : {}), report: kept }, replacing);
      const done: AskEvent = { type: 'done', message };
      // the provider's own counts (Ollama's may leave out a prompt prefix it had cached)
      if (usage.promptTokens !== undefined) done.promptTokens = usage.promptTokens;
      if (usage.completionTokens !== undefined) done.completionTokens = usage.completionTokens;
      yield done;
    },
    stop() {
      stopping.abort(new DOMException('the vault was locked', 'AbortError'));
    },
  };
}
