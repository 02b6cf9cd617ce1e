/**
 * A folder as a backup target: a USB drive in the field, a mounted share. The folder must exist
 * (a drive that is not mounted must not be mistaken for an empty one, and filling the device's
 * own disk instead): `check` and every call say 'missing' when it does not.
 *
 * Each file is written to a temp name, fsynced and renamed into place, then its folder fsynced,
 * so a pull of the drive or a kill leaves a file whole or absent (a temp file left by a kill is
 * skipped by `list`; prune is where it will be removed).
 */
import { randomBytes } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, mkdir, open, readdir, rename, rm, stat } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { eachLimit, release } from '../streams.ts';
import { checkName, checkPrefix, TargetError, withRetry } from '../target.ts';
import type { Body, CallOptions, RetryPolicy, Target } from '../target.ts';

/**
 * Writes all of `bytes`: a write that fills the device returns a short count first and raises
 * ENOSPC only on the next call, so a single write would report success for a torn file.
 */
async function writeAll(fh: FileHandle, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.length) {
    const { bytesWritten } = await fh.write(bytes, at, bytes.length - at);
    at += bytesWritten;
  }
}

const TEMP = /\.tmp-[0-9a-f]{16}$/;

function failure(err: unknown, what: string): never {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOSPC' || code === 'EDQUOT') throw new TargetError('full', `the backup drive is full (${what})`, { cause: err });
  if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') throw new TargetError('auth', `no permission to write the backup folder (${what})`, { cause: err });
  if (code === 'EIO' || code === 'EAGAIN' || code === 'EBUSY') throw new TargetError('transient', `the backup drive failed (${what})`, { cause: err });
  throw err;
}

/** Stats of a listing in flight at once (libuv has 16 threads under the CLI: bin/elohim.js). */
const LIST_STATS_IN_FLIGHT = 8;

export function createLocalTarget(opts: { root: string; retry?: RetryPolicy }): Target {
  const { root } = opts;
  const pathOf = (name: string) => {
    checkName(name);
    return join(root, ...name.split('/'));
  };

  async function requireRoot(): Promise<void> {
    const info = await stat(root).catch(() => null);
    if (!info?.isDirectory()) throw new TargetError('missing', 'the backup folder does not exist (is the drive mounted?)');
  }

  /**
   * Reads check the folder only once a path under it is not found: a missing folder (a drive not
   * mounted) then fails them as `missing`, as a check first did, and a found file needs no stat
   * of the folder first (an unchanged backup and its proof make ~60 reads, each a round trip to
   * libuv's threads awaited in turn). Writes still check first: they create folders.
   */
  async function notFound(err: unknown): Promise<boolean> {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') return false;
    await requireRoot();
    return true;
  }

  const call = <T>(fn: () => Promise<T>, o: CallOptions = {}) => withRetry(fn, { signal: o.signal, policy: opts.retry });

  async function writeBody(fh: FileHandle, body: Body, signal?: AbortSignal): Promise<void> {
    if (body instanceof Uint8Array) {
      await writeAll(fh, body);
      return;
    }
    const source = await body.open();
    let written = 0;
    // Small chunks (a pack streamed object by object) are gathered into writes of about 1 MiB:
    // a write call per 4 KiB object cost a fifth of a 10,000-file backup's time.
    let held: Uint8Array[] = [];
    let heldBytes = 0;
    const flush = async () => {
      if (heldBytes === 0) return;
      const whole = held.length === 1 ? held[0]! : Buffer.concat(held);
      await writeAll(fh, whole);
      // Written: free the memory now rather than at V8's next full collection (the chunks were
      // promoted while in flight, and V8 collects those only after ~64 MiB more outside the heap).
      if (held.length > 1) release(whole);
      if (body.owned) for (const c of held) release(c);
      held = [];
      heldBytes = 0;
    };
    try {
      for await (const chunk of source) {
        signal?.throwIfAborted();
        held.push(chunk as Uint8Array);
        heldBytes += (chunk as Uint8Array).length;
        written += (chunk as Uint8Array).length;
        if (heldBytes >= 1 << 20) await flush();
      }
      await flush();
    } finally {
      source.destroy();
    }
    if (written !== body.size) throw new TargetError('transient', `the source gave ${written} bytes, not ${body.size}`);
  }

  return {
    description: `folder ${root}`,

    check: (o = {}) => call(requireRoot, o),

    async put(name, body, o = {}) {
      const path = pathOf(name);
      return call(async () => {
        await requireRoot();
        await mkdir(dirname(path), { recursive: true });
        const temp = `${path}.tmp-${randomBytes(8).toString('hex')}`;
        try {
          const fh = await open(temp, 'w', 0o600);
          try {
            await writeBody(fh, body, o.signal);
            await fh.sync();
          } finally {
            await fh.close();
          }
          await rename(temp, path);
          const dir = await open(dirname(path), 'r');
          try {
            await dir.sync();
          } finally {
            await dir.close();
          }
        } catch (err) {
          await rm(temp, { force: true });
          failure(err, name);
        }
      }, o);
    },

    async get(name, o = {}) {
      const path = pathOf(name);
      return call(async () => {
        let fh;
        try {
          fh = await open(path, 'r');
        } catch (err) {
          if (await notFound(err)) return null;
          failure(err, name);
        }
        try {
          // A range is read up to the end of the file, no stat needed (a proof's samples).
          const start = o.range?.start ?? 0;
          const end = o.range ? o.range.end : (await fh.stat()).size;
          const buf = Buffer.alloc(Math.max(0, end - start));
          let at = 0;
          while (at < buf.length) {
            const { bytesRead } = await fh.read(buf, at, buf.length - at, start + at);
            if (bytesRead === 0) break;
            at += bytesRead;
          }
          return buf.subarray(0, at);
        } catch (err) {
          failure(err, name);
        } finally {
          await fh.close();
        }
      }, o);
    },

    async read(name, o = {}) {
      const path = pathOf(name);
      return call(async () => {
        const info = await stat(path).catch(async (err: unknown) => {
          if (await notFound(err)) return null;
          failure(err, name);
        });
        if (!info) throw new TargetError('missing', `${name} is not in the backup`);
        const end = o.range?.end ?? info.size;
        if (end === 0 || (o.range && o.range.start >= end)) return Readable.from([]);
        return createReadStream(path, { start: o.range?.start ?? 0, end: end - 1, highWaterMark: 1 << 20, signal: o.signal }) as Readable;
      }, o);
    },

    async copyTo(name, dest, o = {}) {
      const path = pathOf(name);
      return call(async () => {
        await requireRoot();
        o.signal?.throwIfAborted();
        try {
          // The kernel copies (copy_file_range, or a clone where the file system shares blocks):
          // a restore's big objects no longer pass through the process in fresh 1 MiB buffers.
          await copyFile(path, dest);
        } catch (err) {
          // Only the backup's side is the target's to name; the destination's failures (this
          // device's disk full) are the caller's, as they are for a write of what `read` gave.
          if ((err as NodeJS.ErrnoException).code === 'ENOENT' && !(await stat(path).catch(() => null))) throw new TargetError('missing', `${name} is not in the backup`);
          throw err;
        }
      }, o);
    },

    async list(prefix, o = {}) {
      checkPrefix(prefix);
      return call(async () => {
        const slash = prefix.lastIndexOf('/');
        const folder = slash < 0 ? '' : prefix.slice(0, slash);
        const dir = join(root, ...folder.split('/').filter(Boolean));
        let names: string[];
        try {
          names = await readdir(dir);
        } catch (err) {
          if (await notFound(err)) return [];
          failure(err, prefix);
        }
        const wanted: { n: string; name: string }[] = [];
        for (const n of names) {
          if (TEMP.test(n)) continue;
          const name = folder ? `${folder}/${n}` : n;
          if (name.startsWith(prefix)) wanted.push({ n, name });
        }
        // The sizes, several stats in flight (one awaited after the other was a round trip each to
        // libuv's threads: ~30-130 index files listed twice per unchanged backup), in name order.
        const sizes: (number | null)[] = new Array(wanted.length).fill(null);
        await eachLimit(
          wanted.map((w, i) => [w, i] as const),
          LIST_STATS_IN_FLIGHT,
          async ([w, i]) => {
            const info = await stat(join(dir, w.n)).catch(() => null);
            if (info?.isFile()) sizes[i] = info.size;
          },
        );
        const out: { name: string; size: number }[] = [];
        for (let i = 0; i < wanted.length; i++) if (sizes[i] !== null) out.push({ name: wanted[i]!.name, size: sizes[i]! });
        return out;
      }, o);
    },

    async delete(name, o = {}) {
      const path = pathOf(name);
      return call(async () => {
        await requireRoot();
        await rm(path, { force: true }).catch((err) => failure(err, name));
      }, o);
    },
  };
}
