/**
 * The deniable store's costs (issue 9): the same work through `elohim` in a folder set up
 * without a store and in one set up with `init --reserve`, in one run.
 *
 *   npm run bench:deniable                  1 GiB put and get, 2,000 small files, 2 rounds
 *   BENCH_BIG_MIB=256 BENCH_SMALL=500 …     smaller
 *   BENCH_DIR=/mnt/x …                      where the data goes (default: the OS temp folder)
 *
 * Figures: set-up time (filling the store with random bytes), put and get of a big file (wall
 * time, MiB/s, CPU seconds, peak RSS), many small files in one put (files/s), `ls` of them (an
 * unlock, which in the store loads the region's rows), the data folder's size on disk (what a
 * file-level backup copies). Times are whole commands, unlock included.
 * Then the cloud backup (src/backup, a local-folder target) of each folder with the big file put
 * back: the first backup (time, CPU, bytes on the target: a store folder uploads the whole
 * store), a second one after writing BENCH_WRITE_MIB (10) MiB more (bytes added), and
 * `restore --from` on a fresh folder. Both folders are set up with a decoy and every command
 * runs in the vault behind it (the hidden vault, region 0 of the store).
 * The last line is one JSON object of the figures and ratios.
 */
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { best, fmtS, printJsonLine, randomFile, ratio, run, secs, sha256File } from './lib.ts';
import type { RunResult } from './lib.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'elohim.js');
const PATH_WITH_NODE = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
const MiB = 1024 ** 2;
const BIG = Number(process.env.BENCH_BIG_MIB ?? 1024) * MiB;
const SMALL = Number(process.env.BENCH_SMALL ?? 2000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 2);
/** Each region holds one vault: room for the big file twice over (a put while the last is in the trash) and the small files. */
const RESERVE_MIB = 2 * Math.ceil((2.2 * BIG + SMALL * 16 * 1024) / MiB + 64);
/** Written in the hidden vault between the first and the second backup. */
const WRITE = Number(process.env.BENCH_WRITE_MIB ?? 10) * MiB;

const du = (path: string) => Number(execFileSync('du', ['-sb', path]).toString().split('\t')[0]);

interface Side {
  env: NodeJS.ProcessEnv;
  init: RunResult;
  put: RunResult[];
  get: RunResult[];
  small: RunResult | null;
  /** `ls` after the small files: unlock, which in the store loads the region's rows from its log */
  list: RunResult | null;
  bytes: number;
  backup: { first: RunResult; firstBytes: number; second: RunResult; secondBytes: number; restore: RunResult } | null;
}

async function setUp(work: string, name: string, initArgs: string[]): Promise<Side> {
  const env = { ELOHIM_HOME: join(work, name), ELOHIM_PASSPHRASE: 'bench passphrase', ELOHIM_NO_PROGRESS: '1', PATH: PATH_WITH_NODE };
  const init = await run(CLI, ['init', '--decoy', ...initArgs], { ...env, ELOHIM_DECOY_PASSPHRASE: 'bench decoy passphrase' });
  return { env, init, put: [], get: [], small: null, list: null, bytes: 0, backup: null };
}

/** One round of one side: put, get (checked), then the file removed and the trash emptied. */
async function round(s: Side, i: number, work: string, src: string, srcHash: string): Promise<void> {
  s.put.push(await run(CLI, ['put', src, `/big-${i}.bin`], s.env));
  const out = join(work, 'out.bin');
  s.get.push(await run(CLI, ['get', `/big-${i}.bin`, out], s.env));
  if ((await sha256File(out)) !== srcHash) throw new Error(`${String(s.env.ELOHIM_HOME)}: the file came back different`);
  await rm(out);
  await run(CLI, ['rm', `/big-${i}.bin`], s.env);
  await run(CLI, ['trash', 'empty'], s.env);
}

async function main(): Promise<void> {
  const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'elohim-bench-deniable-'));
  try {
    const src = join(work, 'big.bin');
    await randomFile(src, BIG);
    const srcHash = await sha256File(src);
    const smallDir = join(work, 'small');
    await mkdir(smallDir);
    for (let i = 0; i < SMALL; i++) await writeFile(join(smallDir, `f${i}.bin`), Buffer.alloc(1024 + ((i * 7919) % 7168), i % 251));

    const plain = await setUp(work, 'plain', []);
    const store = await setUp(work, 'store', ['--reserve', `${RESERVE_MIB}M`]);
    // Rounds interleaved, so that load from others on a shared machine falls on both sides alike.
    for (let i = 0; i < ROUNDS; i++) {
      await round(plain, i, work, src, srcHash);
      await round(store, i, work, src, srcHash);
    }
    for (const s of [plain, store]) {
      s.small = await run(CLI, ['put', smallDir, '/'], s.env);
      s.list = await run(CLI, ['ls', '/small'], s.env);
      s.bytes = du(String(s.env.ELOHIM_HOME));
    }

    // The cloud backup of each folder, interleaved: first, second after WRITE more, restore.
    const targets = { plain: join(work, 'usb-plain'), store: join(work, 'usb-store') };
    for (const [s, target] of [[plain, targets.plain], [store, targets.store]] as const) {
      await mkdir(target);
      await run(CLI, ['put', src, '/big-again.bin'], s.env);
      await run(CLI, ['backup', 'target', 'add', 'usb', target], s.env);
    }
    const first = { plain: await run(CLI, ['backup', 'run'], plain.env), store: await run(CLI, ['backup', 'run'], store.env) };
    const firstBytes = { plain: du(targets.plain), store: du(targets.store) };
    const more = join(work, 'more.bin');
    await randomFile(more, WRITE);
    for (const s of [plain, store]) await run(CLI, ['put', more, '/more.bin'], s.env);
    const second = { plain: await run(CLI, ['backup', 'run'], plain.env), store: await run(CLI, ['backup', 'run'], store.env) };
    const secondBytes = { plain: du(targets.plain) - firstBytes.plain, store: du(targets.store) - firstBytes.store };
    // The decoy's secret restores either folder (store-restore.ts: the front vault's).
    const restoreEnv = (name: string) => ({ ...plain.env, ELOHIM_HOME: join(work, name), ELOHIM_PASSPHRASE: 'bench decoy passphrase' });
    const restored = { plain: await run(CLI, ['restore', '--from', targets.plain], restoreEnv('restored-plain')), store: await run(CLI, ['restore', '--from', targets.store], restoreEnv('restored-store')) };
    // The store folder again, by the hidden vault's passphrase: it first downloads the repository
    // to find its records by its key (src/backup/store-bootstrap.ts).
    const restoredBehind = await run(CLI, ['restore', '--from', targets.store], { ...plain.env, ELOHIM_HOME: join(work, 'restored-store-behind') });
    for (const [s, k] of [[plain, 'plain'], [store, 'store']] as const) {
      s.backup = { first: first[k], firstBytes: firstBytes[k], second: second[k], secondBytes: secondBytes[k], restore: restored[k] };
      const check = await run(CLI, ['get', '/more.bin', join(work, `more-${k}.bin`)], { ...s.env, ELOHIM_HOME: join(work, `restored-${k}`) });
      if ((await sha256File(join(work, `more-${k}.bin`))) !== (await sha256File(more))) throw new Error(`${k}: the restored folder does not give the file back (${check.stderr})`);
    }

    const mibs = (r: RunResult[]) => Math.round((BIG / MiB / (best(r.map((x) => x.ms)) / 1000)) * 10) / 10;
    const peak = (r: RunResult[]) => Math.round(Math.max(...r.map((x) => x.peakRssMiB)));
    const cpu = (r: RunResult[]) => (r.every((x) => x.cpuS !== null) ? Math.round(Math.min(...r.map((x) => x.cpuS!)) * 100) / 100 : null);
    const bk = (s: Side, which: 'first' | 'second' | 'restore') => `${fmtS(s.backup![which].ms)} (CPU ${s.backup![which].cpuS?.toFixed(2) ?? '?'} s)`;
    const filesPerS = (s: Side) => Math.round(SMALL / (s.small!.ms / 1000));
    const rows = [
      ['', 'without store', 'with store', 'ratio'],
      ['init', fmtS(plain.init.ms), fmtS(store.init.ms), `${ratio(store.init.ms, plain.init.ms)}×`],
      [`put ${BIG / MiB} MiB`, `${fmtS(best(plain.put.map((x) => x.ms)))} (${mibs(plain.put)} MiB/s)`, `${fmtS(best(store.put.map((x) => x.ms)))} (${mibs(store.put)} MiB/s)`, `${ratio(best(store.put.map((x) => x.ms)), best(plain.put.map((x) => x.ms)))}×`],
      ['put peak RSS', `${peak(plain.put)} MiB`, `${peak(store.put)} MiB`, ''],
      [`get ${BIG / MiB} MiB`, `${fmtS(best(plain.get.map((x) => x.ms)))} (${mibs(plain.get)} MiB/s)`, `${fmtS(best(store.get.map((x) => x.ms)))} (${mibs(store.get)} MiB/s)`, `${ratio(best(store.get.map((x) => x.ms)), best(plain.get.map((x) => x.ms)))}×`],
      ['get peak RSS', `${peak(plain.get)} MiB`, `${peak(store.get)} MiB`, ''],
      [`put ${SMALL} small files`, `${filesPerS(plain)} files/s`, `${filesPerS(store)} files/s`, `${ratio(filesPerS(store), filesPerS(plain))}×`],
      ['small put peak RSS', `${Math.round(plain.small!.peakRssMiB)} MiB`, `${Math.round(store.small!.peakRssMiB)} MiB`, ''],
      [`ls of ${SMALL} files (unlock)`, `${fmtS(plain.list!.ms)} ${Math.round(plain.list!.peakRssMiB)} MiB`, `${fmtS(store.list!.ms)} ${Math.round(store.list!.peakRssMiB)} MiB`, `${ratio(store.list!.ms, plain.list!.ms)}×`],
      ['data folder on disk', `${Math.round(plain.bytes / MiB)} MiB`, `${Math.round(store.bytes / MiB)} MiB`, ''],
      ['first backup', bk(plain, 'first'), bk(store, 'first'), `${ratio(store.backup!.first.ms, plain.backup!.first.ms)}×`],
      ['first backup size', `${Math.round(plain.backup!.firstBytes / MiB)} MiB`, `${Math.round(store.backup!.firstBytes / MiB)} MiB`, `${ratio(store.backup!.firstBytes, plain.backup!.firstBytes)}×`],
      [`backup after ${WRITE / MiB} MiB more`, bk(plain, 'second'), bk(store, 'second'), ''],
      ['  bytes it added', `${(plain.backup!.secondBytes / MiB).toFixed(1)} MiB`, `${(store.backup!.secondBytes / MiB).toFixed(1)} MiB`, `${ratio(store.backup!.secondBytes, plain.backup!.secondBytes)}×`],
      ['restore --from', bk(plain, 'restore'), bk(store, 'restore'), `${ratio(store.backup!.restore.ms, plain.backup!.restore.ms)}×`],
      ['  by the hidden vault', '', `${fmtS(restoredBehind.ms)} (CPU ${restoredBehind.cpuS?.toFixed(2) ?? '?'} s)`, `${ratio(restoredBehind.ms, store.backup!.restore.ms)}× the decoy's`],
    ];
    for (const r of rows) process.stdout.write(`${r[0]!.padEnd(24)}${r[1]!.padEnd(26)}${r[2]!.padEnd(26)}${r[3]}\n`);
    process.stdout.write(`(store: ${RESERVE_MIB} MiB reserved; the whole of it is what a file-level backup copies, every time)\n`);
    printJsonLine('deniable', {
      bigMiB: BIG / MiB,
      small: SMALL,
      rounds: ROUNDS,
      reserveMiB: RESERVE_MIB,
      initS: { plain: secs(plain.init.ms), store: secs(store.init.ms) },
      putMiBs: { plain: mibs(plain.put), store: mibs(store.put) },
      putRatio: ratio(best(store.put.map((x) => x.ms)), best(plain.put.map((x) => x.ms))),
      putCpuS: { plain: cpu(plain.put), store: cpu(store.put) },
      putPeakRssMiB: { plain: peak(plain.put), store: peak(store.put) },
      getMiBs: { plain: mibs(plain.get), store: mibs(store.get) },
      getPeakRssMiB: { plain: peak(plain.get), store: peak(store.get) },
      smallFilesPerS: { plain: filesPerS(plain), store: filesPerS(store) },
      smallPeakRssMiB: { plain: Math.round(plain.small!.peakRssMiB), store: Math.round(store.small!.peakRssMiB) },
      listS: { plain: secs(plain.list!.ms), store: secs(store.list!.ms) },
      listPeakRssMiB: { plain: Math.round(plain.list!.peakRssMiB), store: Math.round(store.list!.peakRssMiB) },
      folderMiB: { plain: Math.round(plain.bytes / MiB), store: Math.round(store.bytes / MiB) },
      backupFirstS: { plain: secs(plain.backup!.first.ms), store: secs(store.backup!.first.ms) },
      backupFirstCpuS: { plain: plain.backup!.first.cpuS, store: store.backup!.first.cpuS },
      backupFirstMiB: { plain: Math.round(plain.backup!.firstBytes / MiB), store: Math.round(store.backup!.firstBytes / MiB) },
      backupFirstSizeRatio: ratio(store.backup!.firstBytes, plain.backup!.firstBytes),
      writeMiB: WRITE / MiB,
      backupSecondS: { plain: secs(plain.backup!.second.ms), store: secs(store.backup!.second.ms) },
      backupSecondMiB: { plain: Math.round((plain.backup!.secondBytes / MiB) * 10) / 10, store: Math.round((store.backup!.secondBytes / MiB) * 10) / 10 },
      restoreS: { plain: secs(plain.backup!.restore.ms), store: secs(store.backup!.restore.ms) },
      restoreCpuS: { plain: plain.backup!.restore.cpuS, store: store.backup!.restore.cpuS },
      restoreByHiddenS: secs(restoredBehind.ms),
      restoreByHiddenCpuS: restoredBehind.cpuS,
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
