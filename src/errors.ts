/**
 * Every error ElohimOS raises on purpose, in one registry.
 *
 * A code is stable: faces (CLI exit codes, HTTP statuses) map codes in exactly one place each,
 * and `errors.test.ts` checks every code is mapped there. Messages are for people and may
 * change; they never carry names, contents or keys.
 */
export const ERROR_CODES = {
  // input at a boundary
  INVALID_INPUT: 'the input is not valid',
  INVALID_NAME: 'an item name is not valid',
  INVALID_PATH: 'a vault path is not valid',
  INVALID_RECIPIENT: 'an age recipient is not valid',
  INVALID_IDENTITY: 'an age identity is not valid',

  // sessions and requests (the HTTP face)
  SESSION_REQUIRED: 'unlock first: this needs a session',
  CSRF_REJECTED: 'the request did not come from this app (origin or CSRF token missing or wrong)',
  ROUTE_NOT_FOUND: 'no such API route',
  BODY_TOO_LARGE: 'the request body is too large',
  UNSUPPORTED_MEDIA_TYPE: 'the request body has an unsupported content type',
  RANGE_NOT_SATISFIABLE: 'the requested byte range is outside the file',
  HEADERS_TOO_LARGE: 'the request headers are too large',
  UPLOAD_NOT_FOUND: 'no such upload (it finished, was cancelled or expired)',
  UPLOAD_OFFSET_MISMATCH: 'the upload offset does not match what the server has',
  TUS_VERSION_UNSUPPORTED: 'this server speaks tus 1.0.0 only',

  // the age format
  AGE_HEADER_INVALID: 'the age header is malformed or too large',
  AGE_NO_MATCH: 'no identity matches any recipient of the age file',
  AGE_HMAC_MISMATCH: 'the age header MAC does not match',
  AGE_PAYLOAD_INVALID: 'the age payload is truncated, reordered or tampered with',
  AGE_ARMOR_INVALID: 'the ASCII armor is malformed',
  AGE_UNSUPPORTED: 'the age file uses a feature this build does not support',

  // the vault
  VAULT_NOT_INITIALIZED: 'no vault exists here yet',
  VAULT_ALREADY_INITIALIZED: 'a vault already exists here',
  VAULT_WRONG_SECRET: 'the passphrase or recovery code is wrong',
  VAULT_RATE_LIMITED: 'too many failed unlock attempts; wait before trying again',
  VAULT_NO_FREE_SLOT: 'no free key slot is left',
  DECOY_NOT_FOUND: 'this vault has no decoy vault',
  VAULT_BUSY: 'another ElohimOS process is using this data folder',
  VAULT_CORRUPT: 'vault data on disk is damaged',
  VAULT_FORMAT_UNKNOWN: 'vault data on disk has a version this build does not know',
  ITEM_NOT_FOUND: 'no such item',
  ITEM_EXISTS: 'an item with that name already exists there',
  NOT_A_FOLDER: 'the item is not a folder',
  NOT_A_FILE: 'the item is not a file',
  MOVE_INTO_SELF: 'a folder cannot be moved into itself',
  OBJECT_DAMAGED: 'a stored object is missing or damaged',
  HOST_IO: 'a file on this device could not be read or written',
  HOST_FILE_NOT_FOUND: 'a file on this device does not exist',
  DISK_FULL: 'the device is full: free some space and try again',

  // the audit log
  AUDIT_CHAIN_BROKEN: 'the audit log failed verification: an entry was altered, removed or reordered',

  // the assistant and its model providers (src/ai)
  AI_PROVIDER_UNREACHABLE: 'the model provider cannot be reached: is it running?',
  AI_PROVIDER_FAILED: 'the model provider reported an error',
  AI_TIMEOUT: 'the model provider did not answer in time',
  AI_MODEL_NOT_FOUND: 'no such model on this provider',
  AI_CONTEXT_TOO_LARGE: "the message is larger than the model's whole context window",
  AI_BUSY: 'an answer is being written in this conversation already: stop it or wait',
  MODEL_INVALID: 'the file is not a GGUF model this build can load',
  MODEL_CHECKSUM_MISMATCH: 'the model file does not have the expected SHA-256',
  MODEL_EXISTS: 'a model with that name already exists',
  MODEL_BUSY: 'that model is being pulled already',

  // MagnetarMesh: the node, pairing and its pool (src/mesh)
  MESH_OFF: 'the mesh is off for this vault: turn it on first (elohim mesh on)',
  MESH_PEER_UNKNOWN: 'no paired device has that id',
  MESH_PEER_UNREACHABLE: 'the paired device cannot be reached now',
  MESH_CODE_INVALID: 'the pairing code is not valid: check it, or ask for a new one',
  MESH_CODE_EXPIRED: 'the pairing code has expired: ask for a new one',
  MESH_CODE_USED: 'the pairing code was already used, withdrawn or expired: ask for a new one',
  MESH_PAIRING_FAILED: 'pairing failed: nothing was paired',
  MESH_STREAM_CLOSED: 'the connection to the other device closed',
  // MagnetarMesh: shares, sync, bundles and witnesses (src/mesh/shares, sync, bundle, witness)
  SHARE_NOT_FOUND: 'no such share on this device',
  SHARE_READ_ONLY: 'this device may only read that share',
  SYNC_REJECTED: 'the other device sent something that failed verification: nothing of it was kept',
  BUNDLE_INVALID: 'the file is not a sync bundle for this device, or it is damaged',
  WITNESS_MISMATCH: "this device's audit log is older than, or differs from, what a paired device witnessed",
  // anything not raised on purpose: a bug, reported without its details
  INTERNAL: 'internal error',
} as const;

export type ErrorCode = keyof typeof ERROR_CODES;

/** The one error class of ElohimOS; `code` says what happened, `message` says it to a person. */
export class ElohimError extends Error {
  readonly code: ErrorCode;

  constructor(code: ErrorCode, message: string = ERROR_CODES[code], options?: ErrorOptions) {
    super(message, options);
    this.name = 'ElohimError';
    this.code = code;
  }
}

export function isElohimError(err: unknown, code?: ErrorCode): err is ElohimError {
  return err instanceof ElohimError && (code === undefined || err.code === code);
}

/** SQLite's result code for "database or disk is full" (SQLITE_FULL). */
const SQLITE_FULL = 13;

/** Whether `err` says the device (or the user's quota) is full, from Node's fs or from SQLite. */
export function isDiskFull(err: unknown): boolean {
  const e = err as { code?: unknown; errcode?: unknown } | null;
  if (e === null || typeof e !== 'object') return false;
  // node:sqlite reports extended result codes too; the primary code is the low byte.
  return e.code === 'ENOSPC' || e.code === 'EDQUOT' || (e.code === 'ERR_SQLITE_ERROR' && typeof e.errcode === 'number' && (e.errcode & 0xff) === SQLITE_FULL);
}

/**
 * Any thrown value as one of our errors, for the faces (HTTP, CLI) to map in their one place:
 * ours pass through; a full device is DISK_FULL; another error from the host (a Node errno code
 * such as EACCES, or SQLite) is HOST_IO; anything else is a bug, INTERNAL. The original is kept
 * as `cause` for logs; its message never reaches a client, since it may carry a path.
 */
export function toElohimError(err: unknown): ElohimError {
  if (isElohimError(err)) return err;
  if (isDiskFull(err)) return new ElohimError('DISK_FULL', undefined, { cause: err });
  const code = (err as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && (/^E[A-Z]+$/.test(code) || code === 'ERR_SQLITE_ERROR')) return new ElohimError('HOST_IO', undefined, { cause: err });
  return new ElohimError('INTERNAL', undefined, { cause: err });
}
