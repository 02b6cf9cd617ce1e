/**
 * Text out of vault files for the indexer, with PDF and DOCX read on a worker thread
 * (extract-worker.ts) under a time limit and a heap limit: PDF.js and mammoth parse whatever the
 * file holds, and a file crafted to make them work for minutes, or to fill memory, must cost at
 * most that file's place in the index, never the server's responsiveness. A file that runs out
 * of time or memory is reported with the reason and the worker is replaced.
 *
 * Text formats are read on the calling thread (extract.ts is linear and bounded by
 * MAX_TEXT_BYTES): copying 16 MB to a worker and back would cost more than reading it.
 */
import { Worker } from 'node:worker_threads';
import { extractDocument } from './documents.ts';
import type { DocumentText } from './documents.ts';

/** How long one PDF or DOCX may take. */
export const EXTRACT_TIMEOUT_MS = 60_000;
/** The worker's heap: a 64 MiB PDF's text fits many times over. */
const WORKER_HEAP_MB = 512;

export interface Extractor {
  /** The file's text; null when the index does not read it (see documents.ts). Rejects with `signal`'s reason. */
  extract(name: string, bytes: Uint8Array, opts?: { truncated?: boolean; signal?: AbortSignal }): Promise<DocumentText | null>;
  /** Ends the worker (the workspace stopped). */
  close(): Promise<void>;
}

const packed = (name: string) => /\.(pdf|docx)$/i.test(name);

export function createExtractor(opts: { timeoutMs?: number } = {}): Extractor {
  const timeoutMs = opts.timeoutMs ?? EXTRACT_TIMEOUT_MS;
  let worker: Worker | null = null;
  let next = 0;

  const spawn = (): Worker => {
    const w = new Worker(new URL('./extract-worker.ts', import.meta.url), { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    w.unref();
    return w;
  };
  const kill = async (w: Worker) => {
    if (worker === w) worker = null;
    await w.terminate();
  };

  return {
    async extract(name, bytes, extractOpts = {}) {
      if (!packed(name)) return extractDocument(name, bytes, extractOpts);
      extractOpts.signal?.throwIfAborted();
      const w = (worker ??= spawn());
      const id = ++next;
      return new Promise<DocumentText | null>((resolve, reject) => {
        const done = () => {
          clearTimeout(timer);
          w.off('message', onMessage);
          w.off('error', onError);
          w.off('exit', onExit);
          extractOpts.signal?.removeEventListener('abort', onAbort);
        };
        const fail = (reason: string) => {
          done();
          void kill(w);
          resolve({ ok: false, reason });
        };
        const onMessage = (m: { id: number; result?: DocumentText | null; error?: string }) => {
          if (m.id !== id) return;
          done();
          if (m.error !== undefined) resolve({ ok: false, reason: `the file could not be read (${m.error})` });
          else resolve(m.result ?? null);
        };
        // ERR_WORKER_OUT_OF_MEMORY, or the worker died: this file is at fault, the next gets a new worker
        const onError = (err: Error) => fail((err as { code?: string }).code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'too large to read (the reader ran out of memory)' : 'the file could not be read (the reader failed)');
        const onExit = () => fail('the file could not be read (the reader stopped)');
        const onAbort = () => {
          done();
          void kill(w);
          reject(extractOpts.signal!.reason);
        };
        const timer = setTimeout(() => fail(`took too long to read (over ${Math.round(timeoutMs / 1000)} s)`), timeoutMs);
        w.on('message', onMessage);
        w.once('error', onError);
        w.once('exit', onExit);
        extractOpts.signal?.addEventListener('abort', onAbort, { once: true });
        // a copy goes to the worker: the caller's buffer stays its own
        w.postMessage({ id, name, bytes: new Uint8Array(bytes) });
      });
    },
    async close() {
      if (worker !== null) await kill(worker);
    },
  };
}
