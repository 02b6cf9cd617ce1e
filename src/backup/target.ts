/**
 * A backup target: a flat store of named byte strings (a folder on a USB drive, an S3 bucket,
 * later WebDAV and rclone remotes). Every target passes the same compliance suite
 * (test/backup-targets.test.ts). The repository format decides the names; a target only keeps
 * bytes, and only ever sees ciphertext or bytes that are opaque on the device too.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Readable } from 'node:stream';
import { ElohimError } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';

/**
 * A body to upload: bytes in memory, or a stream that can be opened again for a retry. `owned`:
 * every `open()` gives fresh buffers that nobody else holds (a retry reads again, never re-sends
 * an earlier attempt's), so the target may free each chunk as soon as it has written it. A folder
 * target does: a backup's 1 MiB read chunks otherwise wait for V8's next full collection, which
 * was ~60 MiB of bench:backup's peak RSS (first backup 200 -> 140 MiB, restic's 137-143).
 */
export type Body = Uint8Array | { size: number; open: () => Promise<Readable>; owned?: boolean };

export interface CallOptions {
  signal?: AbortSignal;
}

export interface Target {
  /** Where it is, for people (never credentials). */
  readonly description: string;
  /** Throws TargetError('missing') when the folder or bucket does not exist, 'auth' for wrong credentials. */
  check(opts?: CallOptions): Promise<void>;
  /** Writes `name` whole, replacing it; a reader sees the old bytes or the new, never a part. */
  put(name: string, body: Body, opts?: CallOptions): Promise<void>;
  /** The bytes of `name` (or [start, end) of them); null when there is no such name. */
  get(name: string, opts?: CallOptions & { range?: { start: number; end: number } }): Promise<Buffer | null>;
  /** The bytes of `name` as a stream (for big objects). Throws TargetError('missing') when absent. */
  read(name: string, opts?: CallOptions & { range?: { start: number; end: number } }): Promise<Readable>;
  /**
   * Copies `name` whole into `dest`, a new file on this machine (replaced if it exists), without
   * its bytes passing through this process: for a target that is itself a folder here, where the
   * kernel copies. Optional: the other targets stream with `read`. Throws TargetError('missing')
   * when `name` is absent. The caller checks what it copied (restore.ts: batch.take).
   */
  copyTo?(name: string, dest: string, opts?: CallOptions): Promise<void>;
  /** Every name starting with `prefix`, with its size, in no particular order. */
  list(prefix: string, opts?: CallOptions): Promise<{ name: string; size: number }[]>;
  /** Removes `name`; removing a missing name is not an error. */
  delete(name: string, opts?: CallOptions): Promise<void>;
}

/**
 * Why a target call failed:
 * - missing: the folder or bucket is not there (a USB drive not mounted, a bucket mistyped);
 * - auth: wrong credentials or no permission;
 * - full: no space left;
 * - unreachable: the server did not answer (after retries);
 * - transient: a failure worth retrying (a 5xx, a reset connection); retried with backoff.
 */
export type TargetFailure = 'missing' | 'auth' | 'full' | 'unreachable' | 'transient';

const CODE_OF: Record<TargetFailure, ErrorCode> = {
  missing: 'HOST_FILE_NOT_FOUND',
  auth: 'HOST_IO',
  full: 'DISK_FULL',
  unreachable: 'HOST_IO',
  transient: 'HOST_IO',
};

/**
 * A target call that failed, with `reason` for the faces. The codes are existing ones until the
 * registry gets backup codes of its own (src/errors.ts is not ours): the reason says which.
 */
export class TargetError extends ElohimError {
  readonly reason: TargetFailure;

  constructor(reason: TargetFailure, message: string, options?: ErrorOptions) {
    super(CODE_OF[reason], message, options);
    this.name = 'TargetError';
    this.reason = reason;
  }
}

export function isTargetError(err: unknown, reason?: TargetFailure): err is TargetError {
  return err instanceof TargetError && (reason === undefined || err.reason === reason);
}

export interface RetryPolicy {
  attempts: number;
  /** first delay; doubles each time, with full jitter */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 200, maxMs: 5000 };

/**
 * Runs `fn`, retrying transient failures with exponential backoff and full jitter (AWS's
 * "Exponential Backoff and Jitter"), and unreachable ones too (a server restarting). Anything
 * else (missing, auth, full, a bug) is thrown at once. Stops at once when `signal` aborts.
 */
export async function withRetry<T>(fn: () => Promise<T>, opts: { signal?: AbortSignal; policy?: RetryPolicy } = {}): Promise<T> {
  const policy = opts.policy ?? DEFAULT_RETRY;
  for (let attempt = 1; ; attempt++) {
    opts.signal?.throwIfAborted();
    try {
      return await fn();
    } catch (err) {
      opts.signal?.throwIfAborted();
      const retriable = isTargetError(err, 'transient') || isTargetError(err, 'unreachable');
      if (!retriable || attempt >= policy.attempts) throw err;
      const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** (attempt - 1));
      // timers/promises rejects an aborted sleep with an AbortError; callers expect the reason.
      await sleep(Math.random() * ceiling, undefined, { signal: opts.signal }).catch((err: unknown) => {
        opts.signal?.throwIfAborted();
        throw err;
      });
    }
  }
}

/** Checks a target name: flat segments of [0-9a-z.-], at most one folder deep (what every target can store). */
export function checkName(name: string): void {
  if (!/^[0-9a-z.-]+(\/[0-9a-z.-]+)?$/.test(name) || name.split('/').some((s) => s.startsWith('.'))) {
    throw new ElohimError('INVALID_INPUT', `not a valid backup file name: ${JSON.stringify(name)}`);
  }
}

/**
 * Checks a `list` prefix: a folder of the repository alphabet (or none) and the start of a name,
 * so `list('../')` cannot walk out of the target (found by the compliance suite on the folder
 * target, which joined it to its root). Throws INVALID_INPUT.
 */
export function checkPrefix(prefix: string): void {
  const slash = prefix.lastIndexOf('/');
  if (slash >= 0) {
    // A folder of the repository: one segment (names are at most one folder deep).
    const folder = prefix.slice(0, slash);
    if (folder.includes('/')) throw new ElohimError('INVALID_INPUT', `not a valid backup file prefix: ${JSON.stringify(prefix)}`);
    checkName(folder);
  }
  const rest = prefix.slice(slash + 1);
  if (rest !== '' && (!/^[0-9a-z.-]+$/.test(rest) || rest.startsWith('.'))) {
    throw new ElohimError('INVALID_INPUT', `not a valid backup file prefix: ${JSON.stringify(prefix)}`);
  }
}
