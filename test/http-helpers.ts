/**
 * Shared pieces of the HTTP API suites (server-api, server-bad-input): a real server
 * (`createServer`) on a real home in a temp folder, sessions opened through the API, requests
 * through `inject()` or a real socket, error-shape checks, and a snapshot of everything a
 * request could change. Nothing is mocked.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify';
import { createServer, CSRF_HEADER, SESSION_COOKIE } from '../src/server/index.ts';
import { createApp } from '../src/app.ts';
import type { App } from '../src/app.ts';
import { DECOY_PASSPHRASE, makeTempDir, objectFiles, PASSPHRASE, rememberSetUp, tempFiles } from './helpers.ts';
import type { EntryInfo, TrashEntry } from '../src/vault/index.ts';

export { DECOY_PASSPHRASE, PASSPHRASE };

/** Argon2id at OWASP's minimum: valid, and an unlock costs tens of milliseconds. */
export const CHEAP_ARGON2 = { memory: 19456, passes: 2, parallelism: 1 } as const;
/** The Host every request sends (a loopback name the server answers to). */
export const HOST = '127.0.0.1';

export interface TestServer {
  dir: string;
  /** the real app the server was built on */
  home: App;
  app: FastifyInstance;
  stop(): Promise<void>;
  /** recovery codes of the real vault (empty when not initialized here) */
  codes: string[];
  decoyCodes: string[];
  /** base URL once `listen()` was called */
  url: string;
  port: number;
  /** starts listening on 127.0.0.1 and a free port; returns the base URL */
  listen(): Promise<string>;
}

/**
 * A server on a fresh temp home. `init` initializes the vault directly with cheap Argon2id
 * (setup through the API is tested once, in server-api.test.ts).
 */
export async function startServer(opts: { init?: boolean; decoy?: boolean; autoLockMs?: number } = {}): Promise<TestServer> {
  const dir = join(await makeTempDir('elohim-server-'), 'home');
  const home = createApp({ home: dir });
  let codes: string[] = [];
  let decoyCodes: string[] = [];
  if (opts.init !== false) {
    const r = await home.init({ passphrase: PASSPHRASE, decoyPassphrase: opts.decoy ? DECOY_PASSPHRASE : undefined, argon2: CHEAP_ARGON2 });
    codes = r.recoveryCodes;
    decoyCodes = r.decoyRecoveryCodes ?? [];
    await rememberSetUp(dir);
  }
  const server = await createServer({ app: home, version: 'test', autoLockMs: opts.autoLockMs, logLevel: false });
  const t: TestServer = {
    dir,
    home,
    app: server.app,
    codes,
    decoyCodes,
    url: '',
    port: 0,
    async listen() {
      t.url = await server.app.listen({ host: HOST, port: 0 });
      t.port = Number(new URL(t.url).port);
      return t.url;
    },
    async stop() {
      await server.stop();
      home.close();
    },
  };
  return t;
}

/** A session as the API hands it out: the cookie value and the CSRF token. */
export interface TestSession {
  token: string;
  csrf: string;
}

/** Cookie and CSRF headers of a session (plus the Host). */
export function authHeaders(s: TestSession): Record<string, string> {
  return { host: HOST, cookie: `${SESSION_COOKIE}=${s.token}`, [CSRF_HEADER]: s.csrf };
}

/** POST /api/v1/session; fails the test unless it answers 201. */
export async function openSession(app: FastifyInstance, secret: { passphrase: string } | { recoveryCode: string } = { passphrase: PASSPHRASE }): Promise<TestSession> {
  const res = await app.inject({ method: 'POST', url: '/api/v1/session', headers: { host: HOST, [CSRF_HEADER]: 'setup' }, payload: secret });
  assert.equal(res.statusCode, 201, `unlock failed: ${res.body}`);
  return { token: sessionCookie(res)!, csrf: (res.json() as { csrfToken: string }).csrfToken };
}

/** The value of the elohim_session cookie a response sets, or null. */
export function sessionCookie(res: { headers: Record<string, unknown> }): string | null {
  const raw = res.headers['set-cookie'];
  const list = raw === undefined ? [] : Array.isArray(raw) ? (raw as string[]) : [String(raw)];
  for (const c of list) {
    const m = new RegExp(`^${SESSION_COOKIE}=([^;]*)`).exec(c);
    if (m) return m[1]!;
  }
  return null;
}

export interface CallOptions {
  session?: TestSession;
  /** JSON body (sent as application/json) */
  json?: unknown;
  /** raw body */
  body?: string | Buffer;
  headers?: Record<string, string>;
}

/** One request through inject(): the session's headers, then `headers` on top. */
export function call(app: FastifyInstance, method: InjectOptions['method'], url: string, opts: CallOptions = {}): Promise<LightMyRequestResponse> {
  const headers: Record<string, string> = { host: HOST, ...(opts.session ? authHeaders(opts.session) : {}) };
  if (opts.json !== undefined) headers['content-type'] = 'application/json';
  Object.assign(headers, opts.headers);
  const payload = opts.json !== undefined ? JSON.stringify(opts.json) : opts.body;
  return app.inject({ method, url, headers, payload });
}

/** The plain parts of a response, whichever way it was made. */
export interface SimpleResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

export function simple(res: LightMyRequestResponse): SimpleResponse {
  return { status: res.statusCode, headers: res.headers as SimpleResponse['headers'], body: res.body };
}

/**
 * Text that must never reach a client in an error: stack frames, source or host paths.
 * (The temp home's path is checked too: it is where the vault lives.)
 */
export function assertNoInternals(text: string, extra: string[] = []): void {
  assert.doesNotMatch(text, /^\s*at\s/m, 'a stack frame leaked');
  assert.doesNotMatch(text, /\bat\s+[\w.<>]+\s+\(/, 'a stack frame leaked');
  assert.doesNotMatch(text, /\.ts:\d+|\.js:\d+|node_modules|file:\/\/|\/work\/|\/tmp\//, 'a source or host path leaked');
  for (const s of extra) assert.ok(!text.includes(s), `${JSON.stringify(s)} leaked`);
}

/**
 * Asserts the one error format: JSON `{ error: { code, message } }`, nothing else, a non-empty
 * message, no internals. `status` / `code` may list the acceptable alternatives.
 */
export function assertError(res: SimpleResponse, status: number | number[], code: string | string[]): { code: string; message: string } {
  const error = assertErrorShape(res, status, code);
  assertNoInternals(res.body);
  return error;
}

/** `assertError` without the check for internals (for tests about something else). */
export function assertErrorShape(res: SimpleResponse, status: number | number[], code: string | string[]): { code: string; message: string } {
  const statuses = Array.isArray(status) ? status : [status];
  const codes = Array.isArray(code) ? code : [code];
  assert.ok(statuses.includes(res.status), `status ${res.status}, expected ${statuses.join(' or ')}; body ${res.body.slice(0, 300)}`);
  assert.match(String(res.headers['content-type'] ?? ''), /^application\/json/, `content-type of ${res.body.slice(0, 200)}`);
  let parsed: unknown;
  assert.doesNotThrow(() => (parsed = JSON.parse(res.body)), `not JSON: ${res.body.slice(0, 300)}`);
  const body = parsed as { error?: { code?: unknown; message?: unknown } };
  assert.deepEqual(Object.keys(body), ['error'], `error body has other keys: ${res.body.slice(0, 300)}`);
  assert.equal(typeof body.error, 'object', `error is not an object: ${res.body.slice(0, 300)}`);
  assert.deepEqual(Object.keys(body.error!).sort(), ['code', 'message'], `error has other keys: ${res.body.slice(0, 300)}`);
  assert.ok(codes.includes(String(body.error!.code)), `code ${String(body.error!.code)}, expected ${codes.join(' or ')}; ${res.body.slice(0, 300)}`);
  assert.equal(typeof body.error!.message, 'string');
  assert.ok((body.error!.message as string).trim().length > 0, 'empty message');
  return body.error as { code: string; message: string };
}

/** An item as the API returns it: the vault's entry type, with the trash fields when trashed. */
export type ApiEntry = EntryInfo & Partial<Pick<TrashEntry, 'trashedAt' | 'originalPath'>>;

/** Every live item, walking GET /api/v1/items from the root, sorted by path. */
export async function listAll(app: FastifyInstance, session: TestSession): Promise<ApiEntry[]> {
  const all: ApiEntry[] = [];
  const queue: (string | null)[] = [null];
  while (queue.length > 0) {
    const parent = queue.shift()!;
    const res = await call(app, 'GET', parent === null ? '/api/v1/items' : `/api/v1/items?parent=${parent}`, { session });
    assert.equal(res.statusCode, 200, `listing failed: ${res.body}`);
    for (const e of (res.json() as { items: ApiEntry[] }).items) {
      all.push(e);
      if (e.kind === 'folder') queue.push(e.id);
    }
  }
  return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Rows of db.sqlite's `records` table (every vault's, sealed), read through a separate read-only connection. */
export function recordRows(dir: string): number {
  const db = new DatabaseSync(join(dir, 'db.sqlite'), { readOnly: true });
  try {
    return (db.prepare('SELECT count(*) AS n FROM records').get() as { n: number }).n;
  } finally {
    db.close();
  }
}

/** Everything a request could change: tree and trash through the API, object and temp files, record rows. */
export async function vaultState(t: TestServer, session: TestSession) {
  const trash = await call(t.app, 'GET', '/api/v1/trash', { session });
  assert.equal(trash.statusCode, 200, trash.body);
  return {
    tree: await listAll(t.app, session),
    trash: (trash.json() as { items: ApiEntry[] }).items,
    objects: await objectFiles(t.dir),
    temp: (await tempFiles(t.dir)).map((f) => f.path),
    rows: recordRows(t.dir),
  };
}

/**
 * One HTTP/1.1 exchange over a raw socket (for what inject() cannot do: Node's header limits,
 * aborted bodies). `request` is sent as is; the server's answer is read until it closes.
 */
export function rawRequest(port: number, request: string | Buffer, timeoutMs = 10_000): Promise<SimpleResponse> {
  return new Promise((resolve, reject) => {
    const sock = connect(port, HOST);
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('raw request timed out'));
    }, timeoutMs);
    sock.on('data', (d: Buffer) => chunks.push(d));
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.on('close', () => {
      clearTimeout(timer);
      try {
        resolve(parseResponse(Buffer.concat(chunks)));
      } catch (err) {
        reject(err);
      }
    });
    sock.end(request);
  });
}

/** Parses one HTTP/1.1 response (Content-Length or chunked body). */
export function parseResponse(raw: Buffer): SimpleResponse {
  const split = raw.indexOf('\r\n\r\n');
  if (split < 0) throw new Error(`no HTTP response: ${JSON.stringify(raw.subarray(0, 200).toString('latin1'))}`);
  const [statusLine, ...lines] = raw.subarray(0, split).toString('latin1').split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine!)?.[1]);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const i = line.indexOf(':');
    headers[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
  }
  let body = raw.subarray(split + 4);
  if (/chunked/i.test(headers['transfer-encoding'] ?? '')) {
    const parts: Buffer[] = [];
    let pos = 0;
    for (;;) {
      const eol = body.indexOf('\r\n', pos);
      const size = parseInt(body.subarray(pos, eol).toString('latin1'), 16);
      if (!(size > 0)) break;
      parts.push(body.subarray(eol + 2, eol + 2 + size));
      pos = eol + 2 + size + 2;
    }
    body = Buffer.concat(parts);
  } else if (headers['content-length'] !== undefined) {
    body = body.subarray(0, Number(headers['content-length']));
  }
  return { status, headers, body: body.toString('utf8') };
}

/** A random id of the right shape that names nothing. */
export function unknownId(): string {
  return Array.from({ length: 32 }, () => '0123456789abcdef'[Math.floor(Math.random() * 16)]).join('');
}

/** Polls `check` until it returns true or `ms` pass; returns whether it did. */
export async function eventually(check: () => boolean | Promise<boolean>, ms = 3000, every = 25): Promise<boolean> {
  const until = Date.now() + ms;
  for (;;) {
    if (await check()) return true;
    if (Date.now() > until) return false;
    await new Promise((r) => setTimeout(r, every));
  }
}
