/**
 * What a CLI command loads at start (TEAM.md "startup cost"; bench/startup.ts measures the time):
 * the whole command tree is built for every command, so a module imported at the top of any
 * command file, or of app.ts, is loaded by every command. These runs list every module the
 * process loads (bench/startup-modules.ts, a module hook) and fail when `elohim ls` loads the
 * assistant, the mesh, the backup engine or the server, or `--help` loads the app at all.
 */
import assert from 'node:assert/strict';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { pathToFileURL } from 'node:url';
import { configFromEnv, dataPaths } from '../src/app.ts';
import { keyslotsPathFromEnv } from '../src/cli/context.ts';
import { buildProgram, COMMAND_GROUPS } from '../src/cli/main.ts';
import { describeRun, initHome, REPO, removeTempDirs } from './helpers.ts';
import type { TestHome } from './helpers.ts';

const HOOK = pathToFileURL(join(REPO, 'bench', 'startup-modules.ts')).href;
const SRC = pathToFileURL(join(REPO, 'src')).href + '/';

/** Runs one command with the module hook; returns what it printed and the src/ modules it loaded (paths under src/). */
async function loaded(t: TestHome, args: string[]): Promise<{ stdout: string; src: string[]; all: string[] }> {
  const list = join(t.work, `modules-${args.join('-').replace(/[^a-z]+/g, '_')}.txt`);
  const r = await t.run(args, { env: { NODE_OPTIONS: `--import=${HOOK}`, ELOHIM_MODULE_LIST: list } });
  assert.equal(r.code, 0, `elohim ${args.join(' ')}: ${describeRun(r)}`);
  const all = (await readFile(list, 'utf8')).split('\n').filter((u) => u !== '');
  return { stdout: r.stdout.toString('utf8'), src: all.filter((u) => u.startsWith(SRC)).map((u) => u.slice(SRC.length)), all };
}

/**
 * Modules of the assistant, the mesh, the backup engine and the server. Allowed: the device's
 * models and the embedded provider's shell (app.ts builds them, loading nothing heavy until
 * used), the mesh's CLI subcommand definitions and the server's protocol constants (panic).
 */
function services(src: string[]): string[] {
  const allowed = /^(ai\/models\/|ai\/providers\/(embedded|embedded-runtime|provider)\.ts$|mesh\/cli-sync\.ts$|server\/protocol\.ts$)/;
  return src.filter((p) => /^(ai|mesh|backup|server)\//.test(p) && !allowed.test(p));
}

/** Packages that must be imported at their point of use only. */
const HEAVY_PACKAGES = /\/node_modules\/(fastify|@fastify|libp2p|@libp2p|@chainsafe|@aws-sdk|node-llama-cpp|pdfjs-dist|mammoth|playwright-core)\//;

describe('what a command loads at start', { concurrency: 1 }, () => {
  let t: TestHome;
  before(async () => {
    t = await initHome();
    await t.ok(['mkdir', '/docs']);
  });
  after(removeTempDirs);

  test('elohim ls loads the vault, and not the assistant, mesh, backup or server', async () => {
    const r = await loaded(t, ['ls', '/']);
    assert.equal(r.stdout, 'docs/\n');
    // the hook saw the command's own work, so an empty list below means something
    assert.ok(r.src.includes('vault/index.ts') && r.src.includes('app.ts'), `ls did not load the vault? ${r.src.join(' ')}`);
    assert.deepEqual(services(r.src), [], 'elohim ls loaded these service modules');
    assert.deepEqual(r.all.filter((u) => HEAVY_PACKAGES.test(u)), []);
    // and of the command modules only the vault's (transfer.ts holds put, get and export)
    const commandFiles = r.src.filter((p) => p.startsWith('cli/commands/'));
    assert.deepEqual(commandFiles.sort(), ['cli/commands/transfer.ts', 'cli/commands/vault.ts']);
  });

  test('elohim status loads none of the services either', async () => {
    const r = await loaded(t, ['status']);
    assert.match(r.stdout, /vault present/);
    assert.deepEqual(services(r.src), [], 'elohim status loaded these service modules');
  });

  test('a command that unlocks reads the key slots and loads the KDF before the app (keyring/prederive.ts)', async () => {
    const r = await loaded(t, ['backup', 'target', 'ls']);
    const early = r.src.indexOf('keyring/prederive.ts');
    assert.ok(early >= 0 && r.src.indexOf('app.ts') > early, `load order: ${r.src.join(' ')}`);
    // ...after the command's modules: only `backup run` derives from process start (below)
    assert.ok(early > r.src.indexOf('cli/main.ts'), `load order: ${r.src.join(' ')}`);
    // and without the light header module's heavier neighbours (seal, hasher) before the derivation
    assert.ok(r.src.indexOf('keyring/slots-header.ts') >= 0 && r.src.indexOf('keyring/slots-header.ts') < r.src.indexOf('app.ts'));
  });

  test('elohim backup run to a folder loads the backup it runs, not the restore or the S3 and WebDAV targets', async () => {
    const dir = join(t.work, 'backup-target');
    await mkdir(dir);
    await t.ok(['backup', 'target', 'add', 'usb', dir]);
    const r = await loaded(t, ['backup', 'run']);
    assert.match(r.stdout, /proven restore/);
    const backup = r.src.filter((p) => p.startsWith('backup/'));
    for (const used of ['backup/service.ts', 'backup/engine.ts', 'backup/verify.ts', 'backup/targets/local.ts']) assert.ok(backup.includes(used), `${used} not loaded: ${backup.join(' ')}`);
    const unused = /^backup\/(index|restore|fresh|store-restore|store-bootstrap|targets\/s3|targets\/webdav[a-z-]*)\.ts$/;
    assert.deepEqual(backup.filter((p) => unused.test(p)), [], 'backup run loaded modules it never uses');
    assert.deepEqual(r.all.filter((u) => HEAVY_PACKAGES.test(u)), []);
    // With ELOHIM_PASSPHRASE (as t.run sets it), the derivation starts before the CLI's modules
    // (cli/early-unlock.ts), with only the KDF and the key-slot header: not keyslots.ts (seal,
    // hasher) nor commander.
    const derive = r.src.indexOf('keyring/prederive.ts');
    assert.ok(derive >= 0 && derive < r.src.indexOf('cli/main.ts'), `load order: ${r.src.join(' ')}`);
    const before = r.all.slice(0, r.all.findIndex((u) => u.endsWith('/src/cli/main.ts')));
    assert.deepEqual(before.filter((u) => /\/src\/keyring\/keyslots\.ts$|\/src\/crypto\/(seal|hasher)\.ts$|\/commander\//.test(u)), []);
    // A command line that fails before the unlock: the derivation is awaited, its key wiped, exit 2.
    const bad = await t.run(['backup', 'run', '--no-such-option']);
    assert.equal(bad.code, 2, describeRun(bad));
  });

  test('elohim --help and backup --help load the command definitions, not the app', async () => {
    for (const args of [['--help'], ['backup', '--help']]) {
      const r = await loaded(t, args);
      assert.match(r.stdout, /^Usage: elohim/);
      const domains = r.src.filter((p) => !p.startsWith('cli/'));
      assert.ok(!domains.includes('app.ts'), `elohim ${args.join(' ')} loaded app.ts`);
      assert.deepEqual(services(r.src), [], `elohim ${args.join(' ')} loaded these service modules`);
      assert.deepEqual(r.all.filter((u) => HEAVY_PACKAGES.test(u)), []);
      // the few constants the help shows (Argon2 defaults, log levels, KDF costs, audit events) and little else
      assert.ok(domains.length <= 20, `elohim ${args.join(' ')} loaded ${domains.length} modules outside src/cli: ${domains.join(' ')}`);
    }
  });
});

test('the CLI finds keyslots.bin where the app will open it, without loading the app', () => {
  for (const ELOHIM_HOME of [undefined, '', '/tmp/a home', 'relative/home', '/tmp/x/../y/']) {
    const env = { ELOHIM_HOME };
    assert.equal(keyslotsPathFromEnv(env), dataPaths(configFromEnv(env).home).keyslots, String(ELOHIM_HOME));
  }
});

test('the command table names exactly the top-level commands (and aliases) each module defines, in help order', async () => {
  const namesOf = (cmds: readonly { name(): string; aliases(): string[] }[]) => cmds.flatMap((c) => [c.name(), ...c.aliases()]);
  for (const group of COMMAND_GROUPS) assert.deepEqual(namesOf(await group.load()), group.names);
  const whole = await buildProgram(['node', 'elohim', '--help']);
  assert.deepEqual(namesOf(whole.commands), COMMAND_GROUPS.flatMap((g) => g.names));
  // a command line naming one builds that module's commands only
  assert.deepEqual(namesOf((await buildProgram(['node', 'elohim', '--recovery', 'restore', '--from', 'x'])).commands), ['backup', 'restore']);
});
