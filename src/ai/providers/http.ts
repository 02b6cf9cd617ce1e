/**
 * What the HTTP providers share: a base URL checked for loopback, requests with a deadline
 * combined with the caller's signal, errors mapped to our codes, and the two stream framings
 * (NDJSON for Ollama, Server-Sent Events for OpenAI-compatible servers) read incrementally.
 */
import { isIP } from 'node:net';
import { ElohimError } from '../../errors.ts';
import { DEFAULT_TIMEOUT_MS } from './provider.ts';
import type { CallOptions, ProviderConfig } from './provider.ts';

/** Whether `url` points at this device (a loopback address or `localhost`). */
export function isLoopback(url: URL): boolean {
  const host = url.hostname.replace(/^\[|\]$/g, '');
  if (host === 'localhost' || host.endsWith('.localhost')) return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

/** The base URL, parsed and checked. Throws INVALID_INPUT (not http(s), or remote without opt-in). */
export function checkBaseUrl(config: ProviderConfig): { base: URL; local: boolean } {
  let base: URL;
  try {
    base = new URL(config.baseUrl);
  } catch (err) {
    throw new ElohimError('INVALID_INPUT', 'a provider address must be a URL such as http://127.0.0.1:11434', { cause: err });
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') throw new ElohimError('INVALID_INPUT', 'a provider address must be http or https');
  const local = isLoopback(base);
  if (!local && config.allowRemote !== true) {
    throw new ElohimError('INVALID_INPUT', 'this provider is on another machine: conversations would leave this device; turn on "allow remote provider" to use it');
  }
  if (!base.pathname.endsWith('/')) base.pathname += '/';
  return { base, local };
}

/**
 * A deadline for one call: aborted when the caller's signal aborts, or when `timeoutMs` pass
 * without `touch()` (each piece of a stream touches it). `fail(err)` turns whatever the abort
 * made fetch throw into the right error.
 */
export function deadline(opts: CallOptions = {}) {
  const ms = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const controller = new AbortController();
  let timedOut = false;
  let timer: NodeJS.Timeout | undefined;
  const arm = () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new ElohimError('AI_TIMEOUT', `the model provider sent nothing for ${Math.round(ms / 1000)} s`));
    }, ms);
  };
  const onAbort = () => controller.abort(opts.signal!.reason);
  opts.signal?.throwIfAborted();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  arm();
  return {
    signal: controller.signal,
    touch: arm,
    done() {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    },
    /** The error to throw for `err`, caught from fetch or a body read. */
    fail(err: unknown): unknown {
      if (timedOut) return controller.signal.reason;
      if (opts.signal?.aborted) return opts.signal.reason;
      if (err instanceof ElohimError) return err;
      return new ElohimError('AI_PROVIDER_UNREACHABLE', `the model provider cannot be reached (${causeOf(err)})`, { cause: err });
    },
  };
}

const causeOf = (err: unknown): string => {
  const cause = (err as { cause?: { code?: unknown } } | null)?.cause;
  return typeof cause?.code === 'string' ? cause.code : err instanceof Error ? err.message : 'unknown';
};

export type Deadline = ReturnType<typeof deadline>;

/** Runs one non-streamed call under a deadline. */
export async function call<T>(fn: (d: Deadline) => Promise<T>, opts: CallOptions | undefined): Promise<T> {
  const d = deadline(opts);
  try {
    return await fn(d);
  } finally {
    d.done();
  }
}

/**
 * Sends a request and checks its status. A 404 naming a model, or any 404 when `modelMissing`
 * is set, is AI_MODEL_NOT_FOUND; another failure status is AI_PROVIDER_FAILED with the
 * provider's own message (Ollama and OpenAI both answer `{ error }`, a string or `{ message }`).
 */
export async function send(base: URL, path: string, init: { method?: string; body?: unknown; apiKey?: string }, d: Deadline, modelMissing = false): Promise<Response> {
  let response: Response;
  try {
    response = await fetch(new URL(path, base), {
      method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
      headers: {
        accept: 'application/json, application/x-ndjson, text/event-stream',
        ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...(init.apiKey ? { authorization: `Bearer ${init.apiKey}` } : {}),
      },
      body: init.body === undefined ? undefined : JSON.stringify(init.body),
      signal: d.signal,
    });
  } catch (err) {
    throw d.fail(err);
  }
  d.touch();
  if (response.ok) return response;
  let text: string;
  try {
    text = await response.text();
  } catch (err) {
    throw d.fail(err);
  }
  let message = text.trim().slice(0, 500) || `${response.status} ${response.statusText}`;
  try {
    message = providerMessage(JSON.parse(text)) ?? message;
  } catch (err) {
    // not JSON (a proxy's HTML page, Ollama's plain "404 page not found"): its text says it
    if (!(err instanceof SyntaxError)) throw err;
  }
  if (response.status === 404 && (modelMissing || /model/i.test(message))) throw new ElohimError('AI_MODEL_NOT_FOUND', `no such model: ${message}`);
  throw new ElohimError('AI_PROVIDER_FAILED', `the model provider answered ${response.status}: ${message}`);
}

/** The message of an `{ error }` body (Ollama: a string; OpenAI: `{ message }`), or null. */
export function providerMessage(body: unknown): string | null {
  const error = (body as { error?: unknown } | null)?.error;
  if (typeof error === 'string') return error;
  const message = (error as { message?: unknown } | null)?.message;
  return typeof message === 'string' ? message : null;
}

export async function readJson(response: Response, d: Deadline): Promise<unknown> {
  try {
    return await response.json();
  } catch (err) {
    if (d.signal.aborted) throw d.fail(err);
    throw new ElohimError('AI_PROVIDER_FAILED', 'the model provider sent a malformed answer', { cause: err });
  }
}

/** Lines of a streamed body, as they arrive (each read touches the deadline). */
export async function* lines(response: Response, d: Deadline): AsyncGenerator<string> {
  if (response.body === null) throw new ElohimError('AI_PROVIDER_FAILED', 'the model provider sent no body');
  const decoder = new TextDecoder();
  let buffered = '';
  const reader = response.body.getReader();
  try {
    for (;;) {
      let chunk: Awaited<ReturnType<typeof reader.read>>;
      try {
        chunk = await reader.read();
      } catch (err) {
        throw d.fail(err);
      }
      if (chunk.done) break;
      d.touch();
      buffered += decoder.decode(chunk.value, { stream: true });
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        yield buffered.slice(0, nl).replace(/\r$/, '');
        buffered = buffered.slice(nl + 1);
      }
      if (buffered.length > 16 * 1024 * 1024) throw new ElohimError('AI_PROVIDER_FAILED', 'the model provider sent a line over 16 MiB');
    }
    buffered += decoder.decode();
    if (buffered !== '') yield buffered;
  } finally {
    // The consumer stopped early (Stop, an error): close the connection, which stops generation.
    await reader.cancel().catch(() => {});
  }
}

export function parseLine(line: string): unknown {
  try {
    return JSON.parse(line);
  } catch (err) {
    throw new ElohimError('AI_PROVIDER_FAILED', 'the model provider sent a malformed stream line', { cause: err });
  }
}
