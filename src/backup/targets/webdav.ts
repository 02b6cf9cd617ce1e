/**
 * A WebDAV collection as a backup target (an office NAS, Nextcloud, Apache mod_dav, `rclone
 * serve webdav`), written against RFC 4918 with Node's own fetch: PROPFIND Depth 1 lists a
 * folder, MKCOL makes one, PUT streams a file up, GET reads it (with Range), MOVE and DELETE.
 *
 * - A put goes to a temp name beside the file, then MOVE (Overwrite: T) puts it in place: the
 *   repository trusts a listed name to be whole, and RFC 4918 does not say what an interrupted
 *   PUT leaves. Neither server of our tests keeps a part (Apache's mod_dav_fs writes through a
 *   temp file of its own, rclone serve webdav removes it), so this one round trip per pack is
 *   for the servers we cannot test. A temp left by a kill is skipped by `list`.
 * - The collection must exist (a mistyped URL must not be taken for an empty repository): `check`
 *   and every call say 'missing' when it does not; folders inside it are made on first use (a PUT
 *   into a missing folder is 409 Conflict, §9.7.1).
 * - Basic auth over https, or plain http to this device only unless `allowInsecureHttp` (the
 *   password would cross the network readable). Redirects are not followed: a streamed body
 *   cannot be sent twice, and undici would drop the credentials on another origin anyway.
 * - A call whose server sends nothing for `idleTimeoutMs` fails as transient and is retried; the
 *   clock runs only while we wait for the server, never while the caller is slow to read.
 * - No HEAD: the Target interface asks for existence through `list`, one PROPFIND per folder
 *   rather than a HEAD per object.
 */
import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { checkName, checkPrefix, TargetError, withRetry } from '../target.ts';
import type { Body, CallOptions, RetryPolicy, Target } from '../target.ts';
import { bodyOf, collectBody, collectionUrl, networkFailure, statusFailure } from './webdav-http.ts';
import { parseMultistatus } from './webdav-xml.ts';

export interface WebDavTargetConfig {
  /** the collection holding the repository, e.g. https://nas.office/dav/backups/laptop/ */
  url: string;
  username?: string;
  password?: string;
  /** allow plain http to another host (the password and the file names then cross the network readable) */
  allowInsecureHttp?: boolean;
  retry?: RetryPolicy;
  /** no byte from the server for this long fails the call as transient (default 60 s) */
  idleTimeoutMs?: number;
}

const TEMP = /\.tmp-[0-9a-f]{16}$/;
const MAX_LISTING = 64 * 1024 * 1024;
const PROPFIND_BODY = '<?xml version="1.0" encoding="utf-8"?><propfind xmlns="DAV:"><prop><resourcetype/><getcontentlength/></prop></propfind>';

export function createWebDavTarget(config: WebDavTargetConfig): Target {
  const base = collectionUrl(config);
  const idleMs = config.idleTimeoutMs ?? 60_000;
  const auth = config.username !== undefined ? `Basic ${Buffer.from(`${config.username}:${config.password ?? ''}`).toString('base64')}` : null;
  const urlOf = (name: string) => new URL(name.split('/').map(encodeURIComponent).join('/'), base).href;
  const folders = new Set<string>();
  let baseSeen = false;

  /**
   * One request. The idle clock covers sending the body and waiting for the answer's headers;
   * the body of the answer is read through bodyOf, with its own clock.
   */
  async function send(what: string, method: string, url: string, o: CallOptions & { headers?: Record<string, string>; body?: Body | string }): Promise<Response> {
    o.signal?.throwIfAborted();
    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(new TargetError('transient', `the WebDAV server did not answer in ${idleMs / 1000} s (${what})`)), idleMs);
    const touch = () => {
      clearTimeout(timer);
      timer = setTimeout(() => idle.abort(new TargetError('transient', `the WebDAV server stopped taking data (${what})`)), idleMs);
    };
    const signal = o.signal ? AbortSignal.any([o.signal, idle.signal]) : idle.signal;
    const headers: Record<string, string> = { ...o.headers };
    if (auth) headers.authorization = auth;
    let body: RequestInit['body'];
    let source: Readable | null = null;
    if (typeof o.body === 'string' || o.body instanceof Uint8Array) {
      body = o.body as RequestInit['body'];
    } else if (o.body) {
      headers['content-length'] = String(o.body.size);
      const opened = (source = await o.body.open());
      body = (async function* () {
        for await (const chunk of opened) {
          signal.throwIfAborted();
          touch();
          yield chunk as Uint8Array;
        }
      })() as unknown as RequestInit['body'];
    }
    try {
      return await fetch(url, { method, headers, body, signal, redirect: 'manual', duplex: 'half' } as RequestInit);
    } catch (err) {
      if (o.signal?.aborted) throw o.signal.reason;
      if (idle.signal.aborted) throw idle.signal.reason;
      throw networkFailure(err, what) ?? err;
    } finally {
      clearTimeout(timer);
      source?.destroy();
    }
  }

  /** Sends and fails on any status not in `ok` (the answer's body is dropped first). */
  async function expect(what: string, method: string, url: string, ok: number[], o: Parameters<typeof send>[3]): Promise<Response> {
    const res = await send(what, method, url, o);
    if (ok.includes(res.status)) return res;
    await res.body?.cancel().catch(() => {});
    throw statusFailure(res.status, what);
  }

  /** The collection exists (PROPFIND Depth 0); 'missing' when it does not. */
  async function requireBase(o: CallOptions, force = false): Promise<void> {
    if (baseSeen && !force) return;
    const res = await send('check', 'PROPFIND', base.href, { ...o, headers: { depth: '0', 'content-type': 'application/xml' }, body: PROPFIND_BODY });
    await res.body?.cancel().catch(() => {});
    if (res.status === 404 || res.status === 409) throw new TargetError('missing', `the WebDAV collection ${base.pathname} does not exist`);
    if (res.status !== 207) throw statusFailure(res.status, 'check');
    baseSeen = true;
  }

  /** Makes the folder `name` (one level under the collection) unless it was made already. */
  async function makeFolder(folder: string, o: CallOptions): Promise<void> {
    if (folders.has(folder)) return;
    const res = await send(`make folder ${folder}`, 'MKCOL', urlOf(folder) + '/', o);
    await res.body?.cancel().catch(() => {});
    // 405: it exists already (§9.3.1); 409: the collection itself is missing.
    if (res.status === 409 || res.status === 404) throw new TargetError('missing', `the WebDAV collection ${base.pathname} does not exist`);
    if (res.status !== 201 && res.status !== 405) throw statusFailure(res.status, `make folder ${folder}`);
    folders.add(folder);
  }

  const call = <T>(o: CallOptions, fn: () => Promise<T>) => withRetry(fn, { signal: o.signal, policy: config.retry });

  async function open(name: string, o: CallOptions & { range?: { start: number; end: number } }): Promise<Readable | null> {
    const what = `get ${name}`;
    const range = o.range;
    const headers: Record<string, string> = range ? { range: `bytes=${range.start}-${range.end - 1}` } : {};
    const res = await send(what, 'GET', urlOf(name), { ...o, headers });
    if (res.status === 404) {
      await res.body?.cancel().catch(() => {});
      await requireBase(o);
      return null;
    }
    if (res.status === 416) {
      await res.body?.cancel().catch(() => {});
      return Readable.from([]);
    }
    if (res.status === 206 && range) {
      const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!m || Number(m[1]) !== range.start) {
        await res.body?.cancel().catch(() => {});
        throw new ElohimError('HOST_IO', `the WebDAV server sent the wrong range for ${name}`);
      }
      return bodyOf(res, idleMs, what, 0, range.end - range.start);
    }
    if (res.status === 200) return range ? bodyOf(res, idleMs, what, range.start, range.end - range.start) : bodyOf(res, idleMs, what);
    await res.body?.cancel().catch(() => {});
    throw statusFailure(res.status, what);
  }

  return {
    description: `webdav ${base.origin}${base.pathname}`,

    check: (o = {}) => call(o, () => requireBase(o, true)),

    async put(name, body, o = {}) {
      checkName(name);
      const slash = name.indexOf('/');
      const temp = `${name}.tmp-${randomBytes(8).toString('hex')}`;
      const what = `put ${name}`;
      return call(o, async () => {
        if (slash > 0) await makeFolder(name.slice(0, slash), o);
        try {
          let res = await send(what, 'PUT', urlOf(temp), { ...o, body, headers: { 'content-type': 'application/octet-stream' } });
          if ((res.status === 409 || res.status === 404) && slash > 0) {
            // The folder went away since we made it (a prune, another device): make it again.
            await res.body?.cancel().catch(() => {});
            folders.delete(name.slice(0, slash));
            await makeFolder(name.slice(0, slash), o);
            res = await send(what, 'PUT', urlOf(temp), { ...o, body, headers: { 'content-type': 'application/octet-stream' } });
          }
          await res.body?.cancel().catch(() => {});
          if (res.status === 409 || res.status === 404) throw new TargetError('missing', `the WebDAV collection ${base.pathname} does not exist`);
          if (res.status !== 201 && res.status !== 204 && res.status !== 200) throw statusFailure(res.status, what);
          await expect(what, 'MOVE', urlOf(temp), [201, 204], { ...o, headers: { destination: urlOf(name), overwrite: 'T' } }).then((r) => r.body?.cancel());
        } catch (err) {
          // Best effort: a temp the server kept is skipped by list either way.
          if (!o.signal?.aborted) await send(`delete ${temp}`, 'DELETE', urlOf(temp), {}).then((r) => r.body?.cancel(), () => {});
          throw err;
        }
      });
    },

    async get(name, o = {}) {
      checkName(name);
      if (o.range && o.range.end <= o.range.start) return Buffer.alloc(0);
      return call(o, async () => {
        const stream = await open(name, o);
        return stream && (await collectBody(stream));
      });
    },

    async read(name, o = {}) {
      checkName(name);
      if (o.range && o.range.end <= o.range.start) return Readable.from([]);
      return call(o, async () => {
        const stream = await open(name, o);
        if (!stream) throw new TargetError('missing', `${name} is not in the backup`);
        return stream;
      });
    },

    async list(prefix, o = {}) {
      checkPrefix(prefix);
      const slash = prefix.lastIndexOf('/');
      const folder = slash < 0 ? '' : prefix.slice(0, slash);
      const what = `list ${prefix}`;
      return call(o, async () => {
        const url = folder ? urlOf(folder) + '/' : base.href;
        const res = await send(what, 'PROPFIND', url, { ...o, headers: { depth: '1', 'content-type': 'application/xml' }, body: PROPFIND_BODY });
        if (res.status === 404) {
          await res.body?.cancel().catch(() => {});
          if (!folder) throw new TargetError('missing', `the WebDAV collection ${base.pathname} does not exist`);
          await requireBase(o);
          return [];
        }
        if (res.status !== 207) {
          await res.body?.cancel().catch(() => {});
          throw statusFailure(res.status, what);
        }
        if (!folder) baseSeen = true;
        const xml = (await collectBody(bodyOf(res, idleMs, what), MAX_LISTING)).toString('utf8');
        const basePath = decodeURIComponent(base.pathname);
        const out: { name: string; size: number }[] = [];
        for (const entry of parseMultistatus(xml)) {
          if (entry.collection) continue;
          let path: string;
          try {
            path = decodeURIComponent(new URL(entry.href, base).pathname);
          } catch {
            continue;
          }
          if (!path.startsWith(basePath)) continue;
          const name = path.slice(basePath.length);
          if (!name.startsWith(prefix) || TEMP.test(name) || !/^[0-9a-z.-]+(\/[0-9a-z.-]+)?$/.test(name)) continue;
          out.push({ name, size: entry.size ?? 0 });
        }
        return out;
      });
    },

    async delete(name, o = {}) {
      checkName(name);
      return call(o, async () => {
        const res = await send(`delete ${name}`, 'DELETE', urlOf(name), o);
        await res.body?.cancel().catch(() => {});
        if (res.status === 404) return requireBase(o);
        if (res.status !== 200 && res.status !== 204) throw statusFailure(res.status, `delete ${name}`);
      });
    },
  };
}
