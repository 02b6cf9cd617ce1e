import type { FastifyInstance } from 'fastify';
import { ElohimError } from '../../errors.ts';
import type { Keyring } from '../../keyring/index.ts';
import type { SessionStore } from '../sessions.ts';

import { API, CSRF_HEADER, SHRED_PHRASE } from '../protocol.ts';
import { sameToken } from '../sessions.ts';

/**
 * Panic: locks every vault at once and drops their keys. It needs no session (so a script or
 * `elohim panic` can fire it), only the CSRF header, so no web page can. Shredding the key
 * slots also needs a session and the typed phrase.
 */
export async function panicRoutes(app: FastifyInstance, opts: { keyring: Keyring; sessions: SessionStore }): Promise<void> {
  app.post(API.panic, {
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
        // Panic is public (any CSRF value locks), so the hook does not compare the token; shred
        // destroys everything and is a write like any other: the session's own token only.
        const csrf = req.headers[CSRF_HEADER];
        if (typeof csrf !== 'string' || !sameToken(csrf, req.auth.session.csrf)) {
          throw new ElohimError('CSRF_REJECTED', `the ${CSRF_HEADER} header does not match the session`);
        }
        if (body.confirm !== SHRED_PHRASE) throw new ElohimError('INVALID_INPUT', `type "${SHRED_PHRASE}" in confirm to shred`);
      }
      const locked = opts.sessions.lockAll('panic');
      if (body.shred) await opts.keyring.shred();
      return { locked, shredded: body.shred === true };
    },
  });
}
