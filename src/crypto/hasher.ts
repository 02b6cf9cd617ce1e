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
 * With two cores, more than two hashing threads gain nothing anyway.
 */
export function createHasherPool(opts: { maxWorkers: number }) {
  let busy = 0;
  return {
    create(size: number | undefined): Hasher {
      if ((size ?? Infinity) < WORKER_HASH_MIN || busy >= opts.maxWorkers) return createLocalHasher();
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
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { createHash } = require('node:crypto');
const ring = new Uint8Array(workerData.ring);
let hash = createHash('sha256');
parentPort.on('message', (m) => {
  if (m.digest) { parentPort.postMessage({ digest: hash.digest('hex') }); return; }
  hash.update(ring.subarray(m.slot * workerData.slotSize, m.slot * workerData.slotSize + m.length));
  parentPort.postMessage({ freed: m.slot });
});
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
  const worker = new Worker(WORKER_SOURCE, { eval: true, workerData: { ring, slotSize: SLOT_SIZE } });
  const free: number[] = Array.from({ length: SLOTS }, (_, i) => i);
  let wake: (() => void) | null = null;
  let digested: ((hex: string) => void) | null = null;
  let failure: Error | null = null;
  worker.on('message', (reply: { freed: number } | { digest: string }) => {
    if ('freed' in reply) free.push(reply.freed);
    else digested?.(reply.digest);
    wake?.();
    wake = null;
  });
  worker.on('error', (err) => {
    failure = err;
    wake?.();
  });
  const nextFree = async (): Promise<number> => {
    while (free.length === 0 && failure === null) await new Promise<void>((resolve) => (wake = resolve));
    if (failure) throw failure;
    return free.shift()!;
  };
  // Pieces are gathered into the current slot and sent when it is full, so a stream of 64 KiB
  // chunks costs one message per MiB, not one per chunk.
  let slot = -1;
  let fill = 0;
  const send = () => {
    if (slot < 0) return;
    worker.postMessage({ slot, length: fill });
    slot = -1;
    fill = 0;
  };
  return {
    async update(data) {
      let off = 0;
      while (off < data.length) {
        if (slot < 0) slot = await nextFree();
        const n = Math.min(SLOT_SIZE - fill, data.length - off);
        bytes.set(data.subarray(off, off + n), slot * SLOT_SIZE + fill);
        fill += n;
        off += n;
        if (fill === SLOT_SIZE) send();
      }
    },
    async digest() {
      try {
        if (failure) throw failure;
        send();
        // The worker handles messages in order, so the digest covers every slot sent before it.
        return await new Promise<string>((resolve, reject) => {
          digested = resolve;
          worker.once('error', reject);
          worker.postMessage({ digest: true });
        });
      } finally {
        await worker.terminate();
      }
    },
    destroy() {
      void worker.terminate();
    },
  };
}
