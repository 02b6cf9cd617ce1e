import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { ElohimError } from '../../errors.ts';
import { contentDisposition, parseByteRange } from '../byte-range.ts';
import { authOf } from '../auth.ts';
import { requestSignal } from './request-signal.ts';
import { REF } from '../schemas.ts';

const ID = REF.itemId;

/** Range requests of one file in one session are logged at most once per this window. */
const RANGE_LOG_WINDOW_MS = 10 * 60_000;

/** Streaming upload and download of file contents. */
export async function fileRoutes(app: FastifyInstance): Promise<void> {
  // Uploads are raw bytes of any type, passed on as the request stream: the vault encrypts
  // them as they arrive, in constant memory, and nothing is buffered here.
  // The JSON and text parsers are removed in this context so a big body is never buffered.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.put('/api/v1/files', {
    bodyLimit: Number.MAX_SAFE_INTEGER,
    schema: {
      querystring: {
        type: 'object',
        additionalProperties: false,
        required: ['name'],
        properties: { parent: ID, name: { type: 'string', minLength: 1, maxLength: 1024 }, replace: { type: 'string', enum: ['true', 'false'] } },
      },
    },
    handler: async (req, reply) => {
      const q = req.query as { parent?: string; name: string; replace?: 'true' | 'false' };
      // An empty body with no Content-Type (an empty file from a browser) never reaches a parser.
      const body = (req.body as Readable | undefined) ?? Readable.from([]);
      if (typeof body.pipe !== 'function') throw new ElohimError('INVALID_INPUT', 'send the file as the raw request body');
      const length = Number(req.headers['content-length']);
      const item = await authOf(req).workspace.vault.put(q.parent ?? null, q.name, body, {
        replace: q.replace === 'true',
        sizeHint: Number.isSafeInteger(length) ? length : undefined,
        signal: requestSignal(req, reply),
      });
      return reply.code(201).send({ item });
    },
  });

  app.get('/api/v1/items/:id/content', {
    schema: { params: REF.idParams },
    handler: async (req, reply) => {
      const { vault } = authOf(req).workspace;
      const id = (req.params as { id: string }).id;
      const info = vault.item(id);
      if (info.kind !== 'file') throw new ElohimError('NOT_A_FILE', 'folders have no content');
      const etag = `"${vault.sha256Of(id)}"`;
      reply.header('etag', etag).header('accept-ranges', 'bytes').header('content-type', 'application/octet-stream');
      // toWellFormed: a name stored by an older build may hold a lone surrogate, which no header can carry.
      reply.header('content-disposition', contentDisposition(info.name.toWellFormed()));
      if (matchesEtag(req.headers['if-none-match'], etag)) return reply.code(304).send();
      const ifRange = req.headers['if-range'];
      let range = ifRange === undefined || ifRange === etag ? parseByteRange(req.headers.range, info.size) : null;
      if (range === 'unsatisfiable') {
        reply.header('content-range', `bytes */${info.size}`);
        throw new ElohimError('RANGE_NOT_SATISFIABLE', `the file has ${info.size} bytes`);
      }
      if (range !== null && range.start === 0 && range.end === info.size) range = null;
      // The ETag is the recorded SHA-256; the body is authenticated chunk by chunk (see vault.read).
      const { stream } = await vault.read(id, { range: range ?? undefined, signal: requestSignal(req, reply) });
      if (range !== null) {
        reply.code(206).header('content-range', `bytes ${range.start}-${range.end - 1}/${info.size}`);
        // The vault logs whole downloads; ranges are logged here, where the session is known:
        // one entry per file per session per window, so a player seeking does not flood the log
        // while two ranges that fetch the whole file are still on record (item 8 of issue 8).
        const { workspace, session } = authOf(req);
        workspace.audit.appendThrottled(`${id} ${session.csrf}`, RANGE_LOG_WINDOW_MS, 'download', {
          path: info.path.toWellFormed(),
          size: info.size,
          range: `${range.start}-${range.end - 1}`,
        });
      }
      reply.header('content-length', String(range === null ? info.size : range.end - range.start));
      return reply.send(stream);
    },
  });
}

/** If-None-Match: "*" or a list of ETags, weak or strong (weak comparison, RFC 9110 §13.1.2). */
function matchesEtag(header: string | undefined, etag: string): boolean {
  if (header === undefined) return false;
  if (header.trim() === '*') return true;
  return header.split(',').some((t) => t.trim().replace(/^W\//, '') === etag);
}
