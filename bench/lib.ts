/** Pieces both benchmarks use. */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createReadStream, createWriteStream, existsSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';

const MiB = 1024 ** 2;

/** Writes `size` random bytes to `path` in 8 MiB pieces (constant memory). */
export async function randomFile(path: string, size: number): Promise<void> {
  const out = createWriteStream(path);
  for (let done = 0; done < size; ) {
    const n = Math.min(8 * MiB, size - done);
    if (!out.write(randomBytes(n))) await once(out, 'drain');
    done += n;
  }
  out.end();
  await finished(out);
}

export async function sha256File(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const c of createReadStream(path, { highWaterMark: 4 * MiB })) h.update(c as Buffer);
  return h.digest('hex');
}

export const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
/**
 * The best (shortest) of several timings. The machine is shared: other work only ever adds time
 * to a run, so the best round is the one least disturbed, and the ratios use it.
 */
export const best = (xs: number[]) => Math.min(...xs);
/** Seconds with millisecond precision, for the JSON line. */
export const secs = (ms: number) => Math.round(ms) / 1000;
/** A ratio with two decimals, for the JSON line. */
export const ratio = (a: number, b: number) => Math.round((a / b) * 100) / 100;

/**
 * The last line of every benchmark: its figures and ratios as one JSON object, so that runs can
 * be compared by a program. `loadavg` is the machine's load at the end (1, 5, 15 minutes).
 */
export function printJsonLine(bench: string, figures: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify({ bench, ...figures, loadavg: loadavg().map((x) => Math.round(x * 100) / 100) })}\n`);
}
export const fmtS = (ms: number) => `${(ms / 1000).toFixed(2)} s`;

export interface ServeProcess {
  child: ChildProcess;
  pid: number;
  base: URL;
  /** SIGTERM, then SIGKILL after 10 s; resolves when the process has exited. */
  stop(): Promise<void>;
}

/**
 * What bin/elohim.js's shebang and `npm start` set in the environment of every elohim process
 * (glibc's arenas: two, not one per thread; bin/elohim.js says why). A benchmark that starts
 * `node bin/elohim.js` itself, as these do, sets it too, or it measures a process users never run.
 */
export const ELOHIM_ENV = { MALLOC_ARENA_MAX: '2' } as const;

/**
 * What bin/elohim.js's shebang adds for a command run as a program (`elohim backup run`): huge
 * pages for malloc's big blocks (Argon2id's 64 MiB). Benchmarks that run a one-shot command under
 * `node bin/elohim.js` pass it; the server's (startServe, as `npm start`) does not have it.
 */
export const ELOHIM_CLI_ENV = { ...ELOHIM_ENV, GLIBC_TUNABLES: 'glibc.malloc.hugetlb=1' } as const;

/**
 * `npm start`'s V8 flags for the server (package.json; ARCHITECTURE, Runtime and toolchain): the
 * 1 MiB young generation, and old-generation limits grown by a fixed half after each full
 * collection. Benchmarks that start `elohim serve` pass these, so they measure the server users run.
 */
export const SERVE_FLAGS: readonly string[] = ['--max-semi-space-size=1', '--heap-growing-percent=50'];

/**
 * Starts `elohim serve --port 0` (plus `args`) under Node with `flags`, and waits for the address
 * it prints on stderr. `stdout` is a file descriptor for the server's log, or 'ignore'.
 */
export async function startServe(opts: { env: NodeJS.ProcessEnv; flags: string[]; args?: string[]; stdout?: number | 'ignore' }): Promise<ServeProcess> {
  const root = join(import.meta.dirname, '..');
  const args = [...opts.flags, join(root, 'bin', 'elohim.js'), 'serve', '--port', '0', ...(opts.args ?? [])];
  const child = spawn(join(root, 'node_modules', '.bin', 'node'), args, { cwd: root, env: { ...process.env, ...ELOHIM_ENV, ...opts.env }, stdio: ['ignore', opts.stdout ?? 'ignore', 'pipe'] });
  let stderr = '';
  const exited = once(child, 'exit');
  const base = await new Promise<URL>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not start within 30 s: ${stderr}`)), 30_000);
    child.on('error', reject);
    child.stderr!.on('data', (c: Buffer) => {
      stderr = (stderr + c.toString()).slice(-10_000);
      const m = /ElohimOS is serving (http:\/\/[^\s]+)/.exec(stderr);
      if (m) {
        clearTimeout(timer);
        resolve(new URL(m[1]!));
      }
    });
    child.once('exit', (code) => reject(new Error(`the server exited (${code}) before serving: ${stderr}`)));
  });
  // Every request of a bench goes to the loopback interface, nowhere else.
  if (base.hostname !== '127.0.0.1') throw new Error(`the server is not on 127.0.0.1: ${base.href}`);
  return {
    child,
    pid: child.pid!,
    base,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(timer);
    },
  };
}

export interface RunResult {
  ms: number;
  peakRssMiB: number;
  /**
   * CPU seconds (user + system) of the command and its children, from /usr/bin/time; null where
   * it is missing. On a shared machine this moves far less with the load than wall-clock time.
   */
  cpuS: number | null;
  stdout: string;
  stderr: string;
}

const TIME = '/usr/bin/time';

/**
 * Runs a command (no stdin); rejects on a non-zero exit. Under /usr/bin/time where it exists,
 * for its CPU time and exact peak RSS (ru_maxrss); otherwise polling VmHWM.
 */
export function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const timed = existsSync(TIME);
    const usage = join(tmpdir(), `elohim-bench-rusage-${process.pid}-${randomBytes(4).toString('hex')}`);
    const started = performance.now();
    const child = timed
      ? spawn(TIME, ['-o', usage, '-f', '%U %S %M', cmd, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
      : spawn(cmd, args, { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let peak = 0;
    const poll = setInterval(() => {
      if (timed) return;
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peak = Math.max(peak, Number(m[1]) / 1024);
      } catch {
        // the process has exited between polls
      }
    }, 20);
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    child.on('error', reject);
    child.on('close', (code) => {
      clearInterval(poll);
      let cpuS: number | null = null;
      if (timed) {
        try {
          // The last line: GNU time writes "Command exited with non-zero status" above it on failure.
          const [user, system, maxKiB] = readFileSync(usage, 'utf8').trim().split('\n').at(-1)!.split(' ').map(Number);
          cpuS = user! + system!;
          peak = maxKiB! / 1024;
        } catch {
          // no usage written: the command did not start
        }
        rmSync(usage, { force: true });
      }
      const r = { ms: performance.now() - started, peakRssMiB: peak, cpuS, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
      if (code === 0) resolve(r);
      else reject(new Error(`${cmd} ${args.join(' ')} exited ${code}: ${r.stderr}`));
    });
  });
}
