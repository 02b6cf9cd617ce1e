/**
 * The database: one SQLite file for every vault, and the sealed-record store over its
 * `records` table through which each domain keeps its own record kinds.
 */
export { inTransaction, onRollback, openDatabase, setCommitHooks } from './sqlite.ts';
export type { CommitHooks, Database } from './sqlite.ts';
export { createRecordStore, isRecordId, newRecordId } from './records.ts';
export type { DamagedRecord, RecordId, RecordKeys, RecordKinds, RecordLoad, RecordStore, SealedRow, SealState } from './records.ts';
export { BODY_BUCKET, insertRawRows, SEALED_BODY_OVERHEAD } from './raw.ts';
export type { RawRow } from './raw.ts';
