/**
 * The cloud backup's HTTP face (src/backup through `workspace.backup`). Targets are named by
 * the user (`:id` is the name); their credentials go in once, in a POST body, and never come
 * back out. Long operations (run, restore) answer as Server-Sent Events: `progress` events
 * (files, bytes, rate, time left), then `done` with the result or `error` ({ code, message }).
 *
 * `POST /backup/restore` is the first-run "Restore from a backup": public like setup, and
 * refused once the data folder holds a vault.
 */
import { resolve } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { App } from '../../app.ts';
import { buildTarget, parseTarget, progressMeter, recordFreshRestore } from '../../backup/index.ts';
import type { JobProgress, RetentionPolicy, TargetInput } from '../../backup/index.ts';
import { createApp } from '../../app.ts';
import { ElohimError, toElohimError } from '../../errors.ts';
import { authOf, securityHeaders } from '../auth.ts';
import { API, SESSION_COOKIE } from '../protocol.ts';
import type { SessionStore } from '../sessions.ts';
import { requestSignal } from './request-signal.ts';

const name = { type: 'string', pattern: '^[a-z0-9][a-z0-9_-]{0,31}$' } as const;
const params = { type: 'object', required: ['id'], properties: { id: name } } as const;
const count = { type: 'integer', minimum: 0, maximum: 100000 } as const;
const policy = { type: 'object', additionalProperties: false, properties: { last: count, daily: count, weekly: count, monthly: count } } as const;
const short = (max: number) => ({ type: 'string', minLength: 1, maxLength: max }) as const;
const targetInput = {
  type: 'object',
  additionalProperties: false,
  required: ['address'],
  properties: {
    address: short(4096),
    endpoint: short(2048),
    region: short(64),
    pathStyle: { type: 'boolean' },
    accessKeyId: short(256),
    secretAccessKey: short(1024),
    username: short(256),
    password: short(1024),
    rcloneConfig: short(65536),
  },
} as const;
const targetInfo = {
  type: 'object',
  properties: {
    name: { type: 'string' },
    kind: { type: 'string' },
    where: { type: 'string' },
    details: { type: 'object', additionalProperties: { type: ['string', 'boolean'] } },
    created: { type: 'integer' },
    retention: { type: ['object', 'null'], additionalProperties: { type: 'integer' } },
    lastBackup: { type: ['object', 'null'], additionalProperties: true },
    lastProof: { type: ['object', 'null'], additionalProperties: true },
  },
} as const;
const sse = { description: 'text/event-stream: progress events, then done or error', type: 'string' } as const;

/** Answers with Server-Sent Events while `run` works; progress at most ~10 a second. */
async function events<T>(req: FastifyRequest, reply: FastifyReply, signal: AbortSignal, run: (onProgress: (p: JobProgress) => void, signal: AbortSignal) => Promise<T>): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive' });
  const send = (event: string, data: unknown) => res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  let last = 0;
  try {
    const result = await run((p) => {
      const now = Date.now();
      if (now - last >= 100 || p.files.done === p.files.total) {
        last = now;
        send('progress', p);
      }
    }, signal);
    send('done', result);
  } catch (err) {
    const e = toElohimError(err);
    req.log.info({ code: e.code }, 'backup operation failed');
    send('error', { code: e.code, message: e.message });
  }
  res.end();
}

/** A signal that aborts when the client leaves (for routes without a workspace). */
function clientSignal(reply: FastifyReply): AbortSignal {
  const gone = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) gone.abort(new DOMException('the client closed the connection', 'AbortError'));
  });
  return gone.signal;
}

export async function backupRoutes(app: FastifyInstance, opts: { app: App; sessions: SessionStore }): Promise<void> {
  const backupOf = (req: FastifyRequest) => authOf(req).workspace.backup;
  /**
   * Runs a long operation (a backup, a restore) as activity of its session: auto-lock must not
   * stop "Back up now" while the user waits for it, and a pack can take longer to upload than the
   * auto-lock period. Lock and panic still stop it (the workspace's signal).
   */
  const busy = async (req: FastifyRequest, fn: () => Promise<void>): Promise<void> => {
    const touch = () => void opts.sessions.use(req.cookies[SESSION_COOKIE]);
    // Often, so a busy event loop (hashing, s3rver in tests) cannot let the idle sweep slip in.
    const alive = setInterval(touch, 100);
    try {
      await fn();
    } finally {
      clearInterval(alive);
    }
  };
  /** One first-run restore at a time: two would write the same new folder. */
  let freshRestore = false;
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get(API.backupTargets, {
    schema: { response: { 200: { type: 'object', properties: { targets: { type: 'array', items: targetInfo } } } } },
    handler: async (req) => ({ targets: backupOf(req).listTargets() }),
  });

  app.post(API.backupTargets, {
    schema: { body: { type: 'object', additionalProperties: false, required: ['name', 'target'], properties: { name, target: targetInput } }, response: { 201: targetInfo } },
    handler: async (req, reply) => {
      const body = req.body as { name: string; target: TargetInput };
      return reply.code(201).send(backupOf(req).addTarget(body.name, body.target));
    },
  });

  app.delete(API.backupTarget, {
    schema: { params },
    handler: async (req, reply) => {
      backupOf(req).removeTarget(id(req));
      return reply.code(204).send();
    },
  });

  app.post(API.backupTest, {
    schema: { params, response: { 200: { type: 'object', properties: { repository: { type: 'string', enum: ['none', 'this-folder', 'another-folder'] } } } } },
    handler: async (req, reply) => backupOf(req).testTarget(id(req), { signal: requestSignal(req, reply) }),
  });

  app.put(API.backupRetention, {
    schema: { params, body: { type: 'object', additionalProperties: false, required: ['policy'], properties: { policy: { oneOf: [policy, { type: 'null' }] } } }, response: { 200: targetInfo } },
    handler: async (req) => backupOf(req).setRetention(id(req), (req.body as { policy: RetentionPolicy | null }).policy),
  });

  app.post(API.backupRun, {
    schema: { params, response: { 200: sse } },
    handler: async (req, reply) => {
      const backup = backupOf(req);
      const name = id(req);
      await busy(req, () => events(req, reply, requestSignal(req, reply), (onProgress, signal) => backup.run(name, { signal, onProgress })));
    },
  });

  app.get(API.backupSnapshots, {
    schema: { params },
    handler: async (req, reply) => ({ snapshots: await backupOf(req).snapshots(id(req), { signal: requestSignal(req, reply) }) }),
  });

  app.post(API.backupVerify, {
    schema: { params, body: { type: 'object', additionalProperties: false, properties: { readData: { type: 'boolean' } } } },
    handler: async (req, reply) => backupOf(req).verify(id(req), { readData: (req.body as { readData?: boolean } | undefined)?.readData === true, signal: requestSignal(req, reply) }),
  });

  app.post(API.backupProve, {
    schema: { params },
    handler: async (req, reply) => backupOf(req).prove(id(req), { signal: requestSignal(req, reply) }),
  });

  app.post(API.backupForget, {
    schema: { params, body: { type: 'object', additionalProperties: false, properties: { policy } } },
    handler: async (req, reply) => backupOf(req).forget(id(req), (req.body as { policy?: RetentionPolicy } | undefined)?.policy, { signal: requestSignal(req, reply) }),
  });

  app.post(API.backupPrune, {
    schema: { params },
    handler: async (req, reply) => backupOf(req).prune(id(req), { signal: requestSignal(req, reply) }),
  });

  // Restore beside this data folder: a new, empty folder on this device that then opens as this one does.
  app.post(API.backupRestoreBeside, {
    schema: {
      params,
      body: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: short(4096), snapshot: short(64) } },
      response: { 200: sse },
    },
    handler: async (req, reply) => {
      const body = req.body as { path: string; snapshot?: string };
      if (!body.path.startsWith('/') || body.path.includes('\0')) throw new ElohimError('INVALID_INPUT', 'the new data folder is an absolute path');
      const home = resolve(body.path);
      if (home === opts.app.paths.dir) throw new ElohimError('INVALID_INPUT', 'restore into a new folder, not this one');
      const backup = backupOf(req);
      const name = id(req);
      await busy(req, () => events(req, reply, requestSignal(req, reply), async (onProgress, signal) => {
        const fresh = createApp({ home });
        try {
          const summary = await backup.restore(name, (target, unlock, o) => fresh.restoreFromBackup({ target, unlock, ...o }), { snapshot: body.snapshot, signal, onProgress });
          return { ...summary, home };
        } finally {
          fresh.close();
        }
      }));
    },
  });

  // First run: this data folder from a backup, with a passphrase or recovery code of any vault in it.
  app.post(API.backupRestoreFresh, {
    config: { public: true },
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['target'],
        properties: { target: targetInput, passphrase: short(1024), recoveryCode: short(64), snapshot: short(64) },
      },
      response: { 200: sse },
    },
    handler: async (req, reply) => {
      const body = req.body as { target: TargetInput; passphrase?: string; recoveryCode?: string; snapshot?: string };
      if ((body.passphrase === undefined) === (body.recoveryCode === undefined)) throw new ElohimError('INVALID_INPUT', 'give the passphrase or a recovery code');
      if (opts.app.keyring.isInitialized()) throw new ElohimError('VAULT_ALREADY_INITIALIZED', 'this data folder already holds a vault');
      if (freshRestore) throw new ElohimError('VAULT_BUSY', 'a restore into this data folder is running (another tab?)');
      // Taken before the first await, so a second request cannot pass the check meanwhile.
      freshRestore = true;
      try {
        const spec = parseTarget(body.target);
        const target = await buildTarget(spec);
        const secret = body.passphrase !== undefined ? { passphrase: body.passphrase } : { recoveryCode: body.recoveryCode! };
        await events(req, reply, clientSignal(reply), async (onProgress, signal) => {
          const tick = progressMeter('restore', 'backup', Date.now, onProgress);
          const summary = await opts.app.restoreFromBackup({
            target,
            secret,
            snapshot: body.snapshot,
            signal,
            onProgress: (p) => tick({ done: p.objectsDone, total: p.objectsTotal }, { done: p.bytesDone, total: p.bytesTotal }),
          });
          await opts.app.maintain();
          await recordFreshRestore(opts.app.workspaces, secret, summary, spec.kind);
          return summary;
        });
      } finally {
        freshRestore = false;
      }
    },
  });
}
