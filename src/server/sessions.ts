import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { UnlockedVault } from '../vault/index.ts';

export interface Session {
  /** which open vault this session uses */
  vaultKey: string;
  /** sent back in the X-Elohim-CSRF header of every state-changing request */
  csrf: string;
}

interface OpenVault {
  unlocked: UnlockedVault;
  lastActivity: number;
}

/**
 * Sessions and the vaults they opened. A vault is opened once, however many sessions use it,
 * so every session sees the same index. Locking a vault (by request, idle time or panic) ends
 * every session on it and drops its keys from memory.
 */
export function createSessionStore(deps: { clock: () => number; onLock?: (key: string, why: 'lock' | 'auto-lock' | 'panic') => void }) {
  const { clock } = deps;
  const sessions = new Map<string, Session>();
  const vaults = new Map<string, OpenVault>();

  function lockVault(key: string, why: 'lock' | 'auto-lock' | 'panic'): void {
    const open = vaults.get(key);
    if (open === undefined) return;
    vaults.delete(key);
    for (const [token, s] of sessions) if (s.vaultKey === key) sessions.delete(token);
    deps.onLock?.(key, why);
    open.unlocked.lock(why);
  }

  return {
    /** Starts a session on `unlocked`, reusing the already open copy of that vault if any. */
    create(unlocked: UnlockedVault): { token: string; session: Session } {
      const key = String(unlocked.vault.meta()?.passphraseSlot ?? 'unknown');
      const existing = vaults.get(key);
      if (existing !== undefined) {
        unlocked.lock(); // the open copy already holds this vault's keys
        existing.lastActivity = clock();
      } else vaults.set(key, { unlocked, lastActivity: clock() });
      const token = randomBytes(32).toString('base64url');
      const session = { vaultKey: key, csrf: randomBytes(24).toString('base64url') };
      sessions.set(token, session);
      return { token, session };
    },

    /**
     * The session and its vault for a cookie value; null when none. `touch` marks activity:
     * requests that do nothing with the vault (health polling) must not keep it open forever.
     */
    use(token: string | undefined, touch = true): { session: Session; unlocked: UnlockedVault } | null {
      if (token === undefined) return null;
      const session = sessions.get(token);
      if (session === undefined) return null;
      const open = vaults.get(session.vaultKey);
      if (open === undefined) return null;
      if (touch) open.lastActivity = clock();
      return { session, unlocked: open.unlocked };
    },

    /** Ends the session's vault (and so every session on it). */
    lock(session: Session): void {
      lockVault(session.vaultKey, 'lock');
    },

    /** Locks every open vault at once. */
    lockAll(why: 'lock' | 'panic' = 'panic'): number {
      const keys = [...vaults.keys()];
      for (const key of keys) lockVault(key, why);
      return keys.length;
    },

    /** Locks vaults idle for `idleMs` or more. Returns how many were locked. */
    lockIdle(idleMs: number): number {
      const now = clock();
      let n = 0;
      for (const [key, open] of [...vaults]) {
        if (now - open.lastActivity >= idleMs) {
          lockVault(key, 'auto-lock');
          n++;
        }
      }
      return n;
    },

    anyOpen(): boolean {
      return vaults.size > 0;
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
