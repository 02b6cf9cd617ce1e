/**
 * The four data folders the examiner tests compare (examiner.test.ts, examiner-store.test.ts),
 * built with the stock CLI at the same pace: GAP_MS between phases, longer than twice the
 * examiner's TOLERANCE_MS, so a phase cannot pass for part of its neighbour.
 *   A   set up with a hidden vault and a decoy; the hidden vault used before and after the decoy;
 *   A2  set up with the hidden vault alone, used, then `init --decoy`; the same afterwards;
 *   B   set up with one vault (the one handed over), the same work in it as in A's decoy, and
 *       ElohimOS run with no vault unlocked where A's hidden vault was used: the innocuous
 *       explanation for activity the examined vault did not write. B2, made the same way, the control.
 */
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { createApp } from '../../src/app.ts';
import { CHEAP_KDF, DECOY_PASSPHRASE, describeRun, makeHome, markerLines, parseRecoveryCodes, PASSPHRASE } from '../helpers.ts';
import type { TestHome } from '../helpers.ts';
import type { Handover } from './examine.ts';

/** How far from the examined vault's entries a file time may be and still count as its own. */
export const TOLERANCE_MS = 2000;
/** The pause between phases of a scenario. */
export const GAP_MS = 2 * TOLERANCE_MS + 500;

/** The examined vault's work, the same in every folder. */
export const EXAMINED_ROUND = ['docs', [3_000, 100_000, 70_000]] as const;
/** The hidden vault's work, before and after. */
const HIDDEN_BEFORE = ['plans', [150_000, 9_000, 400_000]] as const;
// c.bin is bigger than any chaff object, which the examiner notices (without the store, admitted with the amount).
const HIDDEN_AFTER = ['sources', [20_000, 300_000, 5_000_000]] as const;

export interface Folder {
  name: 'A' | 'A2' | 'B' | 'B2';
  home: TestHome;
  handover: Handover;
}

const asVault = (passphrase: string) => ({ env: { ELOHIM_PASSPHRASE: passphrase } });

/** Codes printed under a title ending in `title` (init prints them after "Decoy vault created." too). */
function codesUnder(stdout: string, title: string): string[] {
  const line = stdout.split('\n').find((l) => l.trim().endsWith(title));
  return line === undefined ? [] : parseRecoveryCodes(stdout, line.trim());
}

/**
 * One round of ordinary use in a vault, one CLI command each: files put (a folder of three), a
 * folder made, a rename, a trash and empty-trash, a download. `round` names the folder, so two
 * rounds in one vault do not collide, and seeds the contents.
 */
async function useVault(t: TestHome, passphrase: string, round: string, sizes: readonly [number, number, number]): Promise<void> {
  const host = join(t.work, round);
  await mkdir(host, { recursive: true });
  const names = ['a.txt', 'b.txt', 'c.bin'];
  for (const [i, name] of names.entries()) await writeFile(join(host, name), markerLines(`${round}-${name}`, 0, sizes[i]!).data);
  const opts = asVault(passphrase);
  await t.ok(['put', host, '/'], opts);
  await t.ok(['mkdir', `/${round}-archive`], opts);
  await t.ok(['mv', `/${round}/a.txt`, `/${round}-archive/a-renamed.txt`], opts);
  await t.ok(['rm', `/${round}/b.txt`], opts);
  await t.ok(['trash', 'empty'], opts);
  await t.ok(['get', `/${round}-archive/a-renamed.txt`, join(t.work, `${round}-download`)], opts);
}

/**
 * The folders' builders. `init`: arguments added to every `elohim init` (the deniable store's
 * `--reserve`); `serverPasses`: how many maintenance passes stand for a server left running
 * locked, which adds a little chaff every 2-10 minutes (server.ts): the test cannot wait
 * minutes, so it makes those passes itself, through the same call the server's timer makes.
 */
export function folderBuilders(opts: { init: readonly string[]; serverPasses: number }) {
  const init = [...CHEAP_KDF, ...opts.init];

  async function folderA(): Promise<Folder> {
    const t = await makeHome();
    const made = await t.ok(['init', ...init, '--decoy'], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
    const decoyCodes = codesUnder(made.stdout.toString('utf8'), 'Recovery codes of the DECOY vault:');
    await sleep(GAP_MS);
    await useVault(t, PASSPHRASE, ...HIDDEN_BEFORE);
    await sleep(GAP_MS);
    await useVault(t, DECOY_PASSPHRASE, ...EXAMINED_ROUND);
    await sleep(GAP_MS);
    await useVault(t, PASSPHRASE, ...HIDDEN_AFTER);
    return { name: 'A', home: t, handover: { passphrase: DECOY_PASSPHRASE, recoveryCodes: decoyCodes } };
  }

  async function folderA2(addDecoy: readonly string[]): Promise<Folder> {
    const t = await makeHome();
    await t.ok(['init', ...init]);
    await sleep(GAP_MS);
    await useVault(t, PASSPHRASE, ...HIDDEN_BEFORE);
    const add = await t.ok(addDecoy, { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
    const decoyCodes = codesUnder(add.stdout.toString('utf8'), 'Recovery codes of the DECOY vault:');
    await sleep(GAP_MS);
    await useVault(t, DECOY_PASSPHRASE, ...EXAMINED_ROUND);
    await sleep(GAP_MS);
    await useVault(t, PASSPHRASE, ...HIDDEN_AFTER);
    return { name: 'A2', home: t, handover: { passphrase: DECOY_PASSPHRASE, recoveryCodes: decoyCodes } };
  }

  /** ElohimOS ran with no vault unlocked: `elohim status`, and a server's maintenance passes. */
  async function elohimRanLocked(t: TestHome): Promise<void> {
    const status = await t.run(['status']);
    assert.equal(status.code, 0, describeRun(status));
    const app = createApp({ home: t.home });
    try {
      for (let i = 0; i < opts.serverPasses; i++) await app.maintain({ chaff: true });
    } finally {
      app.close();
    }
  }

  async function folderB(name: 'B' | 'B2'): Promise<Folder> {
    const t = await makeHome();
    const made = await t.ok(['init', ...init], asVault(DECOY_PASSPHRASE));
    const codes = parseRecoveryCodes(made.stdout.toString('utf8'), 'Recovery codes:');
    await sleep(GAP_MS);
    await elohimRanLocked(t); // where A's hidden vault was used
    await sleep(GAP_MS);
    await useVault(t, DECOY_PASSPHRASE, ...EXAMINED_ROUND);
    await sleep(GAP_MS);
    await elohimRanLocked(t);
    return { name, home: t, handover: { passphrase: DECOY_PASSPHRASE, recoveryCodes: codes } };
  }

  /** The four folders, built at once (each at its own pace). */
  return (addDecoy: readonly string[]): Promise<Folder[]> => Promise.all([folderA(), folderA2(addDecoy), folderB('B'), folderB('B2')]);
}
