/**
 * The forensic examiner of issue 9 on folders set up with the deniable store (`init --reserve`).
 * As in examiner.test.ts: the examiner holds the decoy passphrase (in a folder with one vault,
 * that vault's) and our source, and must not tell a folder whose hidden vault was used from one
 * that never had one, after the same work in the vault handed over. Here nothing is admitted:
 * the amount of hidden data, which the README admits without the store, must not show either.
 *
 *   A   set up with a store, a hidden vault and a decoy; the hidden vault used before and after
 *       the decoy's work, including a file bigger than any chaff (5 MiB);
 *   A2  set up with a store and one vault, used, then `init --decoy --yes`; the same afterwards;
 *   B   set up with a store and one vault (the one handed over), the same work, and ElohimOS run
 *       with no vault unlocked where A's hidden vault was used; B2, made the same way, the control.
 */
import assert from 'node:assert/strict';
import { mkdir, open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, test } from 'node:test';
import { createApp } from '../src/app.ts';
import { CHEAP_KDF, DECOY_PASSPHRASE, describeRun, makeHome, makeTempDir, markerLines, parseRecoveryCodes, PASSPHRASE, removeTempDirs } from './helpers.ts';
import type { TestHome } from './helpers.ts';
import { describeDifferences, differences } from './examiner/compare.ts';
import type { Report, Tell } from './examiner/features.ts';
import { initDecoyArgs } from './examiner/examine.ts';
import type { Handover } from './examiner/examine.ts';
import { examineStore } from './examiner/store.ts';

after(removeTempDirs);

const TOLERANCE_MS = 2000;
const GAP_MS = 2 * TOLERANCE_MS + 500;
const RESERVE = ['--reserve', '24M'] as const;
const asVault = (passphrase: string) => ({ env: { ELOHIM_PASSPHRASE: passphrase } });

function codesUnder(stdout: string, title: string): string[] {
  const line = stdout.split('\n').find((l) => l.trim().endsWith(title));
  return line === undefined ? [] : parseRecoveryCodes(stdout, line.trim());
}

/** One round of ordinary use, one CLI command each (as examiner.test.ts). */
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

const EXAMINED_ROUND = ['docs', [3_000, 100_000, 70_000]] as const;
const HIDDEN_BEFORE = ['plans', [150_000, 9_000, 400_000]] as const;
const HIDDEN_AFTER = ['sources', [20_000, 300_000, 5_000_000]] as const;

interface Folder {
  name: 'A' | 'A2' | 'B' | 'B2';
  home: TestHome;
  handover: Handover;
}

async function folderA(): Promise<Folder> {
  const t = await makeHome();
  const init = await t.ok(['init', ...CHEAP_KDF, ...RESERVE, '--decoy'], { env: { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } });
  const decoyCodes = codesUnder(init.stdout.toString('utf8'), 'Recovery codes of the DECOY vault:');
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
  await t.ok(['init', ...CHEAP_KDF, ...RESERVE]);
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
    for (let i = 0; i < 3; i++) await app.maintain({ chaff: true });
  } finally {
    app.close();
  }
}

async function folderB(name: 'B' | 'B2'): Promise<Folder> {
  const t = await makeHome();
  const init = await t.ok(['init', ...CHEAP_KDF, ...RESERVE], asVault(DECOY_PASSPHRASE));
  const codes = parseRecoveryCodes(init.stdout.toString('utf8'), 'Recovery codes:');
  await sleep(GAP_MS);
  await elohimRanLocked(t);
  await sleep(GAP_MS);
  await useVault(t, DECOY_PASSPHRASE, ...EXAMINED_ROUND);
  await sleep(GAP_MS);
  await elohimRanLocked(t);
  return { name, home: t, handover: { passphrase: DECOY_PASSPHRASE, recoveryCodes: codes } };
}

const TELLS_HERE: readonly string[] = ['slotBookkeeping', 'unexplainedData', 'nestedCapacity', 'timestamps', 'creationOrder', 'deniableStore', 'examinedVault', 'keyslotsFile', 'fileLayout'];

describe('forensic examiner on folders with the deniable store (issue 9)', () => {
  const reports = new Map<Folder['name'], Report>();
  const folders = new Map<Folder['name'], Folder>();

  before(async () => {
    const addDecoy = await initDecoyArgs();
    const made = await Promise.all([folderA(), folderA2(addDecoy), folderB('B'), folderB('B2')]);
    for (const f of made) {
      folders.set(f.name, f);
      const { report, detail } = await examineStore(f.home.home, f.handover, await makeTempDir('elohim-examiner-'), { addDecoyArgs: addDecoy, toleranceMs: TOLERANCE_MS });
      reports.set(f.name, report);
      const dump = process.env.ELOHIM_EXAMINER_DUMP;
      if (dump) await writeFile(join(dump, `store-${f.name}.json`), JSON.stringify({ report, detail }, null, 1));
    }
  }, { timeout: 300_000 });

  test('the examiner opens everything the handed-over vault holds, and every other byte of the store looks random', () => {
    for (const [name, r] of reports) {
      const say = (what: string) => `${name}: ${what}: ${JSON.stringify(r, null, 1).slice(0, 3000)}`;
      assert.equal(r['deniableStore.size'], 24 * 1024 * 1024, say('the store keeps its size'));
      assert.deepEqual(r['deniableStore.regionsTheVaultOpens'], [1], say('the handed-over vault is the front one'));
      assert.equal(r['deniableStore.otherRegion'], 'random', say('the other region is random bytes'));
      assert.equal(r['deniableStore.unusedBlocksOfItsRegion'], 'random', say('its unused blocks are random bytes'));
      assert.equal(r['deniableStore.otherRegionRepeatedBlocks'], 0, say('no block repeats'));
      assert.equal(r['examinedVault.objectsThatDecrypt'], 2, say('its two files decrypt to their SHA-256'));
      assert.equal(r['examinedVault.auditVerifies'], true, say('its audit log verifies'));
      assert.equal(r['fileLayout.db.sqlite'], undefined, say('no db.sqlite'));
      assert.equal(r['fileLayout.objects'], undefined, say('no objects folder'));
    }
  });

  for (const name of ['B2', 'A', 'A2'] as const) {
    for (const tell of TELLS_HERE) {
      test(name === 'B2' ? `control: B2 reads like B in ${tell}` : `${name} reads like B in ${tell}`, () => {
        const examined = reports.get(name)!;
        const baselines = [reports.get('B')!, reports.get('B2')!];
        const diffs = differences(examined, baselines, { includeAdmitted: true, bounds: false }).filter((d) => d.tell === tell);
        assert.deepEqual(diffs, [], describeDifferences(tell as Tell, { examined: name, baseline: 'B', baselines: 'B and B2' }, diffs));
      });
    }
  }

  test('the examiner is not blind: filler in the other region, or a block written twice, is found', async () => {
    const f = folders.get('B2')!;
    const store = await open(join(f.home.home, 'store.bin'), 'r+');
    try {
      // VeraCrypt's own tell: a run of zeros (here 64 KiB) amid random bytes.
      await store.write(Buffer.alloc(64 * 1024), 0, 64 * 1024, 1 << 20);
      const zeros = await examineStore(f.home.home, f.handover, await makeTempDir('elohim-examiner-'), { addDecoyArgs: await initDecoyArgs(), toleranceMs: TOLERANCE_MS });
      assert.equal(zeros.report['deniableStore.otherRegion'], 'not random');
      const block = Buffer.alloc(4096, 7).fill(Math.random().toString(36));
      await store.write(block, 0, 4096, 2 << 20);
      await store.write(block, 0, 4096, 3 << 20);
      const twice = await examineStore(f.home.home, f.handover, await makeTempDir('elohim-examiner-'), { addDecoyArgs: await initDecoyArgs(), toleranceMs: TOLERANCE_MS });
      assert.ok((twice.report['deniableStore.otherRegionRepeatedBlocks'] as number) >= 1);
      assert.ok(differences(twice.report, [reports.get('B')!], { includeAdmitted: true, bounds: false }).some((d) => d.tell === 'deniableStore'));
    } finally {
      await store.close();
    }
  });
});
