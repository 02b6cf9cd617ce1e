/**
 * The assistant's sealed records (conversations, messages, summaries, memories, preferences,
 * documents, their vectors, the vault's assistant settings) behind one store. About 400 lines:
 * each kind is a few small functions over the same record store and in-memory maps, loaded in
 * one pass; splitting them by kind would pass that state around or load the records twice.
 */
import { ElohimError } from '../../errors.ts';
import { newRecordId } from '../../db/index.ts';
import type { RecordId, RecordStore } from '../../db/index.ts';
import { ASSISTANT_KINDS, DOCUMENT_PART_CHARS, MAX_DOCUMENT_CHARS } from './records.ts';
import type { AssistantRecord, ConfigRecord, ConversationRecord, DocumentRecord, MemoryRecord, MessageRecord, PreferencesRecord, SummaryRecord, VectorsRecord } from './records.ts';

export interface Conversation extends Omit<ConversationRecord, 't' | 'v'> {
  id: RecordId;
}
export interface Message extends Omit<MessageRecord, 't' | 'v'> {
  id: RecordId;
}
export interface Memory extends Omit<MemoryRecord, 't' | 'v'> {
  id: RecordId;
}
export interface Summary extends Omit<SummaryRecord, 't' | 'v'> {
  id: RecordId;
}

/**
 * Conversations, messages, summaries, memories and preferences of one vault, sealed (records.ts).
 * Everything is read once when the workspace opens and kept in memory while it is unlocked;
 * every change is one commit of the record store, so a crash leaves either all of it or none.
 *
 * Throws ITEM_NOT_FOUND for an unknown conversation or memory, INVALID_INPUT for empty text.
 */
export interface AssistantStore {
  createConversation(title: string): Conversation;
  /** Newest activity first; trashed ones only with `{ trashed: true }`. */
  listConversations(opts?: { trashed?: boolean }): Conversation[];
  getConversation(id: RecordId): Conversation;
  renameConversation(id: RecordId, title: string): Conversation;
  /** Moves to the trash (true) or back (false). */
  trashConversation(id: RecordId, trashed?: boolean): Conversation;
  /** Deletes a conversation with its messages and summary, for good. */
  deleteConversation(id: RecordId): void;
  /** Conversations whose title or messages contain `text` (case-insensitive), newest first. */
  searchConversations(text: string): Conversation[];
  /**
   * Appends a message (and touches the conversation) in one commit; `replacing` (messages of
   * this conversation) are removed in the same commit (a regenerated answer replaces the old).
   */
  appendMessage(conversation: RecordId, message: Omit<MessageRecord, 't' | 'v' | 'conversation' | 'seq' | 'at'>, replacing?: readonly RecordId[]): Message;
  /** A conversation's messages, in order. */
  messages(conversation: RecordId): Message[];
  summary(conversation: RecordId): Summary | null;
  /** Replaces the running summary (the model updates it incrementally: old summary + newer turns). */
  setSummary(conversation: RecordId, text: string, through: RecordId): Summary;
  /** Markdown of a conversation, for export. */
  exportMarkdown(conversation: RecordId): string;

  /** Memories in creation order; expired ones left out unless `{ expired: true }`. */
  listMemories(opts?: { status?: MemoryRecord['status']; expired?: boolean }): Memory[];
  addMemory(memory: { text: string; status?: MemoryRecord['status']; source?: MemoryRecord['source']; expires?: number }): Memory;
  /** Edits a memory; `status: 'approved'` approves a proposed one. */
  updateMemory(id: RecordId, change: { text?: string; status?: MemoryRecord['status']; expires?: number | null }): Memory;
  removeMemory(id: RecordId): void;

  preferences(): string;
  setPreferences(text: string): void;

  /**
   * Keeps a file's extracted text (sealed, in parts), replacing what was kept for `item`. Text
   * past MAX_DOCUMENT_CHARS is dropped; returns the text kept and whether it was cut.
   */
  putDocument(item: string, name: string, text: string, sha256?: string): { text: string; truncated: boolean };
  /** `putDocument` for many files in one commit (a first full index: one transaction, not thousands). */
  putDocuments(docs: readonly { item: string; name: string; text: string; sha256?: string; truncated?: boolean }[]): { text: string; truncated: boolean }[];
  /** Forgets a file's text (and its vectors). */
  removeDocument(item: string): boolean;
  /** Items whose text is kept. */
  documentItems(): string[];
  /** The name and contents hash a file was indexed under; null when it is not. */
  documentInfo(item: string): { name: string; sha256?: string; truncated?: true } | null;

  /** Replaces a document's vectors under `model` (parts as records.ts says). */
  putVectors(item: string, model: string, dims: number, vectors: Float32Array): void;
  /**
   * The vectors kept for `item` under `model`, or null. Their encoded form read at open is let go
   * once taken (10,000 vectors of 768 dimensions are 41 MB of base64 besides the floats), so a
   * second call for the same ones answers null until they are put again.
   */
  takeVectors(item: string, model: string): Float32Array | null;

  /** The vault's assistant settings (defaults when never set). */
  config(): Omit<ConfigRecord, 't' | 'v'>;
  setConfig(config: Omit<ConfigRecord, 't' | 'v'>): void;
}

export const DEFAULT_CONFIG: Omit<ConfigRecord, 't' | 'v'> = { provider: null, chatModel: null, embeddingModel: null, autoApprove: false, proposeMemories: true };
/** Floats per vectors record: 8,192 (32 KiB, 43 KiB in base64), rows the size of a document part. */
const VECTOR_PART_FLOATS = 8192;

/** A document read back at open, for the index. */
export interface StoredDocument {
  item: string;
  name: string;
  text: string;
  truncated: boolean;
  sha256?: string;
}

const strip = <T extends { t: string; v: number }>(id: RecordId, rec: T): Omit<T, 't' | 'v'> & { id: RecordId } => {
  const { t: _t, v: _v, ...rest } = rec;
  return { id, ...rest };
};

/** Longest texts kept, whichever face they came through (the HTTP schemas say the same). */
export const LIMITS = { title: 200, memory: 2000, preferences: 4000, message: 200_000 } as const;

function nonEmpty(text: string, what: string, max?: number): string {
  if (typeof text !== 'string' || text.trim() === '') throw new ElohimError('INVALID_INPUT', `${what} cannot be empty`);
  if (max !== undefined && text.length > max) throw new ElohimError('INVALID_INPUT', `${what} is at most ${max.toLocaleString('en-US')} characters`);
  return text;
}

/**
 * Opens the store: reads every record of ours. The documents' texts are handed to `onDocument`
 * once (to index) and not kept here; a document missing a part is skipped (indexed again when
 * its file is). Throws VAULT_FORMAT_UNKNOWN for a kind or version from a newer build.
 */
export function openAssistantStore(deps: { records: RecordStore<AssistantRecord>; clock: () => number; onDocument?: (doc: StoredDocument) => void }): AssistantStore {
  const { records, clock } = deps;
  /** the record ids of each document's parts */
  const documents = new Map<string, RecordId[]>();
  const parts = new Map<string, DocumentRecord[]>();
  const conversations = new Map<RecordId, ConversationRecord>();
  const messagesOf = new Map<RecordId, Map<RecordId, MessageRecord>>();
  const summaries = new Map<RecordId, { id: RecordId; rec: SummaryRecord }>();
  const memories = new Map<RecordId, MemoryRecord>();
  let prefs: { id: RecordId; rec: PreferencesRecord } | null = null;
  let config: { id: RecordId; rec: ConfigRecord } | null = null;
  /** item → model → its vector records */
  const vectors = new Map<string, Map<string, { id: RecordId; rec: VectorsRecord }[]>>();
  const documentMeta = new Map<string, { name: string; sha256?: string; truncated?: true }>();

  for (const [id, rec] of records.loadAll()) {
    if (!ASSISTANT_KINDS.has(rec.t)) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `assistant record kind ${JSON.stringify(rec.t)} is newer than this build knows`);
    if (rec.v !== 1) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `assistant record version ${String(rec.v)} is newer than this build knows`);
    if (rec.t === 'conversation') conversations.set(id, rec);
    else if (rec.t === 'memory') memories.set(id, rec);
    else if (rec.t === 'preferences') prefs = { id, rec };
    else if (rec.t === 'config') config = { id, rec };
    else if (rec.t === 'vectors') {
      if (!vectors.has(rec.item)) vectors.set(rec.item, new Map());
      const byModel = vectors.get(rec.item)!;
      if (!byModel.has(rec.model)) byModel.set(rec.model, []);
      byModel.get(rec.model)!.push({ id, rec });
    }
    else if (rec.t === 'summary') summaries.set(rec.conversation, { id, rec });
    else if (rec.t === 'document') {
      if (!documents.has(rec.item)) documents.set(rec.item, []);
      documents.get(rec.item)!.push(id);
      if (!parts.has(rec.item)) parts.set(rec.item, []);
      parts.get(rec.item)!.push(rec);
    } else {
      if (!messagesOf.has(rec.conversation)) messagesOf.set(rec.conversation, new Map());
      messagesOf.get(rec.conversation)!.set(id, rec);
    }
  }

  for (const [item, list] of parts) {
    list.sort((a, b) => a.part - b.part);
    if (list.length !== list[0]!.parts || list.some((p, i) => p.part !== i)) continue;
    const meta: { name: string; sha256?: string; truncated?: true } = { name: list[0]!.name };
    if (list[0]!.sha256 !== undefined) meta.sha256 = list[0]!.sha256;
    if (list[0]!.truncated === true) meta.truncated = true;
    documentMeta.set(item, meta);
    deps.onDocument?.({ item, name: meta.name, ...(meta.sha256 === undefined ? {} : { sha256: meta.sha256 }), text: list.map((p) => p.text).join(''), truncated: list[0]!.truncated === true });
  }
  parts.clear();

  const conversationOf = (id: RecordId): ConversationRecord => {
    const c = conversations.get(id);
    if (c === undefined) throw new ElohimError('ITEM_NOT_FOUND', 'no such conversation');
    return c;
  };
  const memoryOf = (id: RecordId): MemoryRecord => {
    const m = memories.get(id);
    if (m === undefined) throw new ElohimError('ITEM_NOT_FOUND', 'no such memory');
    return m;
  };
  const byActivity = (a: Conversation, b: Conversation) => b.updated - a.updated || (a.id < b.id ? -1 : 1);
  const ordered = (conversation: RecordId): Message[] =>
    [...(messagesOf.get(conversation) ?? new Map<RecordId, MessageRecord>())].map(([id, m]) => strip(id, m)).sort((a, b) => a.seq - b.seq);

  /** Commits, then applies to memory: a failed commit changes nothing we hold. */
  const commitConversation = (id: RecordId, rec: ConversationRecord, extra: [RecordId, AssistantRecord][] = []) => {
    records.commit({ put: [[id, rec], ...extra] });
    conversations.set(id, rec);
  };

  const store: AssistantStore = {
    createConversation(title) {
      const now = clock();
      const id = newRecordId();
      const rec: ConversationRecord = { t: 'conversation', v: 1, title: nonEmpty(title, 'a title', LIMITS.title), created: now, updated: now };
      commitConversation(id, rec);
      return strip(id, rec);
    },
    listConversations(opts = {}) {
      return [...conversations]
        .filter(([, c]) => (c.trashed !== undefined) === (opts.trashed ?? false))
        .map(([id, c]) => strip(id, c))
        .sort(byActivity);
    },
    getConversation: (id) => strip(id, conversationOf(id)),
    renameConversation(id, title) {
      const rec = { ...conversationOf(id), title: nonEmpty(title, 'a title', LIMITS.title) };
      commitConversation(id, rec);
      return strip(id, rec);
    },
    trashConversation(id, trashed = true) {
      const { trashed: _was, ...rest } = conversationOf(id);
      const rec: ConversationRecord = trashed ? { ...rest, trashed: clock() } : rest;
      commitConversation(id, rec);
      return strip(id, rec);
    },
    deleteConversation(id) {
      conversationOf(id);
      const remove = [id, ...(messagesOf.get(id)?.keys() ?? [])];
      const summary = summaries.get(id);
      if (summary) remove.push(summary.id);
      records.commit({ remove });
      conversations.delete(id);
      messagesOf.delete(id);
      summaries.delete(id);
    },
    searchConversations(text) {
      const needle = text.toLocaleLowerCase();
      return store
        .listConversations()
        .filter((c) => c.title.toLocaleLowerCase().includes(needle) || [...(messagesOf.get(c.id)?.values() ?? [])].some((m) => m.content.toLocaleLowerCase().includes(needle)));
    },
    appendMessage(conversation, message, replacing = []) {
      const conv = conversationOf(conversation);
      for (const r of replacing) if (!messagesOf.get(conversation)?.has(r)) throw new ElohimError('ITEM_NOT_FOUND', 'no such message in this conversation');
      const existing = messagesOf.get(conversation);
      const seq = existing === undefined ? 0 : Math.max(-1, ...[...existing.values()].map((m) => m.seq)) + 1;
      const now = clock();
      const id = newRecordId();
      const rec: MessageRecord = { ...message, t: 'message', v: 1, conversation, seq, at: now, content: message.content };
      if (rec.role !== 'user' && rec.role !== 'assistant') throw new ElohimError('INVALID_INPUT', 'a message is from the user or the assistant');
      const summary = summaries.get(conversation);
      // a summary that covers a replaced message would point at nothing: it goes with it
      const dropSummary = summary !== undefined && replacing.includes(summary.rec.through);
      records.commit({ put: [[conversation, { ...conv, updated: now }], [id, rec]], remove: [...replacing, ...(dropSummary ? [summary.id] : [])] });
      conversations.set(conversation, { ...conv, updated: now });
      if (dropSummary) summaries.delete(conversation);
      if (!messagesOf.has(conversation)) messagesOf.set(conversation, new Map());
      for (const r of replacing) messagesOf.get(conversation)!.delete(r);
      messagesOf.get(conversation)!.set(id, rec);
      return strip(id, rec);
    },
    messages: (conversation) => (conversationOf(conversation), ordered(conversation)),
    summary(conversation) {
      const s = summaries.get(conversation);
      return s ? strip(s.id, s.rec) : null;
    },
    setSummary(conversation, text, through) {
      conversationOf(conversation);
      if (!messagesOf.get(conversation)?.has(through)) throw new ElohimError('ITEM_NOT_FOUND', 'no such message in this conversation');
      const id = summaries.get(conversation)?.id ?? newRecordId();
      const rec: SummaryRecord = { t: 'summary', v: 1, conversation, text: nonEmpty(text, 'a summary'), through, at: clock() };
      records.commit({ put: [[id, rec]] });
      summaries.set(conversation, { id, rec });
      return strip(id, rec);
    },
    exportMarkdown(conversation) {
      const c = conversationOf(conversation);
      const lines = [`# ${c.title}`, '', `_${new Date(c.created).toISOString()}_`, ''];
      for (const m of ordered(conversation)) {
        lines.push(`## ${m.role === 'user' ? 'You' : `Assistant${m.model ? ` (${m.model})` : ''}`}`, '', m.content, '');
      }
      return lines.join('\n');
    },

    listMemories(opts = {}) {
      const now = clock();
      return [...memories]
        .filter(([, m]) => (opts.status === undefined || m.status === opts.status) && (opts.expired === true || m.expires === undefined || m.expires > now))
        .map(([id, m]) => strip(id, m))
        .sort((a, b) => a.created - b.created || (a.id < b.id ? -1 : 1));
    },
    addMemory(memory) {
      const now = clock();
      const id = newRecordId();
      const rec: MemoryRecord = { t: 'memory', v: 1, text: nonEmpty(memory.text, 'a memory', LIMITS.memory), status: memory.status ?? 'approved', created: now, updated: now };
      if (memory.source) rec.source = memory.source;
      if (memory.expires !== undefined) rec.expires = memory.expires;
      records.commit({ put: [[id, rec]] });
      memories.set(id, rec);
      return strip(id, rec);
    },
    updateMemory(id, change) {
      const { expires: _e, ...old } = memoryOf(id);
      const rec: MemoryRecord = { ...old, updated: clock() };
      if (change.text !== undefined) rec.text = nonEmpty(change.text, 'a memory', LIMITS.memory);
      if (change.status !== undefined) rec.status = change.status;
      const expires = change.expires === undefined ? memoryOf(id).expires : change.expires;
      if (expires !== null && expires !== undefined) rec.expires = expires;
      records.commit({ put: [[id, rec]] });
      memories.set(id, rec);
      return strip(id, rec);
    },
    removeMemory(id) {
      memoryOf(id);
      records.commit({ remove: [id] });
      memories.delete(id);
    },

    putDocument(item, name, text, sha256) {
      return store.putDocuments([{ item, name, text, ...(sha256 === undefined ? {} : { sha256 }) }])[0]!;
    },
    putDocuments(docs) {
      const cut = (text: string) => (text.length > MAX_DOCUMENT_CHARS ? { text: text.slice(0, MAX_DOCUMENT_CHARS), truncated: true } : { text, truncated: false });
      // an item listed twice: the last text wins
      const latest = new Map(docs.map((d) => [d.item, d]));
      const put: [RecordId, DocumentRecord][] = [];
      const remove: RecordId[] = [];
      const idsOf = new Map<string, RecordId[]>();
      for (const { item, name, text, sha256, truncated } of latest.values()) {
        // cut here, or already cut when the file was read (a text file read up to its limit)
        const kept = { ...cut(text) };
        if (truncated === true) kept.truncated = true;
        const count = Math.max(1, Math.ceil(kept.text.length / DOCUMENT_PART_CHARS));
        remove.push(...(documents.get(item) ?? []));
        const ids: RecordId[] = [];
        for (let part = 0; part < count; part++) {
          const rec: DocumentRecord = { t: 'document', v: 1, item, name, part, parts: count, text: kept.text.slice(part * DOCUMENT_PART_CHARS, (part + 1) * DOCUMENT_PART_CHARS) };
          if (kept.truncated) rec.truncated = true;
          if (sha256 !== undefined) rec.sha256 = sha256;
          ids.push(newRecordId());
          put.push([ids.at(-1)!, rec]);
        }
        idsOf.set(item, ids);
        // the text changed: its vectors are of the old text
        for (const list of vectors.get(item)?.values() ?? []) remove.push(...list.map((x) => x.id));
      }
      records.commit({ put, remove });
      for (const [item, ids] of idsOf) {
        documents.set(item, ids);
        vectors.delete(item);
        const d = latest.get(item)!;
        const meta: { name: string; sha256?: string; truncated?: true } = { name: d.name };
        if (d.sha256 !== undefined) meta.sha256 = d.sha256;
        if (d.truncated === true || d.text.length > MAX_DOCUMENT_CHARS) meta.truncated = true;
        documentMeta.set(item, meta);
      }
      return docs.map((d) => cut(d.text));
    },
    removeDocument(item) {
      const ids = documents.get(item);
      if (ids === undefined) return false;
      const vectorIds = [...(vectors.get(item)?.values() ?? [])].flatMap((list) => list.map((x) => x.id));
      records.commit({ remove: [...ids, ...vectorIds] });
      documents.delete(item);
      documentMeta.delete(item);
      vectors.delete(item);
      return true;
    },
    documentItems: () => [...documents.keys()],
    documentInfo: (item) => documentMeta.get(item) ?? null,

    putVectors(item, model, dims, data) {
      if (!documents.has(item)) throw new ElohimError('ITEM_NOT_FOUND', 'no such document');
      if (!Number.isInteger(dims) || dims <= 0 || data.length % dims !== 0) throw new RangeError('vectors must be whole rows of dims floats');
      const old = vectors.get(item)?.get(model) ?? [];
      const perPart = Math.max(1, Math.floor(VECTOR_PART_FLOATS / dims));
      const rows = data.length / dims;
      const put: { id: RecordId; rec: VectorsRecord }[] = [];
      for (let from = 0; from < rows || (rows === 0 && from === 0); from += perPart) {
        const count = Math.min(perPart, rows - from);
        const slice = data.slice(from * dims, (from + count) * dims);
        put.push({ id: newRecordId(), rec: { t: 'vectors', v: 1, item, model, dims, from, count, data: Buffer.from(slice.buffer, slice.byteOffset, slice.byteLength).toString('base64') } });
        if (rows === 0) break;
      }
      records.commit({ put: put.map((x) => [x.id, x.rec]), remove: old.map((x) => x.id) });
      if (!vectors.has(item)) vectors.set(item, new Map());
      // the caller holds the floats; only the ids are needed from here on
      vectors.get(item)!.set(model, put.map((x) => ({ id: x.id, rec: { ...x.rec, data: '' } })));
    },
    takeVectors(item, model) {
      const list = vectors.get(item)?.get(model);
      if (list === undefined || list.length === 0 || list.some((x) => x.rec.data === '')) return null;
      const sorted = [...list].sort((a, b) => a.rec.from - b.rec.from);
      const dims = sorted[0]!.rec.dims;
      const total = sorted.reduce((n, x) => n + x.rec.count, 0);
      const out = new Float32Array(total * dims);
      let at = 0;
      for (const { rec } of sorted) {
        // a part out of place or of another width: the set is damaged, embed again
        if (rec.dims !== dims || rec.from !== at) return null;
        const bytes = Buffer.from(rec.data, 'base64');
        if (bytes.length !== rec.count * dims * 4) return null;
        out.set(new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.length)), at * dims);
        at += rec.count;
      }
      // the records stay (their ids, to replace or remove them), their data goes
      for (const x of list) x.rec = { ...x.rec, data: '' };
      return out;
    },

    config: () => {
      if (config === null) return { ...DEFAULT_CONFIG };
      const { t: _t, v: _v, ...rest } = config.rec;
      return { ...DEFAULT_CONFIG, ...rest };
    },
    setConfig(next) {
      const id = config?.id ?? newRecordId();
      const rec: ConfigRecord = { t: 'config', v: 1, ...next };
      records.commit({ put: [[id, rec]] });
      config = { id, rec };
    },

    preferences: () => prefs?.rec.text ?? '',
    setPreferences(text) {
      if (typeof text !== 'string' || text.length > LIMITS.preferences) throw new ElohimError('INVALID_INPUT', `preferences are at most ${LIMITS.preferences.toLocaleString('en-US')} characters`);
      const id = prefs?.id ?? newRecordId();
      const rec: PreferencesRecord = { t: 'preferences', v: 1, text };
      records.commit({ put: [[id, rec]] });
      prefs = { id, rec };
    },
  };
  return store;
}
