import { STATUS_CODES } from 'node:http';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ErrorCode } from '../errors.ts';
import { ElohimError, ERROR_CODES, isElohimError, toElohimError } from '../errors.ts';

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
  // RFC 4918 §11.5: the server cannot store what the request needs stored.
  DISK_FULL: 507,
  AUDIT_CHAIN_BROKEN: 500,
  AI_PROVIDER_UNREACHABLE: 503,
  // a gateway's upstream failed or was too slow: RFC 9110 §15.6.3 and §15.6.5
  AI_PROVIDER_FAILED: 502,
  AI_TIMEOUT: 504,
  AI_MODEL_NOT_FOUND: 404,
  AI_CONTEXT_TOO_LARGE: 413,
  AI_BUSY: 409,
  MODEL_INVALID: 422,
  MODEL_CHECKSUM_MISMATCH: 422,
  MODEL_EXISTS: 409,
  MODEL_BUSY: 409,
  UPLOAD_NOT_FOUND: 404,
  UPLOAD_OFFSET_MISMATCH: 409,
  TUS_VERSION_UNSUPPORTED: 412,
  MESH_OFF: 409,
  MESH_PEER_UNKNOWN: 404,
  MESH_PEER_UNREACHABLE: 504,
  MESH_CODE_INVALID: 400,
  MESH_CODE_EXPIRED: 410,
  MESH_CODE_USED: 409,
  MESH_PAIRING_FAILED: 403,
  MESH_STREAM_CLOSED: 502,
  SHARE_NOT_FOUND: 404,
  SHARE_READ_ONLY: 403,
  SYNC_REJECTED: 502,
  BUNDLE_INVALID: 400,
  WITNESS_MISMATCH: 409,
  INTERNAL: 500,
};

/** The JSON body of every error response. */
export interface ErrorBody {
  error: { code: ErrorCode; message: string };
}

export function errorBody(code: ErrorCode, message: string = ERROR_CODES[code]): ErrorBody {
  return { error: { code, message } };
}

/**
 * The error a request failed with, as one of ours. Fastify's own errors (validation, body
 * parsing, URL limits) are client errors and keep their message, which says what was wrong
 * with the request and nothing of this machine; anything else goes through toElohimError.
 */
export function requestError(err: unknown): ElohimError {
  if (isElohimError(err)) return err;
  const fe = err as Partial<FastifyError> & { validation?: unknown };
  if (fe.validation !== undefined) return new ElohimError('INVALID_INPUT', fe.message ?? 'invalid request');
  switch (fe.code) {
    case 'FST_ERR_BAD_URL':
    case 'FST_ERR_MAX_PARAM_LENGTH':
    case 'FST_ERR_ASYNC_CONSTRAINT':
      return new ElohimError('INVALID_INPUT', 'the URL is malformed or too long');
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return new ElohimError('BODY_TOO_LARGE');
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return new ElohimError('UNSUPPORTED_MEDIA_TYPE', 'send JSON (application/json), or raw bytes for uploads');
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
    case 'FST_ERR_CTP_INVALID_CONTENT_LENGTH':
      return new ElohimError('INVALID_INPUT', fe.message ?? 'invalid body');
  }
  if (fe instanceof SyntaxError || fe.code === 'FST_ERR_CTP_INVALID_JSON_BODY') return new ElohimError('INVALID_INPUT', 'the body is not valid JSON');
  // Any other error Fastify marks as the client's (4xx) is bad input as far as we can tell.
  if (typeof fe.statusCode === 'number' && fe.statusCode >= 400 && fe.statusCode < 500) return new ElohimError('INVALID_INPUT', fe.message ?? 'bad request');
  return toElohimError(err);
}

/**
 * Turns any thrown error into `{ error: { code, message } }` with the status HTTP_STATUS_OF
 * gives its code. Only our own errors and Fastify's client errors keep their message; anything
 * else gets the registry's message, so no stack trace, path or secret reaches the client.
 */
export function toHttpError(err: unknown): { status: number; body: ErrorBody } {
  const e = requestError(err);
  return { status: HTTP_STATUS_OF[e.code], body: errorBody(e.code, e.message) };
}

export function errorHandler(err: unknown, req: FastifyRequest, reply: FastifyReply): void {
  const { status, body } = toHttpError(err);
  // The cause's name and errno code only: its message may carry a path.
  const cause = isElohimError(err) ? err.cause : err;
  if (status >= 500) req.log.error({ code: body.error.code, cause: cause === undefined ? undefined : `${String((cause as Error)?.name)} ${String((cause as { code?: unknown })?.code ?? '')}`.trim() }, 'request failed');
  // A request refused before its body was read in full (a tus PATCH past its declared length, an
  // upload to a folder that is gone) leaves the rest of the body in the socket, paused: the
  // connection can serve nothing else, and a graceful stop would wait on it for ever (item 11 of
  // issue 8). Close it once this answer is out.
  if (!req.raw.complete) reply.header('connection', 'close');
  void reply.code(status).header('cache-control', 'no-store').send(body);
}

export function notFoundHandler(_req: FastifyRequest, reply: FastifyReply): void {
  void reply.code(HTTP_STATUS_OF.ROUTE_NOT_FOUND).send(errorBody('ROUTE_NOT_FOUND', 'no such API route'));
}

/** The status line of `code`'s status ("431 Request Header Fields Too Large"), for raw sockets. */
export function statusLine(code: ErrorCode): string {
  const status = HTTP_STATUS_OF[code];
  return `${status} ${STATUS_CODES[status] ?? 'Error'}`;
}
