import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { StopReason, Workspace, Workspaces } from '../workspace/index.ts';

export interface Session {
  /** the id of the workspace (open vault) this session uses */
  vaultKey: string;
  /** sent back in the X-Elohim-CSRF header of every state-changing request */
  csrf: string;
}

/**
 * Sessions, and when each open vault was last used. The workspaces themselves live in the app's
 * one registry (a vault is opened once however many sessions use it, so every session sees the
 * same index); locking a vault (by request, idle time or panic) ends every session on it and
 * stops its workspace, which aborts its work in flight and drops its keys.
 */
export function createSessionStore(deps: { clock: () => number; workspaces: Workspaces }) {
  const { clock, workspaces } = deps;
  const sessions = new Map<string, Session>();
  const lastActivity = new Map<string, number>();

  function endSessionsOf(key: string): void {
    lastActivity.delete(key);
    for (const [token, s] of sessions) if (s.vaultKey === key) sessions.delete(token);
  }

  function lockVault(key: string, why: StopReason): void {
    endSessionsOf(key);
    workspaces.lock(key, why);
  }

  return {
    /** Starts a session on `workspace` (already registered, perhaps by an earlier session). */
    create(workspace: Workspace): { token: string; session: Session } {
      // The sessions hold one unlock of each open vault; a second session's is given back.
      if (lastActivity.has(workspace.id)) workspaces.release(workspace.id);
      lastActivity.set(workspace.id, clock());
      const token = randomBytes(32).toString('base64url');
      const session = { vaultKey: workspace.id, csrf: randomBytes(24).toString('base64url') };
      sessions.set(token, session);
      return { token, session };
    },

    /**
     * The session and its workspace for a cookie value; null when none. `touch` marks activity:
     * requests that do nothing with the vault (health polling) must not keep it open forever.
     */
    use(token: string | undefined, touch = true): { session: Session; workspace: Workspace } | null {
      if (token === undefined) return null;
      const session = sessions.get(token);
      if (session === undefined) return null;
      const workspace = workspaces.get(session.vaultKey);
      if (workspace === undefined) {
        // Locked behind the sessions' back (panic from another face): the session is over.
        endSessionsOf(session.vaultKey);
        return null;
      }
      if (touch) lastActivity.set(session.vaultKey, clock());
      return { session, workspace };
    },

    /** Ends the session's vault (and so every session on it). */
    lock(session: Session): void {
      lockVault(session.vaultKey, 'lock');
    },

    /** Locks every open vault at once, sessions or not. Returns how many were open. */
    lockAll(why: StopReason = 'panic'): number {
      sessions.clear();
      lastActivity.clear();
      return workspaces.lockAll(why);
    },

    /** Locks vaults idle for `idleMs` or more. Returns how many were locked. */
    lockIdle(idleMs: number): number {
      const now = clock();
      let n = 0;
      for (const [key, at] of [...lastActivity]) {
        if (now - at >= idleMs) {
          lockVault(key, 'auto-lock');
          n++;
        }
      }
      return n;
    },

    anyOpen(): boolean {
      return workspaces.size() > 0;
    },
  };
}

export type SessionStore = ReturnType<typeof createSessionStore>;

/** Constant-time comparison of two tokens. */
export function sameToken(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}
