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
}

async function setUp(work: string, name: string, initArgs: string[]): Promise<Side> {
  const env = { ELOHIM_HOME: join(work, name), ELOHIM_PASSPHRASE: 'bench passphrase', ELOHIM_NO_PROGRESS: '1', PATH: PATH_WITH_NODE };
  return { env, init: await run(CLI, ['init', ...initArgs], env), put: [], get: [], small: null, list: null, bytes: 0 };
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

    const mibs = (r: RunResult[]) => Math.round((BIG / MiB / (best(r.map((x) => x.ms)) / 1000)) * 10) / 10;
    const peak = (r: RunResult[]) => Math.round(Math.max(...r.map((x) => x.peakRssMiB)));
    const cpu = (r: RunResult[]) => (r.every((x) => x.cpuS !== null) ? Math.round(Math.min(...r.map((x) => x.cpuS!)) * 100) / 100 : null);
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
    });
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}

await main();
