/**
 * Comparing two examiner reports: a folder under suspicion against a baseline folder where the
 * examined vault did the same work and no other vault exists. Every feature must be equal except
 * those the README admits an examiner can see, each listed here with the sentence that admits it.
 * Pure.
 */
import { isDeepStrictEqual } from 'node:util';
import { TELLS } from './features.ts';
import type { Report, Tell } from './features.ts';

const AMOUNT =
  'README "What it does not hide": the total amount of data; the amount of rows and objects no vault of the examiner’s accounts for, beyond the chaff every folder has, can suggest hidden data (unless the fixed-size store is used)';

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
  'sqliteFile.rows.records': AMOUNT,
  'fileLayout.size.db.sqlite': AMOUNT,
};

export interface Difference {
  tell: Tell | string;
  feature: string;
  examined: unknown;
  baseline: unknown;
}

const tellOf = (feature: string): Tell | string => feature.split('.')[0]!;

/**
 * Every feature in which `examined` differs from `baseline`, admitted ones left out (unless
 * `includeAdmitted`). A feature present in one report only differs too.
 */
export function differences(examined: Report, baseline: Report, opts: { includeAdmitted?: boolean } = {}): Difference[] {
  const out: Difference[] = [];
  const names = [...new Set([...Object.keys(examined), ...Object.keys(baseline)])].sort();
  for (const feature of names) {
    if (!opts.includeAdmitted && feature in ADMITTED) continue;
    const a = feature in examined ? examined[feature] : '<absent>';
    const b = feature in baseline ? baseline[feature] : '<absent>';
    if (!isDeepStrictEqual(a, b)) out.push({ tell: tellOf(feature), feature, examined: a, baseline: b });
  }
  return out;
}

/** The differences that belong to one tell. */
export function differencesIn(tell: Tell, examined: Report, baseline: Report): Difference[] {
  return differences(examined, baseline).filter((d) => d.tell === tell);
}

/** A failure message that names the tell and shows each differing feature on both sides. */
export function describeDifferences(tell: Tell, names: { examined: string; baseline: string }, diffs: readonly Difference[]): string {
  const show = (v: unknown) => {
    const s = JSON.stringify(v);
    return s.length > 400 ? `${s.slice(0, 400)}…` : s;
  };
  return [
    `the examiner tells ${names.examined} from ${names.baseline} by ${TELLS[tell]}:`,
    ...diffs.map((d) => `  ${d.feature}\n    ${names.examined}: ${show(d.examined)}\n    ${names.baseline}: ${show(d.baseline)}`),
  ].join('\n');
}
