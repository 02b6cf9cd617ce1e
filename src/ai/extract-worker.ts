/**
 * The worker thread that reads PDF and DOCX files for the index (extractor.ts starts it): a
 * hostile or huge file then costs this thread, which can be stopped, and never the server's.
 */
import { parentPort } from 'node:worker_threads';
import { extractDocument } from './documents.ts';

interface Job {
  id: number;
  name: string;
  bytes: Uint8Array;
}

parentPort!.on('message', (job: Job) => {
  extractDocument(job.name, job.bytes).then(
    (result) => parentPort!.postMessage({ id: job.id, result }),
    (err: unknown) => parentPort!.postMessage({ id: job.id, error: err instanceof Error ? err.name : 'Error' }),
  );
});
