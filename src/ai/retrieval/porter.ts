/**
 * The Porter stemmer (M. F. Porter, "An algorithm for suffix stripping", Program 14(3), 1980),
 * the original algorithm as Lucene's PorterStemFilter implements it, which the published BM25
 * figures for SciFact use. Input is one lowercase word; words of two letters or fewer are left
 * alone (as in the paper's reference implementation).
 */

const isVowelAt = (w: string, i: number): boolean => {
  const c = w.charCodeAt(i);
  // a e i o u; 'y' is a vowel when it follows a consonant
  if (c === 97 || c === 101 || c === 105 || c === 111 || c === 117) return true;
  return c === 121 && i > 0 && !isVowelAt(w, i - 1);
};
const isCons = (w: string, i: number): boolean => !isVowelAt(w, i);

/** m(), the number of VC sequences in w[0, end). */
function measure(w: string, end: number): number {
  let n = 0;
  let i = 0;
  while (i < end && isCons(w, i)) i++;
  while (i < end) {
    while (i < end && !isCons(w, i)) i++;
    if (i >= end) break;
    n++;
    while (i < end && isCons(w, i)) i++;
  }
  return n;
}

const hasVowel = (w: string, end: number): boolean => {
  for (let i = 0; i < end; i++) if (!isCons(w, i)) return true;
  return false;
};

/** *d: ends with a double consonant. */
const doubleCons = (w: string, end: number): boolean => end >= 2 && w[end - 1] === w[end - 2] && isCons(w, end - 1);

/** *o: ends consonant-vowel-consonant, the last not w, x or y. */
function cvc(w: string, end: number): boolean {
  if (end < 3 || !isCons(w, end - 1) || isCons(w, end - 2) || !isCons(w, end - 3)) return false;
  const c = w[end - 1];
  return c !== 'w' && c !== 'x' && c !== 'y';
}

/** Replaces `suffix` by `repl` when the stem before it has m > `minM`; null when `w` does not end in `suffix`. */
function replaceIf(w: string, suffix: string, repl: string, minM: number): string | null {
  if (!w.endsWith(suffix)) return null;
  const stem = w.length - suffix.length;
  return measure(w, stem) > minM ? w.slice(0, stem) + repl : w;
}

function step1ab(w: string): string {
  if (w.endsWith('s')) {
    if (w.endsWith('sses')) w = w.slice(0, -2);
    else if (w.endsWith('ies')) w = w.slice(0, -2);
    else if (!w.endsWith('ss')) w = w.slice(0, -1);
  }
  if (w.endsWith('eed')) {
    if (measure(w, w.length - 3) > 0) w = w.slice(0, -1);
    return w;
  }
  let stem = -1;
  if (w.endsWith('ed') && hasVowel(w, w.length - 2)) stem = w.length - 2;
  else if (w.endsWith('ing') && hasVowel(w, w.length - 3)) stem = w.length - 3;
  if (stem < 0) return w;
  w = w.slice(0, stem);
  if (w.endsWith('at') || w.endsWith('bl') || w.endsWith('iz')) return w + 'e';
  if (doubleCons(w, w.length)) {
    const c = w[w.length - 1];
    return c === 'l' || c === 's' || c === 'z' ? w : w.slice(0, -1);
  }
  if (measure(w, w.length) === 1 && cvc(w, w.length)) return w + 'e';
  return w;
}

const step1c = (w: string): string => (w.endsWith('y') && hasVowel(w, w.length - 1) ? w.slice(0, -1) + 'i' : w);

const STEP2: [string, string][] = [
  ['ational', 'ate'], ['tional', 'tion'], ['enci', 'ence'], ['anci', 'ance'], ['izer', 'ize'], ['bli', 'ble'],
  ['alli', 'al'], ['entli', 'ent'], ['eli', 'e'], ['ousli', 'ous'], ['ization', 'ize'], ['ation', 'ate'],
  ['ator', 'ate'], ['alism', 'al'], ['iveness', 'ive'], ['fulness', 'ful'], ['ousness', 'ous'], ['aliti', 'al'],
  ['iviti', 'ive'], ['biliti', 'ble'], ['logi', 'log'],
];
const STEP3: [string, string][] = [
  ['icate', 'ic'], ['ative', ''], ['alize', 'al'], ['iciti', 'ic'], ['ical', 'ic'], ['ful', ''], ['ness', ''],
];
const STEP4 = ['al', 'ance', 'ence', 'er', 'ic', 'able', 'ible', 'ant', 'ement', 'ment', 'ent', 'ion', 'ou', 'ism', 'ate', 'iti', 'ous', 'ive', 'ize'];

/** Steps 2 and 3: the first (longest listed) matching suffix decides, replaced when m > 0. */
function mapSuffix(w: string, table: [string, string][]): string {
  let hit: [string, string] | undefined;
  for (const entry of table) if (w.endsWith(entry[0]) && (hit === undefined || entry[0].length > hit[0].length)) hit = entry;
  return hit === undefined ? w : (replaceIf(w, hit[0], hit[1], 0) ?? w);
}

function step4(w: string): string {
  let suffix: string | undefined;
  for (const s of STEP4) if (w.endsWith(s) && (suffix === undefined || s.length > suffix.length)) suffix = s;
  if (suffix === undefined) return w;
  const stem = w.length - suffix.length;
  if (suffix === 'ion' && !(stem > 0 && (w[stem - 1] === 's' || w[stem - 1] === 't'))) return w;
  return measure(w, stem) > 1 ? w.slice(0, stem) : w;
}

function step5(w: string): string {
  if (w.endsWith('e')) {
    const m = measure(w, w.length - 1);
    if (m > 1 || (m === 1 && !cvc(w, w.length - 1))) w = w.slice(0, -1);
  }
  if (w.endsWith('ll') && measure(w, w.length) > 1) w = w.slice(0, -1);
  return w;
}

/** The Porter stem of a lowercase word. Words that are not plain a-z are returned unchanged. */
export function porterStem(word: string): string {
  if (word.length <= 2 || !/^[a-z]+$/.test(word)) return word;
  return step5(step4(mapSuffix(mapSuffix(step1c(step1ab(word)), STEP2), STEP3)));
}
