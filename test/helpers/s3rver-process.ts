/**
 * s3rver in a child process on 127.0.0.1, so a test can kill it with SIGKILL mid-request (an
 * in-process server's close() lets requests in flight finish). Run as a script, it is the child.
 */
import { spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from './webdav-servers.ts';

const SELF = fileURLToPath(import.meta.url);

export interface S3Process {
  endpoint: string;
  kill(): Promise<void>;
  restart(): Promise<void>;
  stop(): Promise<void>;
}

/** s3rver with the given buckets, in its own process; `restart` brings it back on the same port and folder. */
export async function startS3rverProcess(buckets: string[]): Promise<S3Process> {
  const dir = await mkdtemp(join(tmpdir(), 'elohim-s3rver-proc-'));
  const port = await freePort();
  let child: ChildProcess | null = null;
  const start = () =>
    new Promise<void>((resolve, reject) => {
      child = spawn(process.execPath, [SELF, String(port), dir, buckets.join(',')], { stdio: ['ignore', 'pipe', 'inherit'] });
      child.stdout!.once('data', () => resolve());
      child.once('exit', (code) => reject(new Error(`s3rver exited (${code})`)));
    });
  const kill = () =>
    new Promise<void>((resolve) => {
      if (!child || child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });
  await start();
  return {
    endpoint: `http://127.0.0.1:${port}`,
    kill,
    restart: start,
    async stop() {
      await kill();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

if (process.argv[1] === SELF) {
  const [port, directory, buckets] = process.argv.slice(2) as [string, string, string];
  const { default: S3rver } = await import('s3rver');
  const server = new S3rver({ address: '127.0.0.1', port: Number(port), silent: true, directory, configureBuckets: buckets.split(',').map((name) => ({ name })) });
  await server.run();
  process.stdout.write('ready\n');
}
