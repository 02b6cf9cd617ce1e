// The Chat screen's and the Models tab's calls to the server. Requests go through the app's one
// API client (request(): CSRF header, error format, end of session); streamed answers and pulls
// are POSTs read as Server-Sent Events (api.ts streamEvents), aborted by the caller's signal.

import { API, apiPath } from '../../../src/server/protocol.ts';
import type { ApiRoute } from '../../../src/server/protocol.ts';
import { request, streamEvents } from '../api.ts';

// --- the assistant's shapes, as the server sends them (src/ai/store, src/ai/context) ---------

export interface Conversation {
  id: string;
  title: string;
  created: number;
  updated: number;
  trashed?: number;
}

export interface Citation {
  /** the [n] in the answer */
  n: number;
  /** the vault item, opened in the vault browser */
  item: string;
  name: string;
  /** null when the file is gone */
  path: string | null;
}

export interface Message {
  id: string;
  conversation: string;
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  at: number;
  model?: string;
  partial?: true;
  citations?: Citation[];
  /** an answer's context report, kept with it (so older answers show their budget bar too) */
  report?: ContextReport;
  /** the same report as the server's one-line budget */
  budget?: string;
}

export interface Memory {
  id: string;
  text: string;
  status: 'proposed' | 'approved';
  created: number;
  updated: number;
  source?: { conversation: string; message: string };
  expires?: number;
}

// The context builder's report, as the server sends it: one definition (types only, nothing of
// the builder reaches the bundle).
export type { ContextReport, PartReport } from '../../../src/ai/context/builder.ts';
import type { ContextReport } from '../../../src/ai/context/builder.ts';

export type AnswerEvent =
  | { type: 'context'; report: ContextReport; budget: string; user: Message | null; citations: Citation[] }
  | { type: 'token'; content: string }
  | { type: 'done'; message: Message; promptTokens?: number; completionTokens?: number }
  | { type: 'memories'; proposed: Memory[] };

export type ProviderKind = 'ollama' | 'openai' | 'embedded';

export interface ProviderSettings {
  provider: { kind: ProviderKind; baseUrl: string | null; local: boolean; allowRemote: boolean; hasApiKey: boolean } | null;
  chatModel: string | null;
  embeddingModel: string | null;
}

/** The vault's text index (src/ai/indexer.ts). */
export interface IndexStatus {
  documents: number;
  chunks: number;
  vectors: number;
  state: 'idle' | 'indexing';
  done: number;
  total: number;
  skipped: number;
  failed: { item: string; name: string; reason: string }[];
  truncated: { item: string; name: string }[];
}

export interface AssistantStatus extends ProviderSettings {
  index?: IndexStatus;
  ready: boolean;
  /** why not ready ("no model yet: …") */
  reason?: string;
  proposedMemories: number;
}

export interface Preferences {
  text: string;
  autoApprove: boolean;
  proposeMemories: boolean;
}

// --- models (Settings → Models) --------------------------------------------------------------

export interface ModelEntry {
  /** `<provider>/<name>`, one path segment once encoded */
  id: string;
  provider: ProviderKind;
  name: string;
  size?: number;
  family?: string;
  parameterSize?: string;
  quantization?: string;
  contextLength?: number;
  capabilities: string[];
}

export interface ProviderModels {
  kind: ProviderKind;
  baseUrl: string;
  local: boolean;
  models: ModelEntry[];
  error?: { code: string; message: string };
}

export interface ModelDefaults {
  chat: string | null;
  embedding: string | null;
}

export type PullEvent =
  | { type: 'started'; pull: string }
  | { type: 'progress'; status: string; total?: number; completed?: number }
  | { type: 'done'; model: ModelEntry };

export interface PullState {
  pull: string;
  name: string;
  completed: number;
  total?: number;
  active: boolean;
}

// --- routes ------------------------------------------------------------------------------------

const q = (params: Record<string, string | undefined>): string => {
  const s = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== undefined) s.set(k, v);
  const text = s.toString();
  return text === '' ? '' : '?' + text;
};

/** A streamed answer's events as the chat's event types (`{ type, ...data }`). */
async function* stream<T>(path: string, body: unknown, signal: AbortSignal): AsyncGenerator<T> {
  for await (const ev of streamEvents(path, body, signal)) yield { type: ev.event, ...(ev.data as Record<string, unknown>) } as T;
}

const path = (route: ApiRoute, id: string) => apiPath(route, id);

export const chatApi = {
  status: () => request<AssistantStatus>('GET', API.assistantStatus),
  preferences: () => request<Preferences>('GET', API.preferences),
  setPreferences: (change: Partial<Preferences>) => request<Preferences>('PATCH', API.preferences, change),

  conversations: (search?: string) => request<{ conversations: Conversation[] }>('GET', API.conversations + q({ q: search === '' ? undefined : search })),
  createConversation: (title: string) => request<{ conversation: Conversation }>('POST', API.conversations, { title }),
  conversation: (id: string) => request<{ conversation: Conversation; messages: Message[] }>('GET', path(API.conversation, id)),
  renameConversation: (id: string, title: string) => request<{ conversation: Conversation }>('PATCH', path(API.conversation, id), { title }),
  /** To the trash. */
  deleteConversation: (id: string) => request<unknown>('DELETE', path(API.conversation, id)),
  /** The conversations in the trash, newest activity first. */
  trashedConversations: () => request<{ conversations: Conversation[] }>('GET', API.conversations + q({ trashed: 'true' })),
  /** Deletes a conversation and its messages for good. */
  deleteForever: (id: string) => request<void>('DELETE', path(API.conversation, id) + q({ forever: 'true' })),
  /** Back from the trash. */
  restoreConversation: (id: string) => request<{ conversation: Conversation }>('PATCH', path(API.conversation, id), { trashed: false }),
  /** Where a plain link downloads the conversation as Markdown (GET: the cookie goes with it). */
  exportUrl: (id: string) => path(API.conversationExport, id),

  /** Sends a message and streams the answer. */
  ask: (conversation: string, text: string, signal: AbortSignal) => stream<AnswerEvent>(path(API.conversationMessages, conversation), { text }, signal),
  /** Answers the last user message again (the new answer replaces the old one when it completes). */
  regenerate: (conversation: string, signal: AbortSignal) => stream<AnswerEvent>(path(API.conversationRegenerate, conversation), {}, signal),

  memories: () => request<{ memories: Memory[] }>('GET', API.memories),
  addMemory: (text: string) => request<{ memory: Memory }>('POST', API.memories, { text }),
  /** Edits a memory's text and its expiry (null: never expires). */
  editMemory: (id: string, change: { text?: string; expires?: number | null }) => request<{ memory: Memory }>('PATCH', path(API.memory, id), change),
  /** Approves a proposed memory, as it is or with `text` instead. */
  approveMemory: (id: string, text?: string) => request<{ memory: Memory }>('POST', path(API.memoryApprove, id), text === undefined ? {} : { text }),
  /** Rejects a proposed memory, forgets an approved one. */
  deleteMemory: (id: string) => request<void>('DELETE', path(API.memory, id)),

  provider: () => request<ProviderSettings>('GET', API.assistantProvider),
  setProvider: (change: { provider?: { kind: ProviderKind; baseUrl?: string; allowRemote?: boolean; apiKey?: string } | null }) =>
    request<ProviderSettings>('PATCH', API.assistantProvider, change),
};

export const modelsApi = {
  list: () => request<{ providers: ProviderModels[]; defaults: ModelDefaults }>('GET', API.models),
  setDefaults: (change: Partial<ModelDefaults>) => request<ModelDefaults>('PATCH', API.modelDefaults, change),
  importGguf: (file: string, name?: string) => request<{ model: ModelEntry }>('POST', API.modelImport, name === undefined || name === '' ? { path: file } : { path: file, name }),
  /** Deletes a model; `confirm` is its name, as the user confirmed it. */
  remove: (id: string, confirm: string) => request<void>('DELETE', path(API.model, id), { confirm }),
  /** Streams a pull; aborting `signal` pauses it (the same call resumes). */
  pull: (body: { provider: 'ollama'; name: string } | { provider: 'embedded'; url: string; name?: string; sha256?: string }, signal: AbortSignal) =>
    stream<PullEvent>(API.modelPull, body, signal),
  pulls: () => request<{ pulls: PullState[] }>('GET', API.modelPulls),
  /** Stops a pull if it runs and deletes what it downloaded. */
  cancelPull: (pull: string) => request<void>('DELETE', path(API.modelPullCancel, pull)),
};
