import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors.ts';
import { isElohimError } from '../errors.ts';

/** The one place that maps error codes to HTTP statuses (a test checks every code is here). */
export const HTTP_STATUS_OF: Record<ErrorCode, number> = {
  INVALID_INPUT: 400,
  INVALID_NAME: 400,
  INVALID_PATH: 400,
  INVALID_RECIPIENT: 400,
  INVALID_IDENTITY: 400,

  SESSION_REQUIRED: 401,
  CSRF_REJECTED: 403,
  ROUTE_NOT_FOUND: 404,
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  RANGE_NOT_SATISFIABLE: 416,
  HEADERS_TOO_LARGE: 431,

  AGE_HEADER_INVALID: 422,
  AGE_NO_MATCH: 422,
  AGE_HMAC_MISMATCH: 422,
  AGE_PAYLOAD_INVALID: 500,
  AGE_ARMOR_INVALID: 422,
  AGE_UNSUPPORTED: 422,

  VAULT_NOT_INITIALIZED: 409,
  VAULT_ALREADY_INITIALIZED: 409,
  VAULT_WRONG_SECRET: 401,
  VAULT_RATE_LIMITED: 429,
  VAULT_NO_FREE_SLOT: 409,
  DECOY_NOT_FOUND: 404,
  VAULT_BUSY: 409,
  VAULT_CORRUPT: 500,
  VAULT_FORMAT_UNKNOWN: 500,
  ITEM_NOT_FOUND: 404,
  ITEM_EXISTS: 409,
  NOT_A_FOLDER: 400,
  NOT_A_FILE: 400,
  MOVE_INTO_SELF: 400,
  OBJECT_DAMAGED: 500,
  HOST_IO: 500,
  HOST_FILE_NOT_FOUND: 404,
  AUDIT_CHAIN_BROKEN: 500,
  UPLOAD_NOT_FOUND: 404,
  UPLOAD_OFFSET_MISMATCH: 409,
  TUS_VERSION_UNSUPPORTED: 412,
};

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: string; message: string };
}

export function errorBody(code: ErrorCode, message: string): ErrorBody {
  return { error: { code, message } };
}

/**
 * Turns any thrown error into `{ error: { code, message } }` with the right status. Only our
 * own errors and Fastify's client errors keep their message; anything else becomes a plain 500
 * so no stack trace, path or secret reaches the client.
 */
export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
  if (isElohimError(err)) return { status: HTTP_STATUS_OF[err.code], body: errorBody(err.code, err.message) };
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe.validation !== undefined) return { status: 400, body: errorBody('INVALID_INPUT', fe.message ?? 'invalid request') };
  switch (fe.code) {
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return { status: 400, body: errorBody('INVALID_INPUT', 'the URL is malformed or too long') };
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, body: errorBody('BODY_TOO_LARGE', 'the request body is too large') };
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, body: errorBody('UNSUPPORTED_MEDIA_TYPE', 'send JSON (application/json), or raw bytes for uploads') };
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return { status: 400, body: errorBody('INVALID_INPUT', fe.message ?? 'invalid body') };
  }
  if (fe instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') {
    return { status: 400, body: errorBody('INVALID_INPUT', 'the body is not valid JSON') };
  }
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) {
    return { status: fe.statusCode, body: errorBody('INVALID_INPUT', fe.message ?? 'bad request') };
  }
  return { status: 500, body: errorBody('HOST_IO', 'internal error') };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toHttpError(err);
  if (status >= 500) req.log.error({ code: body.error.code, err: isElohimError(err) ? undefined : String((err as Error)?.name) }, 'request failed');
  void reply.code(status).header('cache-control', 'no-store').send(body);
}

export function notFoundHandler(_req: FastifyRequest, reply: FastifyReply): void {
  void reply.code(404).send(errorBody('ROUTE_NOT_FOUND', 'no such API route'));
}

