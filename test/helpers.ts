/**
 * Shared pieces of the end-to-end suites: they run the real `elohim` CLI as a child process on
 * a fresh temporary ELOHIM_HOME, with secrets in the environment, and look at its exit code,
 * output and the files it leaves on disk. Nothing of ours is mocked.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { accessSync, constants as fsConstants, rmSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { delimiter, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import type { EntryInfo, TrashEntry } from '../src/vault/index.ts';
import type { App } from '../src/app.ts';
import type { UnlockSecret } from '../src/keyring/index.ts';

export const REPO = fileURLToPath(new URL('..', import.meta.url));
/** The pinned Node 24; the machine's own `node` may be older. */
export const NODE = join(REPO, 'node_modules', '.bin', 'node');
export const CLI = join(REPO, 'bin', 'elohim.js');

/** Argon2id at OWASP's minimum, so each unlock costs tens of milliseconds rather than a quarter second. */
export const CHEAP_KDF = ['--kdf-memory', '19456', '--kdf-passes', '2', '--kdf-parallelism', '1'] as const;

export const PASSPHRASE = 'correct horse battery staple';
export const DECOY_PASSPHRASE = 'tr0ub4dor & 3';

/** A valid X25519 recipient whose identity nobody here holds (from the age README). */
export const FOREIGN_RECIPIENT = 'age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p';

export interface RunResult {
  /** exit code, or null when killed by a signal */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: Buffer;
  stderr: string;
  /** wall time from spawn to exit */
  ms: number;
}

export interface RunOptions {
  /** extra environment; `undefined` removes a variable */
  env?: Record<string, string | undefined>;
  /** bytes for standard input (default: empty, closed at once) */
  stdin?: Buffer | string | Readable;
  cwd?: string;
  /** the run fails the test when it takes longer (default 120 s) */
  timeoutMs?: number;
}

/**
 * The environment of a CLI run: ours minus every ELOHIM_* variable and the test runner's own
 * markers, plus no progress bars, plus `extra`.
 */
export function cliEnv(extra: Record<string, string | undefined> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (k.startsWith('ELOHIM_') || k.startsWith('NODE_TEST') || k === 'NODE_OPTIONS') continue;
    env[k] = v;
  }
  env.ELOHIM_NO_PROGRESS = '1';
  for (const [k, v] of Object.entries(extra)) {
    if (v === undefined) delete env[k];
    else env[k] = v;
  }
  return env;
}

/** Runs `node bin/elohim.js ...args` to completion. Never rejects on a non-zero exit. */
export function runCli(args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const child = spawn(NODE, [CLI, ...args], {
      cwd: opts.cwd ?? REPO,
      env: cliEnv(opts.env),
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => err.push(c));
    // The CLI may exit before reading all of stdin (e.g. on bad input): that is not our error.
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`elohim ${args.join(' ')} took longer than ${opts.timeoutMs ?? 120_000} ms`));
    }, opts.timeoutMs ?? 120_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout: Buffer.concat(out), stderr: Buffer.concat(err).toString('utf8'), ms: performance.now() - started });
    });
    const input = opts.stdin;
    if (input === undefined) child.stdin.end();
    else if (typeof input === 'string' || Buffer.isBuffer(input)) child.stdin.end(input);
    else input.pipe(child.stdin);
  });
}

/** A one-line description of a run, for assertion messages. */
export function describeRun(r: RunResult): string {
  const out = r.stdout.length > 600 ? `${r.stdout.subarray(0, 600).toString('utf8')}…` : r.stdout.toString('utf8');
  return `exit ${r.code ?? r.signal}; stderr: ${JSON.stringify(r.stderr)}; stdout: ${JSON.stringify(out)}`;
}

const tempDirs: string[] = [];

// What a test file made and did not remove (a test that failed before its own clean-up, or one
// that never had any) goes when its process ends: CI machines ran out of disk on left folders.
process.once('exit', () => {
  if (process.env.ELOHIM_TEST_KEEP) return;
  for (const d of tempDirs.splice(0)) {
    try {
      rmSync(d, { recursive: true, force: true });
    } catch {
      // best effort at exit: a folder still in use by a child that outlived the test stays
    }
  }
});

/** A new empty folder under the OS temp folder, removed by `removeTempDirs`. */
export async function makeTempDir(prefix = 'elohim-test-'): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

/** Removes every folder `makeTempDir` made; pass to `after()`. Set ELOHIM_TEST_KEEP=1 to keep them. */
export async function removeTempDirs(): Promise<void> {
  if (process.env.ELOHIM_TEST_KEEP) {
    process.stderr.write(`kept temp folders:\n  ${tempDirs.join('\n  ')}\n`);
    return;
  }
  await Promise.all(tempDirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
}

export function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

/** SHA-256 of a host file, streamed. */
export async function sha256File(path: string): Promise<string> {
  const hash = createHash('sha256');
  const fh = await open(path, 'r');
  try {
    for await (const chunk of fh.createReadStream({ highWaterMark: 1 << 20, autoClose: false })) hash.update(chunk as Buffer);
  } finally {
    await fh.close();
  }
  return hash.digest('hex');
}

export interface FileEntry {
  /** relative to the listed folder, with "/" separators */
  path: string;
  size: number;
  mode: number;
  mtimeMs: number;
}

/** Every regular file below `dir`, recursively, sorted by path. Folders themselves are not listed. */
export async function listFiles(dir: string): Promise<FileEntry[]> {
  const out: FileEntry[] = [];
  const visit = async (d: string): Promise<void> => {
    let entries;
    try {
      entries = await readdir(d, { withFileTypes: true });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return; // removed while we looked
      throw err;
    }
    for (const e of entries) {
      const full = join(d, e.name);
      if (e.isDirectory()) await visit(full);
      else {
        const s = await stat(full).catch(() => null);
        if (s === null) continue;
        out.push({ path: relative(dir, full).split(sep).join('/'), size: s.size, mode: s.mode & 0o777, mtimeMs: s.mtimeMs });
      }
    }
  };
  await visit(dir);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Every stored object of a home, chaff included, as paths relative to objects/ ("ab/cdef…"); temp files left out. */
export async function allObjectFiles(home: string): Promise<string[]> {
  return (await listFiles(join(home, 'objects'))).map((f) => f.path).filter((p) => !p.startsWith('tmp/'));
}

/** The chaff objects each home was set up with (src/cover): nothing tells them apart, so the helpers that set up a home note them. */
const setUpObjects = new Map<string, Set<string>>();

/** Notes the objects a freshly set-up home holds (its chaff), which `objectFiles` then leaves out. */
export async function rememberSetUp(home: string): Promise<void> {
  setUpObjects.set(home, new Set(await allObjectFiles(home)));
}

/** Stored objects of a home other than its set-up chaff, as paths relative to objects/; temp files left out. */
export async function objectFiles(home: string): Promise<string[]> {
  const chaff = setUpObjects.get(home) ?? new Set<string>();
  return (await allObjectFiles(home)).filter((p) => !chaff.has(p));
}

/** Files in objects/tmp/ (temp files of puts in progress or abandoned). */
export async function tempFiles(home: string): Promise<FileEntry[]> {
  return listFiles(join(home, 'objects', 'tmp'));
}

/**
 * Which of `needles` occur in which files below `dir`. Reads each file in 1 MiB chunks with an
 * overlap of the longest needle, so memory stays constant for files of any size.
 */
export async function findInFiles(dir: string, needles: readonly (string | Buffer)[]): Promise<{ file: string; needle: string }[]> {
  const bufs = needles.map((n) => (typeof n === 'string' ? Buffer.from(n, 'utf8') : n));
  const overlap = Math.max(...bufs.map((b) => b.length)) - 1;
  const hits: { file: string; needle: string }[] = [];
  for (const f of await listFiles(dir)) {
    const fh = await open(join(dir, f.path), 'r').catch(() => null);
    if (fh === null) continue;
    try {
      const found = new Set<number>();
      const buf = Buffer.alloc((1 << 20) + overlap);
      let carried = 0;
      let pos = 0;
      for (;;) {
        const { bytesRead } = await fh.read(buf, carried, buf.length - carried, pos);
        if (bytesRead === 0) break;
        pos += bytesRead;
        const window = buf.subarray(0, carried + bytesRead);
        bufs.forEach((b, i) => {
          if (!found.has(i) && window.includes(b)) found.add(i);
        });
        carried = Math.min(overlap, window.length);
        window.copy(buf, 0, window.length - carried);
      }
      for (const i of found) hits.push({ file: f.path, needle: bufs[i]!.toString('utf8') });
    } finally {
      await fh.close();
    }
  }
  return hits;
}

/** Absolute path of an executable on PATH (or in /usr/bin), or null. */
export function which(tool: string): string | null {
  for (const dir of [...(process.env.PATH ?? '').split(delimiter), '/usr/bin']) {
    if (dir === '') continue;
    const full = join(dir, tool);
    try {
      accessSync(full, fsConstants.X_OK);
      return full;
    } catch {
      // not in this folder
    }
  }
  return null;
}

/**
 * The path of a tool the tests need; throws (failing the test, never skipping it) when it is
 * missing, saying how to install it.
 */
export function requireTool(tool: 'age' | 'age-keygen'): string {
  const path = which(tool);
  if (path === null) {
    throw new Error(`${tool} is not installed (expected /usr/bin/${tool}); install it with \`apt-get install age\` (.ci/run does this). The age interoperability tests cannot run without it.`);
  }
  return path;
}

/** Runs a host tool synchronously; stdout as bytes. */
export function runTool(path: string, args: readonly string[], input?: Buffer | string): { code: number | null; stdout: Buffer; stderr: string } {
  const r = spawnSync(path, args, { input, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  return { code: r.status, stdout: r.stdout, stderr: r.stderr.toString('utf8') };
}

/** Parses the numbered recovery codes printed under `title` (e.g. "Recovery codes:"). */
export function parseRecoveryCodes(stdout: string, title: string): string[] {
  const lines = stdout.split('\n');
  const start = lines.findIndex((l) => l.trim() === title);
  if (start < 0) return [];
  const codes: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^\s*\d+\.\s+(\S+)\s*$/.exec(line);
    if (m === null) break;
    codes.push(m[1]!);
  }
  return codes;
}

/** What `ls --json` and `trash ls --json` print: the vault's own entry types, as JSON. */
export type Entry = EntryInfo;
export type TrashItem = TrashEntry;

/** A vault in its own temporary ELOHIM_HOME, and a way to run the CLI on it. */
export interface TestHome {
  /** the ELOHIM_HOME folder */
  home: string;
  /** a scratch folder for host files, outside the home */
  work: string;
  /** recovery codes init printed (empty until `init`) */
  codes: string[];
  decoyCodes: string[];
  /** runs the CLI with ELOHIM_HOME set and, unless overridden, the real passphrase */
  run(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** like `run`, but fails with the run's output unless it exits 0 */
  ok(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
}

/** A fresh temp home (not yet initialized). */
export async function makeHome(): Promise<TestHome> {
  const root = await makeTempDir();
  const home = join(root, 'home');
  const work = join(root, 'work');
  await mkdir(work);
  const t: TestHome = {
    home,
    work,
    codes: [],
    decoyCodes: [],
    run(args, opts = {}) {
      return runCli(args, { ...opts, env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE, ...opts.env } });
    },
    async ok(args, opts = {}) {
      const r = await t.run(args, opts);
      if (r.code !== 0) throw new Error(`elohim ${args.join(' ')} failed: ${describeRun(r)}`);
      return r;
    },
  };
  return t;
}

/** A fresh home with an initialized vault (and a decoy when asked), cheap Argon2id. */
export async function initHome(opts: { decoy?: boolean } = {}): Promise<TestHome> {
  const t = await makeHome();
  const r = await t.ok(['init', ...CHEAP_KDF, ...(opts.decoy ? ['--decoy'] : [])], {
    env: opts.decoy ? { ELOHIM_DECOY_PASSPHRASE: DECOY_PASSPHRASE } : {},
  });
  const out = r.stdout.toString('utf8');
  t.codes = parseRecoveryCodes(out, 'Recovery codes:');
  t.decoyCodes = parseRecoveryCodes(out, 'Recovery codes of the DECOY vault:');
  if (t.codes.length === 0) throw new Error(`init printed no recovery codes: ${describeRun(r)}`);
  await rememberSetUp(t.home);
  return t;
}

/** Options that make a run use the decoy passphrase. */
export const AS_DECOY = { env: { ELOHIM_PASSPHRASE: DECOY_PASSPHRASE } } as const;

/** Every live entry of the vault, by walking `ls --json` from the root (one run per folder). */
export async function listTree(t: TestHome, opts: RunOptions = {}): Promise<Entry[]> {
  const all: Entry[] = [];
  const queue = ['/'];
  while (queue.length > 0) {
    const folder = queue.shift()!;
    const r = await t.run(['ls', '--json', folder], opts);
    if (r.code !== 0) throw new Error(`ls --json ${folder} failed: ${describeRun(r)}`);
    const entries = JSON.parse(r.stdout.toString('utf8')) as Entry[];
    for (const e of entries) {
      all.push(e);
      if (e.kind === 'folder') queue.push(e.path);
    }
  }
  return all.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** `trash ls --json`. */
export async function listTrash(t: TestHome, opts: RunOptions = {}): Promise<TrashItem[]> {
  const r = await t.run(['trash', 'ls', '--json'], opts);
  if (r.code !== 0) throw new Error(`trash ls --json failed: ${describeRun(r)}`);
  return JSON.parse(r.stdout.toString('utf8')) as TrashItem[];
}

/** The whole visible state of a vault: live tree, trash, and the object files of the home. */
export async function snapshot(t: TestHome, opts: RunOptions = {}) {
  return { tree: await listTree(t, opts), trash: await listTrash(t, opts), objects: await objectFiles(t.home) };
}

/**
 * Pearson's chi-square of the byte histogram of `data` against uniform, with its upper-tail
 * z-score (Wilson–Hilferty, 255 degrees of freedom). z > 5 means p < 3e-7.
 */
export function byteUniformity(data: Uint8Array): { chi2: number; z: number } {
  const counts = new Float64Array(256);
  for (const b of data) counts[b]!++;
  const expected = data.length / 256;
  let chi2 = 0;
  for (const c of counts) chi2 += (c - expected) ** 2 / expected;
  const k = 255;
  const z = (Math.cbrt(chi2 / k) - (1 - 2 / (9 * k))) / Math.sqrt(2 / (9 * k));
  return { chi2, z };
}

/**
 * Asserts that `data` looks like uniform random bytes (byteUniformity's z below 5), and that the
 * check has the power to tell at this size: as many zero bytes fail it by far. Key slots that
 * were overwritten must pass it; zeros or any fixed filler must not.
 */
export function assertLooksRandom(data: Uint8Array, what: string): void {
  const { z, chi2 } = byteUniformity(data);
  assert.ok(z < 5, `${what} do not look random: chi2 ${chi2.toFixed(0)} (z ${z.toFixed(1)}) over ${data.length} bytes`);
  assert.ok(byteUniformity(new Uint8Array(data.length)).z > 100, `${data.length} bytes are too few to tell random from zeros`);
}

/** Deterministic, compressible, recognizable plaintext: "<marker>-<n>\n" lines. */
export function markerLines(marker: string, from: number, bytes: number): { data: Buffer; next: number } {
  const parts: string[] = [];
  let len = 0;
  let n = from;
  while (len < bytes) {
    const line = `${marker}-${n++}\n`;
    parts.push(line);
    len += line.length;
  }
  return { data: Buffer.from(parts.join(''), 'utf8'), next: n };
}

/** Unlocks a vault of a real app in this process: its workspace, and a lock() that records nothing. */
export async function unlockIn(app: App, secret: UnlockSecret) {
  const { workspace, viaRecoveryCode } = await app.workspaces.unlock(secret);
  return Object.assign(Object.create(null) as object, workspace, { viaRecoveryCode, lock: () => app.workspaces.release(workspace.id) }) as typeof workspace & {
    viaRecoveryCode: boolean;
    lock(): void;
  };
}
