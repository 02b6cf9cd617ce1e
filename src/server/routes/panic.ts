import type { FastifyInstance } from 'fastify';
import { ElohimError } from '../../errors.ts';
import type { Home } from '../../vault/index.ts';
import type { SessionStore } from '../sessions.ts';

import { SHRED_PHRASE } from '../protocol.ts';

/**
 * Panic: locks every vault at once and drops their keys. It needs no session (so a script or
 * `elohim panic` can fire it), only the CSRF header, so no web page can. Shredding the key
 * slots also needs a session and the typed phrase.
 */
export async function panicRoutes(app: FastifyInstance, opts: { home: Home; sessions: SessionStore }): Promise<void> {
  app.post('/api/v1/panic', {
    config: { public: true },
    schema: {
      body: {
        anyOf: [
          { type: 'null' },
          { type: 'object', additionalProperties: false, properties: { shred: { type: 'boolean' }, confirm: { type: 'string', maxLength: 100 } } },
        ],
      },
      response: { 200: { type: 'object', properties: { locked: { type: 'integer' }, shredded: { type: 'boolean' } } } },
    },
    handler: async (req) => {
      const body = (req.body ?? {}) as { shred?: boolean; confirm?: string };
      if (body.shred) {
        if (req.auth === null) throw new ElohimError('SESSION_REQUIRED', 'shredding needs an unlocked session');
        if (body.confirm !== SHRED_PHRASE) throw new ElohimError('INVALID_INPUT', `type "${SHRED_PHRASE}" in confirm to shred`);
      }
      const locked = opts.sessions.lockAll('panic');
      if (body.shred) await opts.home.shred();
      return { locked, shredded: body.shred === true };
    },
  });
}
