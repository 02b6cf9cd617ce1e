import { openSync } from 'node:fs';
import { ReadStream, WriteStream } from 'node:tty';
import { ElohimError } from '../errors.ts';

export interface SecretRequest {
  /** Environment variable that supplies the secret to scripts (checked first). */
  env: string;
  /** What the prompt asks for, e.g. "Passphrase". */
  message: string;
  /** Ask twice and require both answers to match (for new secrets). */
  confirm?: boolean;
}

/**
 * The terminal to prompt on. Like `age`, fall back to /dev/tty when stdin carries data
 * (`elohim age -p < file`) or stderr is redirected; null when there is no terminal at all.
 */
function terminal(): { input: NodeJS.ReadableStream; output: NodeJS.WritableStream; close(): void } | null {
  if (process.stdin.isTTY && process.stderr.isTTY) return { input: process.stdin, output: process.stderr, close() {} };
  let fd: number;
  try {
    fd = openSync('/dev/tty', 'r+');
  } catch {
    return null; // no controlling terminal (CI, a service): the caller explains the variable
  }
  const input = new ReadStream(fd);
  const output = new WriteStream(fd);
  return {
    input,
    output,
    close() {
      input.destroy();
    },
  };
}

/**
 * Reads a secret from its environment variable, or else prompts on the terminal without echo.
 * Throws INVALID_INPUT when neither is possible (no variable, no terminal) or answers differ.
 */
export async function readSecret(req: SecretRequest): Promise<string> {
  const fromEnv = process.env[req.env];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const tty = terminal();
  if (tty === null) throw new ElohimError('INVALID_INPUT', `${req.message} needed: set ${req.env} or run in a terminal`);
  try {
    // Loaded only when a prompt is needed: it is the largest module of the CLI (~10 MiB of RSS).
    const { default: password } = await import('@inquirer/password');
    // The prompt never goes to stdout, which may carry data (`elohim get x -`).
    const ctx = { input: tty.input, output: tty.output, clearPromptOnDone: true };
    const first = await password({ message: `${req.message}:`, mask: false }, ctx);
    if (req.confirm) {
      const second = await password({ message: `Repeat ${req.message.toLowerCase()}:`, mask: false }, ctx);
      if (first !== second) throw new ElohimError('INVALID_INPUT', 'the two entries do not match');
    }
    return first;
  } finally {
    tty.close();
  }
}
