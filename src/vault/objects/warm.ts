/**
 * Reading files into the page cache ahead of a reader that reads them synchronously.
 *
 * A small object is read on the main thread in one open, read and close (`readNow`, ciphertext.ts:
 * the libuv pool's round trips cost more than the read). That is cheap only while the object's
 * bytes are in the page cache. Where they are not (after a reboot, or once the kernel has paged
 * them out as cold), each read waits for the disk, and the whole event loop waits with it. In
 * bench:sync the sending device's main thread sat 0.99 s and then 0.44 s in one `pread` of a small
 * object (its stack: `filemap_read` waiting on a page being read in), behind the receiving
 * device's writeback of 1 GiB on the same disk, and the receiver idled as long.
 *
 * So a worker thread reads the files the reader will read next, in the same order, into one
 * reused buffer whose bytes it drops: a file that has to come from disk is waited for on the
 * worker, while the main thread goes on with the files before it. It stays at most `lead` files
 * ahead of the reader (what it reads ahead sits in the page cache, not in this process), skips
 * files over `maxBytes` (a big object is read by ranged asynchronous reads anyway) and those the
 * reader has passed. It is advice: a file it cannot open or read is skipped, a worker that fails
 * changes nothing but speed, and the reader never waits for it.
 *
 * Opened with O_NOATIME as every read of a stored object is (read-open.ts says why).
 */
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';

export interface Warmer {
  /**
   * Files the reader will read next, in its order, after those added before (null: a place the
   * reader takes, nothing to read). Pulled only as the worker needs them, at most twice `lead`
   * ahead of the reader: a want list of a million objects is not copied into paths.
   */
  add(paths: Iterable<string | null>): void;
  /** The reader has taken the next file of what was added (read it, or passed it by). */
  next(): void;
  /** Stops the worker; the warmer does nothing afterwards. */
  close(): void;
}

/** Below this many files a worker costs more to start (~30 ms, ~10 MiB) than waits it may save. */
export const WARM_MIN_FILES = 256;

// ctrl: [REACHED] files the reader has taken, [SIGNAL] bumped on every change the worker must
// see (so a wake between its check and its wait is never lost), [STOP] 1 once closed.
const REACHED = 0;
const SIGNAL = 1;
const STOP = 2;

// Plain JavaScript, as the hashing worker's (crypto/hasher.ts): a .ts worker would load Node's
// TypeScript stripper into a second isolate (+18 MiB RSS, measured there).
const WORKER_SOURCE = `
const { workerData, receiveMessageOnPort } = require('node:worker_threads');
const { openSync, readSync, closeSync, fstatSync, constants } = require('node:fs');
const ctrl = new Int32Array(workerData.ctrl);
const { port, lead, maxBytes } = workerData;
const buffer = Buffer.allocUnsafe(64 * 1024);
const open = (path) => {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NOATIME);
  } catch (err) {
    if (err.code !== 'EPERM') throw err;
    return openSync(path, constants.O_RDONLY);
  }
};
const warm = (path) => {
  if (path === null) return;
  let fd;
  try {
    fd = open(path);
  } catch {
    return;
  }
  try {
    if (fstatSync(fd).size > maxBytes) return;
    while (readSync(fd, buffer, 0, buffer.length, null) > 0);
  } catch {
  } finally {
    closeSync(fd);
  }
};
let queue = [];
let head = 0; // index in queue of the next file to warm
let base = 0; // files dropped from the front of queue
for (;;) {
  const signal = Atomics.load(ctrl, ${SIGNAL});
  if (Atomics.load(ctrl, ${STOP}) !== 0) break;
  for (let m; (m = receiveMessageOnPort(port)) !== undefined; ) for (const p of m.message) queue.push(p);
  const reached = Atomics.load(ctrl, ${REACHED});
  if (base + head < reached) head = Math.min(queue.length, reached - base);
  if (head < queue.length && base + head < reached + lead) {
    warm(queue[head++]);
    if (head >= 4096) {
      queue = queue.slice(head);
      base += head;
      head = 0;
    }
    continue;
  }
  Atomics.wait(ctrl, ${SIGNAL}, signal);
}
port.close();
`;

/**
 * A warmer for a reader that reads files in the order they are added (see the top of this file).
 * The worker starts once WARM_MIN_FILES have been added; until then, and after `close`, nothing
 * runs. `lead`: files read ahead of the reader at most; `maxBytes`: larger files are not read.
 */
export function createWarmer(opts: { lead: number; maxBytes: number }): Warmer {
  const ctrl = new Int32Array(new SharedArrayBuffer(3 * 4));
  const step = Math.max(1, Math.floor(opts.lead / 8));
  /** what was added and not yet pulled, in order */
  const sources: Iterator<string | null>[] = [];
  /** places pulled (handed to the worker, or held until it starts) */
  let pulled = 0;
  let pending: (string | null)[] | null = [];
  let reached = 0;
  let port: MessagePort | null = null;
  let worker: Worker | null = null;
  let closed = false;
  const signal = () => {
    Atomics.add(ctrl, SIGNAL, 1);
    Atomics.notify(ctrl, SIGNAL);
  };
  /** Up to `limit` more places, pulled from what was added. */
  const pull = (limit: number): (string | null)[] => {
    const out: (string | null)[] = [];
    while (out.length < limit && sources.length > 0) {
      const r = sources[0]!.next();
      if (r.done === true) sources.shift();
      else out.push(r.value);
    }
    pulled += out.length;
    return out;
  };
  const start = (paths: (string | null)[]) => {
    const channel = new MessageChannel();
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ctrl: ctrl.buffer, port: channel.port2, lead: opts.lead, maxBytes: opts.maxBytes },
      transferList: [channel.port2],
    });
    // Advice only: a worker that fails leaves the reader reading as it would without it.
    worker.on('error', () => {});
    worker.unref();
    port = channel.port1;
    channel.port1.unref();
    channel.port1.postMessage(paths);
  };
  /** Hands the worker what it may read next: places up to twice `lead` ahead of the reader. */
  const feed = () => {
    if (closed) return;
    if (pending !== null) {
      pending.push(...pull(WARM_MIN_FILES - pending.length));
      if (pending.length < WARM_MIN_FILES) return;
      const first = pending;
      pending = null;
      start(first);
    }
    if (pulled - reached < opts.lead) {
      const more = pull(reached + 2 * opts.lead - pulled);
      if (more.length > 0) port!.postMessage(more);
    }
    signal();
  };
  return {
    add(paths) {
      if (closed) return;
      sources.push(paths[Symbol.iterator]());
      feed();
    },
    next() {
      reached++;
      Atomics.store(ctrl, REACHED, reached);
      // The worker waits only once `lead` ahead: a wake per `lead / 8` files, not one per file.
      if (worker !== null && reached % step === 0) feed();
    },
    close() {
      if (closed) return;
      closed = true;
      pending = null;
      sources.length = 0;
      Atomics.store(ctrl, STOP, 1);
      signal();
      port?.close();
      void worker?.terminate();
    },
  };
}
