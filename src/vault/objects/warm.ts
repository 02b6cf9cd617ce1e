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
 * and WARM_AHEAD_BYTES ahead of the reader (what it reads ahead sits in the page cache, not in
 * this process), skips files over `maxBytes` (a big object is read by ranged asynchronous reads
 * anyway) and those the reader has passed. It is advice: a file it cannot open or read is
 * skipped, a worker that fails changes nothing but speed, and the reader never waits for it.
 *
 * The worker costs ~18 MiB of RSS (a bare Node worker, whatever its resource limits), which a
 * first backup's peak cannot spare (it would pass restic's), so it starts only when the reader's
 * own reads show they wait for the disk (`readTook`, createWarmer says when); with the files in
 * the page cache nothing runs.
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
  /** A synchronous read of `bytes` of one of the files took `ms`: reads that wait start the worker. */
  readTook(ms: number, bytes: number): void;
  /** Stops the worker; the warmer does nothing afterwards. */
  close(): void;
}

/**
 * Bytes read ahead of the reader at most (by default), whatever `lead` allows: files near
 * `maxBytes` would otherwise put `lead` times that in the page cache ahead of their reader, where
 * a device short of memory may drop them again before they are read.
 */
export const WARM_AHEAD_BYTES = 64 * 1024 * 1024;

/**
 * Whether a synchronous read of `bytes` that took `ms` waited for the disk: longer than a read of
 * that size from the page cache takes (~20 us for a few KiB here, and a copy of ~0.5 ms a MiB;
 * a cold read of 4 KiB from this machine's disk took 80-200 us, half of them over 118).
 */
export function readWaited(ms: number, bytes: number): boolean {
  return ms > 0.05 + bytes / 2e6;
}

/** Reads looked at together, and how many of them must have waited, to start the worker. */
const WINDOW_READS = 32;
const WINDOW_WAITED = 16;
/**
 * One read this long starts the worker by itself: a few files paged out among cached ones (this
 * machine's DAMON pages out cold page cache) wait like this behind another writer's writeback
 * (36, 39 and 63 ms before the 0.99 s one in bench:sync's sender), while a read from the page
 * cache on a loaded machine was seen at 8 ms at most (a thread descheduled meanwhile).
 */
const WAITED_LONG_MS = 20;

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
const { port, lead, maxBytes, aheadBytes } = workerData;
const buffer = Buffer.allocUnsafe(64 * 1024);
const open = (path) => {
  try {
    return openSync(path, constants.O_RDONLY | constants.O_NOATIME);
  } catch (err) {
    if (err.code !== 'EPERM') throw err;
    return openSync(path, constants.O_RDONLY);
  }
};
// The bytes read, 0 for a place with nothing read.
const warm = (path) => {
  if (path === null) return 0;
  let fd;
  try {
    fd = open(path);
  } catch {
    return 0;
  }
  let read = 0;
  try {
    if (fstatSync(fd).size > maxBytes) return 0;
    for (let n; (n = readSync(fd, buffer, 0, buffer.length, null)) > 0; ) read += n;
  } catch {
  } finally {
    closeSync(fd);
  }
  return read;
};
let queue = [];
let head = 0; // index in queue of the next file to warm
let base = workerData.base; // the place of queue[0]
// What was read and the reader has not taken yet: [place, bytes] in order, and their sum.
const unread = [];
let unreadAt = 0;
let ahead = 0;
for (;;) {
  const signal = Atomics.load(ctrl, ${SIGNAL});
  if (Atomics.load(ctrl, ${STOP}) !== 0) break;
  for (let m; (m = receiveMessageOnPort(port)) !== undefined; ) for (const p of m.message) queue.push(p);
  const reached = Atomics.load(ctrl, ${REACHED});
  if (base + head < reached) head = Math.min(queue.length, reached - base);
  while (unreadAt < unread.length && unread[unreadAt][0] < reached) ahead -= unread[unreadAt++][1];
  if (unreadAt >= 4096) {
    unread.splice(0, unreadAt);
    unreadAt = 0;
  }
  if (head < queue.length && base + head < reached + lead && ahead < aheadBytes) {
    const place = base + head;
    const bytes = warm(queue[head++]);
    if (bytes > 0) {
      unread.push([place, bytes]);
      ahead += bytes;
    }
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
 * Its worker (~18 MiB, ~30 ms to start) starts only once the reader's reads show they wait for
 * the disk (`readTook`: at least 16 of 32 in a row by `readWaited`, or one of 20 ms or more):
 * with the files in the page cache it costs nothing. Until then, and after `close`, nothing
 * runs. `lead`: files read ahead of the reader at most, and `aheadBytes` bytes (WARM_AHEAD_BYTES
 * unless given); `maxBytes`: larger files are not read.
 */
export function createWarmer(opts: { lead: number; maxBytes: number; aheadBytes?: number }): Warmer {
  const ctrl = new Int32Array(new SharedArrayBuffer(3 * 4));
  // How often the reader's progress wakes a waiting worker: every 16 files at most (the byte
  // limit may hold the worker a few files ahead), or an eighth of the lead.
  const step = Math.max(1, Math.min(16, Math.floor(opts.lead / 8)));
  /** what was added and not yet pulled, in order */
  const sources: Iterator<string | null>[] = [];
  /** places pulled (handed to the worker, or passed by before it started) */
  let pulled = 0;
  let reached = 0;
  let port: MessagePort | null = null;
  let worker: Worker | null = null;
  let closed = false;
  let reads = 0;
  let waited = 0;
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
  /** Hands the worker what it may read next: places up to twice `lead` ahead of the reader. */
  const feed = () => {
    if (closed || port === null) return;
    if (pulled - reached < opts.lead) {
      const more = pull(reached + 2 * opts.lead - pulled);
      if (more.length > 0) port.postMessage(more);
    }
    signal();
  };
  const start = () => {
    // Places the reader has passed already are not handed over.
    while (pulled < reached && sources.length > 0) pull(Math.min(4096, reached - pulled));
    const channel = new MessageChannel();
    worker = new Worker(WORKER_SOURCE, {
      eval: true,
      workerData: { ctrl: ctrl.buffer, port: channel.port2, base: pulled, lead: opts.lead, maxBytes: opts.maxBytes, aheadBytes: opts.aheadBytes ?? WARM_AHEAD_BYTES },
      transferList: [channel.port2],
    });
    // Advice only: a worker that fails leaves the reader reading as it would without it.
    worker.on('error', () => {});
    worker.unref();
    port = channel.port1;
    channel.port1.unref();
    feed();
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
      // The worker waits only once ahead by its limits: a wake per `step` files, not one per file.
      if (worker !== null && reached % step === 0) feed();
    },
    readTook(ms, bytes) {
      if (worker !== null || closed) return;
      reads++;
      if (readWaited(ms, bytes)) waited++;
      if (waited >= WINDOW_WAITED || ms >= WAITED_LONG_MS) start();
      else if (reads >= WINDOW_READS) reads = waited = 0;
    },
    close() {
      if (closed) return;
      closed = true;
      sources.length = 0;
      Atomics.store(ctrl, STOP, 1);
      signal();
      port?.close();
      void worker?.terminate();
    },
  };
}
