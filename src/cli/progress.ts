import { createRequire } from 'node:module';
import type * as CliProgress from 'cli-progress';

// Loaded only when a bar is shown (a terminal): scripts and pipes do not pay for it.
const require = createRequire(import.meta.url);

export interface Progress {
  update(done: number, extra?: Record<string, string | number>): void;
  stop(): void;
}

/**
 * A progress bar on stderr (never stdout, which may carry data), shown only on a terminal so
 * scripts and logs stay clean. `total` 0 means unknown: the bar shows a running count.
 */
export function progressBar(label: string, total: number, unit: 'bytes' | 'files'): Progress {
  if (!process.stderr.isTTY || process.env.ELOHIM_NO_PROGRESS) return { update() {}, stop() {} };
  const fmt = unit === 'bytes'
    ? (v: number) => formatBytes(v)
    : (v: number) => String(v);
  const cliProgress = require('cli-progress') as typeof CliProgress;
  const bar = new cliProgress.SingleBar(
    {
      stream: process.stderr,
      format: `${label} [{bar}] {percentage}% {doneText}/{totalText} {rate} eta {eta_formatted}`,
      hideCursor: true,
      clearOnComplete: true,
      etaBuffer: 50,
    },
    cliProgress.Presets.shades_classic,
  );
  const started = Date.now();
  const extras = (done: number) => ({
    doneText: fmt(done),
    totalText: total > 0 ? fmt(total) : '?',
    rate: `${fmt(Math.round(done / Math.max(0.001, (Date.now() - started) / 1000)))}/s`,
  });
  bar.start(Math.max(total, 1), 0, extras(0));
  return {
    update(done, extra) {
      bar.update(Math.min(done, Math.max(total, 1)), { ...extras(done), ...extra });
    },
    stop() {
      bar.stop();
    },
  };
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
