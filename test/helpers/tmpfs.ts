/**
 * A full device on a real file system, for the disk-full suites: a small tmpfs mounted by the
 * test (we run as root here and in CI). Where mounting is impossible the suite says why and is
 * skipped, never silently.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmdirSync, statfsSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';

/** Mounts a tmpfs of `bytes`; returns its path, or why it cannot. */
export function mountTmpfs(bytes: number): { dir: string } | { skip: string } {
  const dir = mkdtempSync(join(tmpdir(), 'elohim-full-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes}`, 'tmpfs', dir], { stdio: 'pipe' });
    return { dir };
  } catch (err) {
    rmdirSync(dir);
    return { skip: `cannot mount a tmpfs (needs root): ${String((err as { stderr?: Buffer }).stderr ?? err).trim()}` };
  }
}

/** Unmounts (lazily, if something still holds it) and removes a folder mountTmpfs made. */
export function unmountTmpfs(dir: string): void {
  execFileSync('umount', ['-l', dir]);
  rmdirSync(dir);
}

/**
 * Writes a filler file until the device has no byte left; returns its path. The database's
 * write-ahead log is emptied first (as after a checkpoint), so the next write needs new space:
 * with room left in an old WAL file SQLite would not notice the device is full.
 */
export function fill(dir: string, name = 'filler', home = join(dir, 'home')): string {
  const db = new DatabaseSync(join(home, 'db.sqlite'));
  db.exec('PRAGMA wal_checkpoint(TRUNCATE)');
  db.close();
  const path = join(dir, name);
  const fd = openSync(path, 'a');
  try {
    for (let chunk = 1 << 20; chunk >= 1; ) {
      try {
        writeSync(fd, Buffer.alloc(chunk));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOSPC') throw err;
        chunk >>= 1;
      }
    }
  } finally {
    closeSync(fd);
  }
  assert.equal(statfsSync(dir).bavail, 0, 'the device is full');
  return path;
}
