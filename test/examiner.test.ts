/**
 * The forensic examiner of issue 9, from the attacker's side. It is handed one passphrase (the
 * decoy's, or in a folder with one vault, that vault's) and our source, and it must not be able
 * to tell a data folder with a used hidden vault from one without, after the same work in the
 * vault it opened. The examiner (test/examiner/) opens everything that vault can, classifies
 * every slot, row, object, file and time, probes the nested-decoy capacity on a copy, and
 * reports features named after the tells; compare.ts admits only what the README does.
 * A failing comparison names the tell and shows the feature on both sides;
 * ELOHIM_EXAMINER_DUMP=<folder> keeps each folder's evidence and report as JSON.
 *
 * Four folders (examiner/folders.ts), built with the stock CLI at the same pace:
 *   A   set up with a hidden vault and a decoy; the hidden vault used before and after the decoy;
 *   A2  set up with the hidden vault alone, used, then `init --decoy`; the same afterwards;
 *   B   set up with one vault (the one handed over), the same work in it as in A's decoy, and
 *       ElohimOS run with no vault unlocked (`elohim status`, and a server's passes) where A's
 *       hidden vault was used: the innocuous explanation for activity the examined vault did not
 *       write. B2, made the same way, is the control.
 */
import assert from 'node:assert/strict';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { makeTempDir, markerLines, removeTempDirs } from './helpers.ts';
import { examine, initDecoyArgs } from './examiner/examine.ts';
import { reportOf, TELLS } from './examiner/features.ts';
import type { Report, Tell } from './examiner/features.ts';
import { ADMITTED, describeDifferences, differences, differencesIn } from './examiner/compare.ts';
import { EXAMINED_ROUND, folderBuilders, TOLERANCE_MS } from './examiner/folders.ts';
import type { Folder } from './examiner/folders.ts';
import { bucketOf, timelineOf } from './examiner/timeline.ts';

after(removeTempDirs);

/**
 * Server passes B makes where A's hidden vault was used (an hour or two of a server left running).
 * Each adds an object with probability 0.35 (cover/chaff.ts), so with B and B2 together a window
 * has none with probability 0.65^24, 3 in 100,000: the innocuous explanation is there to compare.
 */
const SERVER_PASSES = 12;

/**
 * Comparisons that still fail on the code as committed, each marked TODO (reported, never
 * skipped) with the tell it is about. Key: `<folder>:<tell>`. Empty when issue 9 is done.
 */
const STILL_OPEN: Partial<Record<`${'A' | 'A2' | 'B2'}:${Tell}`, string>> = {};

const buildFolders = folderBuilders({ init: [], serverPasses: SERVER_PASSES });

describe('forensic examiner with the decoy passphrase (issue 9)', () => {
  const reports = new Map<Folder['name'], Report>();

  before(async () => {
    const addDecoy = await initDecoyArgs();
    const folders = await buildFolders(addDecoy);
    await Promise.all(
      folders.map(async (f) => {
        const evidence = await examine(f.home.home, f.handover, await makeTempDir('elohim-examiner-'), { addDecoyArgs: addDecoy });
        const report = reportOf(evidence, { toleranceMs: TOLERANCE_MS });
        reports.set(f.name, report);
        // For a human examiner: ELOHIM_EXAMINER_DUMP=<folder> keeps each folder's evidence and report.
        const dump = process.env.ELOHIM_EXAMINER_DUMP;
        if (dump) await writeFile(join(dump, `${f.name}.json`), JSON.stringify({ evidence, report }, null, 1));
      }),
    );
    // About 110 CLI runs and four sets of pauses: ~35 s on a quiet machine, over 120 s (npm test's
    // per-test limit, which hooks inherit) when four other suites share its two cores.
  }, { timeout: 240_000 });

  test('the examiner opens everything the handed-over vault holds, in every folder', () => {
    const [round, sizes] = EXAMINED_ROUND;
    const bytes = (name: string, size: number) => markerLines(`${round}-${name}`, 0, size).data.length;
    const expected = [`folder /${round}`, `folder /${round}-archive`, `file /${round}-archive/a-renamed.txt ${bytes('a.txt', sizes[0])} B`, `file /${round}/c.bin ${bytes('c.bin', sizes[2])} B`];
    for (const [name, r] of reports) {
      const say = (what: string) => `${name}: ${what}: ${JSON.stringify(r, null, 1).slice(0, 3000)}`;
      assert.deepEqual([...(r['examinedVault.items'] as string[])].sort(), expected.sort(), say('its items'));
      assert.equal(r['examinedVault.auditVerifies'], true, say('its audit log verifies'));
      assert.equal(r['examinedVault.objectsDecrypt'], true, say('each of its objects decrypts to its recorded SHA-256'));
      assert.equal(r['examinedVault.referencedObjects'], 2, say('it references two objects'));
      assert.equal(r['examinedVault.missingObjects'], 0, say('none missing'));
      assert.equal(r['examinedVault.everyRecoveryCodeOpens'], true, say('each recovery code handed over opens one slot'));
      assert.match(r['examinedVault.view: elohim decoy status'] as string, /^exit 0\nno decoy vault\n$/, say('it made no decoy'));
      assert.match(r['examinedVault.view: elohim verify --json'] as string, /^exit 0\n.*"files":2\b/, say('verify reads its two files'));
      assert.equal((r['slotBookkeeping.passphraseSlots'] as number[]).length, 1, say('one passphrase slot'));
      assert.equal((r['slotBookkeeping.recoverySlots'] as number[]).length, 10, say('ten recovery slots'));
      for (const s of r['examinedVault.stores'] as { name: string; rowsAccountedFor: boolean; damaged: number }[]) {
        assert.ok(s.rowsAccountedFor && s.damaged === 0, say(`every row of its ${s.name} store opens`));
      }
    }
  });

  // B2 is the control, made like B. Features compared by equality must be the same in B2 as in
  // B, or they are noise rather than tells; time features are compared with B and B2 together
  // (compare.ts), so for B2 they hold by construction.
  for (const name of ['B2', 'A', 'A2'] as const) {
    for (const tell of Object.keys(TELLS) as Tell[]) {
      const todo = STILL_OPEN[`${name}:${tell}`];
      const title = name === 'B2' ? `control: B2, made like B, reads like B in ${tell}` : `${name} reads like B in ${tell}`;
      test(title, todo === undefined ? {} : { todo }, (t) => {
        const examined = reports.get(name)!;
        const baselines = [reports.get('B')!, reports.get('B2')!];
        // B2's server passes ran back to back like B's, so the source's bounds do not apply to it.
        const bounds = name !== 'B2';
        const admitted = differences(examined, baselines, { includeAdmitted: true, bounds }).filter((d) => d.feature in ADMITTED && d.tell === tell);
        for (const d of admitted) t.diagnostic(`admitted: ${d.feature} ${JSON.stringify(d.examined)} vs ${JSON.stringify(d.baseline)} (${ADMITTED[d.feature]})`);
        const diffs = differences(examined, baselines, { bounds }).filter((d) => d.tell === tell);
        assert.deepEqual(diffs, [], describeDifferences(tell, { examined: name, baseline: 'B', baselines: 'B and B2' }, diffs));
      });
    }
  }
});

describe('the examiner’s own logic', () => {
  test('times are placed in the examined vault’s history: set-up, its sessions, between them, after its last entry', () => {
    const timeline = timelineOf([
      { at: 10_000, event: 'setup' },
      { at: 20_000, event: 'unlock' },
      { at: 20_300, event: 'put' },
      { at: 30_000, event: 'unlock-failed' },
      { at: 30_001, event: 'unlock' },
      { at: 30_200, event: 'download' },
    ]);
    assert.deepEqual(timeline.sessions, [[20_000, 20_300], [30_000, 30_200]]);
    const at = (t: number) => bucketOf(t, timeline, 1000);
    assert.deepEqual([at(8_000), at(10_900), at(19_100), at(25_000), at(30_900), at(31_300)], ['before-setup', 'setup', 'session', 'between-sessions', 'session', 'after-last']);
  });

  test('a difference is reported under its tell unless the README admits it', () => {
    const base: Report = { 'slotBookkeeping.meta': [{ reservedSlots: [] }], 'unexplainedData.rows': 0, 'timestamps.db.sqlite.mtime': ['session'] };
    const suspect: Report = { 'slotBookkeeping.meta': [{ reservedSlots: [3, 9] }], 'unexplainedData.rows': 12, 'timestamps.db.sqlite.mtime': ['session', 'after-last'] };
    assert.deepEqual(differences(suspect, [base]).map((d) => `${d.tell} ${d.feature}`), ['slotBookkeeping slotBookkeeping.meta', 'timestamps timestamps.db.sqlite.mtime']);
    assert.deepEqual(differencesIn('unexplainedData', suspect, [base]), []);
    assert.match(
      describeDifferences('timestamps', { examined: 'A', baseline: 'B' }, differencesIn('timestamps', suspect, [base])),
      /tell 4, timestamps.*\n {2}timestamps\.db\.sqlite\.mtime \(times: .*\)\n {4}A: \["session","after-last"\]\n {4}B: \["session"\]/,
    );
  });

  test('a bounded feature is held to the source’s bound, not to the baselines (and is left out while the README admits it)', () => {
    const base: Report = { 'chaffPattern.burstsAfterSetup': 5 };
    const all = { includeAdmitted: true };
    assert.deepEqual(differences({ 'chaffPattern.burstsAfterSetup': 0 }, [base], all), []);
    assert.deepEqual(differences({ 'chaffPattern.burstsAfterSetup': 2 }, [base], all).map((d) => [d.tell, d.examined]), [['chaffPattern', 2]]);
    assert.deepEqual(differences({ 'chaffPattern.burstsAfterSetup': 2 }, [base], { ...all, bounds: false }), []);
    assert.equal('chaffPattern.burstsAfterSetup' in ADMITTED, differences({ 'chaffPattern.burstsAfterSetup': 2 }, [base]).length === 0);
  });

  test('a time bucket is a tell only when no baseline shows it; other features must equal the first baseline', () => {
    const b1: Report = { 'timestamps.objects: unexplained.birth': ['setup', 'session'], 'examinedVault.events': ['setup {}'] };
    const b2: Report = { 'timestamps.objects: unexplained.birth': ['setup', 'after-last'], 'examinedVault.events': ['setup {}'] };
    const innocuous: Report = { 'timestamps.objects: unexplained.birth': ['session', 'after-last'], 'examinedVault.events': ['setup {}'] };
    const early: Report = { 'timestamps.objects: unexplained.birth': ['before-setup', 'setup'], 'examinedVault.events': ['setup {}', 'unlock {}'] };
    assert.deepEqual(differences(innocuous, [b1, b2]), []);
    assert.deepEqual(
      differences(early, [b1, b2]).map((d) => [d.feature, d.baseline]),
      [
        ['examinedVault.events', ['setup {}']],
        ['timestamps.objects: unexplained.birth', ['setup', 'session', 'after-last']],
      ],
    );
  });
});
