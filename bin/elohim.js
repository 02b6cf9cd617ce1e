#!/usr/bin/env -S MALLOC_ARENA_MAX=2 GLIBC_TUNABLES=glibc.malloc.hugetlb=1 node --max-semi-space-size=1
// The package bin. npm puts node_modules/.bin (which holds the pinned Node 24) first on PATH for
// `npx elohim`, so this runs on Node 24 and can load the TypeScript sources directly.
// MALLOC_ARENA_MAX=2 (glibc, read at process start, so here and in `npm start`, not in code):
// glibc gives each thread that allocates at once an arena of its own, up to 8 per core, and each
// keeps memory it freed. libuv's 16 threads (below) checking signatures and writing files during a
// sync held enough of it that bench:sync's receiving server peaked at 223-276 MiB, over the mesh's
// 250 MiB limit in 2 of 5 runs; with two arenas, 208-219 MiB in 5 of 5 (interleaved, load 2.2-3.4),
// and no slower (sync wall within the machine's spread, lower in 4 of 5 pairs).
// GLIBC_TUNABLES=glibc.malloc.hugetlb=1 (glibc >= 2.35, ignored before; effective where the system's
// transparent huge pages are `madvise` or `always`): malloc asks for huge pages for its big blocks,
// above all Argon2id's 64 MiB, which OpenSSL mallocs and fills once per unlock. Faulted in 4 KiB at a
// time that was 16,384 page faults, and on these virtual machines a fault costs ~10 us: the
// derivation took 385-410 ms (150-210 of it in the kernel), with huge pages 121-129 ms (s22). An
// unchanged `elohim backup run` went 0.84-0.94 -> 0.65-0.76 s (6 interleaved pairs, load ~2), peak
// RSS the same (122-124 MiB). Not in `npm start`: the mesh's servers gained nothing from it (a full
// bench:sync 10.44 vs 10.42 s) and peaked 5-11 MiB higher in that pair (ARCHITECTURE, Runtime).
// --max-semi-space-size=1: a tiny young generation makes V8 collect the 64 KiB buffers of a
// streaming put/get promptly (peak RSS of a 1 GiB get: 144 -> 124 MiB). `npm start` passes the
// same for the server since s21: its heavy work streams too (a mesh sync: with 4 MiB the sending
// and receiving servers peaked at 253-255 / 260-281 MiB, over the mesh's 250, and the sync took
// 12-14 s instead of 9.8; bench:sync). The 4 MiB it passed before listed faster under 100
// connections (bench:api, one run each: 267 vs 205 req/s, listing peak 207 vs 240 MiB; 20 uploads
// peaked at 362 vs 365 MiB either way), which has no target and is not what one user's UI does.
import module from 'node:module';

// libuv's file-system threads: 4 by default, so a restore's ~32 objects in flight (each open,
// write, fsync, rename and folder fsync) queued behind each other's fsyncs. 16 restored faster
// in 3 of 3 paired runs (16.7 vs 24.0 s, 26.0 vs 29.4 s, 20.2 vs 26.0 s); 64 was no better. Set
// before anything touches the pool, which reads it when it starts; a user's own value wins.
process.env.UV_THREADPOOL_SIZE ??= '16';

// Cache the type-stripped, compiled sources (in the OS temp folder; code only, never user data):
// it halves start-up time and saves ~30 MiB of memory per command after the first run.
module.enableCompileCache();
// `backup run` with ELOHIM_PASSPHRASE: the passphrase's Argon2id starts now, on a libuv thread,
// while the CLI's modules load (src/cli/early-unlock.ts); every other command only loads that
// small module.
const early = await import('../src/cli/early-unlock.ts');
await early.startEarlyUnlock(process.argv);
const { run } = await import('../src/cli/main.ts');

process.exitCode = await run(process.argv);
await early.discardEarlyUnlock();
