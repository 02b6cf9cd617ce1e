/**
 * Comparing a folder under suspicion with baseline folders: folders where the examined vault did
 * the same work, no other vault exists, and ElohimOS ran (no vault unlocked) where the suspect
 * folder's other vault was used. Two rules:
 *
 * - most features must equal the first baseline's (a second baseline, made the same way, checks
 *   that they are deterministic at all);
 * - where a time falls (timestamps.*, creationOrder.*: sets of buckets, timeline.ts) varies from
 *   folder to folder even without a hidden vault, since maintenance adds chaff at random; so every
 *   bucket the suspect shows must be one some baseline shows. That is the deniability claim:
 *   whatever the examiner sees, a folder without a hidden vault can show too.
 *
 * - a few features have a bound the source sets for any folder without a hidden vault (BOUNDS),
 *   checked against the source, not the baselines, which cannot reproduce it in a test's time.
 *
 * Features the README admits an examiner can see are listed with the sentence that admits them.
 * Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import { TELLS } from './features.ts';
import type { Report, Tell } from './features.ts';

const AMOUNT =
  'README "What it does not hide", the amount of data: the examiner sees how many rows and objects no vault accounts for, their sizes and when each object file was made; chaff makes some of them ordinary, but a hidden vault holding far more than that, or files put in bursts, stands out';

/** Features that may differ, and why: the README's own admission. */
export const ADMITTED: Readonly<Record<string, string>> = {
  'unexplainedData.rows': AMOUNT,
  'unexplainedData.objects': AMOUNT,
  'unexplainedData.objectSizes': `${AMOUNT}; object sizes and their count are visible`,
  'unexplainedData.emptyShards': `${AMOUNT} (a shard folder appears with the first object whose id falls in it)`,
  'unexplainedData.shardsOnlyUnexplained': AMOUNT,
  'sqliteFile.header.pageCount': `${AMOUNT} (the database grows with its rows)`,
  'sqliteFile.header.freelistCount': `${AMOUNT} (pages freed by deleted rows)`,
  'sqliteFile.header.freelistTrunk': `${AMOUNT} (pages freed by deleted rows)`,
  // SQLite in WAL mode bumps the header's change counter (and version-valid-for) at a checkpoint
  // whose commits changed page 1: the page count or the freelist. So it counts the processes that
  // grew or shrank the file, which chaff does as well as any vault's rows.
  'sqliteFile.header.changeCounter': `${AMOUNT} (the header's change counter counts the processes whose writes grew or shrank the database)`,
  'sqliteFile.header.versionValidFor': `${AMOUNT} (set with the change counter)`,
  'sqliteFile.rows.records': AMOUNT,
  'fileLayout.size.db.sqlite': AMOUNT,
  'chaffPattern.objectsLargerThanChaff': `${AMOUNT} (an object bigger than chaff's largest, 4 MiB of plaintext, is a vault's)`,
  // Found by this examiner (see BOUNDS), then admitted by the README rather than covered.
  'chaffPattern.burstsAfterSetup': `${AMOUNT} (files put together: objects born within a minute of each other after set-up, which chaff never is)`,
};

/**
 * Features bounded by what the source allows a folder without a hidden vault, whatever any
 * baseline shows: the baselines' server passes are run back to back (a test cannot wait the
 * minutes between them), so in this one respect they show what a real server never makes.
 * A bound is checked unless the README admits the feature (ADMITTED, which wins); the report then
 * lists the admitted difference.
 */
export const BOUNDS: Readonly<Record<string, { max: number; why: string }>> = {
  'chaffPattern.objectsLargerThanChaff': { max: 0, why: 'chaff objects stand for at most 4 MiB of plaintext (cover/chaff.ts)' },
  'chaffPattern.burstsAfterSetup': {
    max: 0,
    why: 'after set-up chaff comes one object per server pass at most, passes at least 2 minutes apart (features.ts CHAFF_BURST_WINDOW_MS): unexplained objects born together are a vault’s',
  },
};

/** Whether a feature is a set of time buckets, compared by the second rule. */
export function isTimeFeature(feature: string): boolean {
  return /^(timestamps|creationOrder)\..+\.(mtime|ctime|atime|birth)$/.test(feature);
}

export interface Difference {
  tell: Tell | string;
  feature: string;
  examined: unknown;
  /** the first baseline's value, or for a time feature every bucket the baselines show */
  baseline: unknown;
}

const tellOf = (feature: string): Tell | string => feature.split('.')[0]!;
const ABSENT = '<absent>';

/**
 * Every feature in which `examined` is not what the baselines allow (see the rules above),
 * admitted ones left out (unless `includeAdmitted`), and beyond its bound for a bounded one
 * (unless `bounds` is false: for a baseline itself). A feature present on one side only differs
 * too. Throws without a baseline.
 */
export function differences(examined: Report, baselines: readonly Report[], opts: { includeAdmitted?: boolean; bounds?: boolean } = {}): Difference[] {
  const [first] = baselines;
  if (first === undefined) throw new Error('no baseline to compare with');
  const out: Difference[] = [];
  const names = [...new Set([examined, ...baselines].flatMap((r) => Object.keys(r)))].sort();
  for (const feature of names) {
    if (!opts.includeAdmitted && feature in ADMITTED) continue;
    const a = feature in examined ? examined[feature] : ABSENT;
    const bound = BOUNDS[feature];
    if (bound !== undefined) {
      if (opts.bounds !== false && !(typeof a === 'number' && a <= bound.max)) {
        out.push({ tell: tellOf(feature), feature, examined: a, baseline: `at most ${bound.max}: ${bound.why}` });
      }
      continue;
    }
    if (isTimeFeature(feature)) {
      const seen = new Set(baselines.flatMap((b) => (Array.isArray(b[feature]) ? (b[feature] as unknown[]) : [])));
      const allowed = [...seen];
      const unseen = Array.isArray(a) ? a.filter((bucket) => !seen.has(bucket)) : [a];
      if (unseen.length > 0) out.push({ tell: tellOf(feature), feature, examined: a, baseline: allowed.length === 0 ? ABSENT : allowed });
      continue;
    }
    const b = feature in first ? first[feature] : ABSENT;
    if (!isDeepStrictEqual(a, b)) out.push({ tell: tellOf(feature), feature, examined: a, baseline: b });
  }
  return out;
}

/** The differences that belong to one tell. */
export function differencesIn(tell: Tell, examined: Report, baselines: readonly Report[]): Difference[] {
  return differences(examined, baselines).filter((d) => d.tell === tell);
}

/** A failure message that names the tell and shows each differing feature on both sides. */
export function describeDifferences(tell: Tell, names: { examined: string; baseline: string; baselines?: string }, diffs: readonly Difference[]): string {
  const show = (v: unknown) => {
    const s = JSON.stringify(v);
    return s.length > 400 ? `${s.slice(0, 400)}…` : s;
  };
  return [
    `the examiner tells ${names.examined} from ${names.baseline} by ${TELLS[tell]}:`,
    ...diffs.map((d) => {
      const time = isTimeFeature(d.feature);
      const baseline = time ? (names.baselines ?? names.baseline) : names.baseline;
      return `  ${d.feature}${time ? ' (times: each bucket must be one a baseline shows)' : ''}\n    ${names.examined}: ${show(d.examined)}\n    ${baseline}: ${show(d.baseline)}`;
    }),
  ].join('\n');
}
