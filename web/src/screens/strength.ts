import type { ZxcvbnResult } from '@zxcvbn-ts/core';

// zxcvbn and its dictionaries are several hundred KB: they are fetched with import() only when
// the first-run screen shows, so they become chunks of their own and never weigh on the page
// that everyone else loads (the first-visit budget is 150 KB of gzipped JS).

export interface Strength {
  /** 0 (very weak) … 4 (strong) */
  score: 0 | 1 | 2 | 3 | 4;
  warning: string | null;
  suggestions: string[];
  /** how long an offline attacker with a slow hash (our Argon2id) would need, in words */
  crackTime: string;
}

export type StrengthChecker = (passphrase: string) => Strength;

/** Guesses about the passphrase that cost nothing to try: the product's own name. */
const USER_INPUTS = ['elohim', 'elohimos', 'vault', 'passphrase'];

let loading: Promise<StrengthChecker> | null = null;

/** Loads the checker once per page; later calls share the same promise. */
export function loadStrengthChecker(): Promise<StrengthChecker> {
  loading ??= (async () => {
    const [core, common, en] = await Promise.all([import('@zxcvbn-ts/core'), import('@zxcvbn-ts/language-common'), import('@zxcvbn-ts/language-en')]);
    const zxcvbn = new core.ZxcvbnFactory({
      translations: en.translations,
      graphs: common.adjacencyGraphs,
      dictionary: { ...common.dictionary, ...en.dictionary },
      useLevenshteinDistance: true,
    });
    return (passphrase: string): Strength => {
      const result: ZxcvbnResult = zxcvbn.check(passphrase, USER_INPUTS);
      return {
        score: result.score,
        warning: result.feedback.warning,
        suggestions: result.feedback.suggestions,
        crackTime: result.crackTimes.offlineSlowHashingXPerSecond.display,
      };
    };
  })();
  // A failed fetch (server restarted mid-load) may be retried by the next caller.
  loading.catch(() => {
    loading = null;
  });
  return loading;
}
