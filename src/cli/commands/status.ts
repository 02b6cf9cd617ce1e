import { Command } from 'commander';

/**
 * `elohim status`: where the data lives, whether a vault is there, and how to begin. Says
 * nothing that would tell a real vault from a decoy.
 */
export function statusCommand(): Command {
  return new Command('status')
    .description('show where data lives and whether a vault exists')
    .action(async () => {
      // imported here: the command tree is built for every command and --help
      const { configFromEnv, createApp } = await import('../../app.ts');
      const config = configFromEnv();
      const app = createApp(config);
      const initialized = app.keyring.isInitialized();
      try {
        await app.maintain(); // like every process on the folder (cover/)
      } finally {
        app.close();
      }
      process.stdout.write(`ElohimOS ${process.env.npm_package_version ?? '0.1.0'} on Node ${process.versions.node}\n`);
      process.stdout.write(`data folder: ${config.home} (${initialized ? 'vault present' : 'no vault yet'})\n`);
      if (!initialized) process.stdout.write('start with: npx elohim init (or npm start, then POST /api/v1/setup)\n');
    });
}
