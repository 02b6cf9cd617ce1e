/**
 * Shared folders over MagnetarMesh for the session's vault: shares, their names and members, sync
 * (progress as Server-Sent Events), conflicts and their resolution, bundles to and from a file
 * on this device, and the audit witness. A decoy session sees its own shares only.
 */
import { isAbsolute } from 'node:path';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { ElohimError, toElohimError } from '../../errors.ts';
import type { ShareService } from '../../mesh/shares/index.ts';
import { authOf, securityHeaders } from '../auth.ts';
import { API } from '../protocol.ts';
import { requestSignal } from './request-signal.ts';

const SHARE_ID = '^[0-9a-f]{6,32}$';
const DEVICE = { type: 'string', minLength: 1, maxLength: 100 } as const;
const HOST_PATH = { type: 'string', minLength: 2, maxLength: 4096 } as const;

const share = {
  type: 'object',
  properties: {
    id: { type: 'string' },
    name: { type: 'string' },
    folder: { type: 'string' },
    role: { type: 'string', enum: ['owner', 'rw', 'ro'] },
    epoch: { type: 'integer' },
    members: { type: 'array', items: { type: 'object', properties: { deviceId: { type: 'string' }, name: { type: 'string' }, role: { type: 'string' } } } },
    files: { type: 'integer' },
    conflicts: { type: 'integer' },
    pending: { type: 'integer' },
    paused: { type: 'boolean', description: "its folder is in this vault's trash: nothing is scanned or shown here until it is restored" },
    removed: { type: 'boolean', description: 'this device was removed from the share: it keeps what it had, and gets and sends nothing more' },
    left: { type: 'boolean', description: 'this device left the share (POST …/leave): it keeps what it had, and gets and sends nothing more; removed is then false' },
    leaveSeen: { type: 'boolean', description: 'it left, and the owner has taken it out of the share since' },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: SHARE_ID } } } as const;
const sse = { description: 'text/event-stream: progress, peer-done and peer-failed events, then done or error', type: 'string' } as const;

const hostPath = (p: string) => {
  if (!isAbsolute(p) || p.includes('\0')) throw new ElohimError('INVALID_INPUT', 'the file must be an absolute path on this device');
  return p;
};

export async function meshSyncRoutes(app: FastifyInstance): Promise<void> {
  const sharesOf = (req: FastifyRequest): ShareService => authOf(req).workspace.shares;
  const id = (req: FastifyRequest) => (req.params as { id: string }).id;

  app.get(API.meshShares, {
    schema: { response: { 200: { type: 'object', properties: { shares: { type: 'array', items: share } } } } },
    handler: async (req) => ({ shares: sharesOf(req).list() }),
  });

  app.post(API.meshShares, {
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['path', 'with'],
        properties: { path: { type: 'string', minLength: 1, maxLength: 4096 }, with: { type: 'array', minItems: 1, maxItems: 64, items: DEVICE }, readOnly: { type: 'boolean' } },
      },
      response: { 201: share },
    },
    handler: async (req, reply) => {
      const body = req.body as { path: string; with: string[]; readOnly?: boolean };
      const ws = authOf(req).workspace;
      await ws.mesh.start();
      return reply.code(201).send(await ws.shares.share(body.path, body.with, { readOnly: body.readOnly === true }));
    },
  });

  app.get(API.meshShare, {
    schema: { params: idParams, response: { 200: share } },
    handler: async (req) => sharesOf(req).get(id(req)),
  });

  app.post(API.meshShareRemove, {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, required: ['device'], properties: { device: DEVICE } }, response: { 200: share } },
    handler: async (req) => sharesOf(req).removeMember(id(req), (req.body as { device: string }).device),
  });

  // A member leaves a share (the owner takes it out at their next sync). An unknown share is
  // SHARE_NOT_FOUND (404); the owner's own share, or one this device was removed from, INVALID_INPUT (400).
  app.post(API.meshShareLeave, {
    schema: { summary: 'leave a share another device added this one to', params: idParams, response: { 200: share } },
    handler: async (req) => sharesOf(req).leave(id(req)),
  });

  // The owner renames a share; members take the new name at their next sync. A name the vault's
  // rule refuses is INVALID_NAME (400), a member that is not the owner SHARE_READ_ONLY.
  app.post(API.meshShareRename, {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, required: ['name'], properties: { name: { type: 'string', minLength: 1, maxLength: 1024 } } }, response: { 200: share } },
    handler: async (req) => sharesOf(req).rename(id(req), (req.body as { name: string }).name),
  });

  app.get(API.meshShareConflicts, {
    schema: {
      params: idParams,
      response: {
        200: {
          type: 'object',
          properties: {
            conflicts: {
              type: 'array',
              items: {
                type: 'object',
                properties: {
                  entry: { type: 'string' },
                  versions: {
                    type: 'array',
                    items: { type: 'object', properties: { version: { type: 'string' }, device: { type: 'string' }, mine: { type: 'boolean' }, path: { type: 'string' }, at: { type: 'number' }, size: { type: 'integer' }, sha256: { type: 'string' } } },
                  },
                },
              },
            },
          },
        },
      },
    },
    handler: async (req) => ({ conflicts: sharesOf(req).conflicts(id(req)) }),
  });

  app.post(API.meshShareResolve, {
    schema: {
      params: idParams,
      body: { type: 'object', additionalProperties: false, required: ['entry', 'choice'], properties: { entry: { type: 'string', pattern: '^[0-9a-f]{32}$' }, choice: { type: 'string', enum: ['both', 'mine', 'theirs'] } } },
      response: { 200: share },
    },
    handler: async (req) => {
      const body = req.body as { entry: string; choice: 'both' | 'mine' | 'theirs' };
      return sharesOf(req).resolve(id(req), body.entry, body.choice);
    },
  });

  app.post(API.meshSync, {
    schema: { body: { type: 'object', additionalProperties: false, nullable: true, properties: { device: DEVICE } }, produces: ['text/event-stream'], response: { 200: sse } },
    handler: async (req, reply) => {
      const ws = authOf(req).workspace;
      await ws.mesh.start(); // MESH_OFF answers as JSON, before the stream opens
      const only = (req.body as { device?: string } | null)?.device;
      await events(req, reply, (send) => {
        const stop = ws.shares.subscribe((e) => {
          if (e.type !== 'done') send(e.type, e);
        });
        return ws.shares.sync({ only, signal: requestSignal(req, reply) }).finally(stop);
      });
    },
  });

  app.post(API.meshBundleExport, {
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['to', 'path'], properties: { to: DEVICE, path: HOST_PATH } },
      response: { 200: { type: 'object', properties: { versions: { type: 'integer' }, objects: { type: 'integer' }, bytes: { type: 'integer' } } } },
    },
    handler: async (req, reply) => {
      const body = req.body as { to: string; path: string };
      return sharesOf(req).exportBundle(body.to, hostPath(body.path), { signal: requestSignal(req, reply) });
    },
  });

  app.post(API.meshBundleImport, {
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['path'], properties: { path: HOST_PATH } },
      response: { 200: { type: 'object', properties: { from: { type: 'string' }, versions: { type: 'integer' }, objects: { type: 'integer' }, changed: { type: 'integer' }, pending: { type: 'integer' } } } },
    },
    handler: async (req, reply) => sharesOf(req).importBundle(hostPath((req.body as { path: string }).path), { signal: requestSignal(req, reply) }),
  });

  app.get(API.meshWitness, {
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            ok: { type: 'boolean' },
            problem: { type: 'string' },
            latest: { type: ['object', 'null'], properties: { peer: { type: 'string' }, name: { type: 'string' }, seq: { type: 'integer' }, hash: { type: 'string' }, at: { type: 'number' } } },
          },
        },
      },
    },
    handler: async (req) => sharesOf(req).witnessCheck(),
  });
}

/** Answers with Server-Sent Events while `run` works, then `done` with its result or `error`. */
async function events(req: FastifyRequest, reply: FastifyReply, run: (send: (event: string, data: unknown) => void) => Promise<unknown>): Promise<void> {
  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { ...securityHeaders(), 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', connection: 'keep-alive', 'x-accel-buffering': 'no' });
  let last = 0;
  const send = (event: string, data: unknown) => {
    const now = Date.now();
    if (event === 'progress' && now - last < 100) return; // ~10 a second at most
    last = now;
    if (!res.destroyed) res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };
  try {
    const result = await run(send);
    if (!res.destroyed) res.write(`event: done\ndata: ${JSON.stringify(result)}\n\n`);
  } catch (err) {
    const e = toElohimError(err);
    req.log.info({ code: e.code }, 'mesh sync failed');
    if (!res.destroyed) res.write(`event: error\ndata: ${JSON.stringify({ code: e.code, message: e.message })}\n\n`);
  }
  res.end();
}
