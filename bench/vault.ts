/**
 * Vault benchmark: our CLI beside the `age` CLI on the same file and disk, in one run.
 *
 *   npm run bench                       1 GiB comparison, 4 GiB memory check, 10,000 small files
 *   BENCH_ROUNDS=5 npm run bench        more rounds (the best is reported: see lib.ts `best`)
 *   BENCH_SKIP_4GIB=1 npm run bench     skip the 4 GiB memory check
 *   BENCH_DIR=/mnt/x npm run bench      where the data goes (default: the OS temp folder)
 *
 * Times are wall-clock times of whole commands, including our unlock (Argon2id at the default
 * cost), because that is what a user waits for. Peak RSS is read from /proc/<pid>/status (VmHWM).
 * The last line of the output is one JSON object of the figures and ratios.
 */
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { best, fmtS, printJsonLine, randomFile, ratio, run, secs, sha256File } from './lib.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'elohim.js');
// Run the bin itself, as `npx elohim` does: its shebang picks Node 24 from node_modules/.bin
// and sets the V8 flags the CLI is tuned for.
const PATH_WITH_NODE = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
const AGE = '/usr/bin/age';
const AGE_KEYGEN = '/usr/bin/age-keygen';
const GiB = 1024 ** 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);

async function main(): Promise<void> {
  for (const tool of [AGE, AGE_KEYGEN]) if (!existsSync(tool)) throw new Error(`${tool} is missing: apt-get install age`);
  const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'elohim-bench-'));
  const env = { ELOHIM_HOME: join(work, 'home'), ELOHIM_PASSPHRASE: 'bench passphrase', ELOHIM_NO_PROGRESS: '1', PATH: PATH_WITH_NODE };
  const rows: string[][] = [];
  const figures: Record<string, unknown> = { rounds: ROUNDS };
  let failed = false;
  try {
    await run(CLI, ['init'], env);
    await run(AGE_KEYGEN, ['-o', join(work, 'key.txt')]);
    const recipient = (await run(AGE_KEYGEN, ['-y', join(work, 'key.txt')])).stdout.trim();

    // 1 GiB: put/get beside age -r/-d, interleaved rounds so disk noise hits both alike.
    const src = join(work, 'big.bin');
    await randomFile(src, GiB);
    const srcHash = await sha256File(src);
    const t = { put: [] as number[], get: [] as number[], enc: [] as number[], encSync: [] as number[], dec: [] as number[] };
    const rss = { put: 0, get: 0 };
    // CPU seconds per round (null without /usr/bin/time): the comparison the load moves least.
    const cpu = { put: [] as number[], get: [] as number[], enc: [] as number[], encSync: [] as number[], dec: [] as number[] };
    const cpuOf = (r: { cpuS: number | null }, into: number[]) => {
      if (r.cpuS !== null) into.push(r.cpuS);
    };
    for (let round = 0; round < ROUNDS; round++) {
      const enc = await run(AGE, ['-r', recipient, '-o', join(work, 'big.age'), src]);
      // The vault fsyncs an object before it records it; `age` does not. For a like-for-like
      // durable write, also time age followed by `sync` of its output.
      const encSync = await run('sh', ['-c', `"$0" -r "$1" -o "$2" "$3" && sync "$2"`, AGE, recipient, join(work, 'big-synced.age'), src]);
      await rm(join(work, 'big-synced.age'));
      const put = await run(CLI, ['put', src, `/big-${round}.bin`], env);
      const dec = await run(AGE, ['-d', '-i', join(work, 'key.txt'), '-o', join(work, 'big.age.out'), join(work, 'big.age')]);
      const get = await run(CLI, ['get', `/big-${round}.bin`, join(work, 'big.out')], env);
      if (round === 0 && (await sha256File(join(work, 'big.out'))) !== srcHash) throw new Error('get returned different bytes');
      for (const f of ['big.age', 'big.age.out', 'big.out']) await rm(join(work, f), { force: true });
      t.enc.push(enc.ms);
      cpuOf(enc, cpu.enc);
      cpuOf(encSync, cpu.encSync);
      cpuOf(put, cpu.put);
      cpuOf(dec, cpu.dec);
      cpuOf(get, cpu.get);
      t.encSync.push(encSync.ms);
      t.put.push(put.ms);
      t.dec.push(dec.ms);
      t.get.push(get.ms);
      rss.put = Math.max(rss.put, put.peakRssMiB);
      rss.get = Math.max(rss.get, get.peakRssMiB);
      process.stderr.write(`round ${round + 1}/${ROUNDS}: put ${fmtS(put.ms)} vs age -r ${fmtS(enc.ms)} (+sync ${fmtS(encSync.ms)}); get ${fmtS(get.ms)} vs age -d ${fmtS(dec.ms)}\n`);
    }
    const putRatio = best(t.put) / best(t.enc);
    const getRatio = best(t.get) / best(t.dec);
    rows.push(['1 GiB put vs age -r', fmtS(best(t.put)), fmtS(best(t.enc)), putRatio.toFixed(2), putRatio <= 1 ? 'ok' : 'SLOWER', `${rss.put.toFixed(0)} MiB`]);
    const syncRatio = best(t.put) / best(t.encSync);
    rows.push(['1 GiB put vs age -r && sync', fmtS(best(t.put)), fmtS(best(t.encSync)), syncRatio.toFixed(2), syncRatio <= 1 ? 'ok' : 'SLOWER', 'same durability']);
    rows.push(['1 GiB get vs age -d', fmtS(best(t.get)), fmtS(best(t.dec)), getRatio.toFixed(2), getRatio <= 1 ? 'ok' : 'SLOWER', `${rss.get.toFixed(0)} MiB`]);
    figures.put1GiB = { s: secs(best(t.put)), ageS: secs(best(t.enc)), ageSyncS: secs(best(t.encSync)), vsAge: ratio(best(t.put), best(t.enc)), vsAgeSync: ratio(best(t.put), best(t.encSync)), peakRssMiB: Math.round(rss.put) };
    figures.get1GiB = { s: secs(best(t.get)), ageS: secs(best(t.dec)), vsAge: ratio(best(t.get), best(t.dec)), peakRssMiB: Math.round(rss.get) };
    if (cpu.put.length === ROUNDS) {
      const c = (xs: number[]) => Math.round(best(xs) * 100) / 100;
      figures.cpu1GiB = {
        putS: c(cpu.put), ageS: c(cpu.enc), ageSyncS: c(cpu.encSync), getS: c(cpu.get), ageDecS: c(cpu.dec),
        putVsAge: ratio(best(cpu.put), best(cpu.enc)), getVsAge: ratio(best(cpu.get), best(cpu.dec)),
      };
      rows.push(['1 GiB CPU (user+sys): put / age -r', `${c(cpu.put)} s`, `${c(cpu.enc)} s`, ratio(best(cpu.put), best(cpu.enc)).toFixed(2), '', 'CPU, not wall: the load moves it less; includes unlock']);
      rows.push(['1 GiB CPU (user+sys): get / age -d', `${c(cpu.get)} s`, `${c(cpu.dec)} s`, ratio(best(cpu.get), best(cpu.dec)).toFixed(2), '', '']);
    }
    failed ||= rss.put >= 150 || rss.get >= 150;
    await rm(src);

    // 4 GiB: memory must not grow with the file.
    if (!process.env.BENCH_SKIP_4GIB) {
      const src4 = join(work, 'big4.bin');
      await randomFile(src4, 4 * GiB);
      const put4 = await run(CLI, ['put', src4, '/big4.bin'], env);
      await rm(src4);
      const get4 = await run(CLI, ['get', '/big4.bin', join(work, 'big4.out')], env);
      await rm(join(work, 'big4.out'));
      rows.push(['4 GiB put (memory)', fmtS(put4.ms), '', '', put4.peakRssMiB < 150 ? 'ok' : 'OVER', `${put4.peakRssMiB.toFixed(0)} MiB`]);
      rows.push(['4 GiB get (memory)', fmtS(get4.ms), '', '', get4.peakRssMiB < 150 ? 'ok' : 'OVER', `${get4.peakRssMiB.toFixed(0)} MiB`]);
      failed ||= put4.peakRssMiB >= 150 || get4.peakRssMiB >= 150;
      figures.put4GiB = { s: secs(put4.ms), peakRssMiB: Math.round(put4.peakRssMiB) };
      figures.get4GiB = { s: secs(get4.ms), peakRssMiB: Math.round(get4.peakRssMiB) };
    }

    // 10,000 small files (1–8 KiB) in one command.
    const small = join(work, 'small');
    for (let d = 0; d < 100; d++) {
      await mkdir(join(small, `d${d}`), { recursive: true });
      for (let f = 0; f < 100; f++) await writeFile(join(small, `d${d}`, `f${f}.bin`), randomBytes(1024 + Math.floor(Math.random() * 7 * 1024)));
    }
    const many = await run(CLI, ['put', small, '/small'], env);
    const inner = /\((\d+) files\/s\)/.exec(many.stderr);
    const wholeRate = 10_000 / (many.ms / 1000);
    rows.push(['10,000 small files put', fmtS(many.ms), '', '', (inner ? Number(inner[1]) : wholeRate) >= 2000 ? 'ok' : 'SLOW',
      `${Math.round(wholeRate)} files/s whole command; ${inner?.[1] ?? '?'} files/s after unlock`]);
    figures.small10k = { s: secs(many.ms), filesPerS: Math.round(wholeRate), afterUnlockFilesPerS: inner ? Number(inner[1]) : null };
  } finally {
    await rm(work, { recursive: true, force: true });
  }

  const head = ['benchmark', 'elohim', 'age', 'ratio', 'target', 'peak RSS / rate'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ');
  process.stdout.write(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(`\nratio = elohim time / age time (best of ${ROUNDS}); target ≤ 1.00. RSS target < 150 MiB.\n`);
  printJsonLine('vault', { ...figures, rssOver150MiB: failed });
  if (failed) process.exitCode = 1;
}

await main();
