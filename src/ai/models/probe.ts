/**
 * Does llama.cpp load this GGUF? Asked in a child process (probe-child.ts), because llama.cpp
 * aborts the whole process on some malformed files (a GGML_ASSERT in the loader or the first
 * evaluation): a file from a USB drive or the network must not be able to take the server down.
 * Every new model is probed before it gets its name (models.ts), and the embedded provider probes
 * a file it has not seen probed before loading it in its own process.
 */
import { spawn } from 'node:child_process';
import { statSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { ElohimError } from '../../errors.ts';

export interface ProbeOptions {
  signal?: AbortSignal;
  /**
   * default 2 minutes plus 1 minute per GiB of file: a big model on a slow disk takes a while to
   * check, and a file that makes llama.cpp spin must not hold a core for long
   */
  timeoutMs?: number;
  /** llama.cpp threads in the child; default 1 */
  threads?: number;
}

export interface ProbeResult {
  trainContextSize: number;
}

const CHILD = fileURLToPath(new URL('./probe-child.ts', import.meta.url));

/**
 * Throws MODEL_INVALID (the child crashed, or llama.cpp refused the file, with its last error
 * lines), AI_TIMEOUT, or the signal's reason.
 */
export function probeModel(path: string, opts: ProbeOptions = {}): Promise<ProbeResult> {
  opts.signal?.throwIfAborted();
  let size = 0;
  try {
    size = statSync(path).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const timeoutMs = opts.timeoutMs ?? 120_000 + Math.ceil(size / 2 ** 30) * 60_000;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--no-warnings', CHILD, path, String(opts.threads ?? 1)], {
      stdio: ['ignore', 'pipe', 'pipe'],
      // Only what Node and llama.cpp need: nothing of the parent's secrets (ELOHIM_PASSPHRASE…).
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/', NODE_LLAMA_CPP_SKIP_DOWNLOAD: 'true' },
    });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (out = (out + d).slice(-64 * 1024)));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (err = (err + d).slice(-64 * 1024)));
    let failure: unknown = null;
    const stop = (reason: unknown) => {
      failure ??= reason;
      child.kill('SIGKILL');
    };
    const timer = setTimeout(() => stop(new ElohimError('AI_TIMEOUT', `checking the model took longer than ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
    const onAbort = () => stop(opts.signal!.reason);
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    child.on('error', (e) => stop(e));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      if (failure !== null) return reject(failure);
      const line = out.trim().split('\n').pop() ?? '';
      let answer: { ok?: boolean; trainContextSize?: number; message?: string; llama?: string[] } = {};
      try {
        answer = JSON.parse(line) as typeof answer;
      } catch {
        // no answer: the child died before it could say anything
      }
      if (code === 0 && answer.ok === true) return resolve({ trainContextSize: answer.trainContextSize ?? 0 });
      const said = answer.message !== undefined ? [answer.message, ...(answer.llama ?? []).map((l) => l.split(path).join('<file>'))].join(' / ').slice(0, 500) : lastLines(err.split(path).join('<file>'));
      // A crash's stderr is a native or V8 stack, nothing a person can act on: the signal says it.
      if (signal !== null) return reject(new ElohimError('MODEL_INVALID', `not a usable GGUF model: the model loader (llama.cpp) crashed on it (${signal})`));
      reject(new ElohimError('MODEL_INVALID', `not a usable GGUF model: llama.cpp refused it${said ? `: ${said}` : ''}`));
    });
  });
}

const lastLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .slice(-2)
    .join(' / ')
    .slice(0, 300);
