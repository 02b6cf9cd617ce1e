/**
 * The HTTP side of the WebDAV target (webdav.ts): the address check, what a failed fetch or a
 * status means, and an answer's body as a Readable with an idle clock. No WebDAV semantics here.
 */
import { Readable } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { TargetError } from '../target.ts';
import type { WebDavTargetConfig } from './webdav.ts';

const UNREACHABLE = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EHOSTUNREACH', 'ENETUNREACH', 'EAI_AGAIN', 'UND_ERR_CONNECT_TIMEOUT']);
const BROKEN = new Set(['ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT']);

/** Validates the URL at the boundary; returns the collection URL ending with a slash. */
export function collectionUrl(config: WebDavTargetConfig): URL {
  let url: URL;
  try {
    url = new URL(config.url);
  } catch {
    throw new ElohimError('INVALID_INPUT', 'the WebDAV address is not a URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new ElohimError('INVALID_INPUT', 'the WebDAV address must start with https:// or http://');
  if (url.username || url.password) throw new ElohimError('INVALID_INPUT', 'put the WebDAV user name and password in their own fields, not in the address');
  if (url.search || url.hash) throw new ElohimError('INVALID_INPUT', 'the WebDAV address must not have a query or a fragment');
  const local = ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname) || url.hostname.startsWith('127.');
  if (url.protocol === 'http:' && !local && !config.allowInsecureHttp) {
    throw new ElohimError('INVALID_INPUT', 'plain http would send the WebDAV password readable: use https, or allow insecure http explicitly');
  }
  if (!url.pathname.endsWith('/')) url.pathname += '/';
  return url;
}

/** A network failure of fetch as a TargetError, or null when it is something else. */
export function networkFailure(err: unknown, what: string): TargetError | null {
  if (err instanceof TargetError) return err;
  const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
  const code = e?.cause?.code ?? e?.code;
  if (code && UNREACHABLE.has(code)) return new TargetError('unreachable', `the WebDAV server cannot be reached (${code}) on ${what}`, { cause: err });
  if ((code && BROKEN.has(code)) || e?.message === 'terminated' || e?.message === 'fetch failed') {
    return new TargetError('transient', `the connection to the WebDAV server failed (${code ?? e?.cause?.message ?? e?.message}) on ${what}`, { cause: err });
  }
  return null;
}

/** What an HTTP status that is not success means; never includes credentials. */
export function statusFailure(status: number, what: string): Error {
  if (status === 401 || status === 403) return new TargetError('auth', `the WebDAV server refused the user name or password (${status}) on ${what}`);
  if (status === 507) return new TargetError('full', `the WebDAV server has no space left (507 Insufficient Storage) on ${what}`);
  if (status === 408 || status === 429 || (status >= 500 && status !== 501 && status !== 505)) return new TargetError('transient', `the WebDAV server failed (${status}) on ${what}`);
  if (status >= 300 && status < 400) return new ElohimError('HOST_IO', `the WebDAV server redirected ${what} (${status}): use the address it redirects to`);
  return new ElohimError('HOST_IO', `the WebDAV server answered ${status} on ${what}`);
}

/**
 * The body of `res` as a Readable: bytes [skip, skip + limit) of it. The idle clock runs only
 * while a read waits on the server; `onIdle` fails the stream with a transient error.
 */
export function bodyOf(res: Response, idleMs: number, what: string, skip = 0, limit = Infinity): Readable {
  const reader = res.body!.getReader();
  let left = limit;
  return new Readable({
    highWaterMark: 1 << 20,
    read() {
      const timer = setTimeout(() => {
        reader.cancel().catch(() => {});
        this.destroy(new TargetError('transient', `the WebDAV server stopped sending (${what})`));
      }, idleMs);
      reader.read().then(({ done, value }) => {
        clearTimeout(timer);
        if (done || left <= 0) {
          if (!done) reader.cancel().catch(() => {});
          this.push(null);
          return;
        }
        let chunk = value;
        if (skip > 0) {
          const cut = Math.min(skip, chunk.length);
          skip -= cut;
          chunk = chunk.subarray(cut);
        }
        if (chunk.length > left) chunk = chunk.subarray(0, left);
        left -= chunk.length;
        this.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
      }, (err: unknown) => {
        clearTimeout(timer);
        this.destroy((networkFailure(err, what) ?? err) as Error);
      });
    },
    destroy(err, cb) {
      reader.cancel().catch(() => {});
      cb(err);
    },
  });
}

export async function collectBody(stream: Readable, max = Infinity): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > max) {
      stream.destroy();
      throw new ElohimError('HOST_IO', 'the WebDAV server sent a listing larger than the limit');
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
