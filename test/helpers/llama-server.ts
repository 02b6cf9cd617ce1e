/**
 * llama.cpp for the tests, from the source node-llama-cpp ships
 * (node_modules/node-llama-cpp/llama/gitRelease.bundle, a git bundle):
 * - `llamaSourceFile(path)`: one file of that source (the tokenizer vectors in models/), read from
 *   a bare clone of the bundle cached outside the checkout;
 * - `llamaServerBinary()`: `llama-server`, built once by scripts/build-llama-server.sh (about 7
 *   minutes on 2 cores; .ci/run builds it before npm test) and cached outside the checkout,
 *   keyed by node-llama-cpp's version and the bundle's commit;
 * - `startLlamaServer(model)`: that binary serving a GGUF on 127.0.0.1, stopped by `close()`.
 *
 * Cache: $ELOHIM_CACHE or ~/.cache/elohim. A missing binary is built only when
 * ELOHIM_BUILD_LLAMA_SERVER=1; otherwise `llamaServerMissing` says why the suite skips.
 */
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { REPO } from '../helpers.ts';

const PKG = join(REPO, 'node_modules', 'node-llama-cpp');
const BUNDLE = join(PKG, 'llama', 'gitRelease.bundle');
const CACHE = process.env.ELOHIM_CACHE ?? join(homedir(), '.cache', 'elohim');

/** `<node-llama-cpp version>-<bundle commit, 12 hex>`: what the cache is keyed by. */
export function llamaSourceVersion(): string {
  const version = (JSON.parse(readFileSync(join(PKG, 'package.json'), 'utf8')) as { version: string }).version;
  const heads = execFileSync('git', ['bundle', 'list-heads', BUNDLE], { encoding: 'utf8' });
  const commit = /^([0-9a-f]{40}) HEAD$/m.exec(heads)?.[1];
  if (commit === undefined) throw new Error(`no HEAD in ${BUNDLE}`);
  return `${version}-${commit.slice(0, 12)}`;
}

/** The bytes of `path` in llama.cpp's source (e.g. models/ggml-vocab-llama-spm.gguf), cached. */
export function llamaSourceFile(path: string): string {
  const version = llamaSourceVersion();
  const out = join(CACHE, `llama-src-${version}`, path);
  if (existsSync(out)) return out;
  const bare = join(CACHE, `llama-src-${version}.git`);
  if (!existsSync(join(bare, 'HEAD'))) {
    mkdirSync(CACHE, { recursive: true });
    const tmp = `${bare}.${process.pid}.tmp`;
    execFileSync('git', ['clone', '--quiet', '--bare', BUNDLE, tmp], { stdio: 'ignore' });
    try {
      renameSync(tmp, bare);
    } catch (err) {
      // another test process cloned it meanwhile
      if (!existsSync(join(bare, 'HEAD'))) throw err;
    }
  }
  const bytes = execFileSync('git', ['--git-dir', bare, 'show', `HEAD:${path}`], { maxBuffer: 256 * 1024 * 1024 });
  mkdirSync(join(out, '..'), { recursive: true });
  writeFileSync(`${out}.${process.pid}.tmp`, bytes);
  renameSync(`${out}.${process.pid}.tmp`, out);
  return out;
}

/** Where scripts/build-llama-server.sh puts the binary. */
export function llamaServerPath(): string {
  return join(CACHE, `llama-server-${llamaSourceVersion()}`, 'llama-server');
}

/** Why the llama-server suites skip, or false when the binary is there (or was just built). */
export function llamaServerMissing(): string | false {
  if (existsSync(llamaServerPath())) return false;
  if (process.env.ELOHIM_BUILD_LLAMA_SERVER === '1') {
    execFileSync(join(REPO, 'scripts', 'build-llama-server.sh'), { stdio: ['ignore', 'ignore', 'inherit'] });
    return existsSync(llamaServerPath()) ? false : 'scripts/build-llama-server.sh did not produce llama-server';
  }
  return `llama-server is not built (${llamaServerPath()}): run scripts/build-llama-server.sh (.ci/run does), or set ELOHIM_BUILD_LLAMA_SERVER=1`;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const { port } = probe.address() as AddressInfo;
  await new Promise((resolve) => probe.close(resolve));
  return port;
}

export interface LlamaServer {
  url: string;
  /** the model's id in /v1/models */
  alias: string;
  /** the server's process id (a test may SIGSTOP it to make it silent) */
  pid: number;
  close(): Promise<void>;
  /** what the server wrote to stderr (its log), for failure messages */
  log(): string;
}

/**
 * Starts llama-server on 127.0.0.1 with `model`, one thread, and waits until /health says ok.
 * `embeddings` serves /v1/embeddings (with mean pooling) instead of chat.
 */
export async function startLlamaServer(model: string, opts: { alias?: string; embeddings?: boolean; contextSize?: number } = {}): Promise<LlamaServer> {
  const alias = opts.alias ?? 'tiny';
  let lastError: unknown = null;
  for (let attempt = 0; attempt < 3; attempt++) {
    const port = await freePort();
    const args = ['-m', model, '--host', '127.0.0.1', '--port', String(port), '-a', alias, '-t', '1', '-tb', '1', '-c', String(opts.contextSize ?? 2048), '-np', '1', '--no-webui', '--metrics'];
    if (opts.embeddings) args.push('--embeddings', '--pooling', 'mean');
    const child = spawn(llamaServerPath(), args, { stdio: ['ignore', 'ignore', 'pipe'], env: { PATH: process.env.PATH ?? '/usr/bin:/bin' } });
    let log = '';
    child.stderr.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-20_000)));
    let exited = false;
    const closed = new Promise<void>((resolve) => child.on('close', () => ((exited = true), resolve())));
    const url = `http://127.0.0.1:${port}`;
    const close = async () => {
      if (!exited) child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await closed;
      clearTimeout(timer);
    };
    for (let i = 0; i < 600 && !exited; i++) {
      try {
        const res = await fetch(`${url}/health`);
        if (res.ok) return { url, alias, pid: child.pid!, close, log: () => log };
        await res.body?.cancel();
      } catch (err) {
        lastError = err;
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    await close();
    lastError = new Error(`llama-server did not start: ${log.slice(-2000)}`);
  }
  throw lastError;
}
