/**
 * Loaded into a measured process with `node --import ./bench/mem-probe.ts …` by bench/mem-smaps.ts
 * (never by the app): every MEM_PROBE_MS (50) it notes what V8 and Node say they hold, and
 * writes the notes to MEM_PROBE_OUT as JSON lines when the process exits. With the outside
 * sampler's /proc view at the same moments, the gap between RSS and V8's own figures is the
 * native memory to explain. A timer on the main thread misses what happens while that thread is
 * blocked; the outside sampler does not, which is why both exist.
 */
import { writeFileSync } from 'node:fs';
import v8 from 'node:v8';

// MEM_PROBE_OUT may hold %p (the process id), for several processes at once (bench:sync's two devices).
const out = process.env.MEM_PROBE_OUT?.replace('%p', String(process.pid));
if (out) {
  const MiB = 1024 * 1024;
  const notes: string[] = [];
  const note = () => {
    const m = process.memoryUsage();
    const h = v8.getHeapStatistics();
    notes.push(
      JSON.stringify({
        t: Date.now(),
        rss: m.rss / MiB,
        heapTotal: m.heapTotal / MiB,
        heapUsed: m.heapUsed / MiB,
        // what V8's heap really has in RAM (heapTotal is what it reserved for its pages)
        heapPhysical: h.total_physical_size / MiB,
        external: m.external / MiB,
        arrayBuffers: m.arrayBuffers / MiB,
        mallocedV8: h.malloced_memory / MiB,
      }),
    );
  };
  const sites = process.env.MEM_PROBE_SITES ? trackBufferSites(Number(process.env.MEM_PROBE_SITES)) : null;
  let worst: { t: number; live: number; top: [string, number][]; made: [string, number][] } | null = null;
  setInterval(() => {
    note();
    if (sites === null) return;
    const bySite = sites.live();
    const live = [...bySite.values()].reduce((n, x) => n + x, 0);
    const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => [k, v / MiB] as [string, number]);
    if (worst === null || live > worst.live * MiB) worst = { t: Date.now(), live: live / MiB, top: top(bySite), made: top(sites.made) };
  }, Number(process.env.MEM_PROBE_MS ?? 50)).unref();
  // A server stopped by a signal may never run 'exit' handlers: MEM_PROBE_FLUSH_MS writes the notes so far
  // that often (no signal handler is added: it would change how the process ends).
  const flushMs = Number(process.env.MEM_PROBE_FLUSH_MS ?? 0);
  if (flushMs > 0) setInterval(() => writeFileSync(out, notes.join('\n') + '\n'), flushMs).unref();
  process.on('exit', () => {
    note();
    if (worst !== null && sites !== null) worst.made = [...sites.made].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => [k, v / MiB]);
    if (worst !== null) notes.push(JSON.stringify({ sites: worst }));
    writeFileSync(out, notes.join('\n') + '\n');
  });
}

/**
 * MEM_PROBE_SITES=N: Buffers of N bytes and more that own their memory (not slices of Node's
 * pool), by the code that asked for them (Buffer.alloc, allocUnsafe, allocUnsafeSlow, concat and
 * copyBytesFrom; the first three are what
 * Node's fs streams call): bytes made in all, and bytes still held in memory (neither collected
 * by V8 nor detached). Investigation only: it wraps Buffer's methods and holds a WeakRef to each.
 */
function trackBufferSites(min: number): { live: () => Map<string, number>; made: Map<string, number> } {
  const refs = new Map<WeakRef<ArrayBuffer>, [string, number]>();
  const made = new Map<string, number>();
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow', 'concat', 'copyBytesFrom'] as const) {
    const original = Buffer[name] as (...args: unknown[]) => Buffer;
    (Buffer as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      const b = original.apply(this, args);
      if (b.byteLength >= min && b.buffer.byteLength === b.byteLength) {
        const frames = (new Error().stack ?? '').split('\n').slice(2).filter((l) => !l.includes('mem-probe') && !l.includes('node:internal/process/task_queues'));
        const site = `${name} ≤${2 ** Math.ceil(Math.log2(b.byteLength)) / 1024} KiB ${frames.slice(0, 4).map((l) => l.trim().replace(/^at /, '').replace('file:///work/main/', '')).join(' < ')}`;
        made.set(site, (made.get(site) ?? 0) + b.byteLength);
        refs.set(new WeakRef(b.buffer as ArrayBuffer), [site, b.byteLength]);
      }
      return b;
    };
  }
  const live = () => {
    const out = new Map<string, number>();
    for (const [ref, [site, n]] of refs) {
      const ab = ref.deref();
      if (ab === undefined) refs.delete(ref);
      else if (!ab.detached) out.set(site, (out.get(site) ?? 0) + n);
    }
    return out;
  };
  return { live, made };
}
