/**
 * The assistant as a workspace service: what app.ts builds per unlocked vault and the faces
 * (routes/assistant.ts, cli/commands/chat.ts) call. It puts together the assistant core
 * (assistant.ts: sealed conversations and memories, the in-memory index, one turn of chat), the
 * vault's provider settings (sealed: store.config()), the indexer that follows the vault
 * (indexer.ts) and dense vectors (vectors.ts).
 *
 * A decoy vault gets its own service over its own record keys: its conversations, memories,
 * settings and index are other rows, and nothing here knows of another vault. Stopping it (lock,
 * auto-lock, panic) aborts every answer and embedding in flight and empties the queue.
 */
import { createRecordStore } from '../db/index.ts';
import type { Database, RecordId, RecordStore } from '../db/index.ts';
import { ElohimError } from '../errors.ts';
import type { Vault } from '../vault/index.ts';
import { liveItem } from './indexer.ts';
import type { WorkspaceService } from '../workspace/index.ts';
import { createAssistant } from './assistant.ts';
import type { Assistant } from './assistant.ts';
import { describeReport } from './context/builder.ts';
import type { ContextReport } from './context/builder.ts';
import type { TokenCount } from './context/tokens.ts';
import { createExtractor } from './extractor.ts';
import { createIndexer } from './indexer.ts';
import type { IndexStatus } from './indexer.ts';
import type { ModelProvider } from './providers/provider.ts';
import { ASSISTANT_RECORD_KINDS, assistantKeysOf } from './store/records.ts';
import type { AssistantRecord } from './store/records.ts';
import { changedConfig, providerFrom, settingsView } from './settings.ts';
import type { ProviderChange, ProviderSettings } from './settings.ts';
import type { AssistantStore, Memory, Message } from './store/store.ts';
import { createVectors } from './vectors.ts';

export type { ProviderChange, ProviderSettings } from './settings.ts';

export interface Citation {
  /** the "[n]" in the answer */
  n: number;
  item: string;
  /** the file's name now (or when indexed, if it is gone) */
  name: string;
  /** its vault path now; null when the file is no longer in the vault */
  path: string | null;
}

export interface MessageView extends Omit<Message, 'sources'> {
  citations?: Citation[];
  /** an answer's budget line, from the context report kept with it (`report`) */
  budget?: string;
}

export interface Preferences {
  text: string;
  autoApprove: boolean;
  proposeMemories: boolean;
}

export interface AssistantStatus extends ProviderSettings {
  ready: boolean;
  reason?: string;
  index: IndexStatus;
  proposedMemories: number;
}

export type TurnEvent =
  | { type: 'context'; report: ContextReport; budget: string; user: MessageView | null; citations: Citation[] }
  | { type: 'token'; content: string }
  | { type: 'done'; message: MessageView; promptTokens?: number; completionTokens?: number }
  | { type: 'memories'; proposed: Memory[] };

export interface TurnRequest {
  /** default: the vault's chat model */
  model?: string;
  signal?: AbortSignal;
  regenerate?: boolean;
  /** a silent provider fails after this long (default: the provider's) */
  timeoutMs?: number;
}

export interface AssistantService extends WorkspaceService {
  /** Conversations, messages, memories, preferences' text (store/store.ts). */
  readonly store: AssistantStore;
  readonly core: Assistant;
  providerSettings(): ProviderSettings;
  /** Changes the provider and default models. Throws INVALID_INPUT (a remote address without opt-in, a bad URL). */
  configure(change: ProviderChange): ProviderSettings;
  /** The configured provider, or null. Throws INVALID_INPUT for the embedded one where this build has none. */
  provider(): ModelProvider | null;
  preferences(): Preferences;
  setPreferences(change: Partial<Preferences>): Preferences;
  status(): AssistantStatus;
  /**
   * One turn (see Assistant.ask), then the model's proposed memories and the running summary.
   * Throws AI_BUSY while another answer is written in the conversation, INVALID_INPUT when no
   * model is configured, and what Assistant.ask throws.
   */
  ask(conversation: RecordId, text: string, opts?: TurnRequest): AsyncGenerator<TurnEvent>;
  /** Stops the answer being written in a conversation; false when none is. */
  stopTurn(conversation: RecordId): boolean;
  /** A conversation's messages with their citations. */
  messages(conversation: RecordId): MessageView[];
  /** Called by the vault after each commit (VaultDeps.onChange). */
  vaultChanged(items: readonly string[]): void;
  /**
   * The index. `idle` and `rebuild` first make it follow the vault when it did not already
   * (a one-shot command that asks the assistant something); `follow` only that.
   */
  readonly index: { status(): IndexStatus; rebuild(): void; idle(): Promise<void>; follow(): void };
}

export interface AssistantServiceDeps {
  records: RecordStore<AssistantRecord>;
  clock: () => number;
  vault: Vault;
  /** the workspace's: aborted on lock, auto-lock and panic */
  signal: AbortSignal;
  /** the embedded model (H-AI-MODELS), where this build has one */
  embedded?: () => ModelProvider;
  onError?: (err: unknown) => void;
  /**
   * Whether the index follows the vault from unlock on (default true: the server). A one-shot
   * CLI command passes false: it would start a sweep of the whole vault at every `ls` or `get`
   * and be stopped at its end, writing rows a read did not need; commands that use the index
   * (`chat`, `ai index`) make it follow when they start.
   */
  indexInBackground?: boolean;
}

const NO_MODEL = 'no model yet: import a GGUF or point to your Ollama';

export function createAssistantService(deps: AssistantServiceDeps): AssistantService {
  const { vault } = deps;
  let provider: ModelProvider | null = null;
  let providerFor: string | null = null;
  const nameOf = (item: string): string | null => liveItem(vault, item)?.name ?? null;

  const currentProvider = (): ModelProvider | null => {
    const choice = core.store.config().provider;
    const key = JSON.stringify(choice);
    if (key !== providerFor) {
      provider = providerFrom(choice, deps.embedded);
      providerFor = key;
    }
    return provider;
  };

  const vectors = createVectors({
    embeddingModel: () => core.store.config().embeddingModel,
    provider: () => currentProvider(),
    index: () => core.index,
    store: () => core.store,
    signal: deps.signal,
    onError: deps.onError,
  });
  // the embedded model counts with its own tokenizer (H-AI-MODELS's provider offers one)
  const counters = new Map<string, Promise<TokenCount | null>>();
  const countFor = (p: ModelProvider, model: string): Promise<TokenCount | null> => {
    const own = (p as ModelProvider & { tokenCounter?: (model: string) => Promise<TokenCount> }).tokenCounter;
    if (p.kind !== 'embedded' || typeof own !== 'function') return Promise.resolve(null);
    if (!counters.has(model)) counters.set(model, own.call(p, model).catch(() => (counters.delete(model), null)));
    return counters.get(model)!;
  };
  const core = createAssistant({ records: deps.records, clock: deps.clock, provider: currentProvider, nameOf, retrieve: vectors.retrieve, countFor });
  vectors.load();
  const indexer = createIndexer({
    vault,
    assistant: {
      index: core.index,
      store: core.store,
      indexDocuments: (docs) => core.indexDocuments(docs),
      removeDocument(item) {
        vectors.forget(item);
        return core.removeDocument(item);
      },
    },
    signal: deps.signal,
    extractor: createExtractor(),
    onIndexed: (items) => vectors.queue(items),
    vectors: () => vectors.size,
    onError: deps.onError,
  });
  let following = false;
  function follow(): void {
    if (following) return;
    following = true;
    indexer.start();
  }
  if (deps.indexInBackground !== false) follow();

  /** in-flight answers by conversation */
  const turns = new Map<RecordId, AbortController>();

  function citationsOf(sources: readonly string[] | undefined): Citation[] {
    return (sources ?? []).map((item, i) => {
      const entry = liveItem(vault, item);
      return entry !== null ? { n: i + 1, item, name: entry.name, path: entry.path } : { n: i + 1, item, name: core.store.documentInfo(item)?.name ?? '', path: null };
    });
  }

  const viewOf = (m: Message): MessageView => {
    const { sources, ...rest } = m;
    const view: MessageView = sources === undefined ? rest : { ...rest, citations: citationsOf(sources) };
    if (m.report !== undefined) view.budget = describeReport({ ...m.report, included: { memories: [], excerpts: [], turns: [] }, dropped: { memories: [], excerpts: [], turns: [] } });
    return view;
  };

  const settings = (): ProviderSettings => settingsView(core.store.config());


  const service: AssistantService = {
    store: core.store,
    core,
    providerSettings: settings,
    configure(change) {
      const old = core.store.config();
      const next = changedConfig(old, change, deps.embedded);
      core.store.setConfig(next);
      if (next.embeddingModel !== old.embeddingModel || JSON.stringify(next.provider) !== JSON.stringify(old.provider)) vectors.reset();
      return settings();
    },
    provider: currentProvider,
    preferences() {
      const c = core.store.config();
      return { text: core.store.preferences(), autoApprove: c.autoApprove, proposeMemories: c.proposeMemories };
    },
    setPreferences(change) {
      if (change.text !== undefined) core.store.setPreferences(change.text);
      if (change.autoApprove !== undefined || change.proposeMemories !== undefined) {
        const c = core.store.config();
        core.store.setConfig({ ...c, autoApprove: change.autoApprove ?? c.autoApprove, proposeMemories: change.proposeMemories ?? c.proposeMemories });
      }
      return service.preferences();
    },
    status() {
      const s = settings();
      const reason = s.provider === null || s.chatModel === null ? NO_MODEL : undefined;
      return { ...s, ready: reason === undefined, ...(reason ? { reason } : {}), index: indexer.status(), proposedMemories: core.store.listMemories({ status: 'proposed' }).length };
    },

    async *ask(conversation, text, opts = {}) {
      const config = core.store.config();
      const model = opts.model ?? config.chatModel;
      if (currentProvider() === null || model === null) throw new ElohimError('INVALID_INPUT', NO_MODEL);
      core.store.getConversation(conversation);
      if (turns.has(conversation)) throw new ElohimError('AI_BUSY');
      const stop = new AbortController();
      turns.set(conversation, stop);
      const signal = AbortSignal.any([stop.signal, deps.signal, ...(opts.signal ? [opts.signal] : [])]);
      const call = { model, signal, ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}) };
      try {
        let dropped = 0;
        for await (const e of core.ask(conversation, text, { ...call, regenerate: opts.regenerate === true })) {
          if (e.type === 'context') {
            dropped = e.report.parts.turns.dropped;
            yield { type: 'context', report: e.report, budget: describeReport(e.report), user: e.user === null ? null : viewOf(e.user), citations: citationsOf(e.sources) };
          } else if (e.type === 'delta') yield { type: 'token', content: e.content };
          else {
            const done: TurnEvent = { type: 'done', message: viewOf(e.message) };
            if (e.promptTokens !== undefined) done.promptTokens = e.promptTokens;
            if (e.completionTokens !== undefined) done.completionTokens = e.completionTokens;
            yield done;
          }
        }
        // The answer is saved: the conversation takes the next message while upkeep runs (a
        // slow model's memory proposal must not answer the user's next question with AI_BUSY).
        if (turns.get(conversation) === stop) turns.delete(conversation);
        // Upkeep: a failure here costs a memory or a summary, never the answer.
        if (config.proposeMemories) {
          const proposed = await upkeep(() => core.proposeMemories(conversation, { ...call, autoApprove: config.autoApprove }), signal);
          if (proposed !== null && proposed.length > 0) yield { type: 'memories', proposed };
        }
        if (dropped > 0) await upkeep(() => core.summarize(conversation, call), signal);
      } finally {
        if (turns.get(conversation) === stop) turns.delete(conversation);
      }
    },
    stopTurn(conversation) {
      const turn = turns.get(conversation);
      turn?.abort(new DOMException('stopped', 'AbortError'));
      return turn !== undefined;
    },
    messages: (conversation) => core.store.messages(conversation).map(viewOf),
    vaultChanged: (items) => {
      // not following: the next start's sweep finds these changes
      if (following) indexer.changed(items);
    },
    index: {
      status: () => indexer.status(),
      rebuild: () => {
        follow();
        indexer.rebuild();
      },
      idle: () => {
        follow();
        return indexer.idle();
      },
      follow,
    },
    stop() {
      for (const turn of turns.values()) turn.abort(new DOMException('the vault was locked', 'AbortError'));
      indexer.stop();
      core.stop();
    },
  };

  async function upkeep<T>(fn: () => Promise<T>, signal: AbortSignal): Promise<T | null> {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted) return null;
      deps.onError?.(err);
      return null;
    }
  }

  return service;
}

/**
 * Every record store the assistant writes under a vault's keys (one: conversations, messages,
 * summaries, memories, preferences, settings, documents and vectors share it), for app.ts to
 * wipe with a decoy and repair with the vault.
 */
export function assistantRecordStores(deps: { db: Database; derive: (label: string) => Buffer }): RecordStore<unknown>[] {
  return [createRecordStore<unknown>({ db: deps.db, keys: assistantKeysOf(deps.derive), kinds: ASSISTANT_RECORD_KINDS })];
}
