/**
 * An Ollama server through its HTTP API (Ollama's docs/api.md): /api/chat streamed as NDJSON,
 * /api/embed, /api/tags, /api/show, /api/pull with its progress stream, /api/delete.
 *
 * Ollama reports an error that happens after it has started streaming as one more NDJSON line,
 * `{"error": "..."}`, with status 200 already sent: every stream line is checked for it.
 */
import { ElohimError } from '../../errors.ts';
import { call, checkBaseUrl, deadline, lines, parseLine, providerMessage, readJson, send } from './http.ts';
import type { CallOptions, ChatEvent, ChatRequest, ModelDetails, ModelInfo, ModelProvider, ProviderConfig, PullProgress } from './provider.ts';

interface OllamaTag {
  name?: string;
  model?: string;
  size?: number;
  details?: { family?: string; parameter_size?: string; quantization_level?: string };
}

const malformed = (what: string) => new ElohimError('AI_PROVIDER_FAILED', `the Ollama server sent a malformed ${what}`);

function infoOf(tag: OllamaTag, name?: string): ModelInfo {
  const info: ModelInfo = { name: tag.name ?? tag.model ?? name ?? '' };
  if (typeof tag.size === 'number') info.size = tag.size;
  if (tag.details?.family) info.family = tag.details.family;
  if (tag.details?.parameter_size) info.parameterSize = tag.details.parameter_size;
  if (tag.details?.quantization_level) info.quantization = tag.details.quantization_level;
  return info;
}

/** Throws the error an NDJSON line carries, if it carries one. */
function checkLine(value: unknown): void {
  const message = providerMessage(value);
  if (message === null) return;
  if (/model .*not found|pull model manifest: file does not exist/i.test(message)) throw new ElohimError('AI_MODEL_NOT_FOUND', `no such model: ${message}`);
  throw new ElohimError('AI_PROVIDER_FAILED', `the Ollama server failed: ${message}`);
}

export function createOllamaProvider(config: ProviderConfig): ModelProvider {
  const { base, local } = checkBaseUrl(config);
  const post = (path: string, body: unknown, opts: CallOptions | undefined, modelMissing = false) =>
    call(async (d) => readJson(await send(base, path, { body, apiKey: config.apiKey }, d, modelMissing), d), opts);

  return {
    kind: 'ollama',
    baseUrl: base.href,
    local,

    async *chat(request: ChatRequest, opts?: CallOptions): AsyncGenerator<ChatEvent> {
      const options: Record<string, number> = {};
      if (request.contextLength !== undefined) options.num_ctx = request.contextLength;
      if (request.maxTokens !== undefined) options.num_predict = request.maxTokens;
      if (request.temperature !== undefined) options.temperature = request.temperature;
      const body = { model: request.model, messages: request.messages.map((m) => ({ role: m.role, content: m.content })), stream: true, options };
      const d = deadline(opts);
      try {
        const response = await send(base, 'api/chat', { body, apiKey: config.apiKey }, d);
        for await (const line of lines(response, d)) {
          if (line.trim() === '') continue;
          const value = parseLine(line) as { message?: { content?: unknown }; done?: unknown; done_reason?: unknown; prompt_eval_count?: unknown; eval_count?: unknown };
          checkLine(value);
          const content = value.message?.content;
          if (typeof content === 'string' && content !== '') yield { type: 'delta', content };
          if (value.done === true) {
            const done: ChatEvent = { type: 'done', reason: typeof value.done_reason === 'string' ? value.done_reason : 'stop' };
            if (typeof value.prompt_eval_count === 'number') done.promptTokens = value.prompt_eval_count;
            if (typeof value.eval_count === 'number') done.completionTokens = value.eval_count;
            yield done;
            return;
          }
        }
        throw new ElohimError('AI_PROVIDER_FAILED', 'the Ollama server ended the answer without finishing it');
      } finally {
        d.done();
      }
    },

    async embed(model, input, opts) {
      const value = (await post('api/embed', { model, input: [...input] }, opts)) as { embeddings?: unknown };
      const vectors = value.embeddings;
      if (!Array.isArray(vectors) || vectors.length !== input.length || !vectors.every((v) => Array.isArray(v) && v.every((x) => typeof x === 'number'))) {
        throw malformed('embedding answer');
      }
      return vectors as number[][];
    },

    async listModels(opts) {
      const value = (await call(async (d) => readJson(await send(base, 'api/tags', { apiKey: config.apiKey }, d), d), opts)) as { models?: unknown };
      if (!Array.isArray(value.models)) throw malformed('model list');
      return (value.models as OllamaTag[]).map((t) => infoOf(t));
    },

    async showModel(name, opts) {
      const value = (await post('api/show', { model: name }, opts, true)) as OllamaTag & { model_info?: Record<string, unknown>; capabilities?: unknown };
      const details: ModelDetails = { ...infoOf(value, name), name, capabilities: Array.isArray(value.capabilities) ? value.capabilities.filter((c) => typeof c === 'string') : [] };
      // model_info keys are per architecture: "llama.context_length", "qwen2.context_length"…
      const arch = value.model_info?.['general.architecture'];
      const length = typeof arch === 'string' ? value.model_info?.[`${arch}.context_length`] : undefined;
      if (typeof length === 'number') details.contextLength = length;
      return details;
    },

    async *pullModel(name, opts): AsyncGenerator<PullProgress> {
      const d = deadline(opts);
      try {
        const response = await send(base, 'api/pull', { body: { model: name, stream: true }, apiKey: config.apiKey }, d);
        for await (const line of lines(response, d)) {
          if (line.trim() === '') continue;
          const value = parseLine(line) as { status?: unknown; digest?: unknown; total?: unknown; completed?: unknown };
          checkLine(value);
          if (typeof value.status !== 'string') throw malformed('pull progress');
          const progress: PullProgress = { status: value.status };
          if (typeof value.digest === 'string') progress.digest = value.digest;
          if (typeof value.total === 'number') progress.total = value.total;
          if (typeof value.completed === 'number') progress.completed = value.completed;
          yield progress;
          if (value.status === 'success') return;
        }
        throw new ElohimError('AI_PROVIDER_FAILED', 'the Ollama server ended the pull without finishing it');
      } finally {
        d.done();
      }
    },

    async deleteModel(name, opts) {
      await call((d) => send(base, 'api/delete', { method: 'DELETE', body: { model: name }, apiKey: config.apiKey }, d, true), opts);
    },
  };
}
