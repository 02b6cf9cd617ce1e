/**
 * Names shared by the server and its clients (the CLI's `panic`, later the web UI), in a module
 * without Fastify so that a client does not load the server to know them.
 */
export const SESSION_COOKIE = 'elohim_session';
export const CSRF_HEADER = 'x-elohim-csrf';
/** The phrase a person must type to crypto-shred; long enough that no stray click sends it. */
export const SHRED_PHRASE = 'DESTROY ALL DATA';
