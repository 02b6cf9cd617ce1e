#!/usr/bin/env -S node --max-semi-space-size=1
// The package bin. npm puts node_modules/.bin (which holds the pinned Node 24) first on PATH for
// `npx elohim`, so this runs on Node 24 and can load the TypeScript sources directly.
// --max-semi-space-size=1: a tiny young generation makes V8 collect the 64 KiB buffers of a
// streaming put/get promptly (peak RSS of a 1 GiB get: 144 -> 124 MiB). A busy server does
// better with 4 MiB (more requests per second and less memory than either 1 MiB or V8's
// default, measured by bench/api.ts), which is what `npm start` passes.
import module from 'node:module';

// Cache the type-stripped, compiled sources (in the OS temp folder; code only, never user data):
// it halves start-up time and saves ~30 MiB of memory per command after the first run.
module.enableCompileCache();
const { run } = await import('../src/cli/main.ts');

process.exitCode = await run(process.argv);
