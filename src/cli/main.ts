import { Command, CommanderError } from 'commander';
import { ElohimError, ERROR_CODES, isDiskFull, isElohimError } from '../errors.ts';
import { ageCommand } from './commands/age.ts';
import { auditCommand } from './commands/audit.ts';
import { aiCommand, chatCommand, chatsCommand, memoryCommand } from './commands/chat.ts';
import { backupCommand, restoreCommand } from './commands/backup.ts';
import { meshCommand } from './commands/mesh.ts';
import { modelsCommand } from './commands/models.ts';
import { panicCommand } from './commands/panic.ts';
import { serveCommand } from './commands/serve.ts';
import { decoyCommand, settingsCommand } from './commands/settings.ts';
import { statusCommand } from './commands/status.ts';
import { vaultCommands } from './commands/vault.ts';
import { EXIT, EXIT_CODE_OF } from './exit-codes.ts';

export function buildProgram(): Command {
  const program = new Command('elohim')
    .description('ElohimOS: an offline-first, end-to-end-encrypted workspace')
    .version(process.env.npm_package_version ?? '0.1.0')
    .option('--recovery', 'unlock with a recovery code (or set ELOHIM_RECOVERY_CODE) instead of the passphrase')
    .showHelpAfterError('(add --help for usage)')
    .addHelpText(
      'after',
      `
Environment:
  ELOHIM_HOME               data folder (default ~/.elohim)
  ELOHIM_PASSPHRASE         passphrase for scripts (otherwise prompted, without echo)
  ELOHIM_RECOVERY_CODE      unlock with a recovery code instead
  ELOHIM_DECOY_PASSPHRASE   decoy passphrase for \`init --decoy\`
  ELOHIM_NEW_PASSPHRASE     new passphrase for \`passwd\`
  ELOHIM_PORT               server port for \`serve\` and \`panic\` (default 7788)
  ELOHIM_SHRED_CONFIRM      the typed confirmation for \`panic --shred\`

Exit codes: 0 ok, 1 failure, 2 bad input, 3 wrong secret, 4 not found, 5 conflict, 6 integrity, 7 disk full`,
    );
  for (const cmd of [...vaultCommands(), settingsCommand(), decoyCommand(), ageCommand(), auditCommand(), backupCommand(), restoreCommand(), serveCommand(), panicCommand(), statusCommand(), chatCommand(), chatsCommand(), memoryCommand(), aiCommand(), meshCommand(), modelsCommand()]) program.addCommand(cmd);
  // Parse errors exit through our handler, with our exit codes.
  const exitOverride = (cmd: Command) => {
    cmd.exitOverride();
    cmd.configureOutput({ outputError: (str, write) => write(str.replace(/^error: /, 'elohim: ')) });
    cmd.commands.forEach(exitOverride);
  };
  exitOverride(program);
  return program;
}

/** Runs the CLI and returns the exit code; never throws. */
export async function run(argv: string[]): Promise<number> {
  // A reader that goes away (`elohim ls | head`) is not an error worth a stack trace.
  // Other stdout errors reach whoever is writing (a pipeline), which reports them.
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(EXIT.OK);
  });
  try {
    await buildProgram().parseAsync(argv);
    return EXIT.OK;
  } catch (err) {
    if (err instanceof CommanderError) {
      // help and version end here too, with exit code 0
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    if (isElohimError(err)) {
      process.stderr.write(`elohim: ${err.message}\n`);
      return EXIT_CODE_OF[err.code];
    }
    if (isAbort(err)) {
      process.stderr.write('elohim: interrupted\n');
      return 130;
    }
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EPIPE') return EXIT.OK; // the reader went away (e.g. `| head`)
    if (isDiskFull(err)) {
      process.stderr.write(`elohim: ${ERROR_CODES.DISK_FULL}\n`);
      return EXIT_CODE_OF.DISK_FULL;
    }
    if (typeof code === 'string' && code.startsWith('E')) {
      process.stderr.write(`elohim: ${new ElohimError('HOST_IO', `${(err as Error).message}`).message}\n`);
      return EXIT_CODE_OF.HOST_IO;
    }
    process.stderr.write(`elohim: internal error: ${err instanceof Error ? err.message : String(err)}\n`);
    return EXIT.FAILURE;
  }
}

function isAbort(err: unknown): boolean {
  return err instanceof Error && err.name === 'AbortError';
}

if (import.meta.main) {
  process.exitCode = await run(process.argv);
}
