/**
 * The local AI assistant (issue 10), its public face. Layers:
 * - retrieval/: the analyzer (Unicode words, Lucene's English stop words, Porter stems), an
 *   in-memory BM25 index, chunking, and the retriever that puts them together; pure, no I/O;
 * - context/: the context builder (what fits the model's window, with a report) and token
 *   counting;
 * - providers/: model providers behind one interface (Ollama, OpenAI-compatible), every call with
 *   an AbortSignal and a timeout;
 * - store/: conversations, messages, summaries, memories and preferences as sealed record kinds
 *   under keys of their own;
 * - assistant.ts: the per-vault service app.ts builds: `createAssistant({ records, clock, provider })`;
 * - upkeep.ts: what the model writes besides answers: the running summary, proposed memories;
 * - extract.ts: text out of a vault file (txt, md, csv, json, html) for the index; documents.ts
 *   adds PDF (PDF.js) and DOCX (mammoth) and the size bounds;
 * - indexer.ts: the index following the vault's changes; vectors.ts: dense vectors fused with BM25
 *   (retrieval/dense.ts);
 * - service.ts: the workspace service app.ts builds (`createAssistantService`), which the faces call.
 */
export { createAnalyzer, STOP_WORDS } from './retrieval/analyzer.ts';
export type { Analyzer, AnalyzerOptions } from './retrieval/analyzer.ts';
export { porterStem } from './retrieval/porter.ts';
export { createBm25Index } from './retrieval/bm25.ts';
export type { Bm25Index, Bm25Options, SearchHit } from './retrieval/bm25.ts';
export { chunkText } from './retrieval/chunk.ts';
export type { Chunk, ChunkOptions } from './retrieval/chunk.ts';
export { createRetriever } from './retrieval/retriever.ts';
export type { ChunkHit, DocumentHit, Retriever, RetrieverOptions } from './retrieval/retriever.ts';
export { buildContext, describeReport, messagesTokens, EXCERPT_SHARE, MEMORY_SHARE, PER_ITEM, SUMMARY_SHARE } from './context/builder.ts';
export type { BuiltContext, ChatMessage, ContextExcerpt, ContextInput, ContextMemory, ContextReport, ContextTurn, PartReport } from './context/builder.ts';
export { DEFAULT_MARGIN, loadBpeCounter, tokenCounter } from './context/tokens.ts';
export type { TokenCount } from './context/tokens.ts';
export { DEFAULT_TIMEOUT_MS } from './providers/provider.ts';
export type { CallOptions, ChatEvent, ChatRequest, ModelDetails, ModelInfo, ModelProvider, ProviderConfig, PullProgress } from './providers/provider.ts';
export { createOllamaProvider } from './providers/ollama.ts';
export { createOpenAiProvider } from './providers/openai.ts';
export { isLoopback } from './providers/http.ts';
export { assistantKeysOf, ASSISTANT_KINDS, ASSISTANT_RECORD_KINDS } from './store/records.ts';
export type { AssistantRecord, ConfigRecord, ConversationRecord, MemoryRecord, MessageRecord, PreferencesRecord, ProviderChoice, SummaryRecord } from './store/records.ts';
export { openAssistantStore } from './store/store.ts';
export type { AssistantStore, Conversation, Memory, Message, Summary } from './store/store.ts';
export { createAssistant, DEFAULT_MAX_CONTEXT, DEFAULT_REPLY_RESERVE, DEFAULT_SYSTEM_PROMPT, FALLBACK_CONTEXT } from './assistant.ts';
export type { Assistant, AssistantDeps, AskEvent, AskOptions, TurnOptions } from './assistant.ts';
export { assistantRecordStores, createAssistantService } from './service.ts';
export type { AssistantService, AssistantServiceDeps, AssistantStatus, Citation, MessageView, Preferences, ProviderChange, ProviderSettings, TurnEvent, TurnRequest } from './service.ts';
export type { IndexStatus } from './indexer.ts';
export { extractDocument, MAX_PACKED_BYTES, MAX_TEXT_BYTES } from './documents.ts';
export { createDenseIndex, reciprocalRankFusion, weightedFusion, LEXICAL_WEIGHT } from './retrieval/dense.ts';
export type { DenseIndex, DenseHit } from './retrieval/dense.ts';
export { MEMORY_PROMPT, proposeMemories, SUMMARY_PROMPT, updateSummary } from './upkeep.ts';
export type { UpkeepDeps, UpkeepOptions } from './upkeep.ts';
export { extractText } from './extract.ts';
// The device's GGUF models and the embedded llama.cpp provider (H-AI-MODELS): models/index.ts.
export { checkModelName, checkPullUrl, createModels, probeModel, pullIdOf } from './models/index.ts';
export type { LocalModel, ModelProgress, Models, PullState } from './models/index.ts';
export { createEmbeddedProvider, defaultThreads } from './providers/embedded.ts';
export type { EmbeddedProvider } from './providers/embedded.ts';
export type { Extracted } from './extract.ts';
