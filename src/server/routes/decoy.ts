import type { FastifyInstance } from 'fastify';
import { authOf } from '../auth.ts';
import { API } from '../protocol.ts';

/**
 * The decoy vault this vault created, if any. A coerced session in a decoy sees its own answer
 * (usually "none"), exactly as a real vault without a decoy would.
 */
export async function decoyRoutes(app: FastifyInstance): Promise<void> {
  app.get(API.decoy, {
    schema: { response: { 200: { type: 'object', properties: { exists: { type: 'boolean' } } } } },
    handler: async (req) => ({ exists: authOf(req).workspace.hasDecoy() }),
  });

  app.delete(API.decoy, async (req, reply) => {
    await authOf(req).workspace.removeDecoy();
    return reply.code(204).send();
  });
}
