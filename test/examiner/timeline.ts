/**
 * Where a time on disk falls in the examined vault's own history, as its audit log tells it.
 * Every use of a vault writes audit entries (a CLI command: `unlock`, then what it did), so an
 * examiner reads the log as a list of sessions and asks of every file time: does the vault's own
 * activity explain it? Pure.
 */

export type TimeBucket =
  /** before the vault's `setup` entry: something existed before the vault did */
  | 'before-setup'
  /** within the tolerance of the `setup` entry */
  | 'setup'
  /** within a session of the vault (from its unlock to its last entry before the next unlock) */
  | 'session'
  /** after set-up and before the last entry, but in no session: something else ran then */
  | 'between-sessions'
  /** after the vault's last entry: something else ran later */
  | 'after-last';

export const TIME_BUCKETS: readonly TimeBucket[] = ['before-setup', 'setup', 'session', 'between-sessions', 'after-last'];

export interface Timeline {
  setup: number;
  /** [first entry, last entry] of each session, oldest first */
  sessions: [number, number][];
  last: number;
}

/** Entries that begin a session: an unlock (or the failed attempts reported just before it). */
const STARTS = new Set(['unlock', 'unlock-failed']);

/** The sessions of an audit log; entries sorted by seq. Throws when the log has no `setup` entry. */
export function timelineOf(entries: readonly { at: number; event: string }[]): Timeline {
  const setup = entries.find((e) => e.event === 'setup');
  if (setup === undefined) throw new Error('the examined audit log has no setup entry');
  const sessions: [number, number][] = [];
  let previous = '';
  for (const e of entries) {
    if (e === setup) continue;
    const continues = previous === 'unlock-failed' && e.event === 'unlock';
    if ((STARTS.has(e.event) && !continues) || sessions.length === 0) sessions.push([e.at, e.at]);
    else sessions.at(-1)![1] = e.at;
    previous = e.event;
  }
  return { setup: setup.at, sessions, last: Math.max(setup.at, ...entries.map((e) => e.at)) };
}

/**
 * The bucket of time `t` (ms). `toleranceMs` covers what a process does just before its first
 * entry (start-up, Argon2) and just after its last (closing the database), so it must be shorter
 * than the gaps a scenario leaves between the examined vault's use and anything else.
 */
export function bucketOf(t: number, timeline: Timeline, toleranceMs: number): TimeBucket {
  if (t < timeline.setup - toleranceMs) return 'before-setup';
  if (t <= timeline.setup + toleranceMs) return 'setup';
  if (timeline.sessions.some(([from, to]) => t >= from - toleranceMs && t <= to + toleranceMs)) return 'session';
  if (t > timeline.last + toleranceMs) return 'after-last';
  return 'between-sessions';
}

/** The distinct buckets of several times, in TIME_BUCKETS order. */
export function bucketsOf(times: readonly number[], timeline: Timeline, toleranceMs: number): TimeBucket[] {
  const found = new Set(times.map((t) => bucketOf(t, timeline, toleranceMs)));
  return TIME_BUCKETS.filter((b) => found.has(b));
}
