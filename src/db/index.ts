export { inTransaction, openDatabase } from './sqlite.ts';
export type { Database } from './sqlite.ts';
