import { useId, useSyncExternalStore } from 'react';
import { formatSize } from '../i18n.ts';
import { t } from '../strings/browser.ts';
import type { UploadEntry, Uploads } from './uploads.ts';

function statusText(entry: UploadEntry): string {
  const done = formatSize(entry.sent);
  const total = formatSize(entry.size);
  switch (entry.status) {
    case 'queued':
      return t('upload.queued');
    case 'uploading':
      return t('upload.uploading', { done, total });
    case 'paused':
      return t('upload.paused', { done, total });
    case 'done':
      return t('upload.done');
    case 'error':
      if (entry.error?.code === 'ITEM_EXISTS') return t('upload.exists', { name: entry.name });
      if (entry.error?.code === 'SESSION_REQUIRED') return t('upload.sessionEnded');
      return t('upload.error', { message: entry.error?.message ?? '' });
  }
}

function percentOf(entry: UploadEntry): number {
  if (entry.status === 'done') return 100;
  if (entry.size === 0) return 0;
  return Math.min(100, Math.floor((entry.sent / entry.size) * 100));
}

/** Refusals that another try would only repeat: the name is taken or not allowed. */
const FINAL_ERRORS = new Set(['ITEM_EXISTS', 'INVALID_NAME', 'INVALID_INPUT', 'NOT_A_FOLDER', 'ITEM_NOT_FOUND']);

function UploadRow({ entry, uploads }: { entry: UploadEntry; uploads: Uploads }) {
  const percent = percentOf(entry);
  const running = entry.status === 'uploading' || entry.status === 'queued';
  const retryable = entry.status !== 'error' || !FINAL_ERRORS.has(entry.error?.code ?? '');
  return (
    <li className={'upload upload-' + entry.status}>
      <div className="upload-head">
        <span className="upload-name">{entry.name}</span>
        <span className="upload-status">{statusText(entry)}</span>
      </div>
      <div
        className="progress"
        role="progressbar"
        aria-label={t('upload.progress', { name: entry.name })}
        aria-valuemin={0}
        aria-valuemax={100}
        aria-valuenow={percent}
      >
        <div className="progress-bar" style={{ width: percent + '%' }} />
      </div>
      {entry.status !== 'done' && (
        <div className="upload-actions">
          {/* One button that changes its name keeps keyboard focus where it was. */}
          {running ? (
            <button type="button" className="button small" onClick={() => uploads.pause(entry.id)}>
              {t('pause')}
            </button>
          ) : (
            retryable && (
              <button type="button" className="button small" onClick={() => uploads.resume(entry.id)}>
                {t('resume')}
              </button>
            )
          )}
          {entry.status === 'error' && entry.error?.code === 'ITEM_EXISTS' && (
            <button type="button" className="button small" aria-label={t('replace.label', { name: entry.name })} onClick={() => uploads.replace(entry.id)}>
              {t('replace')}
            </button>
          )}
          <button type="button" className="button small" onClick={() => uploads.cancel(entry.id)}>
            {t('cancel')}
          </button>
        </div>
      )}
    </li>
  );
}

/** The "Uploads" region: one row per file with its progress and controls; hidden when empty. */
export function UploadsPanel({ uploads }: { uploads: Uploads }) {
  const entries = useSyncExternalStore(uploads.subscribe, uploads.getSnapshot);
  const headingId = useId();
  if (entries.length === 0) return null;
  const anyDone = entries.some((entry) => entry.status === 'done');
  return (
    <section className="uploads" aria-labelledby={headingId}>
      <div className="uploads-head">
        <h2 id={headingId}>{t('uploads')}</h2>
        {anyDone && (
          <button type="button" className="button small subtle" onClick={() => uploads.clearDone()}>
            {t('clearDone')}
          </button>
        )}
      </div>
      <ul className="upload-list">
        {entries.map((entry) => (
          <UploadRow key={entry.id} entry={entry} uploads={uploads} />
        ))}
      </ul>
    </section>
  );
}
