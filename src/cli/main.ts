import { Command, CommanderError } from 'commander';
import { ElohimError, ERROR_CODES, isDiskFull, isElohimError } from '../errors.ts';
import { EXIT, EXIT_CODE_OF } from './exit-codes.ts';

/**
 * The top-level commands (with their aliases), by the module that defines them, in the order
 * `elohim --help` lists them. A command line that names one of them builds only its module's
 * commands, and the other command modules are not even imported (start-up time:
 * bench/startup.ts); anything else (--help, --version, `help`, a typo) builds the whole tree, so
 * help and "did you mean" stay commander's own. test/cli-startup.test.ts checks these names
 * against what the modules define: a command missing here still works, through the whole tree.
 */
export const COMMAND_GROUPS: readonly { names: readonly string[]; load: () => Promise<Command[]> }[] = [
  { names: ['init', 'passwd', 'put', 'get', 'ls', 'mkdir', 'mv', 'rm', 'trash', 'find', 'verify', 'export'], load: async () => (await import('./commands/vault.ts')).vaultCommands() },
  { names: ['settings', 'decoy'], load: async () => { const m = await import('./commands/settings.ts'); return [m.settingsCommand(), m.decoyCommand()]; } },
  { names: ['age'], load: async () => [(await import('./commands/age.ts')).ageCommand()] },
  { names: ['audit'], load: async () => [(await import('./commands/audit.ts')).auditCommand()] },
  { names: ['backup', 'restore'], load: async () => { const m = await import('./commands/backup.ts'); return [m.backupCommand(), m.restoreCommand()]; } },
  { names: ['serve', 'start'], load: async () => [(await import('./commands/serve.ts')).serveCommand()] },
  { names: ['panic'], load: async () => [(await import('./commands/panic.ts')).panicCommand()] },
  { names: ['status'], load: async () => [(await import('./commands/status.ts')).statusCommand()] },
  {
    names: ['chat', 'chats', 'memory', 'ai'],
    load: async () => { const m = await import('./commands/chat.ts'); return [m.chatCommand(), m.chatsCommand(), m.memoryCommand(), m.aiCommand()]; },
  },
  { names: ['mesh'], load: async () => [(await import('./commands/mesh.ts')).meshCommand()] },
  { names: ['models'], load: async () => [(await import('./commands/models.ts')).modelsCommand()] },
];

/** The top-level command an argv names, after the one global option; undefined for anything else. */
function commandNameOf(argv: readonly string[]): string | undefined {
  for (const arg of argv.slice(2)) {
    if (arg === '--recovery') continue;
    return arg.startsWith('-') ? undefined : arg;
  }
  return undefined;
}

/** The program for `argv`: only the named command's module when it names one, else every command. */
export async function buildProgram(argv: readonly string[] = []): Promise<Command> {
  const name = commandNameOf(argv);
  const group = COMMAND_GROUPS.find((g) => name !== undefined && g.names.includes(name));
  const commands = group !== undefined ? await group.load() : (await Promise.all(COMMAND_GROUPS.map((g) => g.load()))).flat();
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
  for (const cmd of commands) program.addCommand(cmd);
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
    await (await buildProgram(argv)).parseAsync(argv);
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
