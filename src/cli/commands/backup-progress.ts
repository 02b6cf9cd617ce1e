/**
 * What `elohim backup` shows while it works and how it stops: progress on stderr (files, bytes,
 * rate, time left) and Ctrl-C as an abort the operation resumes from.
 */
import type { JobProgress } from '../../backup/index.ts';
import { ElohimError } from '../../errors.ts';
import { formatBytes } from '../progress.ts';

/** Ctrl-C stops the operation cleanly (a backup then resumes where it stopped). */
export function interruptible(): { signal: AbortSignal; done(): void } {
  const ac = new AbortController();
  const stop = () => ac.abort(new ElohimError('HOST_IO', 'interrupted: run the same command again to resume'));
  process.once('SIGINT', stop);
  process.once('SIGTERM', stop);
  return { signal: ac.signal, done: () => (process.off('SIGINT', stop), process.off('SIGTERM', stop)) };
}


function duration(seconds: number | null): string {
  if (seconds === null) return '…';
  if (seconds < 60) return `${seconds} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${seconds % 60} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.floor((seconds % 3600) / 60)} min`;
}

/** One progress line: files, bytes, rate, time left. */
export function progressLine(p: JobProgress): string {
  return `${p.operation} ${p.target}: ${p.files.done}/${p.files.total} files, ${formatBytes(p.bytes.done)} of ${formatBytes(p.bytes.total)}, ${formatBytes(p.rate)}/s, ${duration(p.etaSeconds)} left`;
}

/**
 * Progress on stderr: rewritten in place on a terminal; elsewhere a line at most every second
 * (logs stay short), and every line with ELOHIM_PROGRESS=lines (scripts and tests that follow it).
 */
export function progressPrinter(): { show(p: JobProgress): void; end(): void } {
  const tty = process.stderr.isTTY === true;
  const every = process.env.ELOHIM_PROGRESS === 'lines' ? 0 : 1000;
  let last = 0;
  let shown = false;
  return {
    show(p) {
      const now = Date.now();
      if (!tty && now - last < every) return;
      last = now;
      if (tty) {
        process.stderr.write(`\r\x1b[K${progressLine(p)}`);
        shown = true;
      } else process.stderr.write(`${progressLine(p)}\n`);
    },
    end() {
      if (shown) process.stderr.write('\r\x1b[K');
    },
  };
}

