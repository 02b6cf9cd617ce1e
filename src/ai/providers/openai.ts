/**
 * An OpenAI-compatible server (llama.cpp's llama-server, LM Studio, vLLM, Ollama's /v1):
 * /v1/chat/completions streamed as Server-Sent Events, /v1/embeddings, /v1/models.
 *
 * The base URL is the server's root (http://127.0.0.1:8080), not its /v1. These servers cannot
 * pull or delete models, so those calls are absent. An error after streaming has started comes
 * as a `data: {"error": …}` event (llama-server, vLLM), checked on every event.
 */
import { ElohimError } from '../../errors.ts';
import { call, checkBaseUrl, deadline, lines, parseLine, providerMessage, readJson, send } from './http.ts';
import type { CallOptions, ChatEvent, ChatRequest, ModelDetails, ModelInfo, ModelProvider, ProviderConfig } from './provider.ts';

interface OpenAiModel {
  id?: unknown;
  owned_by?: unknown;
  /** llama-server adds the GGUF's metadata, and the window it runs with (`n_ctx`) */
  meta?: { n_ctx?: unknown; n_ctx_train?: unknown; size?: unknown };
}

const malformed = (what: string) => new ElohimError('AI_PROVIDER_FAILED', `the server sent a malformed ${what}`);

export function createOpenAiProvider(config: ProviderConfig): ModelProvider {
  const { base, local } = checkBaseUrl(config);
  const apiKey = config.apiKey;

  async function models(opts: CallOptions | undefined): Promise<OpenAiModel[]> {
    const value = (await call(async (d) => readJson(await send(base, 'v1/models', { apiKey }, d), d), opts)) as { data?: unknown };
    if (!Array.isArray(value.data)) throw malformed('model list');
    return (value.data as OpenAiModel[]).filter((m) => typeof m.id === 'string');
  }

  const infoOf = (m: OpenAiModel): ModelInfo => {
    const info: ModelInfo = { name: m.id as string };
    if (typeof m.meta?.size === 'number') info.size = m.meta.size;
    return info;
  };

  return {
    kind: 'openai',
    baseUrl: base.href,
    local,

    async *chat(request: ChatRequest, opts?: CallOptions): AsyncGenerator<ChatEvent> {
      const body: Record<string, unknown> = {
        model: request.model,
        messages: request.messages.map((m) => ({ role: m.role, content: m.content })),
        stream: true,
        stream_options: { include_usage: true },
      };
      if (request.maxTokens !== undefined) body.max_tokens = request.maxTokens;
      if (request.temperature !== undefined) body.temperature = request.temperature;
      const d = deadline(opts);
      try {
        const response = await send(base, 'v1/chat/completions', { body, apiKey }, d);
        let reason: string | null = null;
        let usage: { prompt_tokens?: unknown; completion_tokens?: unknown } | undefined;
        // SSE (WHATWG HTML §9.2): "data:" lines, events end at a blank line; the stream ends with [DONE].
        let data: string[] = [];
        const finish = (): ChatEvent => {
          const done: ChatEvent = { type: 'done', reason: reason ?? 'stop' };
          if (typeof usage?.prompt_tokens === 'number') done.promptTokens = usage.prompt_tokens;
          if (typeof usage?.completion_tokens === 'number') done.completionTokens = usage.completion_tokens;
          return done;
        };
        for await (const line of lines(response, d)) {
          if (line.startsWith('data:')) {
            data.push(line.slice(line.startsWith('data: ') ? 6 : 5));
            continue;
          }
          if (line !== '' || data.length === 0) continue; // comments (":"), event:, id:, retry:
          const payload = data.join('\n');
          data = [];
          if (payload === '[DONE]') {
            yield finish();
            return;
          }
          const value = parseLine(payload) as { choices?: { delta?: { content?: unknown }; finish_reason?: unknown }[]; usage?: typeof usage };
          const message = providerMessage(value);
          if (message !== null) throw new ElohimError('AI_PROVIDER_FAILED', `the server failed: ${message}`);
          const choice = value.choices?.[0];
          const content = choice?.delta?.content;
          if (typeof content === 'string' && content !== '') yield { type: 'delta', content };
          if (typeof choice?.finish_reason === 'string') reason = choice.finish_reason;
          if (value.usage) usage = value.usage;
        }
        throw new ElohimError('AI_PROVIDER_FAILED', 'the server ended the answer without finishing it');
      } finally {
        d.done();
      }
    },

    async embed(model, input, opts) {
      const value = (await call(async (d) => readJson(await send(base, 'v1/embeddings', { body: { model, input: [...input] }, apiKey }, d, true), d), opts)) as { data?: unknown };
      if (!Array.isArray(value.data) || value.data.length !== input.length) throw malformed('embedding answer');
      const rows = (value.data as { index?: unknown; embedding?: unknown }[]).map((row, i) => ({ index: typeof row.index === 'number' ? row.index : i, embedding: row.embedding }));
      rows.sort((a, b) => a.index - b.index);
      if (!rows.every((r) => Array.isArray(r.embedding) && r.embedding.every((x) => typeof x === 'number'))) throw malformed('embedding answer');
      return rows.map((r) => r.embedding as number[]);
    },

    listModels: async (opts) => (await models(opts)).map(infoOf),

    async showModel(name, opts) {
      const found = (await models(opts)).find((m) => m.id === name);
      if (found === undefined) throw new ElohimError('AI_MODEL_NOT_FOUND', `no such model: ${name}`);
      const details: ModelDetails = { ...infoOf(found), capabilities: ['completion'] };
      // the window the server runs with, which a prompt must fit, before the one the model was trained with
      if (typeof found.meta?.n_ctx === 'number' && found.meta.n_ctx > 0) details.contextLength = found.meta.n_ctx;
      else if (typeof found.meta?.n_ctx_train === 'number') details.contextLength = found.meta.n_ctx_train;
      return details;
    },
  };
}
