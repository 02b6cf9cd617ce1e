import { DEFAULT_AUDIT_RETENTION_DAYS } from '../audit/index.ts';
import { ElohimError, isElohimError } from '../errors.ts';
import type { Keyring, UnlockOptions, UnlockSecret, VaultKey } from '../keyring/index.ts';
import { recordEvent } from './workspace.ts';
import type { StopReason, Workspace, WorkspaceService } from './workspace.ts';

/** What app.ts builds for one vault key: the workspace and the services to stop with it. */
export interface BuiltWorkspace {
  workspace: Workspace;
  services: WorkspaceService[];
}

/** Builds a workspace from an unlocked key; `signal` aborts when the workspace stops. */
export type BuildWorkspace = (key: VaultKey, signal: AbortSignal) => Promise<BuiltWorkspace>;

interface Open {
  built: BuiltWorkspace;
  key: VaultKey;
  controller: AbortController;
  /** unlocks not yet released: the workspace stops when the last one is (or at once, by lock) */
  refs: number;
}

/**
 * The one registry of open workspaces in this process, shared by the CLI and the server. A vault
 * is opened once, however many sessions unlock it (a second unlock, another browser tab or a
 * recovery code, gets the same workspace), so there is one index and one audit-log head per vault.
 */
export function createWorkspaces(deps: { keyring: Keyring; build: BuildWorkspace }) {
  const open = new Map<string, Open>();
  /** Workspaces being built, by vault id: two concurrent unlocks of one vault share one build. */
  const building = new Map<string, Promise<Open>>();
  /** Bumped by lockAll: a workspace whose build began before a panic is stopped as it finishes. */
  let epoch = 0;

  async function openFor(key: VaultKey): Promise<Open> {
    const existing = open.get(key.id);
    if (existing !== undefined) {
      key.destroy(); // the open workspace already holds this vault's key
      return existing;
    }
    const pending = building.get(key.id);
    if (pending !== undefined) {
      key.destroy();
      return pending;
    }
    const controller = new AbortController();
    const startedIn = epoch;
    const promise = deps.build(key, controller.signal).then(
      (built) => {
        const entry: Open = { built, key, controller, refs: 0 };
        if (startedIn !== epoch) {
          open.set(key.id, entry);
          stop(entry, undefined);
          throw new ElohimError('SESSION_REQUIRED', 'every vault was locked while this one was opening');
        }
        open.set(key.id, entry);
        // Retention runs at an opening, at most once a day (the head says when it last ran);
        // damage it meets is left for `audit verify` to report.
        try {
          built.workspace.audit.retainIfDue(DEFAULT_AUDIT_RETENTION_DAYS);
        } catch (err) {
          if (!isElohimError(err, 'AUDIT_CHAIN_BROKEN')) throw err;
        }
        return entry;
      },
      (err: unknown) => {
        key.destroy();
        throw err;
      },
    );
    building.set(key.id, promise);
    try {
      return await promise;
    } finally {
      building.delete(key.id);
    }
  }

  /** Stops one workspace: aborts its work in flight, stops its services, drops its key. */
  function stop(entry: Open, why: StopReason | undefined): void {
    if (open.get(entry.key.id) !== entry) return;
    open.delete(entry.key.id);
    const { audit } = entry.built.workspace;
    try {
      if (why !== undefined) recordEvent(audit, why);
    } catch (err) {
      // A lock always happens, logged or not: the key must go even when the log cannot take the
      // entry (item 9 of issue 8: DELETE /session answered 500 and left the key in memory).
      process.stderr.write(`elohim: the ${why} could not be audited (${(err as { code?: string }).code ?? 'error'})\n`);
    }
    // Entries held because the device was full (AuditLog.append) get a last try; what still
    // cannot be written goes with the keys, and is said where the operator will see it.
    if (audit.pending() > 0 && audit.flush() > 0) process.stderr.write(`elohim: ${audit.pending()} audit entries could not be written (the device is full) and are lost\n`);
    entry.controller.abort(new Error(`the vault was locked (${why ?? 'lock'})`));
    for (const service of entry.built.services) {
      // Services stop in the background: each has been aborted already, and a lock or a panic
      // must not wait on one that is slow to finish its clean-up.
      Promise.resolve()
        .then(() => service.stop())
        .catch(() => {});
    }
    entry.key.destroy();
  }

  return {
    /**
     * Unlocks the vault this secret opens and returns its workspace (the open one, if any) and
     * how it was opened. Audits the unlock in that vault's log. Throws what keyring.unlock throws.
     */
    async unlock(secret: UnlockSecret, opts: UnlockOptions = {}): Promise<{ workspace: Workspace; viaRecoveryCode: boolean }> {
      const unlocked = await deps.keyring.unlock(secret, opts);
      const entry = await openFor(unlocked.key);
      entry.refs++;
      const { audit } = entry.built.workspace;
      // Failed attempts cannot be tied to a vault when they happen; whichever vault opens next
      // learns how many there were (the counter is shared, so this says nothing of other vaults).
      if (unlocked.failedBefore > 0) recordEvent(audit, 'unlock-failed', { count: unlocked.failedBefore });
      recordEvent(audit, 'unlock', unlocked.resealedAt === undefined ? { method: unlocked.method } : { method: unlocked.method, kdfCost: unlocked.resealedAt });
      if (unlocked.method === 'recovery') recordEvent(audit, 'recovery-code-use');
      return { workspace: entry.built.workspace, viaRecoveryCode: unlocked.method === 'recovery' };
    },

    /** The open workspace with this id, if any. */
    get(id: string): Workspace | undefined {
      return open.get(id)?.built.workspace;
    },

    /**
     * Gives back one unlock: the workspace stops (recording nothing) when no unlock holds it any
     * more. A CLI command releases what it unlocked; a second session's unlock of an open vault
     * is released at once, since the first holds it.
     */
    release(id: string): void {
      const entry = open.get(id);
      if (entry !== undefined && --entry.refs <= 0) stop(entry, undefined);
    },

    /** Locks one workspace now, however many unlocks hold it; with a reason, its audit log records it first. */
    lock(id: string, why?: StopReason): void {
      const entry = open.get(id);
      if (entry !== undefined) stop(entry, why);
    },

    /** Locks every open workspace at once (panic); without a reason, records nothing. Returns how many were open. */
    lockAll(why: StopReason | undefined): number {
      epoch++;
      const all = [...open.values()];
      for (const entry of all) stop(entry, why);
      return all.length;
    },

    size(): number {
      return open.size;
    },
  };
}

export type Workspaces = ReturnType<typeof createWorkspaces>;
