// Builds the web UI into web/dist when the build is missing or older than its sources, so
// `npm start` on a fresh checkout serves the UI without a separate build command. "Older" is
// decided by a hash of the inputs, not by mtimes, which a git checkout sets arbitrarily.
//
//   node scripts/web-build.ts          build if stale
//   node scripts/web-build.ts --force  build anyway

import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';

const ROOT = join(import.meta.dirname, '..');
const WEB = join(ROOT, 'web');
const STAMP = join(WEB, '.dist-stamp');

async function filesUnder(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name));
  }
  return out;
}

/** SHA-256 over the UI's sources, its static files and the locked dependency versions. */
export async function webInputsHash(): Promise<string> {
  const pub = join(WEB, 'public');
  const files = [
    join(WEB, 'index.html'),
    join(WEB, 'vite.config.ts'),
    join(ROOT, 'package-lock.json'),
    ...(await filesUnder(join(WEB, 'src'))),
    // the server modules the UI bundles: the shared protocol names (its import of errors.ts is
    // a type, erased from the bundle) and the audit event names it re-exports
    join(ROOT, 'src', 'server', 'protocol.ts'),
    join(ROOT, 'src', 'audit', 'event-names.ts'),
    // copied into web/dist as they are (the favicon)
    ...(existsSync(pub) ? await filesUnder(pub) : []),
  ];
  files.sort();
  const hash = createHash('sha256');
  for (const file of files) {
    hash.update(relative(ROOT, file) + '\0');
    hash.update(await readFile(file));
    hash.update('\0');
  }
  return hash.digest('hex');
}

/** Builds web/dist unless it exists and was built from the current sources; returns whether it built. */
export async function ensureWebBuild(opts: { force?: boolean; quiet?: boolean } = {}): Promise<boolean> {
  const inputs = await webInputsHash();
  const built = existsSync(join(WEB, 'dist', 'index.html')) && existsSync(STAMP) && (await readFile(STAMP, 'utf8')).trim() === inputs;
  if (built && opts.force !== true) return false;
  if (opts.quiet !== true) process.stderr.write('Building the web UI (web/dist)…\n');
  const { build } = await import('vite');
  await build({ configFile: join(WEB, 'vite.config.ts'), logLevel: opts.quiet === true ? 'error' : 'warn' });
  await writeFile(STAMP, inputs + '\n');
  return true;
}

if (import.meta.main) {
  await ensureWebBuild({ force: process.argv.includes('--force') });
}
