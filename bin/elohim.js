#!/usr/bin/env node
// The package bin. npm puts node_modules/.bin (which holds the pinned Node 24) first on PATH for
// `npx elohim`, so this runs on Node 24 and can load the TypeScript sources directly.
import { run } from '../src/cli/main.ts';

process.exitCode = await run(process.argv);
