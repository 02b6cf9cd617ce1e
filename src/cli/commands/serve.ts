import { networkInterfaces } from 'node:os';
import { Command } from 'commander';
import { ElohimError } from '../../errors.ts';

function parsePort(value: string): number {
  if (!/^\d{1,5}$/.test(value) || Number(value) > 65535) throw new ElohimError('INVALID_INPUT', `port ${value} is not a number from 0 to 65535`);
  return Number(value);
}

/**
 * `elohim serve` (and `npm start`): the local server on 127.0.0.1 unless told otherwise.
 * SIGINT/SIGTERM stop it gracefully: new requests get 503, requests in flight finish, then
 * every vault locks.
 */
export function serveCommand(): Command {
  return new Command('serve')
    .alias('start')
    .description('start the local server (API under /api/v1) on 127.0.0.1')
    .option('--host <host>', 'address to listen on (anything but loopback exposes the vault to the network)', '127.0.0.1')
    .option('--port <port>', 'port (default: ELOHIM_PORT, else the port setting, 7788; 0 picks a free one)', parsePort)
    .option('--log-level <level>', 'fatal, error, warn, info or debug (default: the logLevel setting)')
    .action(async (opts: { host: string; port?: number; logLevel?: string }) => {
      const { LOG_LEVELS } = await import('../../settings/index.ts');
      if (opts.logLevel !== undefined && !(LOG_LEVELS as readonly string[]).includes(opts.logLevel)) {
        throw new ElohimError('INVALID_INPUT', `unknown log level ${opts.logLevel}`);
      }
      // Loaded here, not at start-up: the other commands should not pay for Fastify.
      const { createServer } = await import('../../server/index.ts');
      // imported here, like the server: the command tree is built for every command and --help
      const { configFromEnv, createApp } = await import('../../app.ts');
      const app = createApp(configFromEnv(), { meshAutoStart: true }); // the server runs each unlocked vault's mesh if it is on
      await app.maintain(); // like every process on the folder (cover/); it also takes the folder's lock
      const settings = await app.settings.read();
      const port = opts.port ?? (process.env.ELOHIM_PORT ? parsePort(process.env.ELOHIM_PORT) : settings.port);
      const server = await createServer({
        app,
        version: process.env.npm_package_version ?? '0.1.0',
        extraHosts: hostNamesFor(opts.host),
        logLevel: opts.logLevel ?? settings.logLevel,
      });
      const address = await server.app.listen({ host: opts.host, port });
      // Tests and benches wait for this line ("ElohimOS is serving <url>").
      const firstStep = server.hasWebUi ? `open ${address} to set one up` : 'POST /api/v1/setup';
      process.stderr.write(`ElohimOS is serving ${address} (data: ${app.config.home}${app.keyring.isInitialized() ? '' : `, no vault yet: ${firstStep}`})\n`);
      await new Promise<void>((resolve) => {
        const stop = () => {
          process.stderr.write('stopping: finishing requests in flight, then locking\n');
          resolve();
        };
        process.once('SIGINT', stop);
        process.once('SIGTERM', stop);
      });
      await server.stop();
      app.close();
    });
}

/**
 * The Host names a server bound to `host` answers to (besides loopback names): that host, and
 * for a wildcard bind (0.0.0.0, ::) every address of this machine, so LAN clients can connect
 * by IP while other names (DNS rebinding) are still refused.
 */
function hostNamesFor(host: string): string[] {
  if (host !== '0.0.0.0' && host !== '::') return [host];
  const names = [host];
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) names.push(a.family === 'IPv6' ? `[${a.address}]` : a.address);
  }
  return names;
}
