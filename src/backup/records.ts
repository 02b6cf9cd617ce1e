/**
 * The backup's records and shapes shared by its service and faces: a target as sealed in the
 * vault (kind `target`, under the backup's own keys), as shown (never a credential), and the
 * progress of an operation.
 */
import { asSealKey } from '../crypto/index.ts';
import { createRecordStore } from '../db/index.ts';
import type { Database, RecordKeys, RecordStore } from '../db/index.ts';
import type { RetentionPolicy } from './retention.ts';
import type { TargetSpec } from './target-spec.ts';

/** The keys of the backup's own records, derived from the vault key with labels of its own. */
export function backupRecordKeys(derive: (label: string) => Buffer): RecordKeys {
  return { seal: asSealKey(derive('elohim/v1 backup record seal')), tag: derive('elohim/v1 backup record tag') };
}

export interface LastBackup {
  time: number;
  snapshot: string;
  files: number;
  filesUploaded: number;
  bytesUploaded: number;
}

/** "Last proven restore": when, which snapshot, how many objects were restored into memory and authenticated. */
export interface LastProof {
  time: number;
  snapshot: string | null;
  sampled: number;
  bytes: number;
  ok: boolean;
  failures: number;
}

/** A target as stored: sealed in the vault's records (kind `target`). */
export interface TargetRecord {
  t: 'target';
  v: 1;
  name: string;
  spec: TargetSpec;
  created: number;
  retention?: RetentionPolicy;
  lastBackup?: LastBackup;
  lastProof?: LastProof;
}

/**
 * The ids of the vault's targets, at one id derived from the store's keys (service.ts): listing
 * the targets reads it and each target's row, not the whole records table (every row's tag is
 * checked there: ~40-60 ms at 10,000 files, paid by every `elohim backup` command). A folder
 * without it (made before it) is read the full way until a commit writes it.
 */
export interface TargetListRecord {
  t: 'targets';
  v: 1;
  ids: string[];
}

export type BackupRecord = TargetRecord | TargetListRecord;

/**
 * Every record store the backup writes for one vault (its targets, with their credentials), for
 * the composition root to wipe with a decoy and repair with the vault's other stores.
 */
export function backupRecordStores(deps: { db: Database; derive: (label: string) => Buffer }): RecordStore<unknown>[] {
  return [createRecordStore<unknown>({ db: deps.db, keys: backupRecordKeys(deps.derive), kinds: BACKUP_RECORD_KINDS })];
}
export const BACKUP_RECORD_KINDS = { own: { target: 1, targets: 1 } } as const;

/** A target as the faces see it: never a credential. */
export interface TargetInfo {
  name: string;
  kind: TargetSpec['kind'];
  where: string;
  details: Record<string, string | boolean>;
  created: number;
  retention: RetentionPolicy | null;
  lastBackup: LastBackup | null;
  lastProof: LastProof | null;
}

/** Progress of the running operation, for a bar: files, bytes, rate and time left. */
export interface JobProgress {
  operation: 'backup' | 'proof' | 'restore';
  target: string;
  files: { done: number; total: number };
  bytes: { done: number; total: number };
  /** bytes per second since the operation started moving data */
  rate: number;
  /** seconds left at that rate; null until something moved */
  etaSeconds: number | null;
  elapsedMs: number;
}

/** Measures an operation's progress: the rate over the whole run and the time left at it. */
export function meter(operation: JobProgress['operation'], target: string, clock: () => number, emit?: (p: JobProgress) => void) {
  const started = clock();
  return (files: { done: number; total: number }, bytes: { done: number; total: number }) => {
    const elapsedMs = Math.max(1, clock() - started);
    const rate = Math.round((bytes.done / elapsedMs) * 1000);
    const etaSeconds = bytes.done > 0 && rate > 0 ? Math.ceil((bytes.total - bytes.done) / rate) : null;
    emit?.({ operation, target, files, bytes, rate, etaSeconds, elapsedMs });
  };
}

