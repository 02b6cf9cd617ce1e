import { Command } from 'commander';
import { ElohimError } from '../../errors.ts';
import { CSRF_HEADER, SHRED_PHRASE } from '../../server/protocol.ts';
import { readSecret } from '../prompt.ts';

/**
 * `elohim panic`: locks every vault of the running server at once. The CLI itself holds no keys
 * between commands, so without a server there is nothing to lock. `--shred` also destroys the
 * key slots on disk, after the typed confirmation, whether or not a server runs.
 */
export function panicCommand(): Command {
  return new Command('panic')
    .description('lock every vault of the running server now; --shred also destroys the key slots for good')
    .option('--shred', `destroy the key slots: nothing can be decrypted ever again (asks you to type "${SHRED_PHRASE}", or set ELOHIM_SHRED_CONFIRM)`)
    .option('--port <port>', 'the server port (default: ELOHIM_PORT or 7788)')
    .action(async (opts: { shred?: boolean; port?: string }) => {
      const port = opts.port ?? process.env.ELOHIM_PORT ?? '7788';
      if (!/^\d{1,5}$/.test(port)) throw new ElohimError('INVALID_INPUT', `port ${port} is not a number`);
      if (opts.shred) {
        const typed = await readSecret({ env: 'ELOHIM_SHRED_CONFIRM', message: `Type ${SHRED_PHRASE} to destroy every key slot` });
        if (typed !== SHRED_PHRASE) throw new ElohimError('INVALID_INPUT', 'confirmation did not match; nothing was destroyed');
      }
      let locked: string;
      try {
        const res = await fetch(`http://127.0.0.1:${port}/api/v1/panic`, {
          method: 'POST',
          headers: { [CSRF_HEADER]: 'cli' },
          signal: AbortSignal.timeout(2000),
        });
        const body = (await res.json()) as { locked?: number };
        locked = res.ok ? `the server locked ${body.locked ?? 0} open vault(s)` : `the server answered ${res.status}`;
      } catch {
        locked = 'no server is running on that port, so nothing was unlocked';
      }
      process.stderr.write(`${locked}\n`);
      if (opts.shred) {
        // imported only here: the command tree is built for every command and --help
        const { configFromEnv, createApp } = await import('../../app.ts');
        const app = createApp(configFromEnv());
        try {
          await app.keyring.shred();
        } finally {
          app.close();
        }
        process.stderr.write('key slots destroyed: the data in this folder can no longer be decrypted\n');
      }
    });
}
