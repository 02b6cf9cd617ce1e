/**
 * MagnetarMesh sync benchmark: one device syncs 1 GiB of random files plus 10,000 small files
 * (1–8 KiB) to another over TCP on 127.0.0.1, and Syncthing (Debian's `syncthing`, two instances
 * on loopback, discovery, relays, NAT and reporting off) does the same with the same data, in one
 * run. Prints both times, the ratio, each device's peak RSS and CPU time, and a second sync of
 * ours with nothing changed; ends with one JSON line (with the load average).
 *
 *   SYNC_BENCH_SCALE=0.1     a tenth of the data (the default is 1)
 *   SYNC_BENCH_BIG_SCALE=0.01 the big files alone scaled (10,000 small files, 10 MiB big)
 *   SYNC_BENCH_BIG_LAST=1    the big files in a folder named to sort after the small ones' (`zbig`),
 *                            so the index names them, and the receiver asks for them, last
 *   SYNC_BENCH_ROUNDS=2      rounds, ours and Syncthing interleaved (the best of each is reported)
 *   SYNC_BENCH_PROF=<dir>    CPU profiles (--cpu-prof) of both elohim serve processes in <dir>
 *   SYNC_BENCH_ONLY=ours     skip Syncthing (profiling runs)
 *   SYNC_BENCH_FLAGS='…'     more Node flags for both serve processes (e.g. --import a sampler)
 *   SYNC_BENCH_STDOUT=<p>    each serve's stdout to <p>-<home>.log (e.g. with SYNC_BENCH_FLAGS=--trace-gc)
 *   SYNC_BENCH_COLD=1        the page cache emptied (sync, then drop_caches: root only) just before
 *                            each timed sync, ours and Syncthing's alike: files read from disk, as
 *                            on a device that has rebooted since they were written
 *
 * What is timed, on both sides: the receiving device getting everything the sharing device has
 * already indexed. Ours: `POST /mesh/sync` on the receiver (its serve already running) until its
 * `done` event (the files are then in its vault). Syncthing: from the receiving instance's start
 * until its folder is complete (so its start-up is inside its time). The sharing side's own
 * indexing (our `mesh share`, Syncthing's first scan) is outside both.
 *
 *   npm run bench:sync
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { openSync } from 'node:fs';
import { once } from 'node:events';
import { request as httpRequest } from 'node:http';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { API, CSRF_HEADER } from '../src/server/protocol.ts';
import { readSse } from '../web/src/sse.ts';
import { ELOHIM_CLI_ENV, fmtS, printJsonLine, randomFile, ratio, run, secs, SERVE_FLAGS, startServe } from './lib.ts';
import type { ServeProcess } from './lib.ts';

const MiB = 1024 ** 2;
/** CPU seconds to two decimals: whole seconds hid a half-second change per side in small-file runs. */
const cs = (s: number) => Math.round(s * 100) / 100;
const SCALE = Number(process.env.SYNC_BENCH_SCALE ?? '1');
const BIG_FILES = 8;
// SYNC_BENCH_BIG_SCALE scales the big files apart (e.g. 10,000 small files and little else).
const BIG_BYTES = Math.round((1024 * MiB * Number(process.env.SYNC_BENCH_BIG_SCALE ?? SCALE)) / BIG_FILES);
const SMALL_FILES = Math.round(10_000 * SCALE);
const PASSPHRASE = 'bench sync passphrase';
const ROOT = join(import.meta.dirname, '..');
const NODE = join(ROOT, 'node_modules', '.bin', 'node');
const CLI = join(ROOT, 'bin', 'elohim.js');
const KDF = ['--kdf-memory', '19456', '--kdf-passes', '2', '--kdf-parallelism', '1'];
const ROUNDS = Math.max(1, Number(process.env.SYNC_BENCH_ROUNDS ?? '1'));
const PROF = process.env.SYNC_BENCH_PROF;
const ONLY = process.env.SYNC_BENCH_ONLY;
const TICK = 100; // clock ticks per second of /proc/<pid>/stat (USER_HZ, 100 on Linux)

/** A process's and every process below it's totals so far, from /proc/<pid>/stat. */
interface ProcTotals {
  /** CPU seconds, user + system */
  cpuS: number;
  /** system CPU seconds */
  sysS: number;
  /** minor page faults */
  minflt: number;
}

async function procTotals(pid: number): Promise<ProcTotals> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => '');
  // Fields after the command name (which may hold spaces, so split after its closing paren).
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const out = f.length > 14 ? { cpuS: (Number(f[11]) + Number(f[12])) / TICK, sysS: Number(f[12]) / TICK, minflt: Number(f[7]) } : { cpuS: 0, sysS: 0, minflt: 0 };
  const children: string[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    children.push(...(await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean));
  }
  for (const child of children) {
    const c = await procTotals(Number(child));
    out.cpuS += c.cpuS;
    out.sysS += c.sysS;
    out.minflt += c.minflt;
  }
  return out;
}

/** CPU seconds (user + system) a process and every process below it have used so far. */
const cpuS = async (pid: number): Promise<number> => (await procTotals(pid)).cpuS;

/** Current RSS (VmRSS) of one process, in MiB. */
async function rssMiB(pid: number): Promise<number | null> {
  const m = /VmRSS:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
  return m ? Math.round(Number(m[1]) / 1024) : null;
}

/**
 * Peak RSS (VmHWM) of a process and every process below it, added up: `syncthing serve` runs a
 * monitor process and the syncing one under it; an elohim serve is one process.
 */
async function peakRssMiB(pid: number): Promise<number | null> {
  const m = /VmHWM:\s+(\d+) kB/.exec(await readFile(`/proc/${pid}/status`, 'utf8').catch(() => ''));
  if (!m) return null;
  let kib = Number(m[1]);
  // Children are listed per thread that forked them (a Go program forks from any of its threads).
  const children: string[] = [];
  for (const task of await readdir(`/proc/${pid}/task`).catch(() => [] as string[])) {
    children.push(...(await readFile(`/proc/${pid}/task/${task}/children`, 'utf8').catch(() => '')).trim().split(/\s+/).filter(Boolean));
  }
  for (const child of children) kib += ((await peakRssMiB(Number(child))) ?? 0) * 1024;
  return Math.round(kib / 1024);
}

async function makeData(dir: string): Promise<{ files: number; bytes: number }> {
  let bytes = 0;
  const bigDir = process.env.SYNC_BENCH_BIG_LAST === '1' ? 'zbig' : 'big';
  await mkdir(join(dir, bigDir), { recursive: true });
  for (let i = 0; i < BIG_FILES; i++) {
    await randomFile(join(dir, bigDir, `file-${i}.bin`), BIG_BYTES);
    bytes += BIG_BYTES;
  }
  for (let i = 0; i < SMALL_FILES; i++) {
    const sub = join(dir, 'small', `d${String(i % 100).padStart(2, '0')}`);
    if (i < 100) await mkdir(sub, { recursive: true });
    const size = 1024 + Math.floor(Math.random() * 7 * 1024);
    await writeFile(join(sub, `f${i}.dat`), randomBytes(size));
    bytes += size;
  }
  return { files: BIG_FILES + SMALL_FILES, bytes };
}

// ---------------------------------------------------------------------------------------------
// Ours: two `elohim serve` processes

interface Device {
  serve: ServeProcess;
  call(method: string, path: string, body?: unknown): Promise<any>;
  raw(method: string, path: string, body?: unknown): Promise<Response>;
}

async function device(home: string): Promise<Device> {
  const env = { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE };
  const prof = PROF ? ['--cpu-prof', `--cpu-prof-dir=${PROF}`, `--cpu-prof-name=${home.split('/').pop()}-${Date.now()}.cpuprofile`] : [];
  const extra = (process.env.SYNC_BENCH_FLAGS ?? '').split(/\s+/).filter(Boolean);
  const out = process.env.SYNC_BENCH_STDOUT;
  const stdout = out ? openSync(`${out}-${home.split('/').pop()}.log`, 'w') : undefined;
  const serve = await startServe({ env, flags: [...SERVE_FLAGS, ...prof, ...extra], args: ['--log-level', 'error'], ...(stdout === undefined ? {} : { stdout }) });
  const base = serve.base.href.replace(/\/$/, '');
  const unlock = await fetch(base + API.session, { method: 'POST', headers: { 'content-type': 'application/json', [CSRF_HEADER]: 'bench' }, body: JSON.stringify({ passphrase: PASSPHRASE }) });
  if (unlock.status !== 201) throw new Error(`unlock: ${unlock.status} ${await unlock.text()}`);
  const headers = { cookie: unlock.headers.get('set-cookie')!.split(';')[0]!, [CSRF_HEADER]: ((await unlock.json()) as { csrfToken: string }).csrfToken, 'content-type': 'application/json' };
  const raw = (method: string, path: string, body?: unknown) => fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
  // Through node:http, not fetch: sharing 10,000 files answers after minutes, past fetch's
  // five-minute wait for response headers.
  const call = (method: string, path: string, body?: unknown) =>
    new Promise<any>((resolve, reject) => {
      const payload = body === undefined ? undefined : JSON.stringify(body);
      const req = httpRequest(base + path, { method, headers: { ...headers, ...(payload ? {} : { 'content-type': '' }) } }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString();
          if ((res.statusCode ?? 500) >= 300) reject(new Error(`${method} ${path}: ${res.statusCode} ${text}`));
          else resolve(text ? JSON.parse(text) : null);
        });
        res.on('error', reject);
      });
      req.on('error', reject);
      req.end(payload);
    });
  await call('POST', API.meshOn, { listen: ['/ip4/127.0.0.1/tcp/0'], mdns: false });
  return { serve, call, raw };
}

/** When each phase of a sync ended, in ms from its start (from its progress events). */
interface Phases {
  /** the index exchanged: the first progress event with the objects to fetch */
  index: number | null;
  /** the last object chunk in */
  objects: number | null;
  /** the session with the peer over (peer-done) */
  session: number | null;
}

/** Runs a sync on `d` (Server-Sent Events) until `done`; returns its data and its phases. */
async function sync(d: Device, phases?: Phases): Promise<any> {
  const t0 = performance.now();
  const res = await d.raw('POST', API.meshSync, {});
  if (res.status !== 200) throw new Error(`sync: ${res.status} ${await res.text()}`);
  for await (const { event, data: raw } of readSse(res.body!)) {
    const data = JSON.parse(raw);
    const at = Math.round(performance.now() - t0);
    if (phases && event === 'progress' && data.progress?.totalObjects !== undefined) {
      if (phases.index === null && (data.progress.totalObjects > 0 || data.progress.versions > 0)) phases.index = at;
      if (data.progress.objects > 0) phases.objects = at;
    }
    if (phases && event === 'peer-done') phases.session = at;
    if (event === 'peer-failed') throw new Error(`sync failed: ${JSON.stringify(data)}`);
    if (event === 'done') return data;
    if (event === 'error') throw new Error(`sync failed: ${data.message}`);
  }
  throw new Error('the sync stream ended without done');
}

const COLD = process.env.SYNC_BENCH_COLD === '1';

/** With SYNC_BENCH_COLD=1: every dirty page written, then the clean ones dropped from the page cache. */
async function coldCache(): Promise<void> {
  if (!COLD) return;
  await run('sync', []);
  await writeFile('/proc/sys/vm/drop_caches', '1').catch((err) => {
    throw new Error(`SYNC_BENCH_COLD=1 needs root, to write /proc/sys/vm/drop_caches: ${(err as Error).message}`);
  });
}

async function ours(data: string, work: string, expected: number, round: number) {
  const homes = [join(work, `ours-a${round}`), join(work, `ours-b${round}`)];
  for (const home of homes) await run(NODE, [CLI, 'init', ...KDF], { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE });
  const put = await run(NODE, ['--max-semi-space-size=1', CLI, 'put', '-p', data, '/Bench'], { ...ELOHIM_CLI_ENV, ELOHIM_HOME: homes[0], ELOHIM_PASSPHRASE: PASSPHRASE });
  process.stderr.write(`ours: put into device A in ${fmtS(put.ms)}\n`);
  const a = await device(homes[0]!);
  const b = await device(homes[1]!);
  try {
    const code = (await a.call('POST', API.meshCode, {})).code as string;
    await b.call('POST', API.meshPair, { code });
    const sharing = performance.now();
    const share = await a.call('POST', API.meshShares, { path: '/Bench', with: [b.serve.pid ? ((await b.call('GET', API.mesh)).deviceId as string) : ''] });
    process.stderr.write(`ours: shared ${share.files} files in ${fmtS(performance.now() - sharing)} (not timed)\n`);
    const idle = { a: await rssMiB(a.serve.pid), b: await rssMiB(b.serve.pid) };
    const cpu0 = { a: await cpuS(a.serve.pid), b: await cpuS(b.serve.pid) };
    const flt0 = { a: await procTotals(a.serve.pid), b: await procTotals(b.serve.pid) };
    const phases: Phases = { index: null, objects: null, session: null };
    await coldCache();
    const started = performance.now();
    const first = await sync(b, phases);
    const firstMs = performance.now() - started;
    const cpu = { a: cs((await cpuS(a.serve.pid)) - cpu0.a), b: cs((await cpuS(b.serve.pid)) - cpu0.b) };
    const flt1 = { a: await procTotals(a.serve.pid), b: await procTotals(b.serve.pid) };
    process.stderr.write(`ours: minor faults A ${flt1.a.minflt - flt0.a.minflt}, B ${flt1.b.minflt - flt0.b.minflt}; system CPU A ${cs(flt1.a.sysS - flt0.a.sysS)} s, B ${cs(flt1.b.sysS - flt0.b.sysS)} s\n`);
    process.stderr.write(`ours: synced in ${fmtS(firstMs)} (index ${phases.index} ms, last object ${phases.objects} ms, session ${phases.session} ms); CPU A ${cpu.a} s, B ${cpu.b} s; RSS before ${idle.a}/${idle.b} MiB\n`);
    if (!first.peers.every((p: { ok: boolean }) => p.ok)) throw new Error(`ours: the sync did not reach every device: ${JSON.stringify(first.peers)}`);
    const files = ((await b.call('GET', API.meshShares)).shares as { files: number; pending: number }[])[0];
    if (files === undefined) throw new Error('ours: the receiver has no share after the sync');
    if (files.files !== expected || files.pending !== 0) throw new Error(`ours: the receiver shows ${files.files} files, ${files.pending} pending, of ${expected}`);
    const again = performance.now();
    const second = await sync(b);
    const secondMs = performance.now() - again;
    if (second.changed !== 0) throw new Error('ours: a second sync changed files');
    return { firstMs, secondMs, rssA: await peakRssMiB(a.serve.pid), rssB: await peakRssMiB(b.serve.pid), changed: first.changed, cpu, phases, idle };
  } finally {
    await a.serve.stop();
    await b.serve.stop();
  }
}

// ---------------------------------------------------------------------------------------------
// Syncthing: two instances on loopback

async function freePort(): Promise<number> {
  const { createServer } = await import('node:net');
  const s = createServer();
  s.listen(0, '127.0.0.1');
  await once(s, 'listening');
  const port = (s.address() as { port: number }).port;
  s.close();
  return port;
}

interface St {
  id: string;
  home: string;
  gui: number;
  listen: number;
  key: string;
}

async function generate(home: string): Promise<St> {
  const r = await run('syncthing', ['generate', `--home=${home}`, '--no-default-folder']);
  const id = /Device ID: (\S+)/.exec(r.stdout + r.stderr)?.[1];
  if (!id) throw new Error(`syncthing generate printed no device id: ${r.stderr}`);
  return { id, home, gui: await freePort(), listen: await freePort(), key: randomBytes(16).toString('hex') };
}

function config(me: St, other: St, path: string, type: 'sendonly' | 'receiveonly'): string {
  return `<configuration version="36">
  <folder id="bench" label="bench" path="${path}" type="${type}" rescanIntervalS="3600" fsWatcherEnabled="false">
    <device id="${me.id}"></device>
    <device id="${other.id}"></device>
  </folder>
  <device id="${me.id}" name="me"><address>dynamic</address></device>
  <device id="${other.id}" name="other"><address>tcp://127.0.0.1:${other.listen}</address></device>
  <gui enabled="true" tls="false"><address>127.0.0.1:${me.gui}</address><apikey>${me.key}</apikey></gui>
  <options>
    <listenAddress>tcp://127.0.0.1:${me.listen}</listenAddress>
    <globalAnnounceEnabled>false</globalAnnounceEnabled>
    <localAnnounceEnabled>false</localAnnounceEnabled>
    <relaysEnabled>false</relaysEnabled>
    <natEnabled>false</natEnabled>
    <stunKeepaliveStartS>0</stunKeepaliveStartS>
    <startBrowser>false</startBrowser>
    <urAccepted>-1</urAccepted>
    <autoUpgradeIntervalH>0</autoUpgradeIntervalH>
    <crashReportingEnabled>false</crashReportingEnabled>
    <setLowPriority>false</setLowPriority>
    <reconnectionIntervalS>1</reconnectionIntervalS>
  </options>
</configuration>
`;
}

function startSt(st: St): ChildProcess {
  return spawn('syncthing', ['serve', `--home=${st.home}`, '--no-browser', '--no-restart', `--logfile=${join(st.home, 'log.txt')}`], { stdio: 'ignore', env: { ...process.env, STNODEFAULTFOLDER: '1', STNOUPGRADE: '1' } });
}

async function status(st: St): Promise<{ state: string; localFiles: number; globalFiles: number; needFiles: number } | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${st.gui}/rest/db/status?folder=bench`, { headers: { 'X-API-Key': st.key } });
    return res.ok ? ((await res.json()) as never) : null;
  } catch {
    return null; // not listening yet
  }
}

async function until(what: string, fn: () => Promise<boolean>, limitMs = 1_800_000) {
  const end = performance.now() + limitMs;
  while (!(await fn())) {
    if (performance.now() > end) throw new Error(`timed out: ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function syncthing(data: string, work: string, expected: number, round: number) {
  const a = await generate(join(work, `st-a${round}`));
  const b = await generate(join(work, `st-b${round}`));
  const target = join(work, `st-target${round}`);
  await mkdir(join(target, '.stfolder'), { recursive: true });
  await mkdir(join(data, '.stfolder'), { recursive: true });
  await writeFile(join(a.home, 'config.xml'), config(a, b, data, 'sendonly'));
  await writeFile(join(b.home, 'config.xml'), config(b, a, target, 'receiveonly'));
  const pa = startSt(a);
  let pb: ChildProcess | null = null;
  try {
    const scanning = performance.now();
    await until('syncthing A indexes its folder', async () => {
      const s = await status(a);
      return s !== null && s.state === 'idle' && s.localFiles === expected;
    });
    process.stderr.write(`syncthing: A indexed in ${fmtS(performance.now() - scanning)} (not timed)\n`);
    await coldCache();
    const cpuA0 = await cpuS(pa.pid!);
    const started = performance.now();
    pb = startSt(b);
    await until('syncthing B completes', async () => {
      const s = await status(b);
      return s !== null && s.state === 'idle' && s.needFiles === 0 && s.globalFiles === expected && s.localFiles === expected;
    });
    const ms = performance.now() - started;
    const cpu = { a: cs((await cpuS(pa.pid!)) - cpuA0), b: cs(await cpuS(pb.pid!)) };
    return { ms, rssA: await peakRssMiB(pa.pid!), rssB: await peakRssMiB(pb.pid!), cpu };
  } finally {
    for (const p of [pa, pb]) {
      if (p && p.exitCode === null) {
        p.kill('SIGTERM');
        await once(p, 'exit');
      }
    }
    await rm(join(data, '.stfolder'), { recursive: true, force: true });
    await rm(target, { recursive: true, force: true });
  }
}

// ---------------------------------------------------------------------------------------------

const work = await mkdtemp(join(tmpdir(), 'elohim-bench-sync-'));
try {
  const data = join(work, 'data');
  const made = await makeData(data);
  process.stderr.write(`data: ${made.files} files, ${(made.bytes / MiB).toFixed(0)} MiB; load ${loadavg().map((x) => x.toFixed(2)).join(' ')}\n`);
  type St = Awaited<ReturnType<typeof syncthing>>;
  type Us = Awaited<ReturnType<typeof ours>>;
  const sts: St[] = [];
  const uss: Us[] = [];
  // Interleaved (Syncthing, ours, Syncthing, ours...): the load of a shared machine drifts, and
  // both sides should see the same drift. Each round's homes are removed after it (disk space).
  for (let round = 0; round < ROUNDS; round++) {
    if (ONLY !== 'ours') {
      const st = await syncthing(data, work, made.files, round);
      process.stderr.write(`syncthing round ${round + 1}: ${fmtS(st.ms)}; CPU A ${st.cpu.a} s, B ${st.cpu.b} s; peak RSS A ${st.rssA} MiB, B ${st.rssB} MiB; load ${loadavg()[0]!.toFixed(2)}\n`);
      sts.push(st);
    }
    const us = await ours(data, work, made.files, round);
    process.stderr.write(`ours round ${round + 1}: ${fmtS(us.firstMs)}, second ${fmtS(us.secondMs)}; peak RSS A ${us.rssA} MiB, B ${us.rssB} MiB; load ${loadavg()[0]!.toFixed(2)}\n`);
    uss.push(us);
    for (const side of ['a', 'b']) await rm(join(work, `ours-${side}${round}`), { recursive: true, force: true });
    for (const side of ['a', 'b']) await rm(join(work, `st-${side}${round}`), { recursive: true, force: true });
  }
  const us = uss.reduce((x, y) => (y.firstMs < x.firstMs ? y : x));
  const st = sts.length > 0 ? sts.reduce((x, y) => (y.ms < x.ms ? y : x)) : null;
  const maxOf = (xs: (number | null)[]) => Math.max(...xs.map((x) => x ?? 0));
  const rss = { a: maxOf(uss.map((u) => u.rssA)), b: maxOf(uss.map((u) => u.rssB)) };
  process.stdout.write(
    `MagnetarMesh: ${fmtS(us.firstMs)} (Syncthing ${st ? fmtS(st.ms) : '-'}, ratio ${st ? ratio(us.firstMs, st.ms) : '-'}, target ≤ 0.5)\n` +
      `CPU: ours A ${us.cpu.a} s, B ${us.cpu.b} s; Syncthing A ${st?.cpu.a ?? '-'} s, B ${st?.cpu.b ?? '-'} s\n` +
      `peak RSS: ours A ${rss.a} MiB, B ${rss.b} MiB (target < 250; idle before the sync ${us.idle.a}/${us.idle.b}); Syncthing A ${st?.rssA ?? '-'} MiB, B ${st?.rssB ?? '-'} MiB\n` +
      `second sync, nothing changed: ${fmtS(Math.min(...uss.map((u) => u.secondMs)))}\n`,
  );
  printJsonLine('sync', {
    files: made.files,
    mib: Math.round(made.bytes / MiB),
    rounds: ROUNDS,
    cold: COLD,
    oursS: secs(us.firstMs),
    syncthingS: st ? secs(st.ms) : null,
    ratio: st ? ratio(us.firstMs, st.ms) : null,
    oursSecondS: secs(Math.min(...uss.map((u) => u.secondMs))),
    oursCpuS: us.cpu,
    syncthingCpuS: st?.cpu ?? null,
    oursPeakRssMiB: rss,
    syncthingPeakRssMiB: st ? { a: maxOf(sts.map((x) => x.rssA)), b: maxOf(sts.map((x) => x.rssB)) } : null,
    allRoundsS: { ours: uss.map((u) => secs(u.firstMs)), syncthing: sts.map((x) => secs(x.ms)) },
  });
} finally {
  await rm(work, { recursive: true, force: true });
}
