import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AUDIT_EVENTS } from '../../audit/index.ts';
import type { AuditQuery } from '../../audit/index.ts';
import { authOf } from '../server.ts';

const entry = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    at: { type: 'integer' },
    event: { type: 'string' },
    details: { type: 'object', additionalProperties: true },
    hash: { type: 'string' },
  },
} as const;

/** The session vault's audit log: list with filters and paging, verify, export as JSON Lines. */
export async function auditRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/v1/audit', {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          event: { type: 'string', enum: [...AUDIT_EVENTS] },
          since: { type: 'integer', minimum: 0 },
          until: { type: 'integer', minimum: 0 },
          limit: { type: 'integer', minimum: 1, maximum: 1000 },
          offset: { type: 'integer', minimum: 0 },
        },
      },
      response: { 200: { type: 'object', properties: { entries: { type: 'array', items: entry }, total: { type: 'integer' } } } },
    },
    handler: async (req) => authOf(req).unlocked.audit.list(req.query as AuditQuery),
  });

  app.get('/api/v1/audit/verify', {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            ok: { type: 'boolean' },
            entries: { type: 'integer' },
            firstBadEntry: { type: 'integer' },
            reason: { type: 'string' },
            head: { type: 'object', properties: { seq: { type: 'integer' }, hash: { type: 'string' } } },
          },
        },
      },
    },
    handler: async (req) => authOf(req).unlocked.audit.verify(),
  });

  app.get('/api/v1/audit/export', async (req, reply) => {
    const lines = authOf(req).unlocked.audit.exportJsonl();
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', 'attachment; filename="audit-log.jsonl"')
      .send(Readable.from(lines));
  });
}
