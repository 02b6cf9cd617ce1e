import type { DetailedError, PreviousUpload, Upload, UrlStorage } from 'tus-js-client';
import { api, ApiError, csrfHeader, UPLOADS_ENDPOINT } from '../api.ts';
import { t } from '../strings/browser.ts';

// Resumable uploads through tus (src/server/routes/uploads.ts). Bytes go from the File straight
// to the server in 64 MiB requests; a dropped connection is retried and resumes from the offset
// the server reports, so a multi-GB file survives a flaky link.

export type UploadStatus = 'queued' | 'uploading' | 'paused' | 'done' | 'error';

export interface UploadEntry {
  readonly id: number;
  readonly name: string;
  /** the folder it goes into; null = the root */
  readonly parent: string | null;
  readonly size: number;
  readonly sent: number;
  readonly status: UploadStatus;
  /** why it failed (status "error"): the server's error code and message, or NETWORK */
  readonly error?: { code: string; message: string };
}

export interface Uploads {
  add(files: Iterable<File>, parent: string | null): void;
  pause(id: number): void;
  resume(id: number): void;
  /** Stops the upload and deletes what the server has received so far. */
  cancel(id: number): void;
  /** Starts a failed upload again, replacing the file of the same name. */
  replace(id: number): void;
  /** Drops finished uploads from the list. */
  clearDone(): void;
  subscribe(listener: () => void): () => void;
  /** The current list; a new array whenever something changed (for useSyncExternalStore). */
  getSnapshot(): readonly UploadEntry[];
  /** Stops every upload in flight (the page or the session is going away). */
  dispose(): void;
}

// Each PATCH ends with an fsync on the server (what arrived is durable, so a resume loses
// nothing); 64 MiB requests took a 2 GiB upload in Chromium from 19.0 s (8 MiB) to 12.6 s, near
// the 11.6 s of one request for the whole file, while keeping each request bounded.
const CHUNK_SIZE = 64 * 1024 * 1024;
const RETRY_DELAYS = [0, 1000, 3000, 5000, 10000, 20000];
/** Two at a time: the server hashes on at most two workers, and the rest wait their turn. */
const CONCURRENCY = 2;
/** Progress repaints at most ~10 times a second, however fast XHR reports. */
const PUBLISH_EVERY_MS = 100;

type Tus = typeof import('tus-js-client');
let tusModule: Promise<Tus> | null = null;

/** tus-js-client is fetched with the first upload: a visit that uploads nothing never pays for it. */
function loadTus(): Promise<Tus> {
  if (tusModule === null) {
    tusModule = import('tus-js-client');
    // A failed fetch (server restarted) may be tried again by the next upload.
    tusModule.catch(() => {
      tusModule = null;
    });
  }
  return tusModule;
}

/**
 * Where tus-js-client remembers upload URLs so that the same file picked again resumes instead
 * of starting over. Its default is localStorage, and what it stores there (the fingerprint and
 * the upload's metadata) contains the file name, which this product keeps secret at rest; so the
 * record lives in this page's memory only. A reload forgets it: the partial upload is then
 * abandoned rather than its name written to disk in the clear.
 */
function memoryUrlStorage(): UrlStorage {
  const entries = new Map<string, PreviousUpload>();
  let next = 0;
  return {
    findAllUploads: async () => [...entries.values()],
    findUploadsByFingerprint: async (fingerprint) => [...entries].filter(([key]) => key.startsWith(fingerprint + '::')).map(([, upload]) => upload),
    removeUpload: async (key) => {
      entries.delete(key);
    },
    addUpload: async (fingerprint, upload) => {
      const key = fingerprint + '::' + next++;
      entries.set(key, { ...upload, urlStorageKey: key });
      return key;
    },
  };
}

/** Same file (as far as the browser can tell) into the same folder; only ever kept in memory. */
function fingerprintOf(file: File, parent: string | null): string {
  return JSON.stringify([file.name, file.size, file.lastModified, file.type, parent]);
}

function errorOf(err: Error | DetailedError): { code: string; message: string; status: number } {
  const res = 'originalResponse' in err ? err.originalResponse : null;
  if (res === null) return { code: 'NETWORK', message: t('upload.lost'), status: 0 };
  const status = res.getStatus();
  try {
    const body = JSON.parse(res.getBody()) as { error?: { code?: string; message?: string } };
    if (body.error?.code !== undefined) return { code: body.error.code, message: body.error.message ?? body.error.code, status };
  } catch {
    // not our JSON error format: fall back to the status
  }
  return { code: 'HTTP_' + status, message: t('upload.status', { status }), status };
}

/** Server hiccups and lost connections are worth another try; a refusal (name taken, locked) is not. */
function shouldRetry(err: DetailedError): boolean {
  const { code, status } = errorOf(err);
  // A full device (507) is not a hiccup: the server removed the partial upload, and a retry
  // would only fill the device again. The person frees space and uploads again.
  if (code === 'DISK_FULL') return false;
  if (status === 0 || status >= 500 || status === 423) return true;
  // 409 is also how tus says "your offset is stale": the retry asks for the offset again.
  return code === 'UPLOAD_OFFSET_MISMATCH' || code === 'VAULT_BUSY';
}

interface Job {
  entry: UploadEntry;
  file: File;
  upload: Upload | null;
  replace: boolean;
}

/**
 * The uploads of one unlocked session. `onFinished` is told the folder a file landed in (to
 * refresh the listing); `onSessionEnded` is called when the server refused an upload because
 * the session is gone (auto-lock, panic), so the app can go back to the unlock screen.
 */
export function createUploads(opts: { onFinished: (parent: string | null) => void; onSessionEnded: () => void }): Uploads {
  const jobs = new Map<number, Job>();
  const listeners = new Set<() => void>();
  const urlStorage = memoryUrlStorage();
  const endpoint = new URL(UPLOADS_ENDPOINT, location.href).href;
  let snapshot: readonly UploadEntry[] = [];
  let publishTimer: ReturnType<typeof setTimeout> | null = null;
  let nextId = 1;
  let disposed = false;

  function publishNow(): void {
    if (publishTimer !== null) clearTimeout(publishTimer);
    publishTimer = null;
    snapshot = [...jobs.values()].map((job) => job.entry);
    for (const listener of listeners) listener();
  }

  /** Status changes show at once; progress waits for the next tick of the ~10/s clock. */
  function publishSoon(): void {
    if (publishTimer === null && !disposed) publishTimer = setTimeout(publishNow, PUBLISH_EVERY_MS);
  }

  function update(job: Job, change: Partial<UploadEntry>, now = true): void {
    job.entry = { ...job.entry, ...change };
    if (now) publishNow();
    else publishSoon();
  }

  function active(): number {
    let n = 0;
    for (const job of jobs.values()) if (job.entry.status === 'uploading') n++;
    return n;
  }

  function pump(): void {
    if (disposed) return;
    for (const job of jobs.values()) {
      if (active() >= CONCURRENCY) return;
      if (job.entry.status === 'queued') start(job);
    }
  }

  function makeUpload(tus: Tus, job: Job): Upload {
    const { file } = job;
    const parent = job.entry.parent;
    const metadata: Record<string, string> = { name: file.name };
    if (parent !== null) metadata.parent = parent;
    if (job.replace) metadata.replace = 'true';
    const upload: Upload = new tus.Upload(file, {
      endpoint,
      metadata,
      chunkSize: CHUNK_SIZE,
      retryDelays: RETRY_DELAYS,
      urlStorage,
      fingerprint: async () => fingerprintOf(file, parent),
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      // The CSRF token is read per request: it is the one of the session current at the time.
      onBeforeRequest: (req) => {
        for (const [name, value] of Object.entries(csrfHeader())) req.setHeader(name, value);
      },
      onShouldRetry: (err) => shouldRetry(err),
      onProgress: (sent) => {
        if (job.upload === upload) update(job, { sent }, false);
      },
      onSuccess: () => {
        if (job.upload !== upload) return;
        update(job, { status: 'done', sent: file.size, error: undefined });
        opts.onFinished(parent);
        pump();
      },
      onError: (err) => {
        if (job.upload !== upload) return;
        const error = errorOf(err);
        update(job, { status: 'error', error: { code: error.code, message: error.message } });
        if (error.code === 'SESSION_REQUIRED') opts.onSessionEnded();
        pump();
      },
    });
    return upload;
  }

  /**
   * An empty file in one plain request: nothing to resume, and no tus round trips (a tus upload
   * of 0 bytes sends no PATCH; the server makes the file at creation).
   */
  function putEmpty(job: Job): void {
    const { file } = job;
    const parent = job.entry.parent;
    api.putFile(parent, file.name, file, job.replace).then(
      () => {
        // Done is done, even if Pause was pressed while the one request was on its way.
        if (!jobs.has(job.entry.id)) return;
        update(job, { status: 'done' });
        opts.onFinished(parent);
        pump();
      },
      (err: unknown) => {
        if (!jobs.has(job.entry.id) || job.entry.status !== 'uploading') return;
        const error = err instanceof ApiError ? { code: err.code, message: err.message } : { code: 'NETWORK', message: String(err) };
        update(job, { status: 'error', error });
        // The API client has already told the app if the session is gone.
        pump();
      },
    );
  }

  function start(job: Job): void {
    update(job, { status: 'uploading', error: undefined });
    if (job.file.size === 0) {
      putEmpty(job);
      return;
    }
    if (job.upload !== null) {
      // Paused or failed earlier: tus asks the server for its offset and goes on from there.
      job.upload.start();
      return;
    }
    loadTus().then(
      (tus) => {
        // Paused, cancelled or started by another path while the module was on its way.
        if (!jobs.has(job.entry.id) || job.entry.status !== 'uploading' || job.upload !== null) return;
        const upload = makeUpload(tus, job);
        job.upload = upload;
        upload
          .findPreviousUploads()
          .then((previous) => {
            if (job.upload !== upload || job.entry.status !== 'uploading') return;
            // The same file dropped again into the same folder after a failure picks up where it was.
            const earlier = previous.find((p) => p.size === job.file.size);
            if (earlier !== undefined) upload.resumeFromPreviousUpload(earlier);
            upload.start();
          })
          .catch(() => upload.start());
      },
      () => {
        if (!jobs.has(job.entry.id) || job.entry.status !== 'uploading') return;
        update(job, { status: 'error', error: { code: 'NETWORK', message: t('upload.reload') } });
        pump();
      },
    );
  }

  function stop(job: Job, terminate: boolean): void {
    const upload = job.upload;
    if (upload === null) return;
    // abort() cannot fail in a way the user could act on; a failed terminate leaves a partial
    // upload that the server drops when its vault is next opened.
    upload.abort(terminate).catch(() => undefined);
  }

  return {
    add(files, parent) {
      for (const file of files) {
        const id = nextId++;
        jobs.set(id, { entry: { id, name: file.name, parent, size: file.size, sent: 0, status: 'queued' }, file, upload: null, replace: false });
      }
      publishNow();
      pump();
    },

    pause(id) {
      const job = jobs.get(id);
      if (job === undefined) return;
      if (job.entry.status === 'uploading') stop(job, false);
      if (job.entry.status === 'uploading' || job.entry.status === 'queued') update(job, { status: 'paused' });
      pump();
    },

    resume(id) {
      const job = jobs.get(id);
      if (job === undefined || (job.entry.status !== 'paused' && job.entry.status !== 'error')) return;
      update(job, { status: 'queued', error: undefined });
      pump();
    },

    cancel(id) {
      const job = jobs.get(id);
      if (job === undefined) return;
      jobs.delete(id);
      if (job.entry.status !== 'done') stop(job, true);
      job.upload = null;
      publishNow();
      pump();
    },

    replace(id) {
      const job = jobs.get(id);
      if (job === undefined || job.entry.status !== 'error') return;
      // The refused creation left nothing on the server; a new upload asks to replace.
      job.upload = null;
      job.replace = true;
      update(job, { status: 'queued', sent: 0, error: undefined });
      pump();
    },

    clearDone() {
      for (const [id, job] of jobs) if (job.entry.status === 'done') jobs.delete(id);
      publishNow();
    },

    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },

    getSnapshot: () => snapshot,

    dispose() {
      disposed = true;
      if (publishTimer !== null) clearTimeout(publishTimer);
      for (const job of jobs.values()) {
        if (job.entry.status === 'uploading') stop(job, false);
        job.upload = null;
      }
      jobs.clear();
      listeners.clear();
      snapshot = [];
    },
  };
}
