import type { FastifyInstance } from 'fastify';
import type { Mesh } from '../../mesh/index.ts';
import { authOf } from '../auth.ts';
import { API } from '../protocol.ts';

/**
 * MagnetarMesh for the session's vault: on/off and settings, this device's pairing code, pairing
 * with another's, paired devices (with their pool stats), nearby devices, verify, unpair and
 * revoke. A decoy session sees its own mesh only.
 */

const DEVICE_ID = '^12D3KooW[1-9A-HJ-NP-Za-km-z]{44}$';
const ADDR = { type: 'string', minLength: 4, maxLength: 200 } as const;

const poolStats = {
  type: 'object',
  properties: {
    open: { type: 'integer' },
    idle: { type: 'integer' },
    inUse: { type: 'integer' },
    opened: { type: 'integer' },
    acquires: { type: 'integer' },
    reuses: { type: 'integer' },
    reuseRatio: { type: 'number' },
    healthFailures: { type: 'integer' },
    waits: { type: 'integer' },
    latencyMs: { type: ['number', 'null'] },
  },
} as const;

const peer = {
  type: 'object',
  properties: {
    deviceId: { type: 'string' },
    name: { type: 'string' },
    recipients: { type: 'array', items: { type: 'string' } },
    pairedAt: { type: 'integer' },
    lastSeen: { type: ['integer', 'null'] },
    online: { type: 'boolean' },
    verified: { type: 'boolean' },
    safetyNumber: { type: 'string' },
    latencyMs: { type: ['number', 'null'] },
    pool: poolStats,
    addrs: { type: 'array', items: { type: 'string' } },
  },
} as const;

const status = {
  type: 'object',
  properties: {
    enabled: { type: 'boolean' },
    running: { type: 'boolean' },
    deviceId: { type: ['string', 'null'] },
    name: { type: ['string', 'null'] },
    addresses: { type: 'array', items: { type: 'string' } },
    settings: {
      type: 'object',
      properties: { listen: { type: 'array', items: { type: 'string' } }, mdns: { type: 'boolean' }, relay: { type: ['string', 'null'] } },
    },
    pairing: { type: 'object', properties: { open: { type: 'boolean' }, expires: { type: ['integer', 'null'] } } },
    gate: {
      type: 'object',
      properties: {
        refused: { type: 'integer' },
        recent: {
          type: 'array',
          items: { type: 'object', properties: { deviceId: { type: 'string' }, direction: { type: 'string' }, reason: { type: 'string' }, at: { type: 'integer' } } },
        },
      },
    },
    error: { type: ['string', 'null'] },
  },
} as const;

const settingsBody = {
  type: 'object',
  additionalProperties: false,
  properties: {
    name: { type: 'string', minLength: 1, maxLength: 48 },
    listen: { type: 'array', minItems: 1, maxItems: 8, items: ADDR },
    mdns: { type: 'boolean' },
    relay: { anyOf: [ADDR, { type: 'null' }] },
  },
} as const;

const idParams = { type: 'object', required: ['id'], properties: { id: { type: 'string', pattern: DEVICE_ID } } } as const;

type SettingsBody = { name?: string; listen?: string[]; mdns?: boolean; relay?: string | null };

export async function meshRoutes(app: FastifyInstance): Promise<void> {
  const meshOf = (req: Parameters<typeof authOf>[0]): Mesh => authOf(req).workspace.mesh;

  // The GETs are what the Devices screen polls: passive, or an open screen would keep the vault
  // from ever locking itself.
  app.get(API.mesh, {
    config: { passive: true },
    schema: { response: { 200: status } },
    handler: async (req) => meshOf(req).status(),
  });

  app.post(API.meshOn, {
    schema: { body: { ...settingsBody, nullable: true }, response: { 200: status } },
    handler: async (req) => {
      const mesh = meshOf(req);
      const body = (req.body ?? {}) as SettingsBody;
      // Settings first: a bad address changes nothing and leaves the mesh off.
      if (Object.keys(body).length > 0) await mesh.configure(body);
      await mesh.enable();
      return mesh.status();
    },
  });

  app.post(API.meshOff, {
    schema: { response: { 200: status } },
    handler: async (req) => {
      const mesh = meshOf(req);
      await mesh.disable();
      return mesh.status();
    },
  });

  app.patch(API.meshSettings, {
    schema: { body: settingsBody, response: { 200: status } },
    handler: async (req) => meshOf(req).configure(req.body as SettingsBody),
  });

  app.post(API.meshCode, {
    schema: {
      body: { type: 'object', additionalProperties: false, nullable: true, properties: { ttlSeconds: { type: 'integer', minimum: 1, maximum: 600 } } },
      response: { 200: { type: 'object', properties: { code: { type: 'string' }, expires: { type: 'integer' }, deviceId: { type: 'string' } } } },
    },
    handler: async (req) => {
      const ttl = (req.body as { ttlSeconds?: number } | null)?.ttlSeconds;
      return meshOf(req).createCode({ ttlMs: ttl === undefined ? undefined : ttl * 1000 });
    },
  });

  app.delete(API.meshCode, async (req, reply) => {
    meshOf(req).cancelCode();
    return reply.code(204).send();
  });

  app.post(API.meshPair, {
    schema: {
      body: { type: 'object', additionalProperties: false, required: ['code'], properties: { code: { type: 'string', minLength: 1, maxLength: 1200 } } },
      response: { 200: peer },
    },
    handler: async (req) => meshOf(req).pair((req.body as { code: string }).code, { signal: authOf(req).workspace.signal }),
  });

  app.get(API.meshPeers, {
    config: { passive: true },
    schema: { response: { 200: { type: 'object', properties: { peers: { type: 'array', items: peer } } } } },
    handler: async (req) => ({ peers: meshOf(req).peers() }),
  });

  app.get(API.meshNearby, {
    config: { passive: true },
    schema: {
      response: {
        200: {
          type: 'object',
          properties: {
            devices: {
              type: 'array',
              items: { type: 'object', properties: { deviceId: { type: 'string' }, addrs: { type: 'array', items: { type: 'string' } }, lastSeen: { type: 'integer' }, paired: { type: 'boolean' } } },
            },
          },
        },
      },
    },
    handler: async (req) => ({ devices: meshOf(req).nearby() }),
  });

  app.post(API.meshPeerVerify, {
    schema: { params: idParams, response: { 200: peer } },
    handler: async (req) => meshOf(req).verify((req.params as { id: string }).id),
  });

  app.post(API.meshPeerAddress, {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, required: ['addr'], properties: { addr: ADDR } } },
    handler: async (req, reply) => {
      await meshOf(req).addAddress((req.params as { id: string }).id, (req.body as { addr: string }).addr);
      return reply.code(204).send();
    },
  });

  app.post(API.meshPeerUnpair, {
    schema: { params: idParams, body: { type: 'object', additionalProperties: false, nullable: true, properties: { revoke: { type: 'boolean' } } } },
    handler: async (req, reply) => {
      await meshOf(req).unpair((req.params as { id: string }).id, { revoke: (req.body as { revoke?: boolean } | null)?.revoke === true });
      return reply.code(204).send();
    },
  });
}
