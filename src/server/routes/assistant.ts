/**
 * The assistant's HTTP face (/api/v1/assistant/…): conversations, the answer stream, memories,
 * preferences, the index and the provider settings of the session's vault. The contract the web
 * UI builds against is in the README ("AI assistant") and the OpenAPI document.
 *
 * An answer streams as Server-Sent Events: `context` (the context report, the budget line, the
 * saved user message, the citations), `token`…, `done` (the saved answer, the provider's token
 * counts), then `memories` when the model proposed some; or `error` { code, message }. Errors
 * found before anything is sent to the model (bad body, unknown conversation, no model, a message
 * larger than the window) are plain JSON 4xx instead. A client that closes the connection stops
 * generation (requestSignal); what came is saved as a partial answer.
 *
 * Just over 300 lines, half of them the JSON schemas every route validates and documents with;
 * they are this file's alone, and apart they would be read without the routes they describe.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { AssistantService, TurnEvent } from '../../ai/index.ts';
import type { RecordId } from '../../db/index.ts';
import { toElohimError } from '../../errors.ts';
import { authOf, securityHeaders } from '../auth.ts';
import { API } from '../protocol.ts';
import { REF } from '../schemas.ts';
import { requestSignal } from './request-signal.ts';

const idParams = REF.idParams;
const TEXT = { type: 'string', minLength: 1, maxLength: 200_000 } as const;
const TITLE = { type: 'string', minLength: 1, maxLength: 200 } as const;
const MODEL = { type: 'string', minLength: 1, maxLength: 256 } as const;
const TIME = { type: 'integer', minimum: 0, maximum: 8_640_000_000_000_000 } as const;
const stringOrNull = (s: object) => ({ anyOf: [s, { type: 'null' }] });

const conversation = {
  type: 'object',
  properties: { id: { type: 'string' }, title: { type: 'string' }, created: { type: 'integer' }, updated: { type: 'integer' }, trashed: { type: 'integer' } },
} as const;
const citation = {
  type: 'object',
  properties: { n: { type: 'integer' }, item: { type: 'string' }, name: { type: 'string' }, path: { type: ['string', 'null'] } },
} as const;
const message = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    conversation: { type: 'string' },
    seq: { type: 'integer' },
    role: { type: 'string' },
    content: { type: 'string' },
    at: { type: 'integer' },
    model: { type: 'string' },
    partial: { type: 'boolean' },
    citations: { type: 'array', items: citation },
    /** the context report kept with an answer (ContextReport without its id lists) */
    report: { type: 'object', additionalProperties: true },
    budget: { type: 'string' },
  },
} as const;
const memory = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    text: { type: 'string' },
    status: { type: 'string', enum: ['proposed', 'approved'] },
    created: { type: 'integer' },
    updated: { type: 'integer' },
    source: { type: 'object', properties: { conversation: { type: 'string' }, message: { type: 'string' } } },
    expires: { type: 'integer' },
  },
} as const;
const providerSettings = {
  type: 'object',
  properties: {
    provider: {
      anyOf: [
        {
          type: 'object',
          properties: { kind: { type: 'string' }, baseUrl: { type: ['string', 'null'] }, local: { type: 'boolean' }, allowRemote: { type: 'boolean' }, hasApiKey: { type: 'boolean' } },
        },
        { type: 'null' },
      ],
    },
    chatModel: { type: ['string', 'null'] },
    embeddingModel: { type: ['string', 'null'] },
  },
} as const;
const indexStatus = {
  type: 'object',
  properties: {
    documents: { type: 'integer' },
    chunks: { type: 'integer' },
    vectors: { type: 'integer' },
    state: { type: 'string', enum: ['idle', 'indexing'] },
    done: { type: 'integer' },
    total: { type: 'integer' },
    skipped: { type: 'integer' },
    failed: { type: 'array', items: { type: 'object', properties: { item: { type: 'string' }, name: { type: 'string' }, reason: { type: 'string' } } } },
    truncated: { type: 'array', items: { type: 'object', properties: { item: { type: 'string' }, name: { type: 'string' } } } },
  },
} as const;
const preferences = {
  type: 'object',
  properties: { text: { type: 'string' }, autoApprove: { type: 'boolean' }, proposeMemories: { type: 'boolean' } },
} as const;

const assistantOf = (req: FastifyRequest): AssistantService => authOf(req).workspace.assistant;
const idOf = (req: FastifyRequest) => (req.params as { id: string }).id as RecordId;

export async function assistantRoutes(app: FastifyInstance): Promise<void> {
  app.get(API.assistantStatus, {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: { ...providerSettings.properties, ready: { type: 'boolean' }, reason: { type: 'string' }, index: indexStatus, proposedMemories: { type: 'integer' } },
        },
      },
    },
    handler: async (req) => assistantOf(req).status(),
  });

  app.get(API.assistantProvider, { schema: { response: { 200: providerSettings } }, handler: async (req) => assistantOf(req).providerSettings() });
  app.patch(API.assistantProvider, {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        minProperties: 1,
        properties: {
          provider: stringOrNull({
            type: 'object',
            additionalProperties: false,
            required: ['kind'],
            properties: {
              kind: { type: 'string', enum: ['ollama', 'openai', 'embedded'] },
              baseUrl: { type: 'string', minLength: 1, maxLength: 2048 },
              allowRemote: { type: 'boolean' },
              apiKey: { type: 'string', maxLength: 4096 },
            },
          }),
          chatModel: stringOrNull(MODEL),
          embeddingModel: stringOrNull(MODEL),
        },
      },
      response: { 200: providerSettings },
    },
    handler: async (req) => {
      const result = assistantOf(req).configure(req.body as Parameters<AssistantService['configure']>[0]);
      authOf(req).workspace.audit.append('settings-change', { setting: 'assistant' });
      return result;
    },
  });

  app.get(API.conversations, {
    schema: {
      querystring: { type: 'object', additionalProperties: false, properties: { q: { type: 'string', minLength: 1, maxLength: 256 }, trashed: { type: 'string', enum: ['true', 'false'] } } },
      response: { 200: { type: 'object', properties: { conversations: { type: 'array', items: conversation } } } },
    },
    handler: async (req) => {
      const q = req.query as { q?: string; trashed?: string };
      const store = assistantOf(req).store;
      return { conversations: q.q !== undefined ? store.searchConversations(q.q) : store.listConversations({ trashed: q.trashed === 'true' }) };
    },
  });
  app.post(API.conversations, {
    schema: { body: { type: 'object', additionalProperties: false, properties: { title: TITLE } }, response: { 201: { type: 'object', properties: { conversation } } } },
    handler: async (req, reply) => {
      const body = (req.body ?? {}) as { title?: string };
      return reply.code(201).send({ conversation: assistantOf(req).store.createConversation(body.title ?? 'New conversation') });
    },
  });
  app.get(API.conversation, {
    schema: { params: idParams, response: { 200: { type: 'object', properties: { conversation, messages: { type: 'array', items: message } } } } },
    handler: async (req) => {
      const a = assistantOf(req);
      return { conversation: a.store.getConversation(idOf(req)), messages: a.messages(idOf(req)) };
    },
  });
  app.patch(API.conversation, {
    schema: {
      params: idParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { title: TITLE, trashed: { type: 'boolean' } } },
      response: { 200: { type: 'object', properties: { conversation } } },
    },
    handler: async (req) => {
      const store = assistantOf(req).store;
      const body = req.body as { title?: string; trashed?: boolean };
      store.getConversation(idOf(req));
      let result = body.title !== undefined ? store.renameConversation(idOf(req), body.title) : store.getConversation(idOf(req));
      if (body.trashed !== undefined) result = store.trashConversation(idOf(req), body.trashed);
      return { conversation: result };
    },
  });
  app.delete(API.conversation, {
    schema: { params: idParams, querystring: { type: 'object', additionalProperties: false, properties: { forever: { type: 'string', enum: ['true'] } } } },
    handler: async (req, reply) => {
      const a = assistantOf(req);
      if ((req.query as { forever?: string }).forever === 'true') {
        a.stopTurn(idOf(req));
        a.store.deleteConversation(idOf(req));
        return reply.code(204).send();
      }
      return { conversation: a.store.trashConversation(idOf(req), true) };
    },
  });
  app.get(API.conversationExport, {
    schema: { params: idParams, produces: ['text/markdown'] },
    handler: async (req, reply) => {
      const markdown = assistantOf(req).store.exportMarkdown(idOf(req));
      // the title stays out of the header: the browser names the file, the page says what it is
      return reply.header('content-type', 'text/markdown; charset=utf-8').header('content-disposition', 'attachment; filename="conversation.md"').send(markdown);
    },
  });

  const stream = (regenerate: boolean) => async (req: FastifyRequest, reply: FastifyReply) => {
    const a = assistantOf(req);
    const body = (req.body ?? {}) as { text?: string; model?: string };
    const turn = a.ask(idOf(req), body.text ?? '', { signal: requestSignal(req, reply), regenerate, ...(body.model ? { model: body.model } : {}) });
    // The first event is awaited before the stream opens, so what fails before the model is
    // asked (no model, unknown conversation, too large, busy) answers as a plain JSON error.
    const first = await turn.next();
    reply.hijack();
    const res = reply.raw;
    res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
    const send = (e: TurnEvent) => {
      const { type, ...data } = e;
      res.write(`event: ${type}\ndata: ${JSON.stringify(data)}\n\n`);
    };
    let last: RecordId | undefined;
    try {
      if (!first.done) send(first.value);
      for await (const e of turn) {
        if (e.type === 'done') last = e.message.id;
        send(e);
      }
    } catch (err) {
      if (!res.destroyed) {
        const e = toElohimError(err);
        const partial = last === undefined ? a.messages(idOf(req)).at(-1) : undefined;
        res.write(`event: error\ndata: ${JSON.stringify({ code: e.code, message: e.message, ...(partial?.partial ? { partial } : {}) })}\n\n`);
      }
    }
    res.end();
  };
  const askBody = { type: 'object', additionalProperties: false, required: ['text'], properties: { text: TEXT, model: MODEL } } as const;
  // a message may be longer than the server's usual 64 KiB JSON body (a pasted report): 200,000 characters of UTF-8
  app.post(API.conversationMessages, { bodyLimit: 1024 * 1024, schema: { params: idParams, body: askBody, produces: ['text/event-stream'] }, handler: stream(false) });
  app.post(API.conversationRegenerate, {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, properties: { model: MODEL } }, produces: ['text/event-stream'] },
    handler: stream(true),
  });
  app.post(API.conversationStop, {
    schema: { params: idParams, response: { 200: { type: 'object', properties: { stopped: { type: 'boolean' } } } } },
    handler: async (req) => {
      assistantOf(req).store.getConversation(idOf(req));
      return { stopped: assistantOf(req).stopTurn(idOf(req)) };
    },
  });

  app.get(API.memories, {
    schema: {
      querystring: { type: 'object', additionalProperties: false, properties: { status: { type: 'string', enum: ['proposed', 'approved'] } } },
      response: { 200: { type: 'object', properties: { memories: { type: 'array', items: memory } } } },
    },
    handler: async (req) => ({ memories: assistantOf(req).store.listMemories(req.query as { status?: 'proposed' | 'approved' }) }),
  });
  app.post(API.memories, {
    schema: { body: { type: 'object', additionalProperties: false, required: ['text'], properties: { text: { ...TEXT, maxLength: 2000 }, expires: TIME } }, response: { 201: { type: 'object', properties: { memory } } } },
    handler: async (req, reply) => reply.code(201).send({ memory: assistantOf(req).store.addMemory(req.body as { text: string; expires?: number }) }),
  });
  app.patch(API.memory, {
    schema: {
      params: idParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { text: { ...TEXT, maxLength: 2000 }, expires: stringOrNull(TIME) } },
      response: { 200: { type: 'object', properties: { memory } } },
    },
    handler: async (req) => ({ memory: assistantOf(req).store.updateMemory(idOf(req), req.body as { text?: string; expires?: number | null }) }),
  });
  app.post(API.memoryApprove, {
    schema: { params: idParams, body: { anyOf: [{ type: 'object', additionalProperties: false, properties: { text: { ...TEXT, maxLength: 2000 } } }, { type: 'null' }] }, response: { 200: { type: 'object', properties: { memory } } } },
    handler: async (req) => {
      const body = (req.body ?? {}) as { text?: string };
      return { memory: assistantOf(req).store.updateMemory(idOf(req), { status: 'approved', ...(body.text !== undefined ? { text: body.text } : {}) }) };
    },
  });
  app.delete(API.memory, {
    schema: { params: idParams },
    handler: async (req, reply) => {
      assistantOf(req).store.removeMemory(idOf(req));
      return reply.code(204).send();
    },
  });

  app.get(API.preferences, { schema: { response: { 200: preferences } }, handler: async (req) => assistantOf(req).preferences() });
  app.patch(API.preferences, {
    schema: {
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { text: { type: 'string', maxLength: 4000 }, autoApprove: { type: 'boolean' }, proposeMemories: { type: 'boolean' } } },
      response: { 200: preferences },
    },
    handler: async (req) => assistantOf(req).setPreferences(req.body as { text?: string; autoApprove?: boolean; proposeMemories?: boolean }),
  });

  app.get(API.assistantIndex, { schema: { response: { 200: indexStatus } }, handler: async (req) => assistantOf(req).index.status() });
  app.post(API.assistantIndexRebuild, {
    schema: { response: { 202: indexStatus } },
    handler: async (req, reply) => {
      const a = assistantOf(req);
      a.index.rebuild();
      return reply.code(202).send(a.index.status());
    },
  });
}
