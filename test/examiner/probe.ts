/**
 * What the examiner asks the stock CLI, on copies of the data folder: the nested-decoy probe
 * (issue 9, tell 3: `init --decoy` chained from the examined vault, each new decoy's passphrase
 * the next's current one, counting how many it creates before it refuses), and the examined
 * vault's own views of itself (whether it has a decoy, verify, its audit log's verdict), which
 * must not mention another vault. (Listings, search and trash: test/decoy.test.ts.)
 */
import { runCli } from '../helpers.ts';
import type { NestedEvidence } from './evidence.ts';

/** How many nested decoys the probe tries to chain (the "up to 6"). */
export const NESTED_ATTEMPTS = 6;

/**
 * `init --decoy` as the stock CLI wants it on an existing vault: later builds ask for `--yes`
 * (their help says the vault may move behind the new decoy); an examiner reads the help and adds it.
 */
export async function initDecoyArgs(): Promise<string[]> {
  const help = await runCli(['init', '--help']);
  return /--yes\b/.test(help.stdout.toString('utf8')) ? ['init', '--decoy', '--yes'] : ['init', '--decoy'];
}

export async function probeNested(home: string, passphrase: string, args: readonly string[]): Promise<NestedEvidence> {
  let current = passphrase;
  let created = 0;
  let stop: string | null = null;
  let attempts = 0;
  const outputs: string[] = [];
  for (let i = 1; i <= NESTED_ATTEMPTS; i++) {
    attempts++;
    const next = `nested decoy number ${i}`;
    const r = await runCli(args, { env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: current, ELOHIM_DECOY_PASSPHRASE: next } });
    outputs.push(
      `${r.stdout.toString('utf8')}${r.stderr}`.replaceAll(home, '<folder>').replace(/\b[0-9A-Z]{4}(-[0-9A-Z]{4}){5}\b/g, '<code>'),
    );
    if (r.code !== 0) {
      stop = `exit ${r.code}: ${r.stderr.trim()}`;
      break;
    }
    created++;
    current = next;
  }
  const still = await runCli(['ls'], { env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: passphrase } });
  return { attempts, created, stop, outputs, examinedStillOpens: still.code === 0 };
}


/** The views, in order; each run unlocks the vault (on a copy: the entries it adds do not matter). */
const VIEWS = [['decoy', 'status'], ['verify', '--json'], ['audit', 'verify', '--json']] as const;

/**
 * What each view prints, exit code first, with what differs between any two folders by nature
 * blanked: the folder's path, times, hashes and ids.
 */
export async function sessionViews(home: string, passphrase: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const args of VIEWS) {
    const r = await runCli(args, { env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: passphrase } });
    out[args.join(' ')] = `exit ${r.code}\n${r.stdout.toString('utf8')}${r.stderr}`
      .replaceAll(home, '<folder>')
      .replace(/\b[0-9a-f]{32,64}\b/g, '<hex>')
      .replace(/\d{4}-\d\d-\d\dT[\d:.]+Z/g, '<time>')
      .replace(/"(at|trashedAt|modified|created)":\d+/g, '"$1":<time>');
  }
  return out;
}
