/**
 * The backup service of one open workspace: the vault's targets (sealed in its records, with
 * their credentials), and every operation on them — back up (then prove a restore and apply the
 * retention policy), list, verify, restore, forget, prune — one at a time, each audited, each
 * stopped when the workspace locks or panics (the workspace's signal, combined with the
 * caller's). Built by app.ts per workspace; faces call it through `workspace.backup`.
 *
 * Targets are kept per vault, under keys derived for the backup (`backupRecordKeys`): a
 * decoy's targets are the decoy's, and the hidden vault's rows look like any other rows. The
 * repository itself is the same whichever vault writes it (format/v1.ts).
 */
import { ElohimError, isElohimError } from '../errors.ts';
import type { AuditDetails, AuditEvent } from '../audit/index.ts';
import { isRecordId, newRecordId } from '../db/index.ts';
import type { RecordId, RecordStore } from '../db/index.ts';
import { createBackupEngine } from './engine.ts';
import { meter } from './records.ts';
import type { BackupRecord, JobProgress, LastBackup, LastProof, TargetInfo, TargetListRecord, TargetRecord } from './records.ts';
import type { BackupDeps, BackupSummary, SnapshotInfo } from './engine.ts';
import type { RepositoryKey } from './format/v1.ts';
import { forgetSnapshots, pruneRepository } from './prune.ts';
import { readConfig } from './repository.ts';
import type { Indexes, KnownSnapshot } from './repository.ts';
import { keyMatches } from './format/v1.ts';
import type { Bootstrap, RestoreProgress, RestoreSummary } from './restore.ts';
import { checkPolicy } from './retention.ts';
import type { RetentionPolicy } from './retention.ts';
import { buildTarget, describeTarget, parseTarget } from './target-spec.ts';
import type { TargetInput, TargetSpec } from './target-spec.ts';
import type { Target } from './target.ts';
import { collectGarbage } from '../gc.ts';
import { COLLECT_AFTER_BYTES } from './streams.ts';
import { proveRestore, verifyRepository } from './verify.ts';
import type { ProofReport, VerifyReport } from './verify.ts';

export interface BackupServiceDeps {
  records: RecordStore<BackupRecord>;
  /** what the engine reads (the data folder), less the key */
  folder: Omit<BackupDeps, 'key' | 'clock'>;
  key: RepositoryKey;
  clock: () => number;
  /** the workspace's signal: aborted on lock, auto-lock and panic */
  signal: AbortSignal;
  audit: (event: AuditEvent, details?: AuditDetails) => void;
  /** builds a target from its spec (tests may wrap it; default target-spec.ts) */
  buildTarget?: (spec: TargetSpec) => Promise<Target>;
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/;
/** Objects restored into memory and authenticated after each backup. */
export const PROOF_SAMPLE = 32;

function checkTargetName(name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) throw new ElohimError('INVALID_INPUT', 'a target name is 1–32 lower-case letters, digits, - and _, starting with a letter or digit');
  return name;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

export function createBackupService(deps: BackupServiceDeps) {
  const { records, key, clock, audit } = deps;
  const engine = createBackupEngine({ ...deps.folder, key, clock });
  const build = deps.buildTarget ?? buildTarget;
  const stopped = new AbortController();
  let running: string | null = null;

  /**
   * The targets as last loaded, with the store's version then (records.version()): a load reads
   * every row of the records table (~60 ms of CPU at 10,000 rows), and `elohim backup run` loaded
   * twice before its backup (which target, then the job's), the web UI once per poll. Reused
   * only while no commit has happened since, by this process or another. Frozen: shared by
   * every caller.
   */
  let loaded: { version: string; targets: Map<RecordId, TargetRecord> } | null = null;

  function load(): Map<RecordId, TargetRecord> {
    const version = records.version();
    if (version !== null && loaded?.version === version) return new Map(loaded.targets);
    const fromList = listed();
    listPresent = fromList !== null;
    const out = fromList ?? new Map<RecordId, TargetRecord>();
    if (fromList === null) for (const [id, rec] of records.loadAll()) if (rec.t === 'target') out.set(id, deepFreeze(rec));
    // The version read before the load: a commit in between (another process) only makes the
    // next call load again.
    loaded = version === null ? null : { version, targets: out };
    return new Map(out);
  }

  /** The list's id: derived from the store's keys, so only this vault's key finds (or writes) it. */
  const listId = records.idOf('elohim/v1 backup target list');
  /** Whether the list record was there at the last load (a folder made before it: written at the next commit). */
  let listPresent = false;

  /**
   * The targets named by the list record, each read by its id; null when the list is missing,
   * does not open, or names a row that is missing or not a target: the full load then reads (and
   * reports) whatever is there.
   */
  function listed(): Map<RecordId, TargetRecord> | null {
    let list: BackupRecord | null;
    try {
      list = records.get(listId);
    } catch (err) {
      if (isElohimError(err, 'VAULT_CORRUPT')) return null;
      throw err;
    }
    if (list === null || list.t !== 'targets') return null;
    const out = new Map<RecordId, TargetRecord>();
    for (const id of list.ids) {
      if (!isRecordId(id)) return null;
      let rec: BackupRecord | null;
      try {
        rec = records.get(id);
      } catch (err) {
        if (isElohimError(err, 'VAULT_CORRUPT')) return null;
        throw err;
      }
      if (rec === null || rec.t !== 'target') return null;
      out.set(id, deepFreeze(rec));
    }
    return out;
  }

  /** The list record for these target ids, to commit with the change that makes them so. */
  const listOf = (ids: Iterable<RecordId>): [RecordId, TargetListRecord] => [listId, { t: 'targets', v: 1, ids: [...ids] }];

  function find(name: string): [RecordId, TargetRecord] {
    checkTargetName(name);
    for (const entry of load()) if (entry[1].name === name) return entry;
    throw new ElohimError('ITEM_NOT_FOUND', `no backup target named ${name}: see \`elohim backup target ls\``);
  }

  function update(id: RecordId, name: string, change: (r: TargetRecord) => TargetRecord): void {
    // Re-read this one record: it may have changed while an operation ran (retention set
    // meanwhile), or been removed (then there is nothing to note the result on; the audit entry
    // still is). By its id, not by a load of every record: a load scans the whole records table
    // (~60 ms of CPU at 10,000 rows), and `backup run` noted its results with two of them.
    const rec = records.get(id);
    if (rec === null || rec.t !== 'target' || rec.name !== name) return;
    // A folder made before the list record gets it with this commit (the targets as loaded).
    records.commit({ put: listPresent ? [[id, change(rec)]] : [[id, change(rec)], listOf(load().keys())] });
    listPresent = true;
  }

  function info(rec: TargetRecord): TargetInfo {
    return { name: rec.name, ...describeTarget(rec.spec), created: rec.created, retention: rec.retention ?? null, lastBackup: rec.lastBackup ?? null, lastProof: rec.lastProof ?? null };
  }

  /** Runs one operation on a target: one at a time per vault, stopped with the workspace. */
  async function job<T>(name: string, signal: AbortSignal | undefined, fn: (target: Target, signal: AbortSignal, rec: TargetRecord, id: RecordId) => Promise<T>): Promise<T> {
    const [id, rec] = find(name);
    if (running !== null) throw new ElohimError('VAULT_BUSY', `a backup operation on ${running} is running; wait for it to end`);
    running = name;
    const combined = AbortSignal.any([deps.signal, stopped.signal, ...(signal ? [signal] : [])]);
    try {
      combined.throwIfAborted();
      return await fn(await build(rec.spec), combined, rec, id);
    } catch (err) {
      // Stopped (lock, auto-lock, panic, the caller): say so, not "internal error" for whatever
      // the interrupted call threw. What was uploaded stays; the same operation resumes.
      if (!combined.aborted) throw err;
      const reason: unknown = combined.reason;
      if (reason instanceof ElohimError) throw reason;
      throw new ElohimError('SESSION_REQUIRED', `stopped (${reason instanceof Error ? reason.message : 'aborted'}): run it again to resume`, { cause: err });
    } finally {
      running = null;
    }
  }

  async function prove(target: Target, name: string, id: RecordId, signal: AbortSignal, onProgress?: (p: JobProgress) => void, known?: Indexes, knownSnapshot?: KnownSnapshot): Promise<ProofReport> {
    const tick = meter('proof', name, clock, onProgress);
    tick({ done: 0, total: PROOF_SAMPLE }, { done: 0, total: 0 });
    const report = await proveRestore(target, key, { sample: PROOF_SAMPLE, signal, clock, known, knownSnapshot });
    tick({ done: report.sampled, total: report.sampled }, { done: report.bytes, total: report.bytes });
    const proof: LastProof = { time: report.time, snapshot: report.snapshot, sampled: report.sampled, bytes: report.bytes, ok: report.ok, failures: report.failures.length };
    update(id, name, (r) => ({ ...r, lastProof: proof }));
    audit('backup-proof', { target: name, ok: report.ok, sampled: report.sampled, bytes: report.bytes, failures: report.failures.length });
    return report;
  }

  return {
    /** The vault's targets, oldest first. */
    listTargets(): TargetInfo[] {
      return [...load().values()].sort((a, b) => a.created - b.created || (a.name < b.name ? -1 : 1)).map(info);
    },

    /** Adds a target (nothing is contacted: `testTarget` does). Throws INVALID_INPUT, ITEM_EXISTS. */
    addTarget(name: string, input: TargetInput): TargetInfo {
      checkTargetName(name);
      const spec = parseTarget(input);
      if ([...load().values()].some((r) => r.name === name)) throw new ElohimError('ITEM_EXISTS', `a backup target named ${name} exists already`);
      const rec: TargetRecord = { t: 'target', v: 1, name, spec, created: clock() };
      const id = newRecordId();
      records.commit({ put: [[id, rec], listOf([...load().keys(), id])] });
      listPresent = true;
      audit('backup-target', { action: 'add', target: name, kind: spec.kind });
      return info(rec);
    },

    /** Forgets a target here (its repository stays where it is). Throws ITEM_NOT_FOUND. */
    removeTarget(name: string): void {
      const [id] = find(name);
      records.commit({ remove: [id], put: [listOf([...load().keys()].filter((k) => k !== id))] });
      listPresent = true;
      audit('backup-target', { action: 'remove', target: name });
    },

    /** The retention policy applied after each backup (null: keep every snapshot). */
    setRetention(name: string, policy: RetentionPolicy | null): TargetInfo {
      const checked = policy === null ? undefined : checkPolicy(policy);
      const [id, rec] = find(name);
      records.commit({ put: [[id, { ...rec, retention: checked }]] });
      audit('settings-change', { setting: 'backup-retention', target: name });
      return info(find(name)[1]);
    },

    /**
     * Contacts the target: reachable with these credentials, and whether it holds this data
     * folder's repository, another one, or none yet. Throws TargetError (missing, auth, unreachable).
     */
    testTarget(name: string, opts: { signal?: AbortSignal } = {}): Promise<{ repository: 'none' | 'this-folder' | 'another-folder' }> {
      return job(name, opts.signal, async (target, signal) => {
        await target.check({ signal });
        const config = await readConfig(target, { signal });
        return { repository: config === null ? 'none' : keyMatches(config, key) ? 'this-folder' : 'another-folder' };
      });
    },

    /**
     * Backs up the whole data folder to `name`, proves a restore of a random sample, then applies
     * the target's retention policy (forget; prune is its own command). Audited.
     */
    run(name: string, opts: { signal?: AbortSignal; onProgress?: (p: JobProgress) => void } = {}): Promise<{ summary: BackupSummary; proof: ProofReport; forgotten: string[] }> {
      return job(name, opts.signal, async (target, signal, rec, id) => {
        const tick = meter('backup', name, clock, opts.onProgress);
        let summary: BackupSummary;
        // The indexes the backup read from the target: the proof takes those still listed there
        // instead of fetching and opening every index again (verify.ts, proveRestore).
        let known: Indexes | undefined;
        // And the newest snapshot's state as the backup read it: the proof then reads only the
        // new snapshot's manifest when it is a delta of that one (verify.ts newestState).
        let knownSnapshot: KnownSnapshot | undefined;
        try {
          summary = await engine.backup(target, {
            signal,
            onProgress: (p) => tick({ done: p.objectsDone, total: p.objectsTotal }, { done: p.bytesDone, total: p.bytesTotal }),
            onIndexes: (indexes) => (known = indexes),
            onSnapshot: (snapshot) => (knownSnapshot = snapshot),
          });
        } catch (err) {
          audit('backup', { target: name, ok: false, error: err instanceof ElohimError ? err.code : 'INTERNAL' });
          throw err;
        }
        const files = summary.objects.total;
        const last: LastBackup = { time: summary.time, snapshot: summary.snapshot, files, filesUploaded: summary.objects.uploaded, bytesUploaded: summary.bytesUploaded };
        update(id, name, (r) => ({ ...r, lastBackup: last }));
        audit('backup', { target: name, ok: true, snapshot: summary.snapshot, files, filesUploaded: summary.objects.uploaded, bytes: summary.bytesUploaded });
        // A backup that uploaded leaves its reads, packs and state as garbage V8 has not yet
        // collected (~25 MiB at 1 GiB + 10,000 files); the proof decoding the new manifest and
        // indexes grew the heap on top of it. With the engine's own collection after the rows,
        // this one takes the first `elohim backup run` from 126-128 to ~120 MiB (~15 ms of CPU).
        // An unchanged backup (its few new audit rows) leaves little: not paid there.
        if (summary.bytesUploaded >= COLLECT_AFTER_BYTES) collectGarbage();
        const proof = await prove(target, name, id, signal, opts.onProgress, known, knownSnapshot);
        known = undefined;
        knownSnapshot = undefined;
        let forgotten: string[] = [];
        if (rec.retention) {
          forgotten = (await forgetSnapshots(target, key, { policy: rec.retention, signal })).forgotten;
          if (forgotten.length > 0) audit('backup-forget', { target: name, forgotten: forgotten.length });
        }
        return { summary, proof, forgotten };
      });
    },

    /** Restores a random sample of the newest snapshot into memory and authenticates it. Audited. */
    prove(name: string, opts: { signal?: AbortSignal; onProgress?: (p: JobProgress) => void } = {}): Promise<ProofReport> {
      return job(name, opts.signal, (target, signal, _rec, id) => prove(target, name, id, signal, opts.onProgress));
    },

    snapshots(name: string, opts: { signal?: AbortSignal } = {}): Promise<SnapshotInfo[]> {
      return job(name, opts.signal, (target, signal) => engine.snapshots(target, { signal }));
    },

    /** Checks the repository (quick, or every byte with `readData`). Audited. */
    verify(name: string, opts: { readData?: boolean; signal?: AbortSignal } = {}): Promise<VerifyReport> {
      return job(name, opts.signal, async (target, signal) => {
        const report = await verifyRepository(target, key, { readData: opts.readData, signal });
        audit('backup-verify', { target: name, ok: report.ok, readData: opts.readData === true, problems: report.problems.length, bytes: report.bytesRead });
        return report;
      });
    },

    /** Forgets the snapshots `policy` (or the target's saved one) does not keep. Audited. */
    forget(name: string, policy?: RetentionPolicy, opts: { signal?: AbortSignal } = {}): Promise<{ kept: string[]; forgotten: string[] }> {
      return job(name, opts.signal, async (target, signal, rec) => {
        const chosen = policy ?? rec.retention;
        if (!chosen) throw new ElohimError('INVALID_INPUT', 'give a policy (--keep-last, --keep-daily, --keep-weekly, --keep-monthly) or save one for this target');
        const result = await forgetSnapshots(target, key, { policy: checkPolicy(chosen), signal });
        audit('backup-forget', { target: name, forgotten: result.forgotten.length, kept: result.kept.length });
        return result;
      });
    },

    /** Deletes packs no snapshot needs and repacks those mostly unneeded (prune.ts). Audited. */
    prune(name: string, opts: { signal?: AbortSignal } = {}): Promise<{ packsDeleted: number; packsRepacked: number; orphansDeleted: number; bytesFreed: number }> {
      return job(name, opts.signal, async (target, signal) => {
        const result = await pruneRepository(target, key, { signal, clock });
        audit('backup-prune', { target: name, packs: result.packsDeleted, repacked: result.packsRepacked, orphans: result.orphansDeleted, bytes: result.bytesFreed });
        return result;
      });
    },

    /**
     * Restores the target's repository into a fresh data folder through `restoreInto` (the
     * app of that folder, which unlocks with this vault's repository key). Audited here.
     */
    restore(
      name: string,
      restoreInto: (target: Target, unlock: (b: Bootstrap) => Promise<RepositoryKey>, opts: { signal: AbortSignal; snapshot?: string; onProgress: (p: RestoreProgress) => void }) => Promise<RestoreSummary>,
      opts: { snapshot?: string; signal?: AbortSignal; onProgress?: (p: JobProgress) => void } = {},
    ): Promise<RestoreSummary> {
      return job(name, opts.signal, async (target, signal) => {
        const tick = meter('restore', name, clock, opts.onProgress);
        try {
          const summary = await restoreInto(target, async () => key, {
            signal,
            snapshot: opts.snapshot,
            onProgress: (p) => tick({ done: p.objectsDone, total: p.objectsTotal }, { done: p.bytesDone, total: p.bytesTotal }),
          });
          audit('restore', { target: name, ok: true, snapshot: summary.snapshot, files: summary.objects.total, bytes: summary.bytesFetched });
          return summary;
        } catch (err) {
          audit('restore', { target: name, ok: false, error: err instanceof ElohimError ? err.code : 'INTERNAL' });
          throw err;
        }
      });
    },

    /** The operation running now, if any. */
    running: (): string | null => running,

    /** Aborts whatever runs (the workspace is stopping). */
    stop(): void {
      stopped.abort(new ElohimError('SESSION_REQUIRED', 'the vault was locked during the backup operation: unlock and run it again to resume'));
    },
  };
}

export type BackupService = ReturnType<typeof createBackupService>;
