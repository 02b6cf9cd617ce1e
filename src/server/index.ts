export { createServer } from './server.ts';
export type { ServerOptions } from './server.ts';
export { HTTP_STATUS_OF } from './http-errors.ts';
export { CSRF_HEADER, SESSION_COOKIE, SHRED_PHRASE } from './protocol.ts';
