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
import { open, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, removeTempDirs } from './helpers.ts';
import { describeDifferences, differences } from './examiner/compare.ts';
import type { Report, Tell } from './examiner/features.ts';
import { initDecoyArgs } from './examiner/examine.ts';
import { folderBuilders, TOLERANCE_MS } from './examiner/folders.ts';
import type { Folder } from './examiner/folders.ts';
import { examineStore } from './examiner/store.ts';

after(removeTempDirs);

const buildFolders = folderBuilders({ init: ['--reserve', '24M'], serverPasses: 3 });

const TELLS_HERE: readonly string[] = ['slotBookkeeping', 'unexplainedData', 'nestedCapacity', 'timestamps', 'creationOrder', 'deniableStore', 'examinedVault', 'keyslotsFile', 'fileLayout'];

describe('forensic examiner on folders with the deniable store (issue 9)', () => {
  const reports = new Map<Folder['name'], Report>();
  const folders = new Map<Folder['name'], Folder>();

  before(async () => {
    const addDecoy = await initDecoyArgs();
    const made = await buildFolders(addDecoy);
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
