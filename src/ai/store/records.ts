/**
 * The assistant's record kinds, sealed in the vault's record store (src/db) under keys of their
 * own (`elohim/v1 assistant seal` / `tag`, derived from the workspace's VaultKey): the vault
 * never sees these rows and they never see the vault's, like the audit log's. A decoy vault has
 * other keys, so its conversations and memories are other rows nobody can link to these.
 *
 * Every body is version 1 (`v: 1`); a kind or version this build does not know is refused
 * (VAULT_FORMAT_UNKNOWN) rather than half-read.
 */
import { asSealKey } from '../../crypto/index.ts';
import type { RecordId, RecordKeys } from '../../db/index.ts';

export interface ConversationRecord {
  t: 'conversation';
  v: 1;
  title: string;
  created: number;
  updated: number;
  /** when it was moved to the trash */
  trashed?: number;
}

export interface MessageRecord {
  t: 'message';
  v: 1;
  conversation: RecordId;
  /** order within the conversation, from 0 */
  seq: number;
  role: 'user' | 'assistant';
  content: string;
  at: number;
  /** the model that wrote an assistant message */
  model?: string;
  /** an answer cut short (Stop, a provider that failed mid-stream): what came is kept */
  partial?: true;
  /**
   * The vault items of the excerpts it was given, in the order the model saw them: `sources[n-1]`
   * is what "[n]" in the answer cites (an item may appear more than once, one per excerpt).
   */
  sources?: string[];
  /** what the context held when it was written (the budget bar of an older answer) */
  report?: StoredReport;
}

/** A context report without its id lists (context/builder.ts ContextReport), kept with an answer. */
export interface StoredReport {
  window: number;
  replyReserve: number;
  budget: number;
  used: number;
  fits: boolean;
  parts: {
    system: { tokens: number; preferences: boolean; included: boolean };
    memories: { included: number; dropped: number; tokens: number };
    excerpts: { included: number; dropped: number; tokens: number };
    summary: { included: boolean; tokens: number };
    turns: { included: number; dropped: number; tokens: number; summarised: number };
    user: { tokens: number };
  };
}

export interface MemoryRecord {
  t: 'memory';
  v: 1;
  text: string;
  /** a memory the model proposed waits for the user's approval */
  status: 'proposed' | 'approved';
  created: number;
  updated: number;
  /** where it came from */
  source?: { conversation: RecordId; message: RecordId };
  /** after this time it is not used (and `listMemories` leaves it out) */
  expires?: number;
}

/** The running summary of a conversation's older turns, written by the model. */
export interface SummaryRecord {
  t: 'summary';
  v: 1;
  conversation: RecordId;
  text: string;
  /** the last message it covers */
  through: RecordId;
  at: number;
}

/** How the user wants answers, one per vault. */
export interface PreferencesRecord {
  t: 'preferences';
  v: 1;
  text: string;
}

/**
 * Text extracted from a vault file, kept sealed so that unlocking rebuilds the in-memory index
 * without opening and extracting every file again. A long text is cut into parts of at most
 * DOCUMENT_PART_CHARS, one record each (rows stay small, like the vault's own).
 */
export interface DocumentRecord {
  t: 'document';
  v: 1;
  /** the vault item the text came from */
  item: string;
  /** the file's name when indexed, for the model to read ("manual.pdf") */
  name: string;
  part: number;
  parts: number;
  text: string;
  /** the file had more text than MAX_DOCUMENT_CHARS; only the start is indexed */
  truncated?: true;
  /** the SHA-256 of the file's contents when indexed: a file replaced since is indexed again */
  sha256?: string;
}

/**
 * The assistant's settings for this vault: which model provider, which models, and how memories
 * are proposed. Sealed like the rest, never in config.json: which provider a vault talks to (an
 * Ollama on another machine, an API key) is the vault's own business, and a decoy has its own.
 */
export interface ConfigRecord {
  t: 'config';
  v: 1;
  provider: ProviderChoice | null;
  chatModel: string | null;
  embeddingModel: string | null;
  /** memories the model proposes are approved at once */
  autoApprove: boolean;
  /** ask the model after each answer what is worth remembering */
  proposeMemories: boolean;
}

export interface ProviderChoice {
  kind: 'ollama' | 'openai' | 'embedded';
  /** the server's address; none for the embedded model */
  baseUrl?: string;
  /** the user agreed that conversations go to a provider on another machine */
  allowRemote: boolean;
  apiKey?: string;
}

/**
 * Dense vectors of a document's chunks under one embedding model, sealed, so that unlocking
 * does not embed every chunk again. Float32 little-endian, base64, `dims` per chunk in chunk
 * order; a long document has several parts, like its text.
 */
export interface VectorsRecord {
  t: 'vectors';
  v: 1;
  item: string;
  model: string;
  dims: number;
  /** the index of the first chunk in this part */
  from: number;
  count: number;
  data: string;
}

export const DOCUMENT_PART_CHARS = 32_000;
/** About 16 MB of text (some 4 million words): past it a file's text is cut, and marked so. */
export const MAX_DOCUMENT_CHARS = 16_000_000;

export type AssistantRecord = ConversationRecord | MessageRecord | MemoryRecord | SummaryRecord | PreferencesRecord | DocumentRecord | ConfigRecord | VectorsRecord;

export const ASSISTANT_KINDS: ReadonlySet<string> = new Set(['conversation', 'message', 'memory', 'summary', 'preferences', 'document', 'config', 'vectors']);

/** The kinds for createRecordStore's `kinds`: every kind at version 1. */
export const ASSISTANT_RECORD_KINDS = { own: Object.fromEntries([...ASSISTANT_KINDS].map((k) => [k, 1])) as Record<string, number> };

/** The assistant's record keys from a vault key's derivation (`VaultKey.derive`). */
export function assistantKeysOf(derive: (label: string) => Buffer): RecordKeys {
  return { seal: asSealKey(derive('elohim/v1 assistant seal')), tag: derive('elohim/v1 assistant tag') };
}
