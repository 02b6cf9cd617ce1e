// The one client of the local server's JSON API (/api/v1). Every screen goes through here, so
// the CSRF header, the error format and the session's end are handled in one place. Route paths,
// header names and error codes come from the server's protocol module, never restated here.

import { API, apiPath, CSRF_HEADER } from '../../src/server/protocol.ts';
import type { ErrorCode } from '../../src/server/protocol.ts';
import { readSse } from './sse.ts';

export type ItemKind = 'file' | 'folder';

export interface Item {
  id: string;
  kind: ItemKind;
  name: string;
  /** the folder it is in; null = the root */
  parent: string | null;
  path: string;
  size?: number;
  created: number;
  modified: number;
  trashedAt?: number;
  originalPath?: string;
}

export type KdfCost = 'standard' | 'strong' | 'maximum';
export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug';

export interface Settings {
  autoLockMinutes: number;
  logLevel: LogLevel;
  port: number;
  kdfCost: KdfCost;
  /** read-only: where this device keeps its data */
  dataFolder: string;
}

export interface AuditEntry {
  seq: number;
  at: number;
  event: string;
  details: Record<string, unknown>;
  hash: string;
}

export interface Health {
  ok: boolean;
  version: string;
  locked: boolean;
  /** false until first-run setup has created a vault */
  initialized: boolean;
}

/** What an ApiError's code can be: one of the server's, or what a client sees without one. */
export type ApiErrorCode = ErrorCode | 'NETWORK' | `HTTP_${number}`;

/** An answer of the server's error format `{ error: { code, message } }`, or a network failure. */
export class ApiError extends Error {
  readonly code: ApiErrorCode;
  readonly status: number;
  /** seconds to wait before the next attempt (429 Retry-After), when the server said */
  readonly retryAfter: number | undefined;
  constructor(status: number, code: ApiErrorCode, message: string, retryAfter?: number) {
    super(message);
    this.name = 'ApiError';
    this.status = status;
    this.code = code;
    this.retryAfter = retryAfter;
  }
}

// Before a session exists any value passes (setup, unlock, panic); afterwards the server wants
// the token the unlock returned. A page on another site cannot send the header at all.
const PRE_SESSION_CSRF = 'elohim-ui';
let csrfToken = PRE_SESSION_CSRF;
const lockListeners = new Set<() => void>();

export function csrfHeader(): Record<string, string> {
  return { [CSRF_HEADER]: csrfToken };
}

/** Calls `listener` whenever the server answers 401 SESSION_REQUIRED (auto-lock, panic elsewhere). */
export function onSessionEnded(listener: () => void): () => void {
  lockListeners.add(listener);
  return () => lockListeners.delete(listener);
}

function sessionEnded(): void {
  csrfToken = PRE_SESSION_CSRF;
  for (const listener of lockListeners) listener();
}

async function errorOf(res: Response): Promise<ApiError> {
  const retry = res.headers.get('retry-after');
  let code: ApiErrorCode = `HTTP_${res.status}`;
  let message = res.statusText || 'request failed';
  try {
    const body = (await res.json()) as { error?: { code?: ErrorCode; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // not our JSON error format (a proxy, a dropped connection): keep the status line
  }
  return new ApiError(res.status, code, message, retry === null ? undefined : Number(retry));
}

/**
 * Sends one request to `path` (an API route, see apiPath; a query string may follow) with a Blob
 * body as raw bytes and any other as JSON; resolves with the parsed JSON (undefined for 204),
 * throws ApiError.
 */
export async function request<T>(method: string, path: string, body?: unknown, signal?: AbortSignal): Promise<T> {
  const headers: Record<string, string> = { ...csrfHeader() };
  // A Blob is file contents, sent as raw bytes; anything else is JSON.
  const raw = body instanceof Blob;
  if (body !== undefined && !raw) headers['content-type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : raw ? body : JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'NETWORK', 'The ElohimOS server cannot be reached. Is it still running?');
  }
  if (!res.ok) {
    const error = await errorOf(res);
    if (error.code === 'SESSION_REQUIRED') sessionEnded();
    throw error;
  }
  if (res.status === 204) return undefined as T;
  return (await res.json()) as T;
}

/** One event of a streamed answer, its data parsed. */
export interface StreamEvent {
  event: string;
  data: unknown;
}

/**
 * POSTs `body` as JSON to `path` and yields the answer's Server-Sent Events (sse.ts) until it
 * ends. An answer that is not a stream (bad input, no session) throws as request() does, and a
 * lost session ends the app's the same way; an `error` event throws an ApiError with the server's
 * code. Aborting `signal`, or leaving the loop, closes the connection: that is what stops the
 * work on the server (a chat answer, a backup, a sync).
 */
export async function* streamEvents(path: string, body: unknown, signal?: AbortSignal): AsyncGenerator<StreamEvent> {
  let res: Response;
  try {
    res = await fetch(path, {
      method: 'POST',
      headers: { ...csrfHeader(), 'content-type': 'application/json', accept: 'text/event-stream' },
      body: JSON.stringify(body),
      credentials: 'same-origin',
      signal,
    });
  } catch (err) {
    if (signal?.aborted) throw err;
    throw new ApiError(0, 'NETWORK', 'The ElohimOS server cannot be reached. Is it still running?');
  }
  if (!res.ok || res.body === null) {
    const error = await errorOf(res);
    if (error.code === 'SESSION_REQUIRED') sessionEnded();
    throw error;
  }
  for await (const ev of readSse(res.body)) {
    const data = JSON.parse(ev.data) as unknown;
    if (ev.event === 'error') {
      const e = data as { code?: ErrorCode; message?: string };
      throw new ApiError(200, e.code ?? 'INTERNAL', e.message ?? 'the operation failed');
    }
    yield { event: ev.event, data };
  }
}

const q = (params: Record<string, string | number | undefined>): string => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined) search.set(key, String(value));
  const text = search.toString();
  return text === '' ? '' : '?' + text;
};

export const api = {
  health: () => request<Health>('GET', API.health),

  setup: (passphrase: string, decoyPassphrase?: string, reserve?: string) =>
    request<{ recoveryCodes: string[]; decoyRecoveryCodes?: string[] }>('POST', API.setup, {
      passphrase,
      ...(decoyPassphrase ? { decoyPassphrase } : {}),
      ...(reserve ? { reserve } : {}),
    }),

  async unlock(secret: { passphrase: string } | { recoveryCode: string }): Promise<{ viaRecoveryCode: boolean }> {
    const res = await request<{ csrfToken: string; viaRecoveryCode: boolean }>('POST', API.session, secret);
    csrfToken = res.csrfToken;
    return { viaRecoveryCode: res.viaRecoveryCode };
  },

  /** Resumes the session of an earlier page load (the cookie survives a reload); false if locked. */
  async resume(): Promise<boolean> {
    try {
      csrfToken = (await request<{ csrfToken: string }>('GET', API.session)).csrfToken;
      return true;
    } catch (err) {
      if (err instanceof ApiError && err.status === 401) return false;
      throw err;
    }
  },

  async lock(): Promise<void> {
    try {
      await request<void>('DELETE', API.session);
    } finally {
      sessionEnded();
    }
  },

  /** Locks every vault at once; needs no session. */
  async panic(): Promise<void> {
    try {
      await request<void>('POST', API.panic, {});
    } finally {
      sessionEnded();
    }
  },

  /** Destroys the key slots: the data can never be decrypted again. */
  async shred(confirm: string): Promise<void> {
    try {
      await request<void>('POST', API.panic, { shred: true, confirm });
    } finally {
      sessionEnded();
    }
  },

  list: (parent: string | null) => request<{ items: Item[]; total: number }>('GET', API.items + q({ parent: parent ?? undefined })),
  item: (id: string) => request<{ item: Item }>('GET', apiPath(API.item, id)),
  search: (text: string) => request<{ items: Item[] }>('GET', API.search + q({ q: text })),
  mkdir: (parent: string | null, name: string) => request<{ item: Item }>('POST', API.folders, { parent, name }),
  rename: (id: string, name: string) => request<{ item: Item }>('PATCH', apiPath(API.item, id), { name }),
  move: (id: string, parent: string | null) => request<{ item: Item }>('PATCH', apiPath(API.item, id), { parent }),
  trash: (id: string) => request<void>('DELETE', apiPath(API.item, id)),
  trashList: () => request<{ items: Item[] }>('GET', API.trash),
  restore: (id: string) => request<{ item: Item }>('POST', apiPath(API.restore, id)),
  emptyTrash: () => request<void>('DELETE', API.trash),
  /**
   * Stores a whole file in one request. Big files go through tus (UPLOADS_ENDPOINT) instead;
   * this is for empty ones, which tus creates but never sends a PATCH for.
   */
  putFile: (parent: string | null, name: string, contents: Blob, replace = false) =>
    request<{ item: Item }>('PUT', API.files + q({ parent: parent ?? undefined, name, replace: replace ? 'true' : undefined }), contents),
  /** The URL a plain link downloads from (the session cookie goes with it; GET needs no CSRF). */
  contentUrl: (id: string) => apiPath(API.content, id),

  settings: () => request<Settings>('GET', API.settings),
  updateSettings: (change: Partial<Omit<Settings, 'dataFolder'>>) => request<Settings>('PATCH', API.settings, change),

  decoy: () => request<{ exists: boolean }>('GET', API.decoy),
  removeDecoy: () => request<void>('DELETE', API.decoy),

  audit: (filter: { event?: string; since?: number; until?: number; limit?: number; offset?: number }) =>
    request<{ entries: AuditEntry[]; total: number }>('GET', API.audit + q(filter)),
  auditVerify: () => request<{ ok: boolean; entries: number; firstBadEntry?: number }>('GET', API.auditVerify),
  auditExportUrl: () => API.auditExport,
};

/** Where tus-js-client sends resumable uploads (metadata: name, parent, replace). */
export const UPLOADS_ENDPOINT = API.uploads;
