/**
 * API benchmark: `elohim serve` under load over HTTP on 127.0.0.1, beside the `age` CLI, in one run.
 *
 *   npm run bench:api                        listing under load, 20 × 100 MiB uploads, 1 GiB vs age
 *   BENCH_ROUNDS=5 npm run bench:api         more 1 GiB rounds (the best is reported: see lib.ts `best`)
 *   BENCH_PHASES=uploads,1gib npm run bench:api
 *                                            only these phases (list, uploads, 1gib; default all)
 *   BENCH_LIST_SECONDS=20 npm run bench:api  a longer listing load (default 10 s)
 *   BENCH_DIR=/mnt/x npm run bench:api       where the data goes (default: the OS temp folder)
 *   BENCH_UPLOADS=20 BENCH_UPLOAD_MIB=100    the concurrent uploads (defaults shown)
 *   BENCH_SERVER_NODE_OPTIONS=--cpu-prof     NODE_OPTIONS for the server only (profiles land in the
 *                                            bench's working folder)
 *   BENCH_SERVER_NODE_FLAGS='--max-semi-space-size=1 --heap-growing-percent=50'
 *                                            Node flags for the server (default: those of `npm start`)
 *
 * The server runs as `npm start` runs it: `node bin/elohim.js serve --port 0` (default settings, so pino logs
 * every request at info level, to a file here) on a fresh ELOHIM_HOME set up through the API.
 * Load comes from autocannon, in this process, so on a small machine the load generator and
 * the server share the cores: req/s is a floor, not what the server does alone. The 20 uploads
 * use node:http with keep-alive; their bodies are generated per connection from a seeded
 * AES-CTR keystream (bounded by backpressure) and re-generated afterwards to check what the
 * server recorded. The 1 GiB round trips use curl, beside age on the same file, and also compare
 * both into /dev/null, without the destination disk. Keep the OS temp folder free of big leftovers:
 * with the page cache full, each write costs the kernel reclaim work (seen here: 7 instead of 4
 * CPU-s per GiB uploaded). The server's RSS is read from /proc/<pid>/status: VmRSS sampled
 * every 20 ms, and VmHWM, reset per phase through /proc/<pid>/clear_refs where allowed.
 *
 * Nothing leaves 127.0.0.1; every load is bounded in count and time, and a watchdog stops the
 * whole run (and the server) if it overruns. Exits non-zero on errors only, not on missed targets.
 * The last line of the output is one JSON object of the figures and ratios.
 */
import autocannon from 'autocannon';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { closeSync, createReadStream, existsSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { Agent, request as httpRequest } from 'node:http';
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { availableParallelism, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { fileURLToPath } from 'node:url';
import { once } from 'node:events';
import { best, fmtS, printJsonLine, randomFile, ratio, run, secs, SERVE_FLAGS, startServe } from './lib.ts';
import type { ServeProcess } from './lib.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// Run the bin itself, as `npx elohim` does: its shebang picks Node 24 from node_modules/.bin
// and sets the V8 flags the CLI is tuned for.
const PATH_WITH_NODE = `${join(ROOT, 'node_modules', '.bin')}:${process.env.PATH ?? ''}`;
const AGE = '/usr/bin/age';
const AGE_KEYGEN = '/usr/bin/age-keygen';
const KiB = 1024;
const MiB = 1024 ** 2;
const GiB = 1024 ** 3;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const PHASES = new Set((process.env.BENCH_PHASES ?? 'list,uploads,1gib').split(',').map((p) => p.trim()));
const SKIP_1GIB = !PHASES.has('1gib');
const LIST_SECONDS = Number(process.env.BENCH_LIST_SECONDS ?? 10);
const LIST_ITEMS = 1000;
const LIST_CONNECTIONS = 100;
const UPLOADS = Number(process.env.BENCH_UPLOADS ?? 20);
const UPLOAD_SIZE = Number(process.env.BENCH_UPLOAD_MIB ?? 100) * MiB;
/** Targets: printed beside the numbers, never a reason to fail. */
const RSS_TARGET_MIB = 200;
const RATIO_TARGET = 1.25;
/** The whole run stops itself (and the server) after this long. */
const WATCHDOG_MS = Number(process.env.BENCH_TIMEOUT_S ?? 1200) * 1000;
const PASSPHRASE = 'bench passphrase';

// ---------------------------------------------------------------------------------------------
// Processes and memory

/** VmRSS and VmHWM of a process in MiB, or null once it has exited. */
function procStatus(pid: number | undefined): { rss: number; hwm: number } | null {
  if (pid === undefined) return null;
  try {
    const text = readFileSync(`/proc/${pid}/status`, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(text);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(text);
    return rss && hwm ? { rss: Number(rss[1]) / 1024, hwm: Number(hwm[1]) / 1024 } : null;
  } catch {
    return null; // the process has exited between polls
  }
}

/**
 * CPU seconds (user + system) a process has used, with `children` also those of its children
 * that have ended (the curl runs of this bench); the kernel counts in ticks of 1/100 s on Linux.
 */
function cpuSeconds(pid: number, opts: { children?: boolean } = {}): number {
  try {
    // Fields after the command name, which is in parentheses and may hold spaces.
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    const own = Number(fields[11]) + Number(fields[12]);
    return (opts.children ? own + Number(fields[13]) + Number(fields[14]) : own) / 100;
  } catch {
    return 0;
  }
}

/** Microseconds in which some task on the machine waited for I/O (pressure stall information), or null. */
function ioStallUs(): number | null {
  try {
    const m = /^some .*total=(\d+)/m.exec(readFileSync('/proc/pressure/io', 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** CPU seconds the whole machine has spent busy (not idle or waiting for I/O), from /proc/stat. */
function machineBusySeconds(): number {
  try {
    const [, ...ticks] = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/);
    const n = ticks.map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    return (n[0]! + n[1]! + n[2]! + n[5]! + n[6]! + n[7]!) / 100;
  } catch {
    return 0;
  }
}

/**
 * Where the time went during a phase: CPU of the server, of this process (the load) and of
 * anything else on the machine, in cores, and the share of the time in which some task was
 * stalled on I/O. "others" well above zero means the numbers of that phase are disturbed.
 */
function watchCpu(pid: number): { stop(): string; others(): number } {
  const started = performance.now();
  const server = cpuSeconds(pid);
  const self = cpuSeconds(process.pid, { children: true });
  const machine = machineBusySeconds();
  const io = ioStallUs();
  let others = 0;
  return {
    stop() {
      const wall = (performance.now() - started) / 1000;
      const serverS = cpuSeconds(pid) - server;
      const mineS = cpuSeconds(process.pid, { children: true }) - self;
      others = Math.max(0, machineBusySeconds() - machine - serverS - mineS) / wall;
      const cores = (x: number) => (x / wall).toFixed(2);
      const ioNow = ioStallUs();
      const stalled = io === null || ioNow === null ? '' : `; I/O stall ${Math.round((100 * (ioNow - io)) / 1e6 / wall)}%`;
      return `CPU: server ${cores(serverS)}, bench ${cores(mineS)}, others ${others.toFixed(2)} cores${stalled}`;
    },
    others: () => others,
  };
}

interface RssReport {
  before: number;
  /** highest VmRSS sampled during the phase */
  sampled: number;
  /** VmHWM at the end: the kernel's own peak, for this phase if it could be reset */
  hwm: number;
  hwmIsPhase: boolean;
  after: number;
}

/**
 * Watches a process's memory over one phase. Writing 5 to clear_refs resets VmHWM to the
 * current RSS (Linux ≥ 4.0, needs ptrace rights over the process); where that is refused, the
 * HWM is the peak since the process started and is reported as such.
 */
function watchRss(pid: number): { stop(): RssReport } {
  let hwmIsPhase = true;
  try {
    writeFileSync(`/proc/${pid}/clear_refs`, '5');
  } catch {
    hwmIsPhase = false;
  }
  const before = procStatus(pid)?.rss ?? 0;
  let sampled = before;
  const poll = setInterval(() => {
    const s = procStatus(pid);
    if (s) sampled = Math.max(sampled, s.rss);
  }, 20);
  return {
    stop() {
      clearInterval(poll);
      const s = procStatus(pid);
      return { before, sampled: Math.max(sampled, s?.rss ?? 0), hwm: s?.hwm ?? 0, hwmIsPhase, after: s?.rss ?? 0 };
    },
  };
}

const peakOf = (r: RssReport) => Math.max(r.sampled, r.hwm);
const fmtRss = (r: RssReport) =>
  `RSS ${r.before.toFixed(0)} → peak ${peakOf(r).toFixed(0)} → ${r.after.toFixed(0)} MiB${r.hwmIsPhase ? '' : ' (HWM since start)'}`;

/** Starts `elohim serve --port 0` as `npm start` does, its log going to `logPath`. */
async function startServer(env: NodeJS.ProcessEnv, logPath: string): Promise<ServeProcess> {
  const log = openSync(logPath, 'w');
  // npm start's V8 flags (bench/lib.ts SERVE_FLAGS): the 1 MiB young generation (bin/elohim.js
  // says why it is the server's too since s21; 4 MiB listed faster here, 267 vs 205 req/s).
  const flags = process.env.BENCH_SERVER_NODE_FLAGS === undefined ? [...SERVE_FLAGS] : process.env.BENCH_SERVER_NODE_FLAGS.split(/\s+/).filter(Boolean);
  try {
    return await startServe({ env, flags, stdout: log });
  } finally {
    closeSync(log);
  }
}

// ---------------------------------------------------------------------------------------------
// HTTP

const agent = new Agent({ keepAlive: true, maxSockets: 64 });

interface Reply {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
  ms: number;
}

interface Session {
  base: URL;
  cookie: string;
  csrf: string;
}

/**
 * One request to the server. `body` may be a stream (sent as it is read); `sink` receives a
 * big response body instead of it being buffered. Every request has a timeout.
 */
async function call(
  base: URL,
  method: string,
  path: string,
  opts: { session?: Session; headers?: Record<string, string>; json?: unknown; body?: Readable; length?: number; sink?: (res: IncomingMessage) => Promise<void>; timeoutMs?: number } = {},
): Promise<Reply> {
  const url = new URL(path, base);
  if (url.hostname !== '127.0.0.1') throw new Error(`refusing to send a request to ${url.hostname}`);
  const headers: Record<string, string> = { ...opts.headers };
  if (opts.session) {
    headers.cookie = opts.session.cookie;
    if (method !== 'GET' && method !== 'HEAD') headers['x-elohim-csrf'] = opts.session.csrf;
  } else if (method !== 'GET' && method !== 'HEAD') {
    headers['x-elohim-csrf'] = 'setup';
  }
  let payload: Buffer | undefined;
  if (opts.json !== undefined) {
    payload = Buffer.from(JSON.stringify(opts.json));
    headers['content-type'] = 'application/json';
    headers['content-length'] = String(payload.length);
  } else if (opts.body !== undefined) {
    headers['content-type'] = 'application/octet-stream';
    if (opts.length !== undefined) headers['content-length'] = String(opts.length);
  }
  const started = performance.now();
  const signal = AbortSignal.timeout(opts.timeoutMs ?? 30_000);
  const req = httpRequest(url, { method, headers, agent, signal });
  const response = once(req, 'response') as Promise<[IncomingMessage]>;
  if (opts.body !== undefined) {
    // The server may answer (e.g. with an error) before the body is through: take the answer.
    pipeline(opts.body, req).catch(() => {});
  } else {
    req.end(payload);
  }
  const [res] = await response;
  let body = Buffer.alloc(0);
  if (opts.sink !== undefined && res.statusCode !== undefined && res.statusCode < 300) {
    await opts.sink(res);
  } else {
    const parts: Buffer[] = [];
    for await (const c of res) parts.push(c as Buffer);
    body = Buffer.concat(parts);
  }
  return { status: res.statusCode ?? 0, headers: res.headers, body, ms: performance.now() - started };
}

/** Like `call`, but anything but `expected` is an error that names the server's answer. */
async function expect(status: number, reply: Promise<Reply>, what: string): Promise<Reply> {
  const r = await reply;
  if (r.status !== status) throw new Error(`${what}: HTTP ${r.status}, expected ${status}: ${r.body.toString().slice(0, 300)}`);
  return r;
}

async function openSession(base: URL): Promise<Session> {
  await expect(201, call(base, 'POST', '/api/v1/setup', { json: { passphrase: PASSPHRASE }, timeoutMs: 120_000 }), 'setup');
  const r = await expect(201, call(base, 'POST', '/api/v1/session', { json: { passphrase: PASSPHRASE }, timeoutMs: 120_000 }), 'unlock');
  const setCookie = ([] as string[]).concat(r.headers['set-cookie'] ?? []);
  const cookie = setCookie.map((c) => c.split(';')[0]!).find((c) => c.startsWith('elohim_session='));
  if (cookie === undefined) throw new Error('unlock set no elohim_session cookie');
  const { csrfToken } = JSON.parse(r.body.toString()) as { csrfToken: string };
  return { base, cookie, csrf: csrfToken };
}

interface Item {
  id: string;
  name: string;
  size: number;
}

async function mkdir(s: Session, name: string): Promise<Item> {
  const r = await expect(201, call(s.base, 'POST', '/api/v1/folders', { session: s, json: { name } }), `mkdir ${name}`);
  return (JSON.parse(r.body.toString()) as { item: Item }).item;
}

async function upload(s: Session, parent: string, name: string, body: Readable, length: number, timeoutMs = 60_000): Promise<{ item: Item; ms: number }> {
  const path = `/api/v1/files?parent=${parent}&name=${encodeURIComponent(name)}`;
  const r = await expect(201, call(s.base, 'PUT', path, { session: s, body, length, timeoutMs }), `upload ${name}`);
  return { item: (JSON.parse(r.body.toString()) as { item: Item }).item, ms: r.ms };
}

/** Streams the content of `id` into a file, a SHA-256 (returned as hex) or nowhere ('discard'). */
/** Downloads a file and hashes it as it arrives. */
async function downloadSha256(s: Session, id: string, timeoutMs = 120_000): Promise<{ sha256: string; ms: number; size: number }> {
  let sha256 = '';
  let size = 0;
  const r = await expect(200, call(s.base, 'GET', `/api/v1/items/${id}/content`, {
    session: s,
    timeoutMs,
    sink: async (res) => {
      const h = createHash('sha256');
      for await (const c of res) {
        h.update(c as Buffer);
        size += (c as Buffer).length;
      }
      sha256 = h.digest('hex');
    },
  }), `download ${id}`);
  return { sha256, ms: r.ms, size };
}

// The 1 GiB comparison uses curl as the HTTP client: a lean C client, like the age CLI it is
// compared with, so the client's own cost on these two shared cores stays small and the numbers
// are about the server. (The Node client of the other phases spent ~1 core writing the body.)
const CURL = '/usr/bin/curl';

async function curlUpload(s: Session, parent: string, name: string, file: string): Promise<{ item: Item; ms: number }> {
  const url = new URL(`/api/v1/files?parent=${parent}&name=${encodeURIComponent(name)}`, s.base);
  const r = await run(CURL, ['-sS', '--fail-with-body', '-T', file, '-H', `cookie: ${s.cookie}`, '-H', `x-elohim-csrf: ${s.csrf}`, '-H', 'content-type: application/octet-stream', '-H', 'expect:', url.href]);
  return { item: (JSON.parse(r.stdout) as { item: Item }).item, ms: r.ms };
}

async function curlDownload(s: Session, id: string, out: string): Promise<{ ms: number }> {
  const r = await run(CURL, ['-sS', '--fail', '-o', out, '-H', `cookie: ${s.cookie}`, new URL(`/api/v1/items/${id}/content`, s.base).href]);
  return { ms: r.ms };
}

/** Moves an item to the trash and empties it, so big test files do not pile up on disk. */
async function remove(s: Session, id: string): Promise<void> {
  await expect(200, call(s.base, 'DELETE', `/api/v1/items/${id}`, { session: s }), 'trash');
  await expect(200, call(s.base, 'DELETE', '/api/v1/trash', { session: s, timeoutMs: 60_000 }), 'empty trash');
}

// ---------------------------------------------------------------------------------------------
// Data

/**
 * `size` bytes of AES-128-CTR keystream seeded by `seed`: random-looking (incompressible),
 * reproducible for checking, made 64 KiB at a time only as fast as the consumer reads.
 */
function keystream(seed: string, size: number): Readable {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  const zeros = Buffer.alloc(64 * KiB);
  return Readable.from(
    (function* () {
      for (let left = size; left > 0; left -= zeros.length) {
        yield cipher.update(left >= zeros.length ? zeros : zeros.subarray(0, left));
      }
    })(),
    { objectMode: false, highWaterMark: 256 * KiB },
  );
}

async function sha256Of(stream: Readable): Promise<string> {
  const h = createHash('sha256');
  for await (const c of stream) h.update(c as Buffer);
  return h.digest('hex');
}

/** Runs `task(i)` for i in [0, count) with at most `width` at a time. */
async function pool(count: number, width: number, task: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(width, count) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/**
 * Flushes every dirty page before a timed step, so that the write-back of one step (age's
 * output is not synced) does not land on the time of the next. Untimed.
 */
const settle = () => run('sync', []);
const note = (text: string) => process.stderr.write(`${text}\n`);

// ---------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  for (const tool of [AGE, AGE_KEYGEN, CURL]) if (!SKIP_1GIB && !existsSync(tool)) throw new Error(`${tool} is missing: apt-get install age curl`);
  const work = await mkdtemp(join(process.env.BENCH_DIR ?? tmpdir(), 'elohim-bench-api-'));
  const env: NodeJS.ProcessEnv = { ELOHIM_HOME: join(work, 'home'), PATH: PATH_WITH_NODE };
  if (process.env.BENCH_SERVER_NODE_OPTIONS) env.NODE_OPTIONS = process.env.BENCH_SERVER_NODE_OPTIONS;
  const rows: string[][] = [];
  const figures: Record<string, unknown> = { rounds: ROUNDS };
  let errors = 0;
  // Phases during which other processes used a good part of the CPU: their numbers are noisy.
  const disturbed = new Set<string>();
  const noteOthers = (phase: string, c: { others(): number }) => {
    if (c.others() > 0.25) disturbed.add(phase);
  };
  let server: ServeProcess | null = null;
  // Interrupted or overrun: kill the server and remove the data at once, then go.
  const abandon = () => {
    server?.child.kill('SIGKILL');
    rmSync(work, { recursive: true, force: true, maxRetries: 3 });
  };
  const watchdog = setTimeout(() => {
    note(`bench: still running after ${WATCHDOG_MS / 1000} s; stopping the server and giving up`);
    abandon();
    process.exit(2);
  }, WATCHDOG_MS);
  const onSignal = (sig: NodeJS.Signals) => {
    abandon();
    process.kill(process.pid, sig);
  };
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  try {
    server = await startServer(env, join(work, 'server.log'));
    const { pid } = server;
    const s = await openSession(server.base);
    note(`server pid ${pid} at ${server.base.href}; RSS after unlock ${procStatus(pid)?.rss.toFixed(0)} MiB`);

    let t0: number;
    let rss: ReturnType<typeof watchRss>;
    let cpu: ReturnType<typeof watchCpu>;
    let mem: ReturnType<ReturnType<typeof watchRss>['stop']>;
    let cpuUse: string;

    // 1. Listing a folder of 1,000 items under 100 concurrent connections.
    if (PHASES.has('list')) {
    const folder = await mkdir(s, 'list');
    const small = randomBytes(2 * KiB);
    t0 = performance.now();
    await pool(LIST_ITEMS, 8, async (i) => {
      await upload(s, folder.id, `file-${String(i).padStart(4, '0')}.bin`, Readable.from([small.subarray(0, 512 + (i % 1536))]), 512 + (i % 1536));
    });
    const putMs = performance.now() - t0;
    rows.push([`${LIST_ITEMS.toLocaleString('en')} small PUTs (8 at a time)`, fmtS(putMs), '', '', '', `${Math.round(LIST_ITEMS / (putMs / 1000))} files/s, each fsynced`]);
    figures.smallPuts = { files: LIST_ITEMS, s: secs(putMs), filesPerS: Math.round(LIST_ITEMS / (putMs / 1000)) };
    const listPath = `/api/v1/items?parent=${folder.id}`;
    const one = await expect(200, call(s.base, 'GET', listPath, { session: s }), 'list');
    const listed = (JSON.parse(one.body.toString()) as { items: Item[] }).items.length;
    if (listed !== LIST_ITEMS) throw new Error(`the folder lists ${listed} items, expected ${LIST_ITEMS}`);
    note(`listing: ${(one.body.length / KiB).toFixed(0)} KiB of JSON per response; ${LIST_CONNECTIONS} connections for ${LIST_SECONDS} s`);
    rss = watchRss(pid);
    cpu = watchCpu(pid);
    const load = await autocannon({
      url: new URL(listPath, s.base).href,
      connections: LIST_CONNECTIONS,
      duration: LIST_SECONDS,
      headers: { cookie: s.cookie },
      timeout: 10,
    });
    mem = rss.stop();
    cpuUse = cpu.stop();
    noteOthers('listing', cpu);
    // autocannon counts timeouts among its errors.
    const listErrors = load.errors + load.non2xx;
    errors += listErrors;
    const reqPerS = load.requests.total / load.duration;
    rows.push([
      `list ${LIST_ITEMS.toLocaleString('en')} items, ${LIST_CONNECTIONS} conns, ${LIST_SECONDS} s`,
      `${reqPerS.toFixed(0)} req/s`,
      '',
      '',
      listErrors === 0 ? 'ok' : `${listErrors} ERRORS`,
      `p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms, max ${load.latency.max} ms, ${load.requests.total} requests; server ${fmtRss(mem)}; ${cpuUse}`,
    ]);
    figures.listing = { reqPerS: Math.round(reqPerS), p50Ms: load.latency.p50, p99Ms: load.latency.p99, errors: listErrors, peakRssMiB: Math.round(peakOf(mem)) };
    note(`listing: ${reqPerS.toFixed(0)} req/s, p50 ${load.latency.p50} ms, p99 ${load.latency.p99} ms, max ${load.latency.max} ms, errors ${load.errors}, timeouts ${load.timeouts}, non-2xx ${load.non2xx}; ${cpuUse}`);

    }

    // 2. 20 concurrent 100 MiB uploads, each body generated as it is sent.
    if (PHASES.has('uploads')) {
    const upFolder = await mkdir(s, 'uploads');
    await settle();
    rss = watchRss(pid);
    cpu = watchCpu(pid);
    t0 = performance.now();
    const uploaded = await Promise.all(
      Array.from({ length: UPLOADS }, (_, i) => upload(s, upFolder.id, `up-${i}.bin`, keystream(`upload ${i}`, UPLOAD_SIZE), UPLOAD_SIZE, 300_000)),
    );
    const upMs = performance.now() - t0;
    mem = rss.stop();
    cpuUse = cpu.stop();
    noteOthers('20 uploads', cpu);
    // Check what the server recorded: every upload's SHA-256 through its ETag (If-None-Match →
    // 304 only when the recorded hash is ours), and two of them downloaded and hashed in full.
    let mismatched = 0;
    for (let i = 0; i < UPLOADS; i++) {
      const expected = await sha256Of(keystream(`upload ${i}`, UPLOAD_SIZE));
      const r = await call(s.base, 'GET', `/api/v1/items/${uploaded[i]!.item.id}/content`, { session: s, headers: { 'if-none-match': `"${expected}"` } });
      if (r.status !== 304 || uploaded[i]!.item.size !== UPLOAD_SIZE) {
        mismatched++;
        note(`upload ${i}: size ${uploaded[i]!.item.size}, ETag ${String(r.headers.etag)} vs sha256 ${expected} (HTTP ${r.status})`);
      }
      if (i === 0 || i === UPLOADS - 1) {
        const got = await downloadSha256(s, uploaded[i]!.item.id);
        if (got.sha256 !== expected) {
          mismatched++;
          note(`upload ${i}: downloaded sha256 ${got.sha256} (${got.size} bytes), expected ${expected}`);
        }
      }
    }
    errors += mismatched;
    const upRate = (UPLOADS * UPLOAD_SIZE) / MiB / (upMs / 1000);
    rows.push([
      `${UPLOADS} × ${UPLOAD_SIZE / MiB} MiB uploads at once`,
      fmtS(upMs),
      '',
      '',
      mismatched > 0 ? `${mismatched} MISMATCHED` : peakOf(mem) < RSS_TARGET_MIB ? 'ok' : 'RSS OVER',
      `${upRate.toFixed(0)} MiB/s; server ${fmtRss(mem)}; sha256 ${mismatched === 0 ? 'ok' : 'WRONG'}; ${cpuUse}`,
    ]);
    note(`uploads: ${fmtS(upMs)}, ${upRate.toFixed(0)} MiB/s, server ${fmtRss(mem)}; ${cpuUse}`);
    figures.uploads = { count: UPLOADS, mib: UPLOAD_SIZE / MiB, s: secs(upMs), mibPerS: Math.round(upRate), peakRssMiB: Math.round(peakOf(mem)), mismatched };
    for (const u of uploaded) await expect(200, call(s.base, 'DELETE', `/api/v1/items/${u.item.id}`, { session: s }), 'trash');
    await expect(200, call(s.base, 'DELETE', '/api/v1/trash', { session: s, timeoutMs: 60_000 }), 'empty trash');

    }

    // 3. 1 GiB over HTTP beside age -r / age -d, interleaved rounds so disk noise hits both alike.
    if (!SKIP_1GIB) {
      await run(AGE_KEYGEN, ['-o', join(work, 'key.txt')]);
      const recipient = (await run(AGE_KEYGEN, ['-y', join(work, 'key.txt')])).stdout.trim();
      const src = join(work, 'big.bin');
      await randomFile(src, GiB);
      const srcHash = await sha256Of(createReadStream(src, { highWaterMark: 4 * MiB }));
      const bigFolder = await mkdir(s, 'big');
      const t = { up: [] as number[], down: [] as number[], bare: [] as number[], enc: [] as number[], encSync: [] as number[], dec: [] as number[], decNull: [] as number[] };
      const peak = { up: 0, down: 0 };
      for (let round = 0; round < ROUNDS; round++) {
        await settle();
        const enc = await run(AGE, ['-r', recipient, '-o', join(work, 'big.age'), src]);
        // The vault fsyncs an object before it records it; `age` does not. For a like-for-like
        // durable write, also time age followed by `sync` of its output.
        const encSync = await run('sh', ['-c', `"$0" -r "$1" -o "$2" "$3" && sync "$2"`, AGE, recipient, join(work, 'big-synced.age'), src]);
        await rm(join(work, 'big-synced.age'));
        await settle();
        rss = watchRss(pid);
        cpu = watchCpu(pid);
        const up = await curlUpload(s, bigFolder.id, `big-${round}.bin`, src);
        const mUp = rss.stop();
        const cpuUp = cpu.stop();
        noteOthers('1 GiB upload', cpu);
        await settle();
        const dec = await run(AGE, ['-d', '-i', join(work, 'key.txt'), '-o', join(work, 'big.age.out'), join(work, 'big.age')]);
        // Without the destination disk on either side: what decrypting and delivering cost.
        const decNull = await run(AGE, ['-d', '-i', join(work, 'key.txt'), '-o', '/dev/null', join(work, 'big.age')]);
        rss = watchRss(pid);
        cpu = watchCpu(pid);
        const down = await curlDownload(s, up.item.id, join(work, 'big.out'));
        const mDown = rss.stop();
        const cpuDown = cpu.stop();
        noteOthers('1 GiB download', cpu);
        // The same download into /dev/null, beside age -d into /dev/null.
        const bare = await curlDownload(s, up.item.id, '/dev/null');
        const downSize = (await stat(join(work, 'big.out'))).size;
        if (downSize !== GiB) throw new Error(`a download of ${downSize} bytes, expected ${GiB}`);
        if (round === 0 && (await sha256Of(createReadStream(join(work, 'big.out'), { highWaterMark: 4 * MiB }))) !== srcHash) {
          errors++;
          note('1 GiB: the download differs from the upload');
        }
        for (const f of ['big.age', 'big.age.out', 'big.out']) await rm(join(work, f), { force: true });
        await remove(s, up.item.id);
        t.enc.push(enc.ms);
        t.encSync.push(encSync.ms);
        t.up.push(up.ms);
        t.dec.push(dec.ms);
        t.decNull.push(decNull.ms);
        t.down.push(down.ms);
        t.bare.push(bare.ms);
        peak.up = Math.max(peak.up, peakOf(mUp));
        peak.down = Math.max(peak.down, peakOf(mDown));
        note(`round ${round + 1}/${ROUNDS}: HTTP up ${fmtS(up.ms)} vs age -r ${fmtS(enc.ms)} (+sync ${fmtS(encSync.ms)}); HTTP down ${fmtS(down.ms)} vs age -d ${fmtS(dec.ms)}, to /dev/null ${fmtS(bare.ms)} vs ${fmtS(decNull.ms)}; server peak RSS up ${peakOf(mUp).toFixed(0)} / down ${peakOf(mDown).toFixed(0)} MiB; up ${cpuUp}; down ${cpuDown}`);
      }
      await rm(src);
      const mark = (ratio: number) => (ratio <= RATIO_TARGET ? 'ok' : 'SLOWER');
      const upRatio = best(t.up) / best(t.enc);
      const syncRatio = best(t.up) / best(t.encSync);
      const downRatio = best(t.down) / best(t.dec);
      const bareRatio = best(t.bare) / best(t.decNull);
      figures.upload1GiB = { s: secs(best(t.up)), ageS: secs(best(t.enc)), ageSyncS: secs(best(t.encSync)), vsAge: ratio(best(t.up), best(t.enc)), vsAgeSync: ratio(best(t.up), best(t.encSync)), peakRssMiB: Math.round(peak.up) };
      figures.download1GiB = { s: secs(best(t.down)), ageS: secs(best(t.dec)), vsAge: ratio(best(t.down), best(t.dec)), devNullS: secs(best(t.bare)), ageDevNullS: secs(best(t.decNull)), devNullVsAge: ratio(best(t.bare), best(t.decNull)), peakRssMiB: Math.round(peak.down) };
      const mibS = (ms: number) => `${(GiB / MiB / (ms / 1000)).toFixed(0)} MiB/s`;
      rows.push(['1 GiB HTTP upload vs age -r', fmtS(best(t.up)), fmtS(best(t.enc)), upRatio.toFixed(2), mark(upRatio), `${mibS(best(t.up))}; server peak RSS ${peak.up.toFixed(0)} MiB`]);
      rows.push(['1 GiB HTTP upload vs age -r && sync', fmtS(best(t.up)), fmtS(best(t.encSync)), syncRatio.toFixed(2), mark(syncRatio), 'same durability']);
      rows.push(['1 GiB HTTP download vs age -d', fmtS(best(t.down)), fmtS(best(t.dec)), downRatio.toFixed(2), mark(downRatio), `${mibS(best(t.down))}; server peak RSS ${peak.down.toFixed(0)} MiB; curl writes the body to a file, as age -d does`]);
      rows.push(['1 GiB HTTP download to /dev/null vs age -d', fmtS(best(t.bare)), fmtS(best(t.decNull)), bareRatio.toFixed(2), mark(bareRatio), 'both into /dev/null: decrypting and delivering, without the destination disk']);
    }
    const end = procStatus(pid);
    note(`server at the end: RSS ${end?.rss.toFixed(0)} MiB, VmHWM ${end?.hwm.toFixed(0)} MiB`);
  } finally {
    clearTimeout(watchdog);
    process.removeListener('SIGINT', onSignal);
    process.removeListener('SIGTERM', onSignal);
    agent.destroy();
    await server?.stop();
    if (server !== null && server.child.exitCode !== 0 && server.child.exitCode !== null) {
      note(`the server exited ${server.child.exitCode}; its log: ${join(work, 'server.log')} (removed)`);
    }
    await rm(work, { recursive: true, force: true });
  }

  const head = ['benchmark', 'elohim', 'age', 'ratio', 'target', 'detail'];
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => (c ?? '').padEnd(widths[i]!)).join('  ').trimEnd();
  process.stdout.write(`\n${line(head)}\n${widths.map((w) => '-'.repeat(w)).join('  ')}\n${rows.map(line).join('\n')}\n`);
  process.stdout.write(
    `\nratio = elohim time / age time (best of ${ROUNDS}); target ≤ ${RATIO_TARGET.toFixed(2)}. Server RSS target < ${RSS_TARGET_MIB} MiB.` +
      `\nLoad and server share this machine's ${availableParallelism()} cores; RSS is the server process's (VmRSS sampled / VmHWM).\n`,
  );
  if (disturbed.size > 0) {
    process.stdout.write(`Other processes used over 0.25 cores during: ${[...disturbed].join(', ')}; those numbers are disturbed (see "others" above).\n`);
  }
  printJsonLine('api', { ...figures, disturbed: [...disturbed], errors });
  if (errors > 0) {
    process.stderr.write(`bench: ${errors} error(s)\n`);
    process.exitCode = 1;
  }
}

await main();
