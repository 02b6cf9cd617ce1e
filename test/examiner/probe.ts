/**
 * The nested-decoy probe (issue 9, tell 3): on a copy of the data folder, the stock CLI's
 * `init --decoy` chained from the examined vault, each new decoy's passphrase the next's
 * current one, counting how many it creates before it refuses.
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

