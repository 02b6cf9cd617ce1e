/**
 * Loaded into every test file's process (`node --test --import`): once the file's tests and hooks
 * have had their time, a process still running is ended, so a test that leaves a socket or a
 * timer behind cannot hold a CI run until its time limit (one did, for 85 minutes).
 *
 * Why not `--test-force-exit`: on Node 24 it exits before the results on stdout are written, and
 * drops some of them silently (147 tests of the CCTV file reported as 87–97).
 *
 * The grace outlasts one hook's --test-timeout (120 s), since this root hook runs before the
 * file's own `after` hooks. What the file reported stands; the exit code is the runner's.
 */
import { after } from 'node:test';

const GRACE_MS = 180_000;

after(() => {
  setTimeout(() => {
    process.stderr.write(`test watchdog: ${process.argv[1] ?? 'a test file'} was still running ${GRACE_MS / 1000} s after its tests ended (a handle left open): ending it\n`);
    process.exit();
  }, GRACE_MS).unref();
});
