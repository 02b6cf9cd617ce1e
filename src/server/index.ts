export { createServer, CSRF_HEADER, SESSION_COOKIE } from './server.ts';
export type { ServerOptions } from './server.ts';
export { HTTP_STATUS_OF } from './http-errors.ts';
export { SHRED_PHRASE } from './protocol.ts';
