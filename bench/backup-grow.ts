/**
 * Does the unchanged `elohim backup run` stay fast as backups accumulate? (issue 12)
 *
 * A data folder of BENCH_SMALL (default 2,000) small files, a local-folder target, then
 * BENCH_RUNS (default 60) `elohim backup run`s with nothing changed, each its own process as a
 * user runs it (bin/elohim.js, ELOHIM_PASSPHRASE). Every run still uploads the few audit rows the
 * previous one wrote. The figures: wall and CPU of the unchanged runs 3-7 ("early") and of the
 * last five ("late"), the index files on the target after each, and the late/early CPU ratio.
 * The tests' cheap Argon2id (BENCH_ARGON2=init for `elohim init`'s) so that the fixed key
 * derivation does not hide what grows. Not a test: `node bench/backup-grow.ts`.
 */
import { randomBytes } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdir, readdir, rm } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ELOHIM_CLI_ENV, median, printJsonLine, ratio, run } from './lib.ts';

const PASSPHRASE = 'bench backup grow passphrase';
const NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
const ELOHIM = fileURLToPath(new URL('../bin/elohim.js', import.meta.url));

async function main(): Promise<void> {
  const smallCount = Number(process.env.BENCH_SMALL ?? 2000);
  const runs = Math.max(8, Number(process.env.BENCH_RUNS ?? 60));
  const root = join(process.env.BENCH_DIR ?? tmpdir(), `elohim-bench-grow-${randomBytes(4).toString('hex')}`);
  try {
    const { createApp } = await import('../src/app.ts');
    const home = join(root, 'home');
    const app = createApp({ home });
    const argon2 = process.env.BENCH_ARGON2 === 'init' ? undefined : { memory: 19456, passes: 2, parallelism: 1 };
    await app.init({ passphrase: PASSPHRASE, argon2 });
    const { workspace } = await app.workspaces.unlock({ passphrase: PASSPHRASE });
    const entries = [];
    for (let i = 0; i < smallCount; i++) {
      const bytes = randomBytes(1024 + Math.floor(Math.random() * 7 * 1024));
      entries.push({ names: [`s${i}.bin`], size: bytes.length, read: async () => bytes });
    }
    await workspace.vault.putMany(null, entries);
    app.close();

    const target = join(root, 'target');
    await mkdir(target);
    const env = { ...ELOHIM_CLI_ENV, ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE, NODE_COMPILE_CACHE: join(tmpdir(), 'node-compile-cache') };
    execFileSync(NODE, [ELOHIM, 'backup', 'target', 'add', 'grow', target], { env: { ...process.env, ...env }, stdio: 'ignore' });
    const indexFiles = async () => (await readdir(join(target, 'index'))).length;
    const all: { run: number; ms: number; cpuS: number; indexes: number }[] = [];
    for (let i = 1; i <= runs; i++) {
      const r = await run(NODE, ['--max-semi-space-size=1', ELOHIM, 'backup', 'run'], env);
      all.push({ run: i, ms: r.ms, cpuS: r.cpuS ?? NaN, indexes: await indexFiles() });
      if (i % 10 === 0) process.stdout.write(`run ${i}: ${(r.ms / 1000).toFixed(2)} s, cpu ${r.cpuS?.toFixed(2)} s, ${all.at(-1)!.indexes} index files\n`);
    }
    const early = all.slice(2, 7);
    const late = all.slice(-5);
    // The last third's medians too: five runs of a ~0.3 s command on a shared machine are noisy.
    const lastThird = all.slice(-Math.floor(runs / 3));
    const fig = (xs: typeof all) => ({ ms: median(xs.map((x) => x.ms)), cpuS: median(xs.map((x) => x.cpuS)), indexes: xs.at(-1)!.indexes });
    const e = fig(early);
    const l = fig(late);
    process.stdout.write(
      `${smallCount} small files, ${runs} backups, load ${loadavg().map((x) => x.toFixed(1)).join(' ')}\n` +
        `  early (runs 3-7): ${(e.ms / 1000).toFixed(2)} s, cpu ${e.cpuS.toFixed(2)} s, ${e.indexes} index files\n` +
        `  late (last 5):    ${(l.ms / 1000).toFixed(2)} s, cpu ${l.cpuS.toFixed(2)} s, ${l.indexes} index files\n` +
        `  late/early cpu ${ratio(l.cpuS, e.cpuS)}, wall ${ratio(l.ms, e.ms)}\n` +
        `  last ${lastThird.length} runs: median ${(median(lastThird.map((x) => x.ms)) / 1000).toFixed(2)} s, cpu ${median(lastThird.map((x) => x.cpuS)).toFixed(2)} s, mean cpu ${(lastThird.reduce((n, x) => n + x.cpuS, 0) / lastThird.length).toFixed(3)} s\n`,
    );
    printJsonLine('backup-grow', {
      smallCount,
      runs,
      earlyMs: e.ms,
      earlyCpuS: e.cpuS,
      earlyIndexFiles: e.indexes,
      lateMs: l.ms,
      lateCpuS: l.cpuS,
      lateIndexFiles: l.indexes,
      lateEarlyCpuRatio: ratio(l.cpuS, e.cpuS),
      lateEarlyWallRatio: ratio(l.ms, e.ms),
      lastThirdMedianMs: median(lastThird.map((x) => x.ms)),
      lastThirdMedianCpuS: median(lastThird.map((x) => x.cpuS)),
      indexFilesByRun: all.map((x) => x.indexes),
      cpuSByRun: all.map((x) => x.cpuS),
      msByRun: all.map((x) => Math.round(x.ms)),
      load: loadavg()[0],
    });
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

await main();
