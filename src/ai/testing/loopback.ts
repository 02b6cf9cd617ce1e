/**
 * Loopback servers for tests: an Ollama server and an OpenAI-compatible server on 127.0.0.1,
 * each implementing its documented API (Ollama's docs/api.md; OpenAI's chat completions,
 * embeddings and models) closely enough that the official `ollama` npm client works against the
 * Ollama one (test/ai-providers.test.ts proves it). No Ollama can be installed here; this is what
 * the Ollama provider is tested against, and the README should say so.
 *
 * The "model" answers by echoing the last user message word by word ("echo: …"), or as the
 * test's `reply` says. Model names
 * choose a failure, so a test can ask for one through any client:
 * - `broken`: two words, then an error reported inside the stream (status 200 already sent);
 * - `stall`: one word, then silence (the connection stays open);
 * and any model not in `models` is missing (404). Test-only code: never imported by the product.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface LoopbackModel {
  name: string;
  size: number;
  family: string;
  parameterSize: string;
  quantization: string;
  contextLength: number;
  capabilities: string[];
}

export interface LoopbackServer {
  url: string;
  models: LoopbackModel[];
  /** request bodies received, newest last */
  requests: { path: string; body: unknown }[];
  /** how many streamed answers were ended by the client closing the connection */
  closedByClient: number;
  close(): Promise<void>;
}

export const DEFAULT_MODELS: readonly LoopbackModel[] = [
  { name: 'tiny:latest', size: 1_700_000, family: 'llama', parameterSize: '1M', quantization: 'F16', contextLength: 2048, capabilities: ['completion'] },
  { name: 'embedder:latest', size: 600_000, family: 'bert', parameterSize: '1M', quantization: 'F16', contextLength: 512, capabilities: ['embedding'] },
  { name: 'broken:latest', size: 1, family: 'llama', parameterSize: '1M', quantization: 'F16', contextLength: 2048, capabilities: ['completion'] },
  { name: 'stall:latest', size: 1, family: 'llama', parameterSize: '1M', quantization: 'F16', contextLength: 2048, capabilities: ['completion'] },
];

/** Ollama's own rule: a name without a tag means ":latest". */
const full = (name: string) => (name.includes(':') ? name : `${name}:latest`);

/** A deterministic 8-dimension vector of a text. */
export function vectorOf(text: string): number[] {
  const v = new Array<number>(8).fill(0);
  for (let i = 0; i < text.length; i++) v[i % 8]! += text.charCodeAt(i) / 1000;
  return v;
}

/** What a test's model says to `messages`; the default echoes the last user message. */
export type Reply = (messages: { role: string; content: string }[]) => string;

const echo: Reply = (messages) => `echo: ${[...messages].reverse().find((m) => m.role === 'user')?.content.split(/\s+/).filter(Boolean).join(' ') ?? ''}`;

/** The reply in streamed pieces: each word with the whitespace before it. */
function pieces(reply: Reply, messages: unknown): string[] {
  const list = Array.isArray(messages) ? (messages as { role: string; content: string }[]) : [];
  return reply(list).match(/\s*\S+/g) ?? [];
}

async function bodyOf(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  const text = Buffer.concat(chunks).toString('utf8');
  return text === '' ? {} : JSON.parse(text);
}

const json = (res: ServerResponse, status: number, value: unknown) => {
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  res.end(JSON.stringify(value));
};

async function start(handle: (s: LoopbackServer, req: IncomingMessage, res: ServerResponse, body: Record<string, unknown>) => Promise<void> | void, models: LoopbackModel[]): Promise<LoopbackServer> {
  const stalled = new Set<ServerResponse>();
  const state: LoopbackServer = { url: '', models, requests: [], closedByClient: 0, close: async () => {} };
  const server: Server = createServer((req, res) => {
    res.on('close', () => {
      if (!res.writableEnded) state.closedByClient++;
      stalled.delete(res);
    });
    bodyOf(req)
      .then(async (body) => {
        state.requests.push({ path: req.url ?? '', body });
        await handle(state, req, res, (body ?? {}) as Record<string, unknown>);
      })
      .catch(() => json(res, 400, { error: 'invalid JSON' }));
  });
  server.listen(0, '127.0.0.1');
  await new Promise((resolve) => server.once('listening', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () =>
    new Promise<void>((resolve) => {
      server.closeAllConnections();
      server.close(() => resolve());
    });
  return state;
}

const pause = () => new Promise((r) => setTimeout(r, 2));

/** Streams `words` unless the client went away; then, for `broken`, an error line; for `stall`, nothing more. */
async function streamWords(res: ServerResponse, model: string, words: string[], line: (word: string) => string, error: () => string): Promise<'done' | 'stopped'> {
  const base = model.split(':')[0];
  const take = base === 'broken' ? words.slice(0, 2) : base === 'stall' ? words.slice(0, 1) : words;
  for (const w of take) {
    if (res.destroyed) return 'stopped';
    res.write(line(w));
    await pause();
  }
  if (base === 'broken') {
    res.end(error());
    return 'stopped';
  }
  if (base === 'stall') return 'stopped';
  return 'done';
}

export function startOllamaServer(opts: { models?: LoopbackModel[]; reply?: Reply } = {}): Promise<LoopbackServer> {
  const models = [...(opts.models ?? DEFAULT_MODELS)].map((m) => ({ ...m }));
  const find = (s: LoopbackServer, name: unknown) => (typeof name === 'string' ? s.models.find((m) => m.name === full(name)) : undefined);
  const now = () => new Date().toISOString();
  const tagOf = (m: LoopbackModel) => ({
    name: m.name,
    model: m.name,
    modified_at: now(),
    size: m.size,
    digest: 'a'.repeat(64),
    details: { parent_model: '', format: 'gguf', family: m.family, families: [m.family], parameter_size: m.parameterSize, quantization_level: m.quantization },
  });
  return start(async (s, req, res, body) => {
    const path = (req.url ?? '').split('?')[0];
    const name = body.model ?? body.name; // the API's older field is `name`; clients still send it
    if (req.method === 'GET' && path === '/api/tags') return json(res, 200, { models: s.models.map(tagOf) });
    if (req.method === 'GET' && path === '/api/version') return json(res, 200, { version: '0.12.0' });
    if (req.method === 'POST' && path === '/api/show') {
      const m = find(s, name);
      if (!m) return json(res, 404, { error: `model '${String(name)}' not found` });
      const t = tagOf(m);
      return json(res, 200, {
        modelfile: `FROM ${m.name}`,
        parameters: '',
        template: '{{ .Prompt }}',
        details: t.details,
        model_info: { 'general.architecture': m.family, 'general.parameter_count': 1_000_000, [`${m.family}.context_length`]: m.contextLength, [`${m.family}.embedding_length`]: 8 },
        capabilities: m.capabilities,
        modified_at: t.modified_at,
      });
    }
    if (req.method === 'POST' && path === '/api/chat') {
      const m = find(s, name);
      if (!m) return json(res, 404, { error: `model "${String(name)}" not found, try pulling it first` });
      const words = pieces(opts.reply ?? echo, body.messages);
      const message = (content: string) => ({ role: 'assistant', content });
      const last = () => ({ model: m.name, created_at: now(), message: message(''), done_reason: 'stop', done: true, total_duration: 1000, load_duration: 10, prompt_eval_count: 7, prompt_eval_duration: 100, eval_count: words.length, eval_duration: 500 });
      if (body.stream === false) return json(res, 200, { ...last(), message: message(words.join('')) });
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const ended = await streamWords(res, m.name, words, (w) => `${JSON.stringify({ model: m.name, created_at: now(), message: message(w), done: false })}\n`, () => `${JSON.stringify({ error: 'an error was encountered while running the model: unexpected EOF' })}\n`);
      if (ended === 'done') res.end(`${JSON.stringify(last())}\n`);
      return;
    }
    if (req.method === 'POST' && path === '/api/embed') {
      const m = find(s, name);
      if (!m) return json(res, 404, { error: `model "${String(name)}" not found, try pulling it first` });
      const input = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? (body.input as string[]) : [];
      return json(res, 200, { model: m.name, embeddings: input.map(vectorOf), total_duration: 100, load_duration: 10, prompt_eval_count: input.length });
    }
    if (req.method === 'POST' && path === '/api/pull') {
      const steps: object[] = [];
      const known = typeof name === 'string' && /^[a-z0-9][a-z0-9._-]*(:[a-z0-9._-]+)?$/.test(name) && !name.startsWith('missing');
      steps.push({ status: 'pulling manifest' });
      if (known) {
        const digest = `sha256:${'b'.repeat(64)}`;
        for (const completed of [0, 400_000, 1_000_000]) steps.push({ status: `pulling ${digest.slice(7, 19)}`, digest, total: 1_000_000, completed });
        steps.push({ status: 'verifying sha256 digest' }, { status: 'writing manifest' }, { status: 'success' });
      }
      if (body.stream === false) {
        if (!known) return json(res, 500, { error: 'pull model manifest: file does not exist' });
        s.models.push({ ...DEFAULT_MODELS[0]!, name: full(name as string) });
        return json(res, 200, { status: 'success' });
      }
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      for (const step of steps) {
        if (res.destroyed) return;
        // the manifest is written before "success" is said: a client may act on it at once
        if ((step as { status: string }).status === 'success' && !find(s, name)) s.models.push({ ...DEFAULT_MODELS[0]!, name: full(name as string) });
        res.write(`${JSON.stringify(step)}\n`);
        await pause();
      }
      if (!known) return void res.end(`${JSON.stringify({ error: 'pull model manifest: file does not exist' })}\n`);
      return void res.end();
    }
    if (req.method === 'DELETE' && path === '/api/delete') {
      const m = find(s, name);
      if (!m) return json(res, 404, { error: `model '${String(name)}' not found` });
      s.models.splice(s.models.indexOf(m), 1);
      res.writeHead(200);
      return void res.end();
    }
    res.writeHead(404, { 'content-type': 'text/plain' });
    res.end('404 page not found');
  }, models);
}

export function startOpenAiServer(opts: { models?: LoopbackModel[]; reply?: Reply } = {}): Promise<LoopbackServer> {
  const models = [...(opts.models ?? DEFAULT_MODELS)].map((m) => ({ ...m }));
  const missing = (res: ServerResponse, name: unknown) =>
    json(res, 404, { error: { message: `The model \`${String(name)}\` does not exist.`, type: 'invalid_request_error', param: null, code: 'model_not_found' } });
  return start(async (s, req, res, body) => {
    const path = (req.url ?? '').split('?')[0];
    const m = s.models.find((x) => x.name === body.model);
    if (req.method === 'GET' && path === '/v1/models') {
      // llama-server adds `meta` with the GGUF's trained context length; others leave it out
      return json(res, 200, { object: 'list', data: s.models.map((x) => ({ id: x.name, object: 'model', created: 1_700_000_000, owned_by: 'local', meta: { n_ctx_train: x.contextLength, size: x.size } })) });
    }
    if (req.method === 'POST' && path === '/v1/chat/completions') {
      if (!m) return missing(res, body.model);
      const words = pieces(opts.reply ?? echo, body.messages);
      const chunk = (delta: object, finish: string | null) => ({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: m.name, choices: [{ index: 0, delta, finish_reason: finish }] });
      const event = (value: unknown) => `data: ${JSON.stringify(value)}\n\n`;
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(': keep-alive comment\n\n');
      const ended = await streamWords(res, m.name, words, (w) => event(chunk({ role: 'assistant', content: w }, null)), () => event({ error: { message: 'the model crashed', type: 'server_error' } }));
      if (ended !== 'done') return;
      res.write(event(chunk({}, 'stop')));
      const usageWanted = (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage === true;
      if (usageWanted) res.write(event({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1_700_000_000, model: m.name, choices: [], usage: { prompt_tokens: 7, completion_tokens: words.length, total_tokens: 7 + words.length } }));
      return void res.end('data: [DONE]\n\n');
    }
    if (req.method === 'POST' && path === '/v1/embeddings') {
      if (!m) return missing(res, body.model);
      const input = typeof body.input === 'string' ? [body.input] : Array.isArray(body.input) ? (body.input as string[]) : [];
      // returned in reverse order with their index, as some servers do: the client must sort
      const data = input.map((text, index) => ({ object: 'embedding', index, embedding: vectorOf(text) })).reverse();
      return json(res, 200, { object: 'list', data, model: m.name, usage: { prompt_tokens: input.length, total_tokens: input.length } });
    }
    json(res, 404, { error: { message: 'not found', type: 'invalid_request_error' } });
  }, models);
}
