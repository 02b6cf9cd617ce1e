import { createHash } from 'node:crypto';
import { Worker } from 'node:worker_threads';

/** An incremental SHA-256 whose `update` may wait (for room in the worker's ring). */
export interface Hasher {
  update(data: Uint8Array): Promise<void> | void;
  /** The hex digest; the hasher cannot be used afterwards. */
  digest(): Promise<string>;
  /** Releases the hasher without a digest (after an error); every hasher ends in one of the two. */
  destroy(): void;
}

/** Below this many bytes a worker costs more to start (~30 ms) than it saves. */
export const WORKER_HASH_MIN = 16 << 20;
const SLOT_SIZE = 1 << 20;
const SLOTS = 4;

/** SHA-256 on the calling thread. */
export function createLocalHasher(): Hasher {
  const hash = createHash('sha256');
  return {
    update(data) {
      hash.update(data);
    },
    async digest() {
      return hash.digest('hex');
    },
    destroy() {},
  };
}

/**
 * Hands out hashers: a worker thread for big inputs (or of unknown size) while fewer than
 * `maxWorkers` are busy, else hashing on the caller's thread. Each worker costs ~15 MiB, so a
 * server with twenty uploads at once must not start twenty (measured: +13 MiB per upload).
 * With two cores, more than two hashing threads gain nothing anyway. A `longLived` hasher (a
 * resumable upload's, kept between its requests for as long as a day) always hashes on the
 * caller's thread: a worker parked that long would hold its memory and its place in the pool.
 */
export function createHasherPool(opts: { maxWorkers: number }) {
  let busy = 0;
  return {
    create(size: number | undefined, use: { longLived?: boolean } = {}): Hasher {
      if (use.longLived === true || (size ?? Infinity) < WORKER_HASH_MIN || busy >= opts.maxWorkers) return createLocalHasher();
      busy++;
      const inner = createWorkerHasher();
      let released = false;
      const release = () => {
        if (!released) busy--;
        released = true;
      };
      return {
        update: (data) => inner.update(data),
        async digest() {
          try {
            return await inner.digest();
          } finally {
            release();
          }
        },
        destroy() {
          release();
          inner.destroy();
        },
      };
    },
  };
}

export type HasherPool = ReturnType<typeof createHasherPool>;

// The worker's code, in plain JavaScript: a .ts worker would load Node's TypeScript stripper
// into a second isolate, which costs 18 MiB more RSS (measured). It hashes slots of the shared
// ring in place and allocates nothing per slot.
//
// The two threads talk through Atomics on a shared control array, not postMessage: under load
// on two cores (a server taking an upload while the client sends it) each postMessage cost
// ~0.4 ms of the sender's time, contending for the port's lock with a descheduled worker
// (measured: 1.3 s of a 1 GiB upload and two downloads). A futex wake costs a syscall.
//
// ctrl: [PRODUCED] slots filled, [CONSUMED] slots hashed, [STATE] 0 run / 1 finish / 2 abort,
//       [SIGNAL] bumped by the producer on every change, so a wake between the worker's check
//       and its wait is never lost (it waits on the value it read before checking).
const PRODUCED = 0;
const CONSUMED = 1;
const STATE = 2;
const SIGNAL = 3;
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const { slotSize, slots } = workerData;
const ctrl = new Int32Array(workerData.ctrl);
const lengths = new Int32Array(workerData.lengths);
const bytes = new Uint8Array(workerData.ring);
const hash = createHash('sha256');
let consumed = 0;
for (;;) {
  const signal = Atomics.load(ctrl, ${SIGNAL});
  if (consumed < Atomics.load(ctrl, ${PRODUCED})) {
    const slot = consumed % slots;
    hash.update(bytes.subarray(slot * slotSize, slot * slotSize + lengths[slot]));
    consumed++;
    Atomics.store(ctrl, ${CONSUMED}, consumed);
    Atomics.notify(ctrl, ${CONSUMED});
    continue;
  }
  const state = Atomics.load(ctrl, ${STATE});
  if (state === 2) break;
  if (state === 1) { parentPort.postMessage(hash.digest('hex')); break; }
  Atomics.wait(ctrl, ${SIGNAL}, signal);
}
`;

/**
 * SHA-256 on a worker thread, fed through a ring of shared 1 MiB slots: the caller copies each
 * piece in (a memcpy) and goes on with the cipher while the worker hashes. On two cores this
 * takes hashing, about a third of the CPU time of putting or getting a big file, off the
 * thread that encrypts.
 */
export function createWorkerHasher(): Hasher {
  const ring = new SharedArrayBuffer(SLOT_SIZE * SLOTS);
  const bytes = new Uint8Array(ring);
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * 4));
  const lengths = new Int32Array(new SharedArrayBuffer(4 * SLOTS));
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring, ctrl: ctrl.buffer, lengths: lengths.buffer, slotSize: SLOT_SIZE, slots: SLOTS } });
  // Settles only if the worker fails or exits early, so every wait below can race it.
  const failed = new Promise<never>((_, reject) => {
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`the hashing worker stopped (exit code ${code})`)));
  });
  failed.catch(() => {});
  const digest = new Promise<string>((resolve) => worker.once('message', resolve));
  let produced = 0;
  let fill = 0;
  const signal = () => {
    Atomics.add(ctrl, SIGNAL, 1);
    Atomics.notify(ctrl, SIGNAL);
  };
  // Pieces are gathered into the current slot and handed over when it is full, so a stream of
  // 64 KiB chunks costs one hand-over per MiB, not one per chunk.
  const send = () => {
    if (fill === 0) return;
    lengths[produced % SLOTS] = fill;
    produced++;
    Atomics.store(ctrl, PRODUCED, produced);
    signal();
    fill = 0;
  };
  const roomForSlot = async () => {
    for (;;) {
      const consumed = Atomics.load(ctrl, CONSUMED);
      if (produced - consumed < SLOTS) return;
      const wait = Atomics.waitAsync(ctrl, CONSUMED, consumed);
      if (wait.async) await Promise.race([wait.value, failed]);
    }
  };
  return {
    async update(data) {
      let off = 0;
      while (off < data.length) {
        if (fill === 0) await roomForSlot();
        const slot = produced % SLOTS;
        const n = Math.min(SLOT_SIZE - fill, data.length - off);
        bytes.set(data.subarray(off, off + n), slot * SLOT_SIZE + fill);
        fill += n;
        off += n;
        if (fill === SLOT_SIZE) send();
      }
    },
    async digest() {
      try {
        send();
        // The worker hashes every slot handed over before it sees the finish state.
        Atomics.store(ctrl, STATE, 1);
        signal();
        return await Promise.race([digest, failed]);
      } finally {
        await worker.terminate();
      }
    },
    destroy() {
      Atomics.store(ctrl, STATE, 2);
      signal();
      void worker.terminate();
    },
  };
}
