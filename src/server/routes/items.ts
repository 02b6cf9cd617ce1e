import type { FastifyInstance } from 'fastify';
import { authOf } from '../auth.ts';
import { REF } from '../schemas.ts';

const ID = REF.itemId;
const NAME = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const idParams = REF.idParams;
const entry = REF.item;
const one = { type: 'object', properties: { item: entry } } as const;
const many = { type: 'object', properties: { items: { type: 'array', items: entry } } } as const;
const page = { type: 'object', properties: { items: { type: 'array', items: entry }, total: { type: 'integer' } } } as const;

/** Listing, search, folders, rename/move, trash: items addressed by id, never by host path. */
export async function itemRoutes(app: FastifyInstance): Promise<void> {
  // Query strings are text and the validator does not coerce: numbers are checked as digits.
  app.get('/api/v1/items', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: { parent: ID, limit: { type: 'string', pattern: '^[1-9][0-9]{0,3}$' }, offset: { type: 'string', pattern: '^[0-9]{1,9}$' } },
      },
      response: { 200: page },
    },
    handler: async (req) => {
      const q = req.query as { parent?: string; limit?: string; offset?: string };
      const all = authOf(req).workspace.vault.children(q.parent ?? null);
      const offset = q.offset === undefined ? 0 : Number(q.offset);
      const items = q.limit === undefined && offset === 0 ? all : all.slice(offset, q.limit === undefined ? undefined : offset + Number(q.limit));
      return { items, total: all.length };
    },
  });

  app.get('/api/v1/items/:id', {
    schema: { params: idParams, response: { 200: one } },
    handler: async (req) => ({ item: authOf(req).workspace.vault.item((req.params as { id: string }).id) }),
  });

  app.get('/api/v1/search', {
    schema: { querystring: { type: 'object', additionalProperties: false, required: ['q'], properties: { q: { type: 'string', minLength: 1, maxLength: 256 } } }, response: { 200: many } },
    handler: async (req) => ({ items: authOf(req).workspace.vault.find((req.query as { q: string }).q) }),
  });

  app.post('/api/v1/folders', {
    schema: { body: { type: 'object', additionalProperties: false, required: ['name'], properties: { parent: { anyOf: [ID, { type: 'null' }] }, name: NAME } }, response: { 201: one } },
    handler: async (req, reply) => {
      const body = req.body as { parent?: string | null; name: string };
      return reply.code(201).send({ item: authOf(req).workspace.vault.mkdir(body.parent ?? null, body.name) });
    },
  });

  app.patch('/api/v1/items/:id', {
    schema: {
      params: idParams,
      body: { type: 'object', additionalProperties: false, minProperties: 1, properties: { parent: { anyOf: [ID, { type: 'null' }] }, name: NAME } },
      response: { 200: one },
    },
    handler: async (req) => {
      const change = req.body as { parent?: string | null; name?: string };
      return { item: authOf(req).workspace.vault.update((req.params as { id: string }).id, change) };
    },
  });

  app.delete('/api/v1/items/:id', {
    schema: { params: idParams, response: { 200: one } },
    handler: async (req) => ({ item: authOf(req).workspace.vault.trash((req.params as { id: string }).id) }),
  });

  app.get('/api/v1/trash', {
    schema: { response: { 200: many } },
    handler: async (req) => ({ items: authOf(req).workspace.vault.trashList() }),
  });

  app.post('/api/v1/trash/:id/restore', {
    schema: { params: idParams, response: { 200: one } },
    handler: async (req) => ({ item: authOf(req).workspace.vault.restore((req.params as { id: string }).id) }),
  });

  app.delete('/api/v1/trash', {
    schema: { response: { 200: { type: 'object', properties: { removed: { type: 'integer' } } } } },
    handler: async (req) => ({ removed: await authOf(req).workspace.vault.emptyTrash() }),
  });
}
