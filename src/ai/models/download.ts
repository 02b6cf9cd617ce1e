/**
 * A resumable download of one file over HTTP(S) (RFC 9110 §14: Range, If-Range, 206 and
 * Content-Range). The bytes go to `<id>.part`; `<id>.json` beside it remembers the URL and the
 * validator (ETag or Last-Modified) the bytes came with. Stopping (the signal) is a pause: what
 * arrived stays, and the next download of the same URL asks only for the rest, with If-Range,
 * so a file that changed on the server meanwhile is sent whole (200) instead of spliced.
 *
 * The SHA-256 runs over the whole file: on resume over the bytes already there first. A stream
 * silent for `idleMs` fails with AI_TIMEOUT.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { ElohimError, isElohimError } from '../../errors.ts';

export interface DownloadProgress {
  completed: number;
  total?: number;
  /** true on the first report of a resumed download */
  resumed?: boolean;
}

export interface DownloadOptions {
  url: URL;
  /** the partial file; its `.json` sits beside it (same path with .json instead of .part) */
  partPath: string;
  signal?: AbortSignal;
  /** longest silence allowed, default 60 s */
  idleMs?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** what the caller wants remembered with the partial (a name, an expected hash) */
  extra?: Record<string, string>;
}

export interface PartialState {
  url: string;
  validator?: string;
  total?: number;
  extra?: Record<string, string>;
}

export const sidecarOf = (partPath: string) => partPath.replace(/\.part$/, '.json');

export async function readPartialState(partPath: string): Promise<PartialState | null> {
  try {
    const value = JSON.parse(await readFile(sidecarOf(partPath), 'utf8')) as PartialState;
    return typeof value.url === 'string' ? value : null;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT' || err instanceof SyntaxError) return null;
    throw err;
  }
}

export async function removePartial(partPath: string): Promise<void> {
  await rm(partPath, { force: true });
  await rm(sidecarOf(partPath), { force: true });
}

/**
 * Downloads `url` into `partPath` (resuming what is there) and returns the file's size and
 * SHA-256 (hex). Throws AI_PROVIDER_UNREACHABLE (no connection), AI_MODEL_NOT_FOUND (404),
 * AI_PROVIDER_FAILED (another status, a body shorter than announced), AI_TIMEOUT, or the
 * signal's reason (the partial is kept).
 */
export async function download(opts: DownloadOptions): Promise<{ size: number; sha256: string }> {
  const { url, partPath } = opts;
  const idleMs = opts.idleMs ?? 60_000;
  const state = await readPartialState(partPath);
  let have = 0;
  if (state?.url === url.href) {
    try {
      have = (await stat(partPath)).size;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  const hash = createHash('sha256');
  if (have > 0) for await (const chunk of createReadStream(partPath, { end: have - 1, highWaterMark: 1 << 20 })) hash.update(chunk as Buffer);

  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new ElohimError('AI_TIMEOUT', `the download sent nothing for ${Math.round(idleMs / 1000)} s`));
    }, idleMs);
  };
  const onAbort = () => controller.abort(opts.signal!.reason);
  opts.signal?.throwIfAborted();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const failed = (err: unknown): unknown => {
    if (timedOut) return controller.signal.reason;
    if (opts.signal?.aborted) return opts.signal.reason;
    if (err instanceof ElohimError) return err;
    const code = (err as { cause?: { code?: unknown } }).cause?.code;
    return new ElohimError('AI_PROVIDER_UNREACHABLE', `the download failed (${typeof code === 'string' ? code : (err as Error).message})`, { cause: err });
  };
  arm();
  let fh: Awaited<ReturnType<typeof open>> | null = null;
  try {
    const headers: Record<string, string> = { 'accept-encoding': 'identity' };
    if (have > 0) {
      headers.range = `bytes=${have}-`;
      if (state?.validator) headers['if-range'] = state.validator;
    }
    let response: Response;
    try {
      response = await fetch(url, { headers, signal: controller.signal, redirect: 'follow' });
    } catch (err) {
      throw failed(err);
    }
    arm();
    let total: number | undefined;
    if (response.status === 206 && have > 0) {
      // Content-Range: bytes <first>-<last>/<complete length or *>
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(response.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== have) throw new ElohimError('AI_PROVIDER_FAILED', 'the server resumed the download at another offset');
      if (m[3] !== '*') total = Number(m[3]);
    } else if (response.status === 416 && have > 0 && state?.total === have) {
      // everything had arrived already
      await response.body?.cancel();
      opts.onProgress?.({ completed: have, total: have, resumed: true });
      return { size: have, sha256: hash.digest('hex') };
    } else if (response.status === 200) {
      // a whole file: the server ignores ranges, or the file changed (If-Range)
      have = 0;
      const length = response.headers.get('content-length');
      if (length !== null && /^\d+$/.test(length)) total = Number(length);
    } else {
      await response.body?.cancel();
      if (response.status === 404) throw new ElohimError('AI_MODEL_NOT_FOUND', 'the server has no file at that address (404)');
      throw new ElohimError('AI_PROVIDER_FAILED', `the server answered ${response.status} ${response.statusText}`.trim());
    }
    const restart = response.status === 200;
    const fresh = restart ? createHash('sha256') : hash;
    const validator = response.headers.get('etag') ?? response.headers.get('last-modified') ?? undefined;
    const next: PartialState = { url: url.href, ...(validator && !/^W\//.test(validator) ? { validator } : {}), ...(total !== undefined ? { total } : {}), ...(opts.extra ? { extra: opts.extra } : {}) };
    await writeFile(sidecarOf(partPath), JSON.stringify(next), { mode: 0o600 });
    fh = await open(partPath, restart ? 'w' : 'a', 0o600);
    opts.onProgress?.({ completed: have, ...(total !== undefined ? { total } : {}), ...(have > 0 ? { resumed: true } : {}) });
    if (response.body === null) throw new ElohimError('AI_PROVIDER_FAILED', 'the server sent no body');
    const reader = response.body.getReader();
    try {
      for (;;) {
        let chunk: Awaited<ReturnType<typeof reader.read>>;
        try {
          chunk = await reader.read();
        } catch (err) {
          const e = failed(err);
          // the connection broke mid-file: what arrived is kept for the next try
          if (isElohimError(e, 'AI_PROVIDER_UNREACHABLE')) throw new ElohimError('AI_PROVIDER_FAILED', `the connection broke after ${have} bytes; pull again to resume`, { cause: err });
          throw e;
        }
        if (chunk.done) break;
        arm();
        await fh.write(chunk.value);
        fresh.update(chunk.value);
        have += chunk.value.byteLength;
        if (total !== undefined && have > total) throw new ElohimError('AI_PROVIDER_FAILED', 'the server sent more than it announced');
        opts.onProgress?.({ completed: have, ...(total !== undefined ? { total } : {}) });
      }
    } finally {
      await reader.cancel().catch(() => {});
    }
    if (total !== undefined && have < total) throw new ElohimError('AI_PROVIDER_FAILED', `the download ended early (${have} of ${total} bytes); pull again to resume`);
    await fh.sync();
    if (total === undefined) await writeFile(sidecarOf(partPath), JSON.stringify({ ...next, total: have }), { mode: 0o600 });
    return { size: have, sha256: fresh.digest('hex') };
  } finally {
    clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
    await fh?.close();
  }
}

/** Throws INVALID_INPUT unless `url` is an http(s) URL without credentials. */
export function checkPullUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ElohimError('INVALID_INPUT', 'a model URL must be an http or https address');
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new ElohimError('INVALID_INPUT', 'a model URL must be an http or https address');
  // Credentials in a URL would be written to the partial's .json and shown in lists.
  if (url.username !== '' || url.password !== '') throw new ElohimError('INVALID_INPUT', 'a model URL may not carry a user name or password');
  url.hash = '';
  return url;
}

/** A pull's id: the same URL is the same pull (its partial and its claim). */
export const pullIdOf = (url: URL) => createHash('sha256').update(url.href).digest('hex').slice(0, 32);
