/**
 * What a route needs to know about who is asking, apart from the server that builds it: the
 * routes import this module, and server.ts imports the routes, so nothing imports server.ts back.
 */
import type { FastifyRequest } from 'fastify';
import { ElohimError } from '../errors.ts';
import type { Workspace } from '../workspace/index.ts';
import type { Session } from './sessions.ts';

/** What every authenticated route handler gets. */
export interface RequestAuth {
  session: Session;
  /** the open vault the session uses: its files, audit log and key operations */
  workspace: Workspace;
}

declare module 'fastify' {
  interface FastifyRequest {
    auth: RequestAuth | null;
  }
  interface FastifyContextConfig {
    /** reachable without a session */
    public?: boolean;
    /** a status poll (the Devices screen's): does not count as activity for auto-lock */
    passive?: boolean;
  }
}

/** The vault and session of an authenticated request. Throws SESSION_REQUIRED when there is none. */
export function authOf(req: FastifyRequest): RequestAuth {
  if (req.auth === null) throw new ElohimError('SESSION_REQUIRED');
  return req.auth;
}

export const SECURITY_HEADERS = {
  // The UI is served from this origin only, with no inline script and nothing from elsewhere.
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
  'x-content-type-options': 'nosniff',
  'x-frame-options': 'DENY',
  'referrer-policy': 'no-referrer',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
} as const;

/** The headers every response carries (for routes that write the raw response themselves). */
export function securityHeaders(): Record<string, string> {
  return { ...SECURITY_HEADERS };
}
