export { AUDIT_RECORD_KINDS, auditHeadIdOf, auditKeys, auditKeysOf, createAuditLog, DEFAULT_AUDIT_RETENTION_DAYS } from './log.ts';
export type { AuditEntry, AuditLog, AuditQuery, AuditRecord, AuditRecordStore, AuditVerifyResult } from './api.ts';
export { AUDIT_EVENTS, DETAIL_LIMITS, isAuditEvent } from './events.ts';
export type { AuditDetails, AuditEvent } from './events.ts';
export { CHAIN_VERSION, GENESIS_HASH } from './chain.ts';
export type { ChainPointer as AuditPointer } from './chain.ts';
