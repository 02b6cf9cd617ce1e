/**
 * The STREAM check of received objects on a worker thread: an object's stored bytes (its 16-byte
 * nonce, then the age payload) are authenticated chunk by chunk under its file key, and the
 * plaintext hashed (SHA-256, for adopt), off the thread that reads the network. A mesh receiver's
 * main thread spent most of a big transfer in this check (ChaCha20-Poly1305 of each 64 KiB chunk
 * and SHA-256 of its plaintext), reading nothing meanwhile.
 *
 * As the hash worker (hasher.ts), the threads share a ring and talk through Atomics, not
 * postMessage (~0.4 ms per message under load on two cores, measured there). The caller's bytes
 * are copied into the ring, and `bytes` of what `feed` returns is that copy: the caller writes
 * THAT to disk, so what is kept is exactly what the worker checked, whatever becomes of the
 * caller's buffer after the hand-off. A record's room in the ring is reused only once the worker
 * has checked it and the caller has released it (written it).
 *
 * Plaintext exists only in the worker, one 64 KiB chunk at a time, and its memory is detached
 * (freed) as soon as it is hashed. A file key is copied into the shared memory for the worker to
 * take, and wiped there once taken.
 *
 * The worker's failure (an exception, an exit) fails every check in flight and every later one
 * (INTERNAL); nothing waits forever on a dead worker.
 *
 * Over ~300 lines: the worker's source (a string, see below) and this thread's side are one
 * protocol (the ring's records, the control words, the status codes and their words), which a
 * split would have to define twice.
 */
import { Worker } from 'node:worker_threads';
import type { FileKey } from './age/index.ts';
import { ElohimError } from '../errors.ts';

/** Ring of bytes handed to the worker: room for a few 1 MiB chunks ahead of it (it bounds how far past a bad chunk the receiver reads before it refuses the object). */
const RING = 4 << 20;
/** Records (begin, data, end) the worker may be behind by. */
const DESCS = 4096;
/** Checks open at once (a session's big object, and the small ones of a few packs). */
const JOBS = 1024;

// ctrl: [PRODUCED] records handed over, [CONSUMED] records done, [SIGNAL] bumped on every hand-over
// (so a wake between the worker's check and its wait is never lost), [STATE] 0 run / 2 stop,
// [ASLEEP] 1 while the worker waits (or is about to): only then does a hand-over wake it. A wake
// (a futex syscall) per 1 MiB chunk was ~0.8 s of the receiver's main thread in a profile at
// full size under load: the woken worker took the core from the thread that woke it.
const PRODUCED = 0;
const CONSUMED = 1;
const SIGNAL = 2;
const STATE = 3;
const ASLEEP = 4;
// record kinds
const BEGIN = 1;
const DATA = 2;
const END = 3;
// status per job: RUNNING, OK (digest written), or an error code below
const RUNNING = 0;
const OK = 1;
const INTERNAL = 9;
const MESSAGES: Record<number, string> = {
  2: 'the age payload has data after its final chunk',
  3: 'the age payload is empty',
  4: 'the age payload is truncated: no final chunk',
  5: 'the age payload ends with a truncated chunk',
  6: 'the final chunk is empty, which only an empty payload may have',
  7: 'an age payload chunk failed authentication',
  8: 'the received object is shorter than its nonce',
};

// The worker's code, in plain JavaScript (a .ts worker loads Node's TypeScript stripper into a
// second isolate: +18 MiB RSS, measured for the hash worker). It mirrors crypto/age/stream.ts's
// StreamOpener (the same order of tries, the same refusals), which stream-check.test.ts compares.
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { createDecipheriv, createHash, createSecretKey, hkdfSync } = require('node:crypto');
const ctrl = new Int32Array(workerData.ctrl);
const descs = new Int32Array(workerData.descs);
const ring = new Uint8Array(workerData.ring);
const status = new Int32Array(workerData.status);
const digests = new Uint8Array(workerData.digests);
const keys = new Uint8Array(workerData.keys);
const DESCS = workerData.descsCount;
const CHUNK = 65536 + 16;
const jobs = new Map();
class Refused extends Error { constructor(code) { super('refused'); this.code = code; } }
const nonceOf = (counter, final) => { const n = Buffer.alloc(12); n.writeUIntBE(counter, 5, 6); n[11] = final ? 1 : 0; return n; };
function openChunk(s, final, chunk) {
  if (chunk.length < 16) return null;
  const d = createDecipheriv('chacha20-poly1305', s.key, nonceOf(s.counter, final), { authTagLength: 16 });
  d.setAuthTag(chunk.subarray(chunk.length - 16));
  const pt = d.update(chunk.subarray(0, chunk.length - 16));
  try { d.final(); } catch (err) {
    if (err instanceof Error && err.message === 'Unsupported state or unable to authenticate data') { pt.fill(0); return null; }
    throw err;
  }
  return pt;
}
function emit(s, pt) {
  s.hash.update(pt);
  if (pt.length > 0) pt.buffer.transfer(0);
}
function openFull(s, chunk) {
  let pt = openChunk(s, false, chunk);
  if (pt === null) {
    pt = openChunk(s, true, chunk);
    if (pt === null) throw new Refused(7);
    s.done = true;
  }
  s.counter++;
  emit(s, pt);
}
function feed(s, data) {
  let off = 0;
  if (s.key === null) {
    const n = Math.min(16 - s.nonceFill, data.length);
    s.nonce.set(data.subarray(0, n), s.nonceFill);
    s.nonceFill += n;
    off = n;
    if (s.nonceFill < 16) return;
    const k = Buffer.from(hkdfSync('sha256', s.fileKey, s.nonce, 'payload', 32));
    s.key = createSecretKey(k);
    k.fill(0);
    s.fileKey.fill(0);
  }
  while (off < data.length) {
    if (s.done) throw new Refused(2);
    if (s.staging === 0 && data.length - off >= CHUNK) { openFull(s, data.subarray(off, off + CHUNK)); off += CHUNK; continue; }
    const n = Math.min(CHUNK - s.staging, data.length - off);
    s.staged.set(data.subarray(off, off + n), s.staging);
    s.staging += n;
    off += n;
    if (s.staging === CHUNK) { openFull(s, s.staged); s.staging = 0; }
  }
}
function finish(s) {
  if (s.key === null) throw new Refused(8);
  if (s.done) return;
  const n = s.staging;
  if (n === 0) throw new Refused(s.counter === 0 ? 3 : 4);
  if (n < 16) throw new Refused(5);
  if (n === 16 && s.counter > 0) throw new Refused(6);
  const pt = openChunk(s, true, s.staged.subarray(0, n));
  if (pt === null) throw new Refused(7);
  s.done = true;
  emit(s, pt);
}
const codeOf = (err) => (err instanceof Refused ? err.code : ${INTERNAL});
function handle(kind, job, bytes) {
  if (kind === ${BEGIN}) {
    const fileKey = Buffer.from(keys.subarray(job * 16, job * 16 + 16));
    keys.fill(0, job * 16, job * 16 + 16);
    jobs.set(job, { fileKey, nonce: Buffer.alloc(16), nonceFill: 0, key: null, staged: Buffer.allocUnsafe(CHUNK), staging: 0, counter: 0, done: false, hash: createHash('sha256'), failed: false });
    return;
  }
  const s = jobs.get(job);
  if (s === undefined) return;
  if (kind === ${DATA}) {
    if (s.failed) return;
    try { feed(s, bytes); } catch (err) { s.failed = true; Atomics.store(status, job, codeOf(err)); }
    return;
  }
  jobs.delete(job);
  s.fileKey.fill(0);
  if (!s.failed) {
    try {
      finish(s);
      digests.set(s.hash.digest(), job * 32);
      Atomics.store(status, job, ${OK});
    } catch (err) { Atomics.store(status, job, codeOf(err)); }
  }
  s.staged.fill(0);
}
let consumed = 0;
for (;;) {
  const signal = Atomics.load(ctrl, ${SIGNAL});
  if (consumed < Atomics.load(ctrl, ${PRODUCED})) {
    const d = (consumed % DESCS) * 4;
    handle(descs[d], descs[d + 1], ring.subarray(descs[d + 2], descs[d + 2] + descs[d + 3]));
    consumed++;
    Atomics.store(ctrl, ${CONSUMED}, consumed);
    Atomics.notify(ctrl, ${CONSUMED});
    continue;
  }
  if (Atomics.load(ctrl, ${STATE}) === 2) break;
  // Said before the last look: a hand-over after it sees ASLEEP and wakes this thread; one
  // before it is seen by that look. (All Atomics are sequentially consistent.)
  Atomics.store(ctrl, ${ASLEEP}, 1);
  if (consumed < Atomics.load(ctrl, ${PRODUCED}) || Atomics.load(ctrl, ${STATE}) === 2) { Atomics.store(ctrl, ${ASLEEP}, 0); continue; }
  Atomics.wait(ctrl, ${SIGNAL}, signal);
  Atomics.store(ctrl, ${ASLEEP}, 0);
}
`;

/** Bytes handed to a check: `bytes` is the checked copy to write; `release` once it is written (or not needed). */
export interface Fed {
  readonly bytes: Uint8Array;
  release(): void;
}

/** One object's check on the worker. */
export interface StreamJob {
  /**
   * Hands the next stored bytes over (copied; waits only for room in the ring). Throws
   * AGE_PAYLOAD_INVALID when bytes handed over before already failed.
   */
  feed(data: Uint8Array): Promise<Fed>;
  /** Ends the object: its plaintext SHA-256 (hex) once every byte authenticated; AGE_PAYLOAD_INVALID otherwise. */
  end(): Promise<string>;
  /** Drops the check without a result (the transfer was cut). */
  abort(): void;
}

export interface StreamCheckWorker {
  begin(fileKey: FileKey): StreamJob;
  /** false once its thread has stopped (failed, exited, closed): every check on it fails then */
  readonly alive: boolean;
  /** Stops the worker; checks in flight fail. */
  close(): Promise<void>;
}

/** For tests: sees each worker thread started (to stop it mid-check, as a crash would). */
export const streamCheckThreads: { started?: (thread: Worker) => void; latest?: Worker } = {};

let shared: StreamCheckWorker | null = null;

/**
 * The process's one STREAM check worker, started at its first use and kept (it does not keep the
 * process alive while idle); a new one when the last one stopped. One for the whole process,
 * not one per session: a worker's memory (~16 MiB) is not given back to the system when it
 * stops, and one started per sync grew a process by ~4 MiB each time (measured: 12 in turn,
 * +57 MiB). Checks of several sessions at once share it (each is a job of its own).
 */
export function sharedStreamCheckWorker(): StreamCheckWorker {
  if (shared === null || !shared.alive) {
    shared = createStreamCheckWorker();
  }
  return shared;
}

/** What a check found wrong, as the local check (StreamOpener) would say it. */
function refusal(code: number): ElohimError {
  const message = MESSAGES[code];
  return message === undefined ? new ElohimError('INTERNAL', 'the object check worker failed') : new ElohimError('AGE_PAYLOAD_INVALID', message);
}

/** Starts a worker thread for STREAM checks (~30 ms; see the top of this file). */
export function createStreamCheckWorker(): StreamCheckWorker {
  const ctrl = new Int32Array(new SharedArrayBuffer(4 * 5));
  const descs = new Int32Array(new SharedArrayBuffer(4 * 4 * DESCS));
  const ringBuf = new SharedArrayBuffer(RING);
  const ring = new Uint8Array(ringBuf);
  const status = new Int32Array(new SharedArrayBuffer(4 * JOBS));
  const digests = new Uint8Array(new SharedArrayBuffer(32 * JOBS));
  const keys = new Uint8Array(new SharedArrayBuffer(16 * JOBS));
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { ctrl: ctrl.buffer, descs: descs.buffer, ring: ringBuf, status: status.buffer, digests: digests.buffer, keys: keys.buffer, descsCount: DESCS },
    // It allocates a chunk's plaintext at a time (detached at once) and little else.
    resourceLimits: { maxYoungGenerationSizeMb: 2, maxOldGenerationSizeMb: 16 },
  });
  streamCheckThreads.started?.(worker);
  streamCheckThreads.latest = worker;
  // Not a reason for the process to stay alive, except while a check is open (a wait on the
  // worker through Atomics.waitAsync does not keep the event loop alive by itself).
  worker.unref();
  let open = 0;
  const opened = () => {
    if (open++ === 0) worker.ref();
  };
  /** close() called: it holds the worker referenced until it has stopped */
  let shut = false;
  const closed = () => {
    if (--open === 0 && !shut) worker.unref();
  };
  let dead: ElohimError | null = null;
  const died = new Promise<never>((_, reject) => {
    const stop = (why: string) => {
      dead ??= new ElohimError('INTERNAL', why);
      reject(dead);
    };
    worker.once('error', () => stop('the object check worker failed'));
    worker.once('exit', (code) => stop(`the object check worker stopped (exit code ${code})`));
  });
  died.catch(() => {});

  let produced = 0;
  /** ring bytes handed out (monotonic) and those free again (the oldest not yet released stops it) */
  let head = 0;
  let tail = 0;
  /** ring records in order: where each ends (monotonic), the record index that consumes it, released by the caller */
  const records: { end: number; index: number; released: boolean }[] = [];
  const free: number[] = Array.from({ length: JOBS }, (_, i) => JOBS - 1 - i);

  /** Resolves once the worker has consumed more records than `seen` (or it died). */
  const progress = async (seen: number) => {
    if (dead !== null) throw dead;
    const wait = Atomics.waitAsync(ctrl, CONSUMED, seen);
    if (wait.async) await Promise.race([wait.value, died]);
    if (dead !== null) throw dead;
  };
  const reclaim = () => {
    const consumed = Atomics.load(ctrl, CONSUMED);
    while (records.length > 0 && records[0]!.released && records[0]!.index < consumed) tail = records.shift()!.end;
    if (records.length === 0) tail = head;
  };
  const post = (kind: number, job: number, start: number, length: number) => {
    const d = (produced % DESCS) * 4;
    descs[d] = kind;
    descs[d + 1] = job;
    descs[d + 2] = start;
    descs[d + 3] = length;
    produced++;
    Atomics.store(ctrl, PRODUCED, produced);
    Atomics.add(ctrl, SIGNAL, 1);
    if (Atomics.load(ctrl, ASLEEP) === 1) Atomics.notify(ctrl, SIGNAL);
  };
  /**
   * Waits for room for one record and, when `n` > 0, `n` contiguous ring bytes; then reserves the
   * bytes at once (no await between the check and the reservation, so two checks feeding at the
   * same time never get the same room): their start in the ring. The caller posts the record
   * before it awaits anything.
   */
  const reserve = async (n: number): Promise<number> => {
    for (;;) {
      if (dead !== null) throw dead;
      const consumed = Atomics.load(ctrl, CONSUMED);
      reclaim();
      const at = head % RING;
      // A record never wraps: the end of the ring is skipped (counted as used until reclaimed).
      const skip = n > 0 && at + n > RING ? RING - at : 0;
      if (produced - consumed < DESCS && head + skip + n - tail <= RING) {
        if (skip > 0) {
          head += skip;
          records.push({ end: head, index: -1, released: true });
        }
        const start = head % RING;
        head += n;
        return start;
      }
      await progress(consumed);
    }
  };
  const jobFree = async (): Promise<number> => {
    for (;;) {
      if (dead !== null) throw dead;
      const job = free.pop();
      if (job !== undefined) return job;
      await progress(Atomics.load(ctrl, CONSUMED));
    }
  };

  return {
    get alive() {
      return dead === null;
    },
    begin(fileKey) {
      if (fileKey.length !== 16) throw new ElohimError('INVALID_INPUT', 'a file key must be 16 bytes');
      // The job's slot and its begin record, taken at the first feed (which may wait).
      let job = -1;
      let started: Promise<void> | null = null;
      let ended = false;
      const start = () =>
        (started ??= (async () => {
          opened();
          job = await jobFree();
          await reserve(0);
          status[job] = RUNNING;
          keys.set(fileKey, job * 16);
          post(BEGIN, job, 0, 0);
        })());
      const failedAlready = () => {
        const s = Atomics.load(status, job);
        if (s !== RUNNING && s !== OK) throw refusal(s);
      };
      return {
        async feed(data) {
          if (ended) throw new TypeError('an ended check was fed');
          await start();
          failedAlready();
          if (data.length > RING) throw new RangeError('a piece larger than the check ring');
          const at = await reserve(data.length);
          ring.set(data, at);
          const record = { end: head, index: produced, released: false };
          records.push(record);
          post(DATA, job, at, data.length);
          return {
            bytes: ring.subarray(at, at + data.length),
            release() {
              record.released = true;
            },
          };
        },
        async end() {
          if (ended) throw new TypeError('a check ended twice');
          ended = true;
          await start();
          await reserve(0);
          post(END, job, 0, 0);
          const index = produced;
          try {
            for (;;) {
              const consumed = Atomics.load(ctrl, CONSUMED);
              if (consumed >= index) break;
              await progress(consumed);
            }
            const s = Atomics.load(status, job);
            if (s !== OK) throw refusal(s);
            return Buffer.from(digests.subarray(job * 32, job * 32 + 32)).toString('hex');
          } finally {
            free.push(job);
            closed();
          }
        },
        abort() {
          if (ended) return;
          ended = true;
          if (started === null) return;
          // Ended without a result: the slot comes back once the worker has passed the end.
          void (async () => {
            await started;
            await reserve(0);
            post(END, job, 0, 0);
            const index = produced;
            for (;;) {
              const consumed = Atomics.load(ctrl, CONSUMED);
              if (consumed >= index) break;
              await progress(consumed);
            }
            free.push(job);
          })()
            .catch(() => {})
            .finally(closed);
        },
      };
    },
    async close() {
      Atomics.store(ctrl, STATE, 2);
      Atomics.add(ctrl, SIGNAL, 1);
      Atomics.notify(ctrl, SIGNAL);
      dead ??= new ElohimError('INTERNAL', 'the object check worker was closed');
      // Held until it has stopped: an unreferenced worker's terminate() may never settle in a
      // process with nothing else to do (a CLI's last await), which Node ends with exit code 13.
      shut = true;
      worker.ref();
      await worker.terminate();
      ring.fill(0);
    },
  };
}
