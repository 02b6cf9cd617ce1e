import { delayAfter } from '../keyring/index.ts';

/**
 * Growing delays for failed unlocks, per client address, on top of the vault's own throttle
 * (which is shared by every client and survives restarts). Same schedule: 3 free attempts,
 * then 1 s, 2 s, 4 s … A server never sleeps on a request; it answers 429 with Retry-After.
 */
export function createUnlockLimiter(deps: { clock: () => number; maxClients?: number }) {
  const { clock } = deps;
  const maxClients = deps.maxClients ?? 10_000;
  const state = new Map<string, { failures: number; notBefore: number }>();
  return {
    /** Milliseconds this client must wait before its next attempt (0 = now). */
    waitMs(client: string): number {
      const s = state.get(client);
      return s === undefined ? 0 : Math.max(0, s.notBefore - clock());
    },
    fail(client: string): void {
      const failures = (state.get(client)?.failures ?? 0) + 1;
      state.delete(client); // re-insert: the Map keeps insertion order, oldest first
      state.set(client, { failures, notBefore: clock() + delayAfter(failures) });
      // Bound memory against a flood of spoofed clients: forget the oldest entries.
      while (state.size > maxClients) state.delete(state.keys().next().value!);
    },
    succeed(client: string): void {
      state.delete(client);
    },
  };
}
