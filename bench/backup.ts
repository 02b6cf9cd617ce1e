/**
 * The backup (issue 12) beside restic, in one run on the same files:
 *
 *   node bench/backup.ts                 1 GiB of random files + 10,000 files of 1–8 KiB
 *   BENCH_BIG_MIB=256 BENCH_SMALL=2000   smaller sizes, for a quick look
 *   BENCH_KEEP=1                         keep the files, data folder and repositories (for profiling
 *                                        a phase with `--child MODE HOME TARGET` under --cpu-prof)
 *   BENCH_UNCHANGED_ROUNDS=3             unchanged backups of ours and restic's, in pairs (the order
 *                                        alternating): one run of a ~0.5 s command was 0.42-0.59x
 *                                        for the same code; the figures are the median pair's
 *   BENCH_ARGON2=cheap                   the data folder's vault with the tests' cheap Argon2id
 *                                        (19 MiB, 2 passes) instead of `elohim init`'s (64 MiB, 3
 *                                        passes, 4 lanes): by default each of our commands pays the
 *                                        key derivation a user's does, as restic pays its scrypt
 *
 * The files are put into a real data folder (not timed); then, each in its own process under
 * /usr/bin/time (wall time, CPU, peak RSS), the commands a user runs: `elohim backup run` of the
 * data folder to a local-folder target (first, then with nothing changed, BENCH_UNCHANGED_ROUNDS
 * times beside restic's) and `elohim restore --from` into a fresh data folder, each with its
 * unlock, proof and audit entries; and restic
 * (Debian's) backing up the same files to a local repository, again unchanged, and restoring
 * them into an empty folder. Ours copies the folder's ciphertext as it is; restic reads,
 * chunks and encrypts the plaintext: the ratios measure that difference, which is the point.
 *
 * Then the engine alone on the unchanged backup (the bench child: no CLI, proof or audit), and
 * the same first backup to an S3 server (s3rver in its own process, through the child), with its rate.
 *
 * Ends with one JSON line: firstRatio, unchangedRatio, restoreRatio (ours / restic's; the
 * targets are ≤ 0.7, ≤ 0.5, ≤ 1.0), rssRatio (≤ 1.0), and s3FirstS / s3MiBPerS.
 */
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createReadStream } from 'node:fs';
import module from 'node:module';
import { ELOHIM_CLI_ENV, printJsonLine, randomFile, ratio, run, secs } from './lib.ts';
import type { RunResult } from './lib.ts';

const MiB = 1024 * 1024;
const NODE = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
const SELF = fileURLToPath(import.meta.url);
const PASSPHRASE = 'bench passphrase, not a secret';

async function child(mode: string, home: string, targetRoot: string): Promise<void> {
  // As bin/elohim.js does before it imports anything: the type-stripped, compiled sources are
  // cached, so a command does not strip every module's types again (~0.7 s of CPU here), and
  // libuv gets 16 file-system threads.
  process.env.UV_THREADPOOL_SIZE ??= '16';
  module.enableCompileCache();
  const { createLocalTarget, createS3Target } = await import('../src/backup/index.ts');
  const helpers = await import('../test/backup-helpers.ts');
  const { createApp } = await import('../src/app.ts');
  const importMs = performance.now();
  // TARGET is a folder, or s3:http://127.0.0.1:PORT for the S3 server's bucket "bench".
  const target = targetRoot.startsWith('s3:')
    ? createS3Target({ bucket: 'bench', prefix: 'repo/', endpoint: targetRoot.slice(3), forcePathStyle: true, credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } })
    : createLocalTarget({ root: targetRoot });
  // engineMs: the backup call alone, as a server with the vault already open would run it
  // (no process start, no unlock); the process's wall time is what the ratios use.
  if (mode === 'backup') {
    const app = createApp({ home });
    const u0 = performance.now();
    const { engine, close } = await helpers.engineFor({ home, app, codes: [], decoyCodes: [] }, { passphrase: PASSPHRASE });
    const t0 = performance.now();
    const s = await engine.backup(target);
    const engineMs = performance.now() - t0;
    close();
    app.close();
    // importMs: process start and module loading; unlockMs: opening the key slot (Argon2id) and
    // the database, the part restic's scrypt stands for on its side.
    process.stdout.write(JSON.stringify({ ...s, engineMs, importMs, unlockMs: t0 - u0 }));
  }
  process.exit(0);
}

async function sizeOf(dir: string): Promise<number> {
  let n = 0;
  for (const e of await readdir(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += (await stat(join(e.parentPath, e.name))).size;
  return n;
}

async function main(): Promise<void> {
  const bigMiB = Number(process.env.BENCH_BIG_MIB ?? 1024);
  const smallCount = Number(process.env.BENCH_SMALL ?? 10_000);
  const root = join(process.env.BENCH_DIR ?? tmpdir(), `elohim-bench-backup-${randomBytes(4).toString('hex')}`);
  const src = join(root, 'files');
  try {
    // The files: big ones of 64 MiB (the last one smaller), and the small ones in 100 folders.
    await mkdir(src, { recursive: true });
    for (let left = bigMiB, i = 0; left > 0; left -= 64, i++) await randomFile(join(src, `big-${i}.bin`), Math.min(64, left) * MiB);
    for (let i = 0; i < smallCount; i++) {
      const dir = join(src, `d${i % 100}`);
      if (i < 100) await mkdir(dir);
      await writeFile(join(dir, `s${i}.bin`), randomBytes(1024 + Math.floor(Math.random() * 7 * 1024)));
    }

    // Into a data folder, through the vault's own putMany (not timed).
    const { createApp } = await import('../src/app.ts');
    const home = join(root, 'home');
    const app = createApp({ home });
    const argon2 = process.env.BENCH_ARGON2 === 'cheap' ? { memory: 19456, passes: 2, parallelism: 1 } : undefined;
    await app.init({ passphrase: PASSPHRASE, argon2 });
    const { workspace } = await app.workspaces.unlock({ passphrase: PASSPHRASE });
    const entries = [];
    for (const e of await readdir(src, { withFileTypes: true, recursive: true })) {
      if (!e.isFile()) continue;
      const path = join(e.parentPath, e.name);
      const size = (await stat(path)).size;
      const rel = path.slice(src.length + 1).split('/');
      entries.push({ names: rel, size, read: async () => (size <= MiB ? readFile(path) : createReadStream(path)) });
    }
    for (const dir of new Set(entries.filter((e) => e.names.length > 1).map((e) => e.names[0]!))) workspace.vault.mkdir(null, dir);
    await workspace.vault.putMany(null, entries);
    app.close();
    const folderBytes = await sizeOf(home);
    process.stdout.write(`${bigMiB} MiB in ${Math.ceil(bigMiB / 64)} files + ${smallCount} small files; data folder ${(folderBytes / MiB).toFixed(0)} MiB\n`);

    const ours = join(root, 'target');
    await mkdir(ours);
    // With the CLI's V8 flag (bin/elohim.js), where `elohim backup run` will run: a small young
    // generation collects a restore's short-lived buffers before the heap grows (peak RSS).
    // NODE_COMPILE_CACHE: the cache bin/elohim.js turns on before it imports anything, here on
    // from the start too; enabled inside child() it came after this file and its imports were
    // type-stripped without it (~0.1 s of CPU per run that no `elohim` command spends).
    const compileCache = join(tmpdir(), 'node-compile-cache');
    const oursRun = (mode: string, dir: string, to = ours) => run(NODE, ['--max-semi-space-size=1', SELF, '--child', mode, dir, to], { ...ELOHIM_CLI_ENV, NODE_COMPILE_CACHE: compileCache });
    const repo = join(root, 'restic');
    const resticEnv = { RESTIC_PASSWORD: PASSPHRASE, RESTIC_CACHE_DIR: join(root, 'restic-cache') };
    execFileSync('restic', ['init', '--repo', repo], { env: { ...process.env, ...resticEnv }, stdio: 'ignore' });
    const restic = (...args: string[]) => run('restic', ['--repo', repo, '--quiet', ...args], resticEnv);

    // The commands a user runs, each in its own process as `elohim` runs them (bin/elohim.js with
    // its shebang's V8 flag): `elohim backup run` (first, then unchanged) and `elohim restore
    // --from` into a fresh data folder, with the passphrase from ELOHIM_PASSPHRASE. Each pays the
    // CLI's start-up, the unlock (Argon2id, as restic pays its scrypt), the proof of restore that
    // follows every backup and the audit entries. The target is added first (not timed).
    const cliEnv = { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE };
    const ELOHIM = fileURLToPath(new URL('../bin/elohim.js', import.meta.url));
    const elohim = (env: Record<string, string>, ...args: string[]) => run(NODE, ['--max-semi-space-size=1', ELOHIM, ...args], { ...ELOHIM_CLI_ENV, ...env });
    execFileSync(NODE, [ELOHIM, 'backup', 'target', 'add', 'bench', ours], { env: { ...process.env, ...cliEnv }, stdio: 'ignore' });
    const restoredHome = join(root, 'restored-home');
    const r: Record<string, { ours: RunResult; restic: RunResult }> = {};
    r.first = { ours: await elohim(cliEnv, 'backup', 'run'), restic: await restic('backup', src) };
    // Unchanged: several pairs, each ours and restic's back to back (the order alternating, so
    // neither always runs second), and the pair of the median ratio kept for the figures.
    const rounds = Math.max(1, Number(process.env.BENCH_UNCHANGED_ROUNDS ?? 3));
    const unchanged: { ours: RunResult; restic: RunResult }[] = [];
    for (let i = 0; i < rounds; i++) {
      if (i % 2 === 0) {
        const o = await elohim(cliEnv, 'backup', 'run');
        unchanged.push({ ours: o, restic: await restic('backup', src) });
      } else {
        const s = await restic('backup', src);
        unchanged.push({ ours: await elohim(cliEnv, 'backup', 'run'), restic: s });
      }
    }
    const byRatio = [...unchanged].sort((a, b) => a.ours.ms / a.restic.ms - b.ours.ms / b.restic.ms);
    r.unchanged = byRatio[Math.floor((byRatio.length - 1) / 2)]!;
    r.restore = {
      ours: await elohim({ ELOHIM_HOME: restoredHome, ELOHIM_PASSPHRASE: PASSPHRASE }, 'restore', '--from', ours),
      restic: await restic('restore', 'latest', '--target', join(root, 'restic-out')),
    };
    // The engine alone (bench child: no CLI, no proof, no audit), for where the time goes: the
    // unchanged backup only, cheap (the first backup and the restore would need their own copy).
    const engineUnchanged = await oursRun('backup', home);

    // The same first backup to an S3 server (s3rver, in its own process on 127.0.0.1): the rate
    // a store reached over HTTP gives, signing and all (no restic beside it: its S3 backend
    // wants more of the API than s3rver has).
    const { startS3rverProcess } = await import('../test/helpers/s3rver-process.ts');
    const s3 = await startS3rverProcess(['bench']);
    let s3First: RunResult;
    try {
      s3First = await oursRun('backup', home, `s3:${s3.endpoint}`);
    } finally {
      await s3.stop();
    }

    const engineMs = (x: RunResult) => (JSON.parse(x.stdout) as { engineMs: number }).engineMs;
    const unlockMs = (x: RunResult) => (JSON.parse(x.stdout) as { unlockMs?: number }).unlockMs ?? 0;
    const line = (name: string, x: RunResult) => `${name.padEnd(8)} ${(x.ms / 1000).toFixed(2).padStart(7)} s  cpu ${x.cpuS?.toFixed(2) ?? '?'} s  peak RSS ${x.peakRssMiB.toFixed(0)} MiB`;
    for (const [phase, { ours: o, restic: s }] of Object.entries(r)) {
      process.stdout.write(`${phase}\n  ${line('elohim', o)}\n  ${line('restic', s)}\n  ratio ${ratio(o.ms, s.ms)}\n`);
    }
    if (unchanged.length > 1) {
      process.stdout.write(`unchanged, every pair (the median one above)\n${unchanged.map((u) => `  ratio ${ratio(u.ours.ms, u.restic.ms)}  elohim ${(u.ours.ms / 1000).toFixed(2)} s cpu ${u.ours.cpuS?.toFixed(2) ?? '?'} s  restic ${(u.restic.ms / 1000).toFixed(2)} s cpu ${u.restic.cpuS?.toFixed(2) ?? '?'} s\n`).join('')}`);
    }
    process.stdout.write(`unchanged, the engine alone (bench child, no CLI/proof/audit)\n  ${line('engine', engineUnchanged)}  (backup call ${(engineMs(engineUnchanged) / 1000).toFixed(2)} s, unlock ${(unlockMs(engineUnchanged) / 1000).toFixed(2)} s)\n`);
    const s3MiBs = folderBytes / MiB / (s3First.ms / 1000);
    process.stdout.write(`first backup to S3 (s3rver)\n  ${line('elohim', s3First)}  (engine alone ${(engineMs(s3First) / 1000).toFixed(2)} s)  ${s3MiBs.toFixed(0)} MiB/s\n`);
    const cpuRatio = (x: { ours: RunResult; restic: RunResult }) => (x.ours.cpuS && x.restic.cpuS ? ratio(x.ours.cpuS, x.restic.cpuS) : null);
    const peak = (k: 'ours' | 'restic') => Math.max(...[...Object.values(r), ...unchanged].map((x) => x[k].peakRssMiB));
    const cpuOf = (x: RunResult) => (x.cpuS === null ? null : Math.round(x.cpuS * 100) / 100);
    const targetBytes = await sizeOf(ours);
    printJsonLine('backup', {
      bigMiB,
      smallFiles: smallCount,
      folderMiB: Math.round(folderBytes / MiB),
      targetMiB: Math.round(targetBytes / MiB),
      firstS: secs(r.first!.ours.ms),
      unchangedS: secs(r.unchanged!.ours.ms),
      restoreS: secs(r.restore!.ours.ms),
      resticFirstS: secs(r.first!.restic.ms),
      resticUnchangedS: secs(r.unchanged!.restic.ms),
      resticRestoreS: secs(r.restore!.restic.ms),
      engineUnchangedS: secs(engineUnchanged.ms),
      engineUnchangedCallS: secs(engineMs(engineUnchanged)),
      engineUnchangedPeakRssMiB: Math.round(engineUnchanged.peakRssMiB),
      argon2: process.env.BENCH_ARGON2 === 'cheap' ? 'cheap' : 'default',
      firstCpuS: cpuOf(r.first!.ours),
      unchangedCpuS: cpuOf(r.unchanged!.ours),
      restoreCpuS: cpuOf(r.restore!.ours),
      resticUnchangedCpuS: cpuOf(r.unchanged!.restic),
      firstPeakRssMiB: Math.round(r.first!.ours.peakRssMiB),
      unchangedPeakRssMiB: Math.round(r.unchanged!.ours.peakRssMiB),
      restorePeakRssMiB: Math.round(r.restore!.ours.peakRssMiB),
      firstRatio: ratio(r.first!.ours.ms, r.first!.restic.ms),
      unchangedRatio: ratio(r.unchanged!.ours.ms, r.unchanged!.restic.ms),
      restoreRatio: ratio(r.restore!.ours.ms, r.restore!.restic.ms),
      // CPU seconds move far less than wall time with the machine's load: the ratios of both.
      firstCpuRatio: cpuRatio(r.first!),
      unchangedCpuRatio: cpuRatio(r.unchanged!),
      // Every unchanged pair, in run order: ours / restic's wall time, and ours' CPU seconds.
      unchangedRatios: unchanged.map((u) => ratio(u.ours.ms, u.restic.ms)),
      unchangedCpuSs: unchanged.map((u) => cpuOf(u.ours)),
      restoreCpuRatio: cpuRatio(r.restore!),
      peakRssMiB: Math.round(peak('ours')),
      resticPeakRssMiB: Math.round(peak('restic')),
      rssRatio: ratio(peak('ours'), peak('restic')),
      s3FirstS: secs(s3First.ms),
      engineS3FirstS: secs(engineMs(s3First)),
      s3MiBPerS: Math.round(s3MiBs),
      s3PeakRssMiB: Math.round(s3First.peakRssMiB),
    });
  } finally {
    if (process.env.BENCH_KEEP) process.stdout.write(`kept ${root}\n`);
    else await rm(root, { recursive: true, force: true });
  }
}

if (process.argv[2] === '--child') await child(process.argv[3]!, process.argv[4]!, process.argv[5]!);
else await main();
