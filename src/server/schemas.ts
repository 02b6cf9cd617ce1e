import type { FastifyInstance } from 'fastify';

/**
 * JSON schemas more than one route uses, registered once with `app.addSchema` (so validation,
 * serialization and the OpenAPI document share one definition) and referenced by `$ref`.
 */
const SHARED = [
  { $id: 'ItemId', type: 'string', pattern: '^[0-9a-f]{32}$' },
  { $id: 'IdParams', type: 'object', required: ['id'], properties: { id: { $ref: 'ItemId#' } } },
  {
    $id: 'Item',
    type: 'object',
    properties: {
      id: { type: 'string' },
      kind: { type: 'string', enum: ['file', 'folder'] },
      name: { type: 'string' },
      parent: { type: ['string', 'null'] },
      path: { type: 'string' },
      size: { type: 'integer' },
      created: { type: 'integer' },
      modified: { type: 'integer' },
      trashedAt: { type: 'integer' },
      originalPath: { type: 'string' },
    },
  },
  {
    $id: 'Error',
    type: 'object',
    required: ['error'],
    properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
  },
] as const;

/** References to the shared schemas, for route definitions. */
export const REF = {
  itemId: { $ref: 'ItemId#' },
  idParams: { $ref: 'IdParams#' },
  item: { $ref: 'Item#' },
  error: { $ref: 'Error#' },
} as const;

/** Registers the shared schemas on `app` (before any route that references them). */
export function addSharedSchemas(app: FastifyInstance): void {
  for (const schema of SHARED) app.addSchema(schema);
}
