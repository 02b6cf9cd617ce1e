/**
 * The backup: client-side-encrypted, incremental copies of the whole data folder to a target
 * (issue 12). The face of this folder:
 * - target.ts: the Target interface every target implements, TargetError, retries;
 * - targets/local.ts, targets/s3.ts: a folder (USB drive) and an S3 bucket;
 * - targets/webdav.ts, targets/rclone.ts: a WebDAV collection and any rclone remote;
 * - format/: the repository format, one module per version (v1.ts says how the repository key
 *   works and why a backup keeps the decoy deniable);
 * - engine.ts: backup, verify, proof of restore; restore.ts: restore on a fresh data folder;
 * - service.ts: one workspace's targets (sealed) and operations; fresh.ts: `restore --from`;
 * - target-spec.ts: target addresses and credentials; retention.ts: which snapshots to keep.
 */
export { createLocalTarget } from './targets/local.ts';
export { createS3Target } from './targets/s3.ts';
export type { S3TargetConfig } from './targets/s3.ts';
export { createWebDavTarget } from './targets/webdav.ts';
export type { WebDavTargetConfig } from './targets/webdav.ts';
export { createRcloneTarget } from './targets/rclone.ts';
export type { RcloneTargetConfig } from './targets/rclone.ts';
export { DEFAULT_RETRY, isTargetError, TargetError, withRetry } from './target.ts';
export type { Body, CallOptions, RetryPolicy, Target, TargetFailure } from './target.ts';
export { createBackupEngine } from './engine.ts';
export type { BackupDeps, BackupEngine, BackupProgress, BackupSummary, SnapshotInfo } from './engine.ts';
export { restoreFolder } from './restore.ts';
export type { Bootstrap, RestoreInto, RestoreProgress, RestoreSummary } from './restore.ts';
export { proveRestore, verifyRepository } from './verify.ts';
export type { ProofReport, VerifyReport } from './verify.ts';
export { asRepositoryKey } from './format/v1.ts';
export type { RepositoryKey } from './format/v1.ts';
export { forgetSnapshots, ORPHAN_AGE_MS, pruneRepository } from './prune.ts';
export { createBackupService, PROOF_SAMPLE } from './service.ts';
export type { BackupService } from './service.ts';
export { backupRecordKeys, backupRecordStores, BACKUP_RECORD_KINDS, meter as progressMeter } from './records.ts';
export type { BackupRecord, JobProgress, LastBackup, LastProof, TargetInfo } from './records.ts';
export { createFolderRestore, recordFreshRestore } from './fresh.ts';
export { storeBackupSource } from './store-source.ts';
export type { FolderRestore, FolderRestoreOptions } from './fresh.ts';
export { buildTarget, describeTarget, parseTarget } from './target-spec.ts';
export type { TargetInput, TargetSpec } from './target-spec.ts';
export { checkPolicy, snapshotsToKeep } from './retention.ts';
export type { RetentionPolicy } from './retention.ts';
