/**
 * Where a process's memory is at its peak: runs a command and reads /proc/PID/smaps every
 * MEM_SAMPLE_MS (50) ms, sorting each mapping into what holds it, and prints the sample with the
 * highest RSS. An investigation tool (issues 11 and 12: peak RSS of bench:backup and bench:sync),
 * not a benchmark with a peer.
 *
 *   node bench/mem-smaps.ts [--label NAME] -- node --max-semi-space-size=1 bench/backup.ts --child backup HOME TARGET
 *
 * When the command is Node, it is started with `--import bench/mem-probe.ts` added, so V8's own
 * figures (heap in RAM, external, array buffers) are printed beside the /proc view. The classes:
 *   node binary   file pages of the node executable (code and read-only data it touched)
 *   libs          other file-backed mappings (.so files, ICU data, …)
 *   brk heap      glibc's main arena ([heap]): malloc from the main thread, and small blocks
 *   arenas        glibc's per-thread arenas: anonymous 64 MiB-aligned heaps (HEAP_MAX_SIZE)
 *                 made when another thread (libuv's pool, V8's platform threads) mallocs
 *   stacks        thread stacks (a guard page below a read-write mapping) and [stack]
 *   other anon    the rest of the anonymous memory: V8's heap pages and code, and malloc blocks
 *                 big enough to get their own mmap (≥ the mmap threshold)
 * The last line is one JSON object (bench/lib.ts printJsonLine).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { printJsonLine } from './lib.ts';

const KiB = 1024;
const ARENA = 64 * 1024 * KiB;
const PROBE = fileURLToPath(new URL('./mem-probe.ts', import.meta.url));
const CLASSES = ['node binary', 'libs', 'brk heap', 'arenas', 'stacks', 'other anon'] as const;
type Class = (typeof CLASSES)[number];

interface Mapping {
  start: bigint;
  end: bigint;
  perms: string;
  path: string;
  rssKiB: number;
}

/** The mappings of /proc/PID/smaps with their RSS, or null once the process has gone. */
export function readSmaps(pid: number): Mapping[] | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/smaps`, 'utf8');
  } catch {
    return null;
  }
  const maps: Mapping[] = [];
  for (const line of text.split('\n')) {
    const head = /^([0-9a-f]+)-([0-9a-f]+) (\S+) \S+ \S+ \S+\s*(.*)$/.exec(line);
    if (head) {
      maps.push({ start: BigInt(`0x${head[1]}`), end: BigInt(`0x${head[2]}`), perms: head[3]!, path: head[4]!, rssKiB: 0 });
      continue;
    }
    const rss = /^Rss:\s+(\d+) kB/.exec(line);
    if (rss && maps.length > 0) maps.at(-1)!.rssKiB = Number(rss[1]);
  }
  return maps;
}

/** Each mapping's class (see the top of this file); the heuristics are glibc's and Node's layouts. */
export function classify(maps: Mapping[]): Class[] {
  return maps.map((m, i) => {
    if (m.path.endsWith('/node')) return 'node binary';
    if (m.path.startsWith('/')) return 'libs';
    if (m.path === '[heap]') return 'brk heap';
    if (m.path === '[stack]') return 'stacks';
    if (m.path !== '') return 'other anon'; // [vvar], [vdso], [anon:…]
    const prev = maps[i - 1];
    // A thread stack: glibc maps it whole and makes its lowest page(s) a PROT_NONE guard.
    if (m.perms.startsWith('rw') && prev && prev.end === m.start && prev.perms.startsWith('---') && prev.end - prev.start <= 64n * BigInt(KiB) && prev.path === '') return 'stacks';
    // A glibc arena heap starts on a 64 MiB boundary; its unused top is a PROT_NONE mapping.
    if (m.perms.startsWith('rw') && m.start % BigInt(ARENA) === 0n) {
      const next = maps[i + 1];
      const span = next && next.start === m.end && next.perms.startsWith('---') ? next.end - m.start : m.end - m.start;
      if (span === BigInt(ARENA)) return 'arenas';
    }
    return 'other anon';
  });
}

export interface Sample {
  t: number;
  rssMiB: number;
  threads: number;
  byClass: Record<Class, number>;
  /** the biggest 'other anon' mappings by RSS (MiB), to tell V8's pages from big malloc blocks */
  bigAnon: number[];
  /** how many 'other anon' mappings there are, and how many of exactly 1 MiB + a page, 64 KiB + a page … */
  anonCount: number;
}

export function sample(pid: number): Sample | null {
  const maps = readSmaps(pid);
  if (maps === null) return null;
  let threads = 0;
  try {
    threads = Number(/Threads:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0);
  } catch {
    return null;
  }
  const classes = classify(maps);
  const byClass = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<Class, number>;
  const anon: number[] = [];
  maps.forEach((m, i) => {
    byClass[classes[i]!] += m.rssKiB / KiB;
    if (classes[i] === 'other anon' && m.rssKiB > 0) anon.push(m.rssKiB / KiB);
  });
  anon.sort((a, b) => b - a);
  const rssMiB = maps.reduce((n, m) => n + m.rssKiB, 0) / KiB;
  return { t: Date.now(), rssMiB, threads, byClass, bigAnon: anon.slice(0, 8), anonCount: anon.length };
}

interface ProbeNote {
  t: number;
  rss: number;
  heapPhysical: number;
  heapUsed: number;
  external: number;
  arrayBuffers: number;
  mallocedV8: number;
}

async function main(): Promise<void> {
  const argv = process.argv.slice(2);
  const label = argv[0] === '--label' ? argv[1]! : 'run';
  const cmd = argv.slice(argv.indexOf('--') + 1);
  if (cmd.length === 0) throw new Error('usage: node bench/mem-smaps.ts [--label NAME] -- CMD ARGS…');
  const probeOut = join(tmpdir(), `elohim-mem-probe-${process.pid}.jsonl`);
  const isNode = /(^|\/)node$/.test(cmd[0]!);
  const args = isNode ? ['--import', PROBE, ...cmd.slice(1)] : cmd.slice(1);
  const child = spawn(cmd[0]!, args, { stdio: ['ignore', 'ignore', 'inherit'], env: { ...process.env, MEM_PROBE_OUT: probeOut } });
  const every = Number(process.env.MEM_SAMPLE_MS ?? 50);
  let peak: Sample | null = null;
  const peakOf = Object.fromEntries(CLASSES.map((c) => [c, 0])) as Record<Class, number>;
  let maxThreads = 0;
  const started = Date.now();
  const timer = setInterval(() => {
    const s = sample(child.pid!);
    if (s === null) return;
    if (peak === null || s.rssMiB > peak.rssMiB) peak = s;
    for (const c of CLASSES) peakOf[c] = Math.max(peakOf[c], s.byClass[c]);
    maxThreads = Math.max(maxThreads, s.threads);
  }, every);
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  clearInterval(timer);
  const wallS = (Date.now() - started) / 1000;
  let notes: ProbeNote[] = [];
  let sites: { t: number; live: number; top: [string, number][]; made: [string, number][] } | null = null;
  try {
    const lines = readFileSync(probeOut, 'utf8').trim().split('\n').map((l) => JSON.parse(l) as ProbeNote & { sites?: typeof sites });
    sites = lines.find((l) => l.sites)?.sites ?? null;
    notes = lines.filter((l) => !l.sites);
  } catch {
    // not Node, or it died before its exit handler
  }
  rmSync(probeOut, { force: true });
  if (peak === null) throw new Error(`no sample of ${cmd.join(' ')} (exit ${code})`);
  const p: Sample = peak;
  const near = notes.length ? notes.reduce((a, b) => (Math.abs(b.t - p.t) < Math.abs(a.t - p.t) ? b : a)) : null;
  const f = (x: number) => x.toFixed(1).padStart(7);
  process.stdout.write(`${label}: exit ${code}, ${wallS.toFixed(1)} s, peak RSS ${p.rssMiB.toFixed(1)} MiB at ${((p.t - started) / 1000).toFixed(1)} s, threads ${p.threads} (max ${maxThreads})\n`);
  process.stdout.write(`  class         at peak   own peak\n`);
  for (const c of CLASSES) process.stdout.write(`  ${c.padEnd(12)} ${f(p.byClass[c])} ${f(peakOf[c])}\n`);
  process.stdout.write(`  other anon: ${p.anonCount} mappings, biggest ${p.bigAnon.map((x) => x.toFixed(1)).join(' ')} MiB\n`);
  if (near) {
    const maxOf = (k: keyof ProbeNote) => Math.max(...notes.map((n) => n[k]));
    process.stdout.write(
      `  V8 nearest the peak (${near.t - p.t} ms): heap in RAM ${near.heapPhysical.toFixed(1)} (used ${near.heapUsed.toFixed(1)}), external ${near.external.toFixed(1)} (array buffers ${near.arrayBuffers.toFixed(1)}), V8 malloc ${near.mallocedV8.toFixed(1)}\n` +
        `  V8 maxima over the run: heap in RAM ${maxOf('heapPhysical').toFixed(1)}, external ${maxOf('external').toFixed(1)}, array buffers ${maxOf('arrayBuffers').toFixed(1)}\n`,
    );
  }
  if (sites !== null) {
    process.stdout.write(`  Buffers (≥ MEM_PROBE_SITES bytes) still in memory, at their most (${sites.live.toFixed(1)} MiB, ${((sites.t - started) / 1000).toFixed(1)} s), by where they were made:\n`);
    for (const [site, mib] of sites.top) process.stdout.write(`    ${mib.toFixed(1).padStart(6)} MiB  ${site}\n`);
    process.stdout.write(`  and made over the whole run:\n`);
    for (const [site, mib] of sites.made) process.stdout.write(`    ${mib.toFixed(1).padStart(6)} MiB  ${site}\n`);
  }
  printJsonLine('mem-smaps', {
    label,
    exit: code,
    wallS,
    peakRssMiB: Math.round(p.rssMiB * 10) / 10,
    atPeak: Object.fromEntries(CLASSES.map((c) => [c, Math.round(p.byClass[c] * 10) / 10])),
    classPeaks: Object.fromEntries(CLASSES.map((c) => [c, Math.round(peakOf[c] * 10) / 10])),
    threads: p.threads,
    v8AtPeak: near,
  });
}

if (import.meta.main) await main();
