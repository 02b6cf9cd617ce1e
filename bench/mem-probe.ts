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

const out = process.env.MEM_PROBE_OUT;
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
    const live = [...sites.live.values()].reduce((n, x) => n + x, 0);
    const top = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => [k, v / MiB] as [string, number]);
    if (worst === null || live > worst.live * MiB) worst = { t: Date.now(), live: live / MiB, top: top(sites.live), made: top(sites.made) };
  }, Number(process.env.MEM_PROBE_MS ?? 50)).unref();
  process.on('exit', () => {
    note();
    if (worst !== null && sites !== null) worst.made = [...sites.made].sort((a, b) => b[1] - a[1]).slice(0, 10).map(([k, v]) => [k, v / MiB]);
    if (worst !== null) notes.push(JSON.stringify({ sites: worst }));
    writeFileSync(out, notes.join('\n') + '\n');
  });
}

/**
 * MEM_PROBE_SITES=N: Buffers of N bytes and more that own their memory (not slices of Node's
 * pool), by the code that asked for them (Buffer.alloc, allocUnsafe and allocUnsafeSlow, which
 * Buffer.concat and Node's fs streams call): bytes made in all, and bytes not yet collected
 * (counted down when V8 collects the ArrayBuffer). Investigation only: it wraps Buffer's methods.
 */
function trackBufferSites(min: number): { live: Map<string, number>; made: Map<string, number> } {
  const live = new Map<string, number>();
  const made = new Map<string, number>();
  const gone = new FinalizationRegistry<[string, number]>(([site, n]) => live.set(site, live.get(site)! - n));
  for (const name of ['alloc', 'allocUnsafe', 'allocUnsafeSlow'] as const) {
    const original = Buffer[name] as (...args: unknown[]) => Buffer;
    (Buffer as unknown as Record<string, unknown>)[name] = function (this: unknown, ...args: unknown[]) {
      const b = original.apply(this, args);
      if (b.byteLength >= min && b.buffer.byteLength === b.byteLength) {
        const frames = (new Error().stack ?? '').split('\n').slice(2).filter((l) => !l.includes('mem-probe') && !l.includes('node:internal/process/task_queues'));
        const site = `${name} ≤${2 ** Math.ceil(Math.log2(b.byteLength)) / 1024} KiB ${frames.slice(0, 4).map((l) => l.trim().replace(/^at /, '').replace('file:///work/main/', '')).join(' < ')}`;
        live.set(site, (live.get(site) ?? 0) + b.byteLength);
        made.set(site, (made.get(site) ?? 0) + b.byteLength);
        gone.register(b.buffer, [site, b.byteLength]);
      }
      return b;
    };
  }
  return { live, made };
}
