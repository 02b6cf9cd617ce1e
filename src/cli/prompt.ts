import password from '@inquirer/password';
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
 * Reads a secret from its environment variable, or else prompts on the terminal without echo.
 * Throws INVALID_INPUT when neither is possible (no variable, no terminal) or answers differ.
 */
export async function readSecret(req: SecretRequest): Promise<string> {
  const fromEnv = process.env[req.env];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  if (!process.stdin.isTTY || !process.stderr.isTTY) {
    throw new ElohimError('INVALID_INPUT', `${req.message} needed: set ${req.env} or run in a terminal`);
  }
  // The prompt goes to stderr so that stdout stays clean for data (`elohim get x -`).
  const ctx = { input: process.stdin, output: process.stderr, clearPromptOnDone: true };
  const first = await password({ message: `${req.message}:`, mask: false }, ctx);
  if (req.confirm) {
    const second = await password({ message: `Repeat ${req.message.toLowerCase()}:`, mask: false }, ctx);
    if (first !== second) throw new ElohimError('INVALID_INPUT', 'the two entries do not match');
  }
  return first;
}
