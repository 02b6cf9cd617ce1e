/**
 * Any rclone remote (Google Drive, Dropbox, OneDrive, SFTP, S3, WebDAV…) as a backup target,
 * through Debian's `rclone` binary and the user's own rclone config, one rclone process per call:
 * `rcat` (put), `cat --offset --count` (get, read), `lsjson` (list), `deletefile`, `moveto`.
 *
 * The config (the user's rclone.conf, kept sealed in the vault by the caller) never touches the
 * disk: each of its sections is handed to rclone as RCLONE_CONFIG_<REMOTE>_<KEY> environment
 * variables, which rclone reads like the file. A temp file, even 0600 and removed after each call,
 * holds OAuth tokens and keys in plaintext on disk for the call's length and is left behind by a
 * kill -9 or a power cut; a process's environment is readable only by its user (and root) and dies
 * with it; the command line would be readable by every user (ps). RCLONE_CONFIG points at a path
 * that cannot exist, so the user's default config is never read and nothing is written back: a
 * token rclone refreshes lives for that call only (rclone refreshes it again next time).
 *
 * Per-call start measured here: ~0.13 s of a 2-core machine (rclone lsjson of a small folder), a
 * few per pack: small beside a cloud upload, and far simpler than a long-lived `rclone rcd` with
 * its own port and password to guard.
 *
 * rclone's own retries are off (--retries 1 --low-level-retries 1): withRetry is the one place.
 * A put on a remote whose uploads are not atomic (WebDAV, local, SFTP: an interrupted upload can
 * leave a partial file under the final name) goes to a temp name and is moved into place.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { PassThrough, Readable } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { checkName, checkPrefix, TargetError, withRetry } from '../target.ts';
import type { Body, CallOptions, RetryPolicy, Target } from '../target.ts';
import { parseRcloneConfig } from './rclone-config.ts';

export interface RcloneTargetConfig {
  /** the rclone config file's content (as `rclone config` wrote it; not an encrypted one) */
  config: string;
  /** a remote of that config and the repository's path on it, e.g. "gdrive:backups/laptop" */
  remote: string;
  /** the rclone binary (default: rclone on PATH) */
  binary?: string;
  retry?: RetryPolicy;
  /** rclone's --timeout: no data for this long fails the call as transient (default 60 s) */
  idleTimeoutMs?: number;
}

const TEMP = /\.tmp-[0-9a-f]{16}$/;
const MAX_OUTPUT = 64 * 1024 * 1024;
/** Backends whose uploads appear whole or not at all (the object is committed at the end). */
const ATOMIC = new Set(['s3', 'b2', 'gcs', 'google cloud storage', 'azureblob', 'swift', 'drive', 'dropbox', 'onedrive', 'box']);

type Failure = TargetError | ElohimError | 'notfound';

/** What rclone's exit code and last error lines mean (rclone prints errors in words only). */
function classify(code: number | null, stderr: string, what: string): Failure {
  const text = stderr.toLowerCase();
  const last = stderr.trim().split('\n').filter((l) => l.trim()).at(-1)?.replace(/^\S+ \S+ /, '').slice(0, 300) ?? `exit ${code}`;
  const make = (reason: TargetError['reason'], words: string) => new TargetError(reason, `${words} (${what}): ${last}`);
  if (/\b401\b|\b403\b|unauthori[sz]ed|forbidden|access ?denied|invalidaccesskeyid|signaturedoesnotmatch|invalid_grant|invalid_client|expired_token|authentication failed/.test(text)) return make('auth', 'the rclone remote refused the credentials');
  if (/\b507\b|insufficient storage|quota|no space left|insufficient_space|storage full/.test(text)) return make('full', 'the rclone remote is full');
  if (/connection refused|no such host|network is unreachable|no route to host|dial tcp/.test(text)) return make('unreachable', 'the rclone remote cannot be reached');
  if (/nosuchbucket|bucket does not exist/.test(text)) return make('missing', 'the bucket of the rclone remote does not exist');
  if (/directory not found|object not found|file not found|doesn't exist|not found/.test(text)) return 'notfound';
  if (code === 5 || /connection reset|broken pipe|unexpected eof|\beof\b|timeout|timed out|\b5\d\d\b|too many requests|\b429\b|rate limit/.test(text)) return make('transient', 'the rclone remote failed');
  return new ElohimError('HOST_IO', `rclone failed (${what}): ${last}`);
}

interface Run {
  code: number | null;
  stdout: Buffer;
  stderr: string;
}

export function createRcloneTarget(config: RcloneTargetConfig): Target {
  const m = /^([A-Za-z0-9_-]+):([^\0\r\n]*)$/.exec(config.remote);
  if (!m) throw new ElohimError('INVALID_INPUT', 'the rclone remote must look like name:path/to/folder (a remote of the config)');
  const [, remoteName, rawPath] = m as unknown as [string, string, string];
  const sections = parseRcloneConfig(config.config);
  const section = sections.get(remoteName.toLowerCase());
  if (!section) throw new ElohimError('INVALID_INPUT', `the rclone config has no remote named ${remoteName}`);
  const atomic = ATOMIC.has((section.get('type') ?? '').toLowerCase());
  const basePath = rawPath.replace(/\/+$/, '');
  const base = `${remoteName}:${basePath}`;
  const at = (name: string) => (basePath ? `${base}/${name}` : `${base}${name}`);
  const idle = Math.max(1, Math.round((config.idleTimeoutMs ?? 60_000) / 1000));
  const binary = config.binary ?? 'rclone';

  // The child's environment: ours less any RCLONE_ and AWS_ settings (they would change what
  // the user's config says), plus the config as variables.
  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !/^(RCLONE_|AWS_)/i.test(k)) env[k] = v;
  env.RCLONE_CONFIG = '/nonexistent/elohim-no-rclone-config';
  for (const [name, keys] of sections) for (const [k, v] of keys) env[`RCLONE_CONFIG_${name.toUpperCase()}_${k.toUpperCase()}`] = v;
  const common = ['-q', '--retries', '1', '--low-level-retries', '1', '--timeout', `${idle}s`, '--contimeout', '30s'];

  /** Starts rclone; `stdin` is the body to upload. */
  function start(args: string[], o: CallOptions, stdin?: Body) {
    o.signal?.throwIfAborted();
    const child = spawn(binary, [...common, ...args], { env, stdio: [stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'], signal: o.signal, killSignal: 'SIGKILL' });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (stderr.length < 65536) stderr += s;
    });
    const exited = new Promise<number | null>((resolve, reject) => {
      child.once('error', (err: NodeJS.ErrnoException) => {
        if (o.signal?.aborted) reject(o.signal.reason);
        else if (err.code === 'ENOENT') reject(new ElohimError('HOST_IO', `rclone is not installed here (${binary} not found): install it, e.g. apt-get install rclone`, { cause: err }));
        else reject(err);
      });
      child.once('close', (code) => (o.signal?.aborted ? reject(o.signal.reason) : resolve(code)));
    });
    exited.catch(() => {});
    if (stdin) {
      // rclone may stop reading (a refused login): its exit code says why, not our EPIPE.
      child.stdin!.on('error', () => {});
      if (stdin instanceof Uint8Array) child.stdin!.end(stdin);
      else {
        stdin.open().then((source) => {
          source.on('error', () => child.kill('SIGKILL'));
          source.pipe(child.stdin!);
          child.once('close', () => source.destroy());
        }, () => child.kill('SIGKILL'));
      }
    }
    return { child, exited, stderr: () => stderr };
  }

  async function run(args: string[], o: CallOptions, stdin?: Body): Promise<Run> {
    const { child, exited, stderr } = start(args, o, stdin);
    const chunks: Buffer[] = [];
    let n = 0;
    child.stdout!.on('data', (c: Buffer) => {
      n += c.length;
      if (n > MAX_OUTPUT) child.kill('SIGKILL');
      else chunks.push(c);
    });
    const code = await exited;
    if (n > MAX_OUTPUT) throw new ElohimError('HOST_IO', 'rclone printed more than the limit');
    return { code, stdout: Buffer.concat(chunks), stderr: stderr() };
  }

  const fail = (r: Run, what: string): never => {
    const f = classify(r.code, r.stderr, what);
    throw f === 'notfound' ? new TargetError('missing', `the rclone remote has no folder ${base}`) : f;
  };

  let baseSeen = false;
  async function requireBase(o: CallOptions, force = false): Promise<void> {
    if (baseSeen && !force) return;
    const r = await run(['lsjson', '--dirs-only', '--no-modtime', '--no-mimetype', base], o);
    if (r.code !== 0) fail(r, 'check');
    baseSeen = true;
  }

  /**
   * Whether `name` is there. `rclone cat` of a missing name on a bucket remote (S3) prints
   * nothing and exits 0, as for an empty file: an empty answer is checked with `lsjson --stat`.
   */
  async function exists(name: string, o: CallOptions): Promise<boolean> {
    const r = await run(['lsjson', '--stat', '--no-modtime', '--no-mimetype', at(name)], o);
    // On a bucket remote any path is an (empty) folder: only a file entry says it is there.
    if (r.code === 0) return (JSON.parse(r.stdout.toString('utf8')) as { IsDir?: boolean }).IsDir === false;
    if (classify(r.code, r.stderr, `stat ${name}`) !== 'notfound') fail(r, `stat ${name}`);
    await requireBase(o);
    return false;
  }

  const call = <T>(o: CallOptions, fn: () => Promise<T>) => withRetry(fn, { signal: o.signal, policy: config.retry });
  const rangeArgs = (r?: { start: number; end: number }) => (r ? ['--offset', String(r.start), '--count', String(r.end - r.start)] : []);

  return {
    description: `rclone ${base}`,

    check: (o = {}) => call(o, () => requireBase(o, true)),

    async put(name, body, o = {}) {
      checkName(name);
      const size = body instanceof Uint8Array ? body.length : body.size;
      return call(o, async () => {
        await requireBase(o);
        const to = atomic ? name : `${name}.tmp-${randomBytes(8).toString('hex')}`;
        const r = await run(['rcat', '--size', String(size), at(to)], o, body);
        if (r.code !== 0) fail(r, `put ${name}`);
        if (to !== name) {
          const mv = await run(['moveto', at(to), at(name)], o);
          if (mv.code !== 0) fail(mv, `put ${name}`);
        }
      });
    },

    async get(name, o = {}) {
      checkName(name);
      if (o.range && o.range.end <= o.range.start) return Buffer.alloc(0);
      return call(o, async () => {
        const r = await run(['cat', ...rangeArgs(o.range), at(name)], o);
        if (r.code === 0) return r.stdout.length > 0 || (await exists(name, o)) ? r.stdout : null;
        if (classify(r.code, r.stderr, `get ${name}`) !== 'notfound') fail(r, `get ${name}`);
        await requireBase(o);
        return null;
      });
    },

    async read(name, o = {}) {
      checkName(name);
      if (o.range && o.range.end <= o.range.start) return Readable.from([]);
      return call(o, async () => {
        const { child, exited, stderr } = start(['cat', ...rangeArgs(o.range), at(name)], o);
        const stdout = child.stdout!;
        // Wait for the first bytes or the end: a missing name must be an error of read(), not
        // of the stream the caller gets ('readable' comes at the end of an empty output too).
        await new Promise<void>((resolve) => {
          stdout.once('readable', resolve);
          exited.then(() => resolve(), () => resolve());
        });
        if (stdout.readableLength === 0) {
          const code = await exited;
          if (code === 0) {
            if (!(await exists(name, o))) throw new TargetError('missing', `${name} is not in the backup`);
            return Readable.from([]);
          }
          const r = { code, stdout: Buffer.alloc(0), stderr: stderr() };
          if (classify(code, r.stderr, `read ${name}`) !== 'notfound') fail(r, `read ${name}`);
          await requireBase(o);
          throw new TargetError('missing', `${name} is not in the backup`);
        }
        // Piped, so a slow reader slows rclone (backpressure) instead of filling memory; a
        // failure rclone reports at its exit fails the stream.
        const out = new PassThrough({ highWaterMark: 1 << 20 });
        stdout.pipe(out, { end: false });
        stdout.once('end', () => {
          exited.then((code) => {
            if (code === 0) out.end();
            else out.destroy(classifyStream(code, stderr(), name));
          }, (err: Error) => out.destroy(err));
        });
        out.once('close', () => {
          if (child.exitCode === null) child.kill('SIGKILL');
        });
        return out as Readable;
      });
    },

    async list(prefix, o = {}) {
      checkPrefix(prefix);
      const slash = prefix.lastIndexOf('/');
      const folder = slash < 0 ? '' : prefix.slice(0, slash);
      return call(o, async () => {
        const r = await run(['lsjson', '--files-only', '--no-modtime', '--no-mimetype', folder ? at(folder) : base], o);
        if (r.code !== 0) {
          if (classify(r.code, r.stderr, `list ${prefix}`) !== 'notfound' || !folder) fail(r, `list ${prefix}`);
          await requireBase(o);
          return [];
        }
        if (!folder) baseSeen = true;
        let entries: unknown;
        try {
          entries = JSON.parse(r.stdout.toString('utf8'));
        } catch {
          throw new ElohimError('HOST_IO', 'rclone lsjson printed something that is not JSON');
        }
        if (!Array.isArray(entries)) throw new ElohimError('HOST_IO', 'rclone lsjson printed something that is not a list');
        const out: { name: string; size: number }[] = [];
        for (const e of entries as { Path?: unknown; Size?: unknown; IsDir?: unknown }[]) {
          if (typeof e?.Path !== 'string' || e.IsDir === true) continue;
          const name = folder ? `${folder}/${e.Path}` : e.Path;
          if (!name.startsWith(prefix) || TEMP.test(name) || !/^[0-9a-z.-]+(\/[0-9a-z.-]+)?$/.test(name)) continue;
          out.push({ name, size: typeof e.Size === 'number' && e.Size > 0 ? e.Size : 0 });
        }
        return out;
      });
    },

    async delete(name, o = {}) {
      checkName(name);
      return call(o, async () => {
        const r = await run(['deletefile', at(name)], o);
        if (r.code === 0) return;
        if (classify(r.code, r.stderr, `delete ${name}`) !== 'notfound') fail(r, `delete ${name}`);
        await requireBase(o);
      });
    },
  };

  function classifyStream(code: number | null, stderr: string, name: string): Error {
    const f = classify(code, stderr, `read ${name}`);
    return f === 'notfound' ? new TargetError('missing', `${name} is not in the backup`) : f;
  }
}
