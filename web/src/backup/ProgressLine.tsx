import { formatSize } from '../i18n.ts';
import type { Progress } from './client.ts';
import { t } from './strings.ts';

function eta(seconds: number | null): string {
  if (seconds === null) return t('eta.unknown');
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** Live progress of a backup or restore: a bar, and files, bytes, rate and time left in words. */
export function ProgressLine({ progress }: { progress: Progress }) {
  const { files, bytes } = progress;
  const text = t('progress', {
    op: t(`op.${progress.operation}`),
    files: files.done,
    total: files.total,
    done: formatSize(bytes.done),
    all: formatSize(bytes.total),
    rate: formatSize(progress.rate),
    eta: eta(progress.etaSeconds),
  });
  return (
    <div className="backup-progress">
      <progress max={Math.max(1, bytes.total)} value={bytes.done} aria-label={t(`op.${progress.operation}`)} />
      <p role="status" className="settings-status">
        {text}
      </p>
    </div>
  );
}
