import { readFile } from 'node:fs/promises';
import { writeFileAtomic } from '../fs/index.ts';

/**
 * Growing delays after failed unlocks, kept in a small file so that restarting the CLI does not
 * reset them. The file holds only a count and a time, the same for every vault.
 * Free attempts: 3; then 1 s, 2 s, 4 s … capped at 5 minutes.
 */
export interface ThrottleState {
  failures: number;
  /** ms since the epoch before which no attempt is evaluated */
  notBefore: number;
}

const FREE_ATTEMPTS = 3;
const MAX_DELAY_MS = 5 * 60 * 1000;

/** Delay after the `failures`-th consecutive failure (pure). */
export function delayAfter(failures: number): number {
  if (failures < FREE_ATTEMPTS) return 0;
  return Math.min(1000 * 2 ** (failures - FREE_ATTEMPTS), MAX_DELAY_MS);
}

export function createThrottle(deps: { path: string; clock: () => number }) {
  const { path, clock } = deps;

  async function read(): Promise<ThrottleState> {
    try {
      const parsed = JSON.parse(await readFile(path, 'utf8')) as Partial<ThrottleState>;
      const failures = Number.isSafeInteger(parsed.failures) && parsed.failures! >= 0 ? parsed.failures! : 0;
      const notBefore = Number.isSafeInteger(parsed.notBefore) ? parsed.notBefore! : 0;
      return { failures, notBefore };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return { failures: 0, notBefore: 0 };
      // A damaged file must not unlock the throttle: treat it as the harshest plausible state.
      if (err instanceof SyntaxError) return { failures: FREE_ATTEMPTS + 3, notBefore: clock() + delayAfter(FREE_ATTEMPTS + 3) };
      throw err;
    }
  }

  return {
    read,
    /** Milliseconds to wait before the next attempt may be evaluated (0 = now). */
    async waitMs(): Promise<number> {
      return Math.max(0, (await read()).notBefore - clock());
    },
    /** Records a failure and returns the new state. */
    async fail(): Promise<ThrottleState> {
      const prev = await read();
      const failures = prev.failures + 1;
      const next = { failures, notBefore: clock() + delayAfter(failures) };
      await writeFileAtomic(path, JSON.stringify(next));
      return next;
    },
    async succeed(): Promise<void> {
      const prev = await read();
      if (prev.failures !== 0 || prev.notBefore !== 0) await writeFileAtomic(path, JSON.stringify({ failures: 0, notBefore: 0 }));
    },
  };
}
