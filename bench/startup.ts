/**
 * How long `elohim` takes to start, per command, against Node itself (`node -e 0`, same binary,
 * same flags): what every CLI command pays before it does its work.
 *
 *   npm run bench:startup             20 rounds
 *   BENCH_ROUNDS=5 …                  fewer
 *   BENCH_BEFORE=/tmp/old …           also time another checkout's CLI (e.g. `git archive` of an
 *                                     older commit, node_modules linked), interleaved, same folder
 *
 * Commands: `--help`, `status` on a set-up folder, `ls /` (an unlock), `backup --help`. Each
 * round runs every command once, in turn (interleaved, so a burst of load on this shared machine
 * hits them all alike); median and p90 of wall time and CPU time (user + system, from
 * /usr/bin/time, 10 ms steps), then the number of modules each loads (bench/startup-modules.ts),
 * split into our sources, packages and Node built-ins.
 *
 * The folder is set up with the smallest Argon2id the CLI accepts (19 MiB, 2 passes), so `ls`
 * measures start-up and the unlock's other work rather than the key derivation, which the
 * default costs (64 MiB, 3 passes) make the largest part of a real `ls`.
 * The last line is one JSON object of the figures and ratios.
 */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { median, printJsonLine, ratio, run } from './lib.ts';
import type { RunResult } from './lib.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
const CLI = join(ROOT, 'bin', 'elohim.js');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const PATH_WITH_NODE = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
const HOOK = pathToFileURL(join(ROOT, 'bench', 'startup-modules.ts')).href;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const SRC = pathToFileURL(join(ROOT, 'src')).href + '/';

/** What is measured: a name, and the command (node's own flags are the bin's shebang's). */
const COMMANDS = [['--help'], ['status'], ['ls', '/'], ['backup', '--help']];
const BEFORE = process.env.BENCH_BEFORE;
const CASES: { name: string; cmd: string; args: string[] }[] = [
  { name: 'node -e 0', cmd: NODE, args: ['--max-semi-space-size=1', '-e', '0'] },
  ...COMMANDS.map((args) => ({ name: `elohim ${args.join(' ')}`, cmd: CLI, args })),
  ...(BEFORE ? COMMANDS.map((args) => ({ name: `before: ${args.join(' ')}`, cmd: join(BEFORE, 'bin', 'elohim.js'), args })) : []),
];

const p90 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.ceil(xs.length * 0.9) - 1)]!;
const ms1 = (x: number) => Math.round(x * 10) / 10;

interface Modules {
  total: number;
  /** our own sources (src/) */
  src: number;
  /** files of npm packages */
  packages: number;
  builtin: number;
  /** src/ modules by top-level folder (ai, mesh, vault…) */
  byDomain: Record<string, number>;
}

async function modulesOf(c: (typeof CASES)[number], env: NodeJS.ProcessEnv, work: string): Promise<Modules> {
  const list = join(work, 'modules.txt');
  await run(c.cmd, c.args, { ...env, ELOHIM_MODULE_LIST: list, NODE_OPTIONS: `--import=${HOOK}` });
  // the hook itself is loaded before it starts listing, so it never counts itself
  const urls = (await readFile(list, 'utf8')).split('\n').filter((u) => u !== '');
  await rm(list);
  // our sources, in this checkout or the one compared
  const srcOf = c.cmd === CLI || c.cmd === NODE ? SRC : `${pathToFileURL(join(BEFORE!, 'src')).href}/`;
  const src = urls.filter((u) => u.startsWith(srcOf));
  const byDomain: Record<string, number> = {};
  for (const u of src) {
    const domain = u.slice(srcOf.length).split('/')[0]!;
    byDomain[domain] = (byDomain[domain] ?? 0) + 1;
  }
  return {
    total: urls.length,
    src: src.length,
    packages: urls.filter((u) => u.includes('/node_modules/')).length,
    builtin: urls.filter((u) => u.startsWith('node:')).length,
    byDomain,
  };
}

const work = await mkdtemp(join(tmpdir(), 'elohim-bench-startup-'));
try {
  const env = { ELOHIM_HOME: join(work, 'home'), ELOHIM_PASSPHRASE: 'bench passphrase', ELOHIM_NO_PROGRESS: '1', PATH: PATH_WITH_NODE };
  await run(CLI, ['init', '--kdf-memory', '19456', '--kdf-passes', '2'], env);
  await writeFile(join(work, 'a.txt'), 'a file to list\n');
  await run(CLI, ['put', join(work, 'a.txt'), '/'], env);

  // one untimed run of each: fills Node's compile cache (bin/elohim.js enables it), as any
  // earlier use of the CLI on this machine would have
  for (const c of CASES) await run(c.cmd, c.args, env);

  const times = new Map<string, RunResult[]>(CASES.map((c) => [c.name, []]));
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of CASES) times.get(c.name)!.push(await run(c.cmd, c.args, env));
  }
  const modules = new Map<string, Modules>();
  for (const c of CASES) modules.set(c.name, await modulesOf(c, env, work));

  const base = median(times.get('node -e 0')!.map((x) => x.ms));
  const figures: Record<string, unknown> = { rounds: ROUNDS };
  console.log(`${ROUNDS} rounds, interleaved; wall and CPU (user+sys) ms; modules loaded (src / packages / built-in)`);
  console.log('command                 wall median   p90    CPU median   p90   ×node   over node   modules');
  for (const c of CASES) {
    const runs = times.get(c.name)!;
    const wall = runs.map((x) => x.ms);
    const cpu = runs.map((x) => (x.cpuS ?? NaN) * 1000);
    const m = modules.get(c.name)!;
    const key = c.name.replace(/^elohim /, '').replace(/^before: /, 'before ').replace(/[^a-z]+/g, '_').replace(/^_|_$/g, '');
    figures[key] = {
      wallMs: ms1(median(wall)),
      wallP90Ms: ms1(p90(wall)),
      cpuMs: ms1(median(cpu)),
      cpuP90Ms: ms1(p90(cpu)),
      vsNode: ratio(median(wall), base),
      modules: m.total,
      srcModules: m.src,
      packageModules: m.packages,
    };
    console.log(
      `${c.name.padEnd(22)} ${median(wall).toFixed(0).padStart(8)} ${p90(wall).toFixed(0).padStart(7)} ${median(cpu).toFixed(0).padStart(10)} ${p90(cpu).toFixed(0).padStart(7)} ${ratio(median(wall), base).toFixed(2).padStart(7)} ${(median(wall) - base).toFixed(0).padStart(9)} ms  ${m.total} (${m.src} / ${m.packages} / ${m.builtin})`,
    );
  }
  if (BEFORE) {
    for (const args of COMMANDS) {
      const now = median(times.get(`elohim ${args.join(' ')}`)!.map((x) => x.ms));
      const then = median(times.get(`before: ${args.join(' ')}`)!.map((x) => x.ms));
      const cpuNow = median(times.get(`elohim ${args.join(' ')}`)!.map((x) => x.cpuS ?? NaN));
      const cpuThen = median(times.get(`before: ${args.join(' ')}`)!.map((x) => x.cpuS ?? NaN));
      console.log(`  ${args.join(' ')}: now/before wall ${ratio(now, then)}, CPU ${ratio(cpuNow, cpuThen)}`);
    }
  }
  for (const c of CASES.slice(1)) {
    const d = Object.entries(modules.get(c.name)!.byDomain).sort((a, b) => b[1] - a[1]);
    console.log(`  ${c.name}: src/ by folder: ${d.map(([k, n]) => `${k} ${n}`).join(', ')}`);
  }
  printJsonLine('startup', figures);
} finally {
  await rm(work, { recursive: true, force: true });
}
