import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { AUDIT_EVENTS } from '../../audit/index.ts';
import type { AuditQuery } from '../../audit/index.ts';
import { authOf } from '../auth.ts';
import { API } from '../protocol.ts';

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
  app.get(API.audit, {
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        properties: {
          event: { type: 'string', enum: [...AUDIT_EVENTS] },
          since: { type: 'string', pattern: '^[0-9]{1,15}$' },
          until: { type: 'string', pattern: '^[0-9]{1,15}$' },
          limit: { type: 'string', pattern: '^[0-9]{1,4}$' },
          offset: { type: 'string', pattern: '^[0-9]{1,9}$' },
        },
      },
      response: { 200: { type: 'object', properties: { entries: { type: 'array', items: entry }, total: { type: 'integer' } } } },
    },
    handler: async (req) => {
      // Query strings are strings (types are not coerced): numbers are checked by pattern, then converted.
      const q = req.query as Record<string, string | undefined>;
      const num = (v: string | undefined) => (v === undefined ? undefined : Number(v));
      const query: AuditQuery = { event: q.event as AuditQuery['event'], since: num(q.since), until: num(q.until), limit: num(q.limit), offset: num(q.offset) };
      return authOf(req).workspace.audit.list(query);
    },
  });

  app.get(API.auditVerify, {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            ok: { type: 'boolean' },
            entries: { type: 'integer' },
            firstBadEntry: { type: 'integer' },
            reason: { type: 'string' },
            damagedRecords: { type: 'integer' },
            pending: { type: 'integer' },
            head: { type: 'object', properties: { seq: { type: 'integer' }, hash: { type: 'string' } } },
            // what paired devices witnessed of this log (MagnetarMesh): the only check that
            // catches a log put back from an older copy, or deleted whole
            witness: {
              type: 'object',
              properties: {
                ok: { type: 'boolean' },
                latest: {
                  type: ['object', 'null'],
                  properties: { peer: { type: 'string' }, name: { type: 'string' }, seq: { type: 'integer' }, hash: { type: 'string' }, at: { type: 'integer' } },
                },
                problem: { type: 'string' },
              },
            },
          },
        },
      },
    },
    handler: async (req) => {
      const { workspace } = authOf(req);
      return { ...workspace.audit.verify(), witness: workspace.shares.witnessCheck() };
    },
  });

  app.get(API.auditExport, async (req, reply) => {
    const lines = authOf(req).workspace.audit.exportJsonl();
    return reply
      .header('content-type', 'application/x-ndjson; charset=utf-8')
      .header('content-disposition', 'attachment; filename="audit-log.jsonl"')
      .send(Readable.from(lines));
  });
}
