import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ElohimError, toElohimError } from '../../errors.ts';
import { authOf } from '../auth.ts';
import { requestSignal } from './request-signal.ts';
import { REF } from '../schemas.ts';

const TUS_VERSION = '1.0.0';
const idParams = REF.idParams;
/** Largest declared upload: 1 TiB, far beyond any device here, but a bound all the same. */
const MAX_UPLOAD = 2 ** 40;

/** Upload-Metadata: comma-separated "key base64value" pairs (tus 1.0, creation extension). */
export function parseUploadMetadata(header: string | undefined): Map<string, string> {
  const out = new Map<string, string>();
  if (header === undefined || header.trim() === '') return out;
  for (const pair of header.split(',')) {
    const [key, value, ...rest] = pair.trim().split(' ');
    if (!key || rest.length > 0 || !/^[\x21-\x7e]+$/.test(key) || out.has(key)) throw new ElohimError('INVALID_INPUT', 'Upload-Metadata is malformed');
    if (value !== undefined && !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) throw new ElohimError('INVALID_INPUT', `Upload-Metadata ${key} is not base64`);
    out.set(key, value === undefined ? '' : utf8(key, Buffer.from(value, 'base64')));
  }
  return out;
}

/**
 * A metadata value as text. Bytes that are not UTF-8 are refused rather than replaced with
 * U+FFFD, which would give the file a name its client never sent (a lone surrogate encoded as
 * bytes, for one).
 */
function utf8(key: string, bytes: Buffer): string {
  try {
    // ignoreBOM keeps a leading U+FEFF in the text, for the name's check to see (and refuse).
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch (err) {
    if (!(err instanceof TypeError)) throw err;
    throw new ElohimError(key === 'name' ? 'INVALID_NAME' : 'INVALID_INPUT', `Upload-Metadata ${key} is not UTF-8`);
  }
}

function checkTusVersion(req: FastifyRequest): void {
  if (req.headers['tus-resumable'] !== TUS_VERSION) throw new ElohimError('TUS_VERSION_UNSUPPORTED');
}

function tusHeaders(reply: FastifyReply): FastifyReply {
  return reply.header('tus-resumable', TUS_VERSION);
}

function headerInt(value: string | string[] | undefined, name: string): number {
  if (typeof value !== 'string' || !/^\d{1,15}$/.test(value)) throw new ElohimError('INVALID_INPUT', `${name} must be a whole number`);
  return Number(value);
}

/**
 * Resumable uploads by the tus 1.0 protocol (core + creation + termination) under
 * /api/v1/uploads. Metadata: `name` (required), `parent` (folder id), `replace` ("true").
 * The finished file's id comes back in the X-Elohim-Item-Id header of the last PATCH.
 */
export async function uploadRoutes(app: FastifyInstance): Promise<void> {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/offset+octet-stream', (_req, payload, done) => done(null, payload));
  app.addContentTypeParser('*', (_req, payload, done) => done(null, payload));

  app.options('/api/v1/uploads', async (_req, reply) => {
    return tusHeaders(reply)
      .header('tus-version', TUS_VERSION)
      .header('tus-extension', 'creation,termination')
      .header('tus-max-size', String(MAX_UPLOAD))
      .code(204)
      .send();
  });

  app.post('/api/v1/uploads', async (req, reply) => {
    checkTusVersion(req);
    const length = headerInt(req.headers['upload-length'], 'Upload-Length');
    if (length > MAX_UPLOAD) throw new ElohimError('BODY_TOO_LARGE', `uploads are limited to ${MAX_UPLOAD} bytes`);
    const meta = parseUploadMetadata(req.headers['upload-metadata'] as string | undefined);
    const name = meta.get('name');
    if (name === undefined) throw new ElohimError('INVALID_INPUT', 'Upload-Metadata needs a name');
    const parent = meta.get('parent');
    if (parent !== undefined && !/^[0-9a-f]{32}$/.test(parent)) throw new ElohimError('INVALID_INPUT', 'Upload-Metadata parent is not an item id');
    const { vault } = authOf(req).workspace;
    const { id } = await vault.beginUpload(parent ?? null, name, length, { replace: meta.get('replace') === 'true' });
    tusHeaders(reply).header('location', `/api/v1/uploads/${id}`);
    // An empty file is complete as soon as it exists: tus clients send no PATCH for zero bytes
    // (tus 1.0 "Creation": the client may skip the PATCH), so finish it here.
    if (length === 0) {
      const done = await vault.uploads.append(id, 0, Readable.from([]));
      reply.header('upload-offset', '0');
      if (done.fileId !== undefined) reply.header('x-elohim-item-id', done.fileId);
    }
    return reply.code(201).send();
  });

  app.head('/api/v1/uploads/:id', { schema: { params: idParams } }, async (req, reply) => {
    checkTusVersion(req);
    const { offset, length } = await authOf(req).workspace.vault.uploads.status((req.params as { id: string }).id);
    return tusHeaders(reply).header('upload-offset', String(offset)).header('upload-length', String(length)).code(200).send();
  });

  app.patch('/api/v1/uploads/:id', { schema: { params: idParams }, bodyLimit: Number.MAX_SAFE_INTEGER }, async (req, reply) => {
    checkTusVersion(req);
    if (req.headers['content-type'] !== 'application/offset+octet-stream') {
      throw new ElohimError('UNSUPPORTED_MEDIA_TYPE', 'PATCH needs Content-Type: application/offset+octet-stream');
    }
    const offset = headerInt(req.headers['upload-offset'], 'Upload-Offset');
    const { vault } = authOf(req).workspace;
    const id = (req.params as { id: string }).id;
    let result;
    try {
      result = await vault.uploads.append(id, offset, req.body as Readable, { signal: requestSignal(req, reply) });
    } catch (err) {
      // The partial is what filled the device: kept, it would hold the space for the 24 h an
      // upload lives, and nothing else could be written meanwhile (item 9 of issue 8).
      if (toElohimError(err).code !== 'DISK_FULL') throw err;
      await vault.uploads.cancel(id).catch(() => {});
      throw new ElohimError('DISK_FULL', 'the device is full: the unfinished upload was removed to free its space; free some space and upload it again', { cause: err });
    }
    tusHeaders(reply).header('upload-offset', String(result.offset));
    if (result.fileId !== undefined) reply.header('x-elohim-item-id', result.fileId);
    return reply.code(204).send();
  });

  app.delete('/api/v1/uploads/:id', { schema: { params: idParams } }, async (req, reply) => {
    checkTusVersion(req);
    await authOf(req).workspace.vault.uploads.cancel((req.params as { id: string }).id);
    return tusHeaders(reply).code(204).send();
  });
}
