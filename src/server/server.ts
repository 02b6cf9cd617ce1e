import { randomInt } from 'node:crypto';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import fastifyCookie from '@fastify/cookie';
import fastifySwagger from '@fastify/swagger';
import { fileURLToPath } from 'node:url';
import Fastify from 'fastify';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { ElohimError } from '../errors.ts';
import { SECURITY_HEADERS } from './auth.ts';
import type { RequestAuth } from './auth.ts';
import type { App } from '../app.ts';
import { errorBody, errorHandler, notFoundHandler, statusLine } from './http-errors.ts';
import { createUnlockLimiter } from './rate-limit.ts';
import { addSharedSchemas } from './schemas.ts';
import { fileRoutes } from './routes/files.ts';
import { itemRoutes } from './routes/items.ts';
import { panicRoutes } from './routes/panic.ts';
import { settingsRoutes } from './routes/settings.ts';
import { decoyRoutes } from './routes/decoy.ts';
import { uploadRoutes } from './routes/uploads.ts';
import { eventRoutes } from './routes/events.ts';
import { auditRoutes } from './routes/audit.ts';
import { webRoutes } from './routes/web.ts';
import { modelRoutes } from './routes/models.ts';
import { sessionRoutes } from './routes/session.ts';
import { assistantRoutes } from './routes/assistant.ts';
import { backupRoutes } from './routes/backup.ts';
import { meshRoutes } from './routes/mesh.ts';
import { meshSyncRoutes } from './routes/mesh-sync.ts';
import { createSessionStore, sameToken } from './sessions.ts';
import type { SessionStore } from './sessions.ts';

import { CSRF_HEADER, SESSION_COOKIE } from './protocol.ts';

/** Bounds of the random wait between two maintenance passes. */
const MAINTENANCE_MIN_MS = 2 * 60_000;
const MAINTENANCE_MAX_MS = 10 * 60_000;
/** Largest JSON body: every JSON request here is small; uploads are raw and streamed. */
const JSON_BODY_LIMIT = 64 * 1024;

export interface ServerOptions {
  /** the composition root: keyring, settings and the registry of open workspaces */
  app: App;
  version: string;
  clock?: () => number;
  /** idle time after which an unlocked vault locks itself (ms); default: the autoLockMinutes setting */
  autoLockMs?: number;
  /** host names (besides loopback ones) that requests may address, e.g. the --host given */
  extraHosts?: string[];
  /** folder of the web UI build; default web/dist of this checkout (served only if it has an index.html) */
  webRoot?: string;
  /** pino log level, or false for no log */
  logLevel?: string | false;
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
const LOOPBACK_NAMES = new Set(['127.0.0.1', 'localhost', '[::1]', '::1']);

/**
 * Builds the HTTP server: the JSON API under /api/v1 with sessions, CSRF and origin checks,
 * security headers and one error format. Does not listen; the caller does.
 */
export async function createServer(
  opts: ServerOptions,
): Promise<{ app: FastifyInstance; sessions: SessionStore; hasWebUi: boolean; stop(): Promise<void> }> {
  const clock = opts.clock ?? Date.now;
  const { settings, keyring, workspaces } = opts.app;
  const app = Fastify({
    logger:
      opts.logLevel === false || opts.logLevel === undefined
        ? false
        : {
            level: opts.logLevel,
            // Routes, never URLs: a URL can carry a file name in its query string.
            serializers: {
              req: (req: FastifyRequest) => ({ method: req.method, route: req.routeOptions?.url ?? 'unknown' }),
              res: (res: { statusCode: number }) => ({ statusCode: res.statusCode }),
            },
          },
    bodyLimit: JSON_BODY_LIMIT,
    // Exact types and no silent stripping: `{ "name": 123 }` or an unknown property is a 400,
    // not a folder named "123" (Fastify's defaults coerce and remove).
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false } },
    // Errors Fastify meets before routing (a malformed URL, an over-long id) get our format too.
    frameworkErrors: (err, req, reply) => {
      for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
      errorHandler(err, req, reply);
    },
    // Errors Node's HTTP parser meets (headers too large, garbage) never reach Fastify.
    clientErrorHandler: (err, socket) => {
      if (!socket.writable) return;
      const tooLarge = (err as NodeJS.ErrnoException).code === 'HPE_HEADER_OVERFLOW';
      const code = tooLarge ? 'HEADERS_TOO_LARGE' : 'INVALID_INPUT';
      const body = JSON.stringify(errorBody(code, tooLarge ? undefined : 'the request is not valid HTTP'));
      socket.end(
        `HTTP/1.1 ${statusLine(code)}\r\n` +
          'content-type: application/json; charset=utf-8\r\ncache-control: no-store\r\nx-content-type-options: nosniff\r\n' +
          `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
      );
    },
    routerOptions: { maxParamLength: 200 },
    // Header sizes and counts are bounded by Node's HTTP parser (16 KiB by default).
    return503OnClosing: true,
    // On close, idle keep-alive connections go at once; requests in flight may finish.
    forceCloseConnections: 'idle',
  });
  const sessions = createSessionStore({ clock, workspaces });
  const limiter = createUnlockLimiter({ clock });
  const allowedHosts = new Set([...LOOPBACK_NAMES, ...(opts.extraHosts ?? [])]);

  app.decorateRequest('auth', null);
  addSharedSchemas(app);
  app.setErrorHandler(errorHandler);
  app.setNotFoundHandler(notFoundHandler);
  await app.register(fastifyCookie);
  await app.register(fastifySwagger, {
    openapi: {
      info: { title: 'ElohimOS local API', version: opts.version },
      components: {
        securitySchemes: {
          session: { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE },
          csrf: { type: 'apiKey', in: 'header', name: CSRF_HEADER },
        },
      },
    },
  });

  app.addHook('onRequest', async (req) => {
    // DNS rebinding: a page on another site whose name resolves to 127.0.0.1 would still send
    // its own name as Host. Only the names this server answers to are accepted.
    const host = hostName(req.headers.host);
    if (host === null || !allowedHosts.has(host)) throw new ElohimError('CSRF_REJECTED', 'this server does not answer to that host name');
    // Only requests that need the vault count as activity for auto-lock.
    const auth = sessions.use(req.cookies[SESSION_COOKIE], req.routeOptions.config.public !== true && req.routeOptions.config.passive !== true);
    req.auth = auth === null ? null : { session: auth.session, workspace: auth.workspace };
    if (!SAFE_METHODS.has(req.method)) {
      // A browser always sends Origin on cross-origin writes; it must be this server. The
      // custom header cannot be sent cross-origin without a CORS preflight, which we never
      // grant; with a session it must also equal the session's token.
      const origin = req.headers.origin;
      if (origin !== undefined && origin !== `http://${req.headers.host}`) throw new ElohimError('CSRF_REJECTED', 'cross-origin request refused');
      const csrf = req.headers[CSRF_HEADER];
      if (typeof csrf !== 'string' || csrf.length === 0) throw new ElohimError('CSRF_REJECTED', `send the ${CSRF_HEADER} header`);
      if (req.auth !== null && !req.routeOptions.config.public && !sameToken(csrf, req.auth.session.csrf)) {
        throw new ElohimError('CSRF_REJECTED', `the ${CSRF_HEADER} header does not match the session`);
      }
    }
    if (!req.routeOptions.config.public && req.auth === null && req.routeOptions.url !== undefined) {
      throw new ElohimError('SESSION_REQUIRED');
    }
  });

  app.addHook('onSend', async (req, reply) => {
    for (const [name, value] of Object.entries(SECURITY_HEADERS)) reply.header(name, value);
    if (req.url.startsWith('/api/')) reply.header('cache-control', 'no-store');
  });

  app.get('/api/v1/health', {
    config: { public: true },
    schema: {
      response: {
        200: {
          type: 'object',
          properties: { ok: { type: 'boolean' }, version: { type: 'string' }, locked: { type: 'boolean' }, initialized: { type: 'boolean' } },
          required: ['ok', 'version', 'locked', 'initialized'],
        },
      },
    },
    handler: async () => ({ ok: true, version: opts.version, locked: !sessions.anyOpen(), initialized: keyring.isInitialized() }),
  });

  app.get('/api/v1/openapi.json', { config: { public: true }, schema: { hide: true } }, async () => app.swagger());

  await app.register(sessionRoutes, { app: opts.app, sessions, limiter });
  await app.register(itemRoutes);
  await app.register(decoyRoutes);
  await app.register(fileRoutes);
  await app.register(uploadRoutes);
  await app.register(eventRoutes);
  await app.register(auditRoutes);
  await app.register(meshRoutes);
  await app.register(meshSyncRoutes);
  await app.register(assistantRoutes);
  await app.register(modelRoutes, { models: opts.app.models, embedded: opts.app.embedded });
  await app.register(backupRoutes, { app: opts.app, sessions });
  const webRoot = opts.webRoot ?? fileURLToPath(new URL('../../web/dist', import.meta.url));
  const hasWebUi = existsSync(join(webRoot, 'index.html'));
  await app.register(webRoutes, { root: webRoot });
  await app.register(panicRoutes, { keyring, sessions });
  await app.register(settingsRoutes, {
    settings,
    keyring,
    dataFolder: opts.app.paths.dir,
    onChange: (changed, auth) => (auth as RequestAuth).workspace.audit.append('settings-change', { setting: changed.join(',') }),
  });

  // The idle limit is read on every sweep, so a settings change applies at once.
  const idleLimit = async () => opts.autoLockMs ?? (await settings.read()).autoLockMinutes * 60_000;
  const sweepEvery = opts.autoLockMs === undefined ? 10_000 : Math.max(100, opts.autoLockMs / 4);
  const sweeper = setInterval(() => {
    idleLimit().then((ms) => sessions.lockIdle(ms), (err: unknown) => app.log.error({ err: String(err) }, 'auto-lock sweep failed'));
  }, sweepEvery);
  sweeper.unref();

  // Maintenance (cover/) every few minutes, locked or not, at random intervals so that its times
  // follow no pattern a vault's own writes could be told apart from; and once more at stop.
  let maintenance: NodeJS.Timeout | undefined;
  const scheduleMaintenance = () => {
    maintenance = setTimeout(() => {
      opts.app.maintain({ chaff: true }).then(scheduleMaintenance, (err: unknown) => {
        app.log.error({ code: (err as { code?: string }).code ?? 'INTERNAL' }, 'maintenance failed');
        scheduleMaintenance();
      });
    }, MAINTENANCE_MIN_MS + randomInt(MAINTENANCE_MAX_MS - MAINTENANCE_MIN_MS));
    maintenance.unref();
  };
  scheduleMaintenance();

  return {
    app,
    sessions,
    /** whether a web UI build is served at / */
    hasWebUi,
    /**
     * Graceful stop: new requests get 503, requests in flight get `graceMs` to finish (an
     * interrupted tus upload resumes later; an interrupted plain upload leaves nothing), then
     * every vault locks.
     */
    async stop(graceMs = 10_000) {
      clearInterval(sweeper);
      clearTimeout(maintenance);
      // Not unref'd: while app.close() waits on a connection whose socket has gone quiet, this
      // timer is what keeps the process alive until it ends that connection (otherwise Node
      // exits with 13, "unsettled top-level await", the lock file left behind).
      const force = setTimeout(() => app.server.closeAllConnections(), graceMs);
      await app.close();
      clearTimeout(force);
      sessions.lockAll('lock');
      await opts.app.maintain().catch((err: unknown) => app.log.error({ code: (err as { code?: string }).code ?? 'INTERNAL' }, 'maintenance failed'));
    },
  };
}

/** The host name of a Host header ("127.0.0.1:7788" → "127.0.0.1", "[::1]:80" → "[::1]"). */
function hostName(header: string | undefined): string | null {
  if (header === undefined || header.length === 0 || header.length > 300) return null;
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+)(?::\d{1,5})?$/.exec(header);
  return m ? m[1]!.toLowerCase() : null;
}
