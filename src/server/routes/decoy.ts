import type { FastifyInstance } from 'fastify';
import { authOf } from '../server.ts';

/**
 * The decoy vault this vault created, if any. A coerced session in a decoy sees its own answer
 * (usually "none"), exactly as a real vault without a decoy would.
 */
export async function decoyRoutes(app: FastifyInstance): Promise<void> {
  app.get('/api/v1/decoy', {
    schema: { response: { 200: { type: 'object', properties: { exists: { type: 'boolean' } } } } },
    handler: async (req) => ({ exists: authOf(req).unlocked.hasCompanion() }),
  });

  app.delete('/api/v1/decoy', async (req, reply) => {
    await authOf(req).unlocked.removeCompanion();
    return reply.code(204).send();
  });
}
