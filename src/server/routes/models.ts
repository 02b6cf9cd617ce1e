/**
 * Model management over HTTP (/api/v1/models…): the device's GGUF models (the embedded provider)
 * and the models of the vault's configured Ollama or OpenAI-compatible provider, side by side.
 * The contract the web UI builds against is in the README ("AI assistant" → "Models") and the
 * OpenAPI document.
 *
 * A model is addressed by one id `<provider>/<name>` (one URL-encoded path segment). A pull
 * streams as Server-Sent Events: `started` { pull }, `progress` { status, completed?, total? },
 * then `done` { model } or `error` { code, message }. Closing the stream pauses it (the partial
 * stays, the same POST resumes); DELETE /models/pulls/:id cancels it. Defaults (chat and
 * embedding model) are the vault's, kept sealed by the assistant (its provider settings).
 */
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { checkModelName, checkPullUrl } from '../../ai/index.ts';
import type { EmbeddedProvider, LocalModel, ModelProvider, Models } from '../../ai/index.ts';
import { ElohimError, toElohimError } from '../../errors.ts';
import { authOf, securityHeaders } from '../auth.ts';
import { API } from '../protocol.ts';
import { requestSignal } from './request-signal.ts';

const KINDS = ['embedded', 'ollama', 'openai'] as const;
type Kind = (typeof KINDS)[number];
const ID = { type: 'string', minLength: 3, maxLength: 300 } as const;
const SHA = { type: 'string', pattern: '^[0-9a-fA-F]{64}$' } as const;
const NAME = { type: 'string', minLength: 1, maxLength: 64 } as const;

const modelEntry = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    provider: { type: 'string' },
    name: { type: 'string' },
    size: { type: 'integer' },
    family: { type: 'string' },
    title: { type: 'string' },
    parameterSize: { type: 'string' },
    quantization: { type: 'string' },
    contextLength: { type: 'integer' },
    capabilities: { type: 'array', items: { type: 'string' } },
    sha256: { type: 'string' },
  },
} as const;
const defaults = { type: 'object', properties: { chat: { type: ['string', 'null'] }, embedding: { type: ['string', 'null'] } } } as const;
const errorBody = { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } } as const;
const pullState = {
  type: 'object',
  properties: { pull: { type: 'string' }, name: { type: 'string' }, completed: { type: 'integer' }, total: { type: 'integer' }, active: { type: 'boolean' } },
} as const;

/** `embedded/tiny` → ['embedded', 'tiny']. Throws INVALID_INPUT. */
function parseId(id: string): { kind: Kind; name: string } {
  const slash = id.indexOf('/');
  const kind = id.slice(0, slash) as Kind;
  const name = id.slice(slash + 1);
  if (slash < 0 || !KINDS.includes(kind) || name === '' || /[\u0000-\u001f\u007f]/.test(name)) {
    throw new ElohimError('INVALID_INPUT', 'a model id is <provider>/<name>, the provider one of embedded, ollama, openai');
  }
  return { kind, name };
}

const entryOf = (kind: Kind, m: LocalModel | (Partial<LocalModel> & { name: string })) => ({ id: `${kind}/${m.name}`, provider: kind, ...m, capabilities: m.capabilities ?? [] });

export async function modelRoutes(app: FastifyInstance, opts: { models: Models; embedded: EmbeddedProvider }): Promise<void> {
  const { models, embedded } = opts;
  const assistantOf = (req: FastifyRequest) => authOf(req).workspace.assistant;
  /** The vault's Ollama or OpenAI-compatible provider, if it has one. */
  const remoteOf = (req: FastifyRequest): ModelProvider | null => {
    const settings = assistantOf(req).providerSettings();
    if (settings.provider === null || settings.provider.kind === 'embedded') return null;
    return assistantOf(req).provider();
  };
  const providerFor = (req: FastifyRequest, kind: Kind): ModelProvider => {
    if (kind === 'embedded') return embedded;
    const remote = remoteOf(req);
    if (remote === null || remote.kind !== kind) throw new ElohimError('AI_MODEL_NOT_FOUND', `this vault has no ${kind} provider configured`);
    return remote;
  };
  const defaultsOf = (req: FastifyRequest) => {
    const s = assistantOf(req).providerSettings();
    const kind = s.provider?.kind;
    return { chat: kind && s.chatModel ? `${kind}/${s.chatModel}` : null, embedding: kind && s.embeddingModel ? `${kind}/${s.embeddingModel}` : null };
  };

  app.get(API.models, {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            providers: {
              type: 'array',
              items: { type: 'object', properties: { kind: { type: 'string' }, baseUrl: { type: 'string' }, local: { type: 'boolean' }, models: { type: 'array', items: modelEntry }, error: errorBody } },
            },
            defaults,
          },
        },
      },
    },
    handler: async (req) => {
      const signal = AbortSignal.any([authOf(req).workspace.signal, AbortSignal.timeout(15_000)]);
      const providers: object[] = [{ kind: 'embedded', baseUrl: embedded.baseUrl, local: true, models: (await models.list()).map((m) => entryOf('embedded', m)) }];
      const remote = remoteOf(req);
      if (remote !== null) {
        const kind = remote.kind as Kind;
        try {
          const list = await remote.listModels({ signal, timeoutMs: 10_000 });
          // context length and capabilities come from each model's details (Ollama's /api/show)
          // the size comes from the list (Ollama's /api/show has none), the rest from the details
          const details = await Promise.all(list.slice(0, 100).map((m) => remote.showModel(m.name, { signal, timeoutMs: 10_000 }).then((d) => ({ ...m, ...d, ...(m.size !== undefined ? { size: m.size } : {}) }), () => ({ ...m, capabilities: [] }))));
          providers.push({ kind, baseUrl: remote.baseUrl, local: remote.local, models: details.map((m) => entryOf(kind, m)) });
        } catch (err) {
          // a provider that is down is listed with its error; the others still show
          const e = toElohimError(err);
          providers.push({ kind, baseUrl: remote.baseUrl, local: remote.local, models: [], error: { code: e.code, message: e.message } });
        }
      }
      return { providers, defaults: defaultsOf(req) };
    },
  });

  app.get(API.model, {
    schema: { params: { type: 'object', required: ['id'], properties: { id: ID } }, response: { 200: modelEntry } },
    handler: async (req, reply) => {
      const { kind, name } = parseId((req.params as { id: string }).id);
      if (kind === 'embedded') return entryOf(kind, await models.show(name));
      return entryOf(kind, await providerFor(req, kind).showModel(name, { signal: requestSignal(req, reply), timeoutMs: 15_000 }));
    },
  });

  app.delete(API.model, {
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: ID } },
      body: { type: 'object', required: ['confirm'], additionalProperties: false, properties: { confirm: { type: 'string', maxLength: 300 } } },
    },
    handler: async (req, reply) => {
      const { kind, name } = parseId((req.params as { id: string }).id);
      // the confirmation the user gave must name this model: a stale or mistaken click deletes nothing
      if ((req.body as { confirm: string }).confirm !== name) throw new ElohimError('INVALID_INPUT', `to delete it, confirm with the model's name (${name})`);
      const provider = providerFor(req, kind);
      if (provider.deleteModel === undefined) throw new ElohimError('INVALID_INPUT', `models cannot be deleted through a ${kind} server`);
      await provider.deleteModel(name, { signal: requestSignal(req, reply), timeoutMs: 30_000 });
      // a default that named it is cleared
      const d = defaultsOf(req);
      const id = `${kind}/${name}`;
      const change: { chatModel?: null; embeddingModel?: null } = {};
      if (d.chat === id) change.chatModel = null;
      if (d.embedding === id) change.embeddingModel = null;
      if (Object.keys(change).length > 0) assistantOf(req).configure(change);
      return reply.code(204).send();
    },
  });

  app.post(API.modelImport, {
    schema: {
      body: { type: 'object', required: ['path'], additionalProperties: false, properties: { path: { type: 'string', minLength: 1, maxLength: 4096 }, name: NAME, sha256: SHA } },
      response: { 201: { type: 'object', properties: { model: modelEntry } } },
    },
    handler: async (req, reply) => {
      const body = req.body as { path: string; name?: string; sha256?: string };
      if (body.path.includes('\0') || !body.path.startsWith('/')) throw new ElohimError('INVALID_INPUT', 'give the full path of the .gguf file on this device');
      const model = await models.importFile(body.path, { ...(body.name ? { name: body.name } : {}), ...(body.sha256 ? { sha256: body.sha256 } : {}), signal: requestSignal(req, reply) });
      return reply.code(201).send({ model: entryOf('embedded', model) });
    },
  });

  app.post(API.modelPull, {
    schema: {
      body: {
        type: 'object',
        required: ['provider'],
        additionalProperties: false,
        properties: { provider: { type: 'string', enum: ['embedded', 'ollama'] }, url: { type: 'string', minLength: 1, maxLength: 4096 }, name: { type: 'string', minLength: 1, maxLength: 256 }, sha256: SHA },
      },
    },
    handler: async (req, reply) => {
      const body = req.body as { provider: 'embedded' | 'ollama'; url?: string; name?: string; sha256?: string };
      // Checked before the stream starts, so bad input is a plain 4xx.
      let remote: ModelProvider | null = null;
      if (body.provider === 'embedded') {
        if (body.url === undefined) throw new ElohimError('INVALID_INPUT', 'a pull for the embedded provider needs the GGUF file\'s url');
        checkPullUrl(body.url);
        if (body.name !== undefined) checkModelName(body.name);
      } else {
        if (body.name === undefined || body.url !== undefined) throw new ElohimError('INVALID_INPUT', 'an Ollama pull needs the model\'s name (and no url)');
        remote = providerFor(req, 'ollama');
        if (remote.pullModel === undefined) throw new ElohimError('INVALID_INPUT', 'this provider cannot pull models');
      }
      const signal = requestSignal(req, reply);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
      const send = (event: string, data: unknown) => {
        if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      };
      try {
        if (remote === null) {
          const model = await models.pull(body.url!, {
            ...(body.name ? { name: body.name } : {}),
            ...(body.sha256 ? { sha256: body.sha256 } : {}),
            signal,
            onStart: (pull) => send('started', { pull }),
            onProgress: (p) => send('progress', p),
          });
          send('done', { model: entryOf('embedded', model) });
        } else {
          let last = 0;
          for await (const p of remote.pullModel!(body.name!, { signal, timeoutMs: 120_000 })) {
            const now = Date.now();
            if (now - last >= 100 || p.status === 'success') {
              last = now;
              send('progress', p);
            }
          }
          send('done', { model: entryOf('ollama', await remote.showModel(body.name!, { signal, timeoutMs: 30_000 })) });
        }
      } catch (err) {
        const e = toElohimError(err);
        send('error', { code: e.code, message: e.message });
      }
      res.end();
    },
  });

  app.get(API.modelPulls, {
    schema: { response: { 200: { type: 'object', properties: { pulls: { type: 'array', items: pullState } } } } },
    handler: async () => ({ pulls: await models.pulls() }),
  });

  app.delete(API.modelPullCancel, {
    schema: { params: { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: '^[0-9a-f]{32}$' } } } },
    handler: async (req, reply) => {
      await models.cancelPull((req.params as { id: string }).id);
      return reply.code(204).send();
    },
  });

  app.patch(API.modelDefaults, {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: { chat: { anyOf: [ID, { type: 'null' }] }, embedding: { anyOf: [ID, { type: 'null' }] } },
      },
      response: { 200: defaults },
    },
    handler: async (req) => {
      const body = req.body as { chat?: string | null; embedding?: string | null };
      const assistant = assistantOf(req);
      const current = assistant.providerSettings();
      const wanted = { ...defaultsOf(req), ...body };
      const parsed = { chat: wanted.chat ? parseId(wanted.chat) : null, embedding: wanted.embedding ? parseId(wanted.embedding) : null };
      const kinds = new Set([parsed.chat?.kind, parsed.embedding?.kind].filter((k): k is Kind => k !== undefined));
      // The assistant runs one provider per vault (its provider settings).
      if (kinds.size > 1) throw new ElohimError('INVALID_INPUT', 'the chat and embedding models must be on the same provider');
      const kind = [...kinds][0];
      // each model named must exist where it is said to be
      const signal = AbortSignal.any([authOf(req).workspace.signal, AbortSignal.timeout(15_000)]);
      for (const key of ['chat', 'embedding'] as const) {
        const p = parsed[key];
        if (p === null || body[key] === undefined) continue;
        if (p.kind === 'embedded') {
          if (!(await models.list()).some((m) => m.name === p.name)) throw new ElohimError('AI_MODEL_NOT_FOUND', `no model named ${p.name}`);
        } else await providerFor(req, p.kind).showModel(p.name, { signal, timeoutMs: 10_000 });
      }
      const change: Parameters<typeof assistant.configure>[0] = { chatModel: parsed.chat?.name ?? null, embeddingModel: parsed.embedding?.name ?? null };
      if (kind === 'embedded' && current.provider?.kind !== 'embedded') change.provider = { kind: 'embedded' };
      assistant.configure(change);
      return defaultsOf(req);
    },
  });
}
