import type { FastifyInstance } from 'fastify';
import { ElohimError, isElohimError } from '../../errors.ts';
import type { App } from '../../app.ts';
import type { UnlockSecret } from '../../keyring/index.ts';
import type { createUnlockLimiter } from '../rate-limit.ts';
import { authOf } from '../auth.ts';
import { SESSION_COOKIE } from '../protocol.ts';
import { parseSize } from '../../store/index.ts';
import type { SessionStore } from '../sessions.ts';

const secret = { type: 'string', minLength: 1, maxLength: 1024 } as const;
const cookieOptions = { httpOnly: true, sameSite: 'strict', path: '/' } as const;

/** First-run setup, unlock (creates a session) and lock. */
export async function sessionRoutes(
  app: FastifyInstance,
  opts: { app: App; sessions: SessionStore; limiter: ReturnType<typeof createUnlockLimiter> },
): Promise<void> {
  const { app: elohim, sessions, limiter } = opts;
  const { keyring } = elohim;

  app.post('/api/v1/setup', {
    config: { public: true },
    schema: {
      body: {
        type: 'object',
        additionalProperties: false,
        required: ['passphrase'],
        // reserve: a deniable store of this size (src/store), in `elohim init --reserve`'s syntax
        properties: { passphrase: secret, decoyPassphrase: secret, reserve: { type: 'string', minLength: 1, maxLength: 32 } },
      },
    },
    handler: async (req, reply) => {
      const body = req.body as { passphrase: string; decoyPassphrase?: string; reserve?: string };
      const reserve = body.reserve === undefined ? undefined : parseSize(body.reserve);
      const result = await elohim.init({ passphrase: body.passphrase, decoyPassphrase: body.decoyPassphrase, reserve });
      return reply.code(201).send(result.decoyRecoveryCodes === undefined ? { recoveryCodes: result.recoveryCodes } : result);
    },
  });

  app.post('/api/v1/session', {
    config: { public: true },
    schema: {
      body: {
        oneOf: [
          { type: 'object', additionalProperties: false, required: ['passphrase'], properties: { passphrase: secret } },
          { type: 'object', additionalProperties: false, required: ['recoveryCode'], properties: { recoveryCode: { type: 'string', minLength: 1, maxLength: 64 } } },
        ],
      },
    },
    handler: async (req, reply) => {
      const wait = Math.max(limiter.waitMs(req.ip), await keyring.unlockWaitMs());
      if (wait > 0) {
        reply.header('retry-after', String(Math.ceil(wait / 1000)));
        throw new ElohimError('VAULT_RATE_LIMITED', `too many failed attempts; try again in ${Math.ceil(wait / 1000)} s`);
      }
      let unlocked;
      try {
        unlocked = await elohim.workspaces.unlock(req.body as UnlockSecret, { noWait: true });
      } catch (err) {
        if (isElohimError(err, 'VAULT_WRONG_SECRET')) limiter.fail(req.ip);
        // Another client's failure may have started a delay since the check above.
        if (isElohimError(err, 'VAULT_RATE_LIMITED')) reply.header('retry-after', String(Math.max(1, Math.ceil((await keyring.unlockWaitMs()) / 1000))));
        throw err;
      }
      limiter.succeed(req.ip);
      const { token, session } = sessions.create(unlocked.workspace);
      reply.setCookie(SESSION_COOKIE, token, cookieOptions);
      return reply.code(201).send({ csrfToken: session.csrf, viaRecoveryCode: unlocked.viaRecoveryCode });
    },
  });

  app.get('/api/v1/session', async (req) => ({ unlocked: true, csrfToken: authOf(req).session.csrf }));

  app.delete('/api/v1/session', async (req, reply) => {
    sessions.lock(authOf(req).session);
    reply.clearCookie(SESSION_COOKIE, cookieOptions);
    return reply.code(204).send();
  });
}
