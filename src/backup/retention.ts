/**
 * Retention: which snapshots a policy keeps (pure; forget in prune.ts does the deleting).
 *
 * restic's rules, which backup users already know: `last` keeps the newest N snapshots;
 * `daily`/`weekly`/`monthly` keep the newest snapshot of each of the newest N days / ISO weeks /
 * months that have one. A snapshot kept by any rule is kept. Periods are in UTC, so a policy
 * gives the same answer on every device whatever its time zone. The newest snapshot is always
 * kept: a policy may thin the past, never leave the repository without its latest state.
 */
import { ElohimError } from '../errors.ts';

export interface RetentionPolicy {
  last?: number;
  daily?: number;
  weekly?: number;
  monthly?: number;
}

const RULES = ['last', 'daily', 'weekly', 'monthly'] as const;
/** A bound on each count, so a typo like --keep-daily 1e9 is refused rather than meaning "all". */
const MAX_COUNT = 100_000;

/** Checks a policy from a face; throws INVALID_INPUT. Returns it without empty rules. */
export function checkPolicy(policy: RetentionPolicy): RetentionPolicy {
  const out: RetentionPolicy = {};
  for (const rule of RULES) {
    const n = policy[rule];
    if (n === undefined) continue;
    if (!Number.isSafeInteger(n) || n < 0 || n > MAX_COUNT) throw new ElohimError('INVALID_INPUT', `keep-${rule} is a whole number from 0 to ${MAX_COUNT}`);
    if (n > 0) out[rule] = n;
  }
  if (Object.keys(out).length === 0) throw new ElohimError('INVALID_INPUT', 'a retention policy keeps something: give --keep-last, --keep-daily, --keep-weekly or --keep-monthly');
  return out;
}

/** The ISO 8601 week of a UTC time, as "YYYY-Www" (the week's year is its Thursday's). */
function isoWeek(t: number): string {
  const d = new Date(t);
  const day = (d.getUTCDay() + 6) % 7; // Monday 0
  const thursday = Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() - day + 3);
  const year = new Date(thursday).getUTCFullYear();
  // Week 1 is the week whose Thursday falls in January's first seven days.
  const week = 1 + Math.floor((thursday - Date.UTC(year, 0, 1)) / (7 * 86_400_000));
  return `${year}-W${String(week).padStart(2, '0')}`;
}

const PERIOD: Record<'daily' | 'weekly' | 'monthly', (t: number) => string> = {
  daily: (t) => new Date(t).toISOString().slice(0, 10),
  weekly: isoWeek,
  monthly: (t) => new Date(t).toISOString().slice(0, 7),
};

/** The names `policy` keeps among `snapshots` (any order); the newest is always among them. */
export function snapshotsToKeep(snapshots: readonly { name: string; time: number }[], policy: RetentionPolicy): Set<string> {
  const newest = [...snapshots].sort((a, b) => b.time - a.time || (a.name < b.name ? 1 : -1));
  const keep = new Set<string>();
  if (newest.length > 0) keep.add(newest[0]!.name);
  for (const s of newest.slice(0, policy.last ?? 0)) keep.add(s.name);
  for (const rule of ['daily', 'weekly', 'monthly'] as const) {
    const count = policy[rule] ?? 0;
    const seen = new Set<string>();
    for (const s of newest) {
      if (seen.size >= count) break;
      const period = PERIOD[rule](s.time);
      if (seen.has(period)) continue;
      seen.add(period);
      keep.add(s.name);
    }
  }
  return keep;
}
