/**
 * The CLI commands that move file contents across the vault's edge: put (host files, folders or
 * stdin in), get (out to a host file or stdout) and export (out as a standard age file).
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { lstat, readdir, readFile, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join, relative, resolve, sep } from 'node:path';
import { Transform } from 'node:stream';
import type { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { randomBytes } from 'node:crypto';
import { Command, Option } from 'commander';
import { ElohimError } from '../../errors.ts';
import type { PutEntry } from '../../vault/index.ts';
import type { Workspace } from '../../workspace/index.ts';
import { withVault as withAnyVault, VAULT_ONLY } from '../context.ts';
import type { UnlockFlags } from '../context.ts';
import { formatBytes, progressBar } from '../progress.ts';

// The vault's modules (and age's recipient parser) are imported when a command runs, not when
// the command tree is built for every command and for --help.
const vaultModule = () => import('../../vault/index.ts');
const vaultPaths = () => import('../vault-paths.ts');

const globals = (cmd: Command): UnlockFlags => cmd.optsWithGlobals() as UnlockFlags;
/** put, get and export use the vault only: no other workspace service is built */
const withVault = <T>(flags: UnlockFlags, fn: (workspace: Workspace) => Promise<T>) => withAnyVault(flags, fn, VAULT_ONLY);

/** Host files and folders below `root`, as put entries; symlinks and special files are skipped. */
async function walk(root: string): Promise<{ entries: PutEntry[]; folders: string[][]; skipped: string[] }> {
  const { SMALL_OBJECT_MAX } = await vaultModule();
  const entries: PutEntry[] = [];
  const folders: string[][] = [];
  const skipped: string[] = [];
  const visit = async (dir: string): Promise<void> => {
    const names = (await readdir(dir, { withFileTypes: true })).sort((a, b) => a.name.localeCompare(b.name));
    for (const d of names) {
      const full = join(dir, d.name);
      if (d.isDirectory()) {
        folders.push(relative(root, full).split(sep));
        await visit(full);
      }
      else if (d.isFile()) {
        const size = (await stat(full)).size;
        entries.push({
          names: relative(root, full).split(sep),
          size,
          read: async (): Promise<Buffer | Readable> => (size <= SMALL_OBJECT_MAX ? readFile(full) : createReadStream(full, { highWaterMark: 1 << 20 })),
        });
      } else skipped.push(full);
    }
  };
  await visit(root);
  return { entries, folders, skipped };
}

export function putCommand(): Command {
  return new Command('put')
    .description('encrypt a host file, folder (recursively) or stdin (-) into the vault')
    .argument('<source>', 'host file or folder, or - for standard input')
    .argument('[vault_path]', 'where it goes, e.g. /reports/a.pdf; a folder (or a path ending in /) receives it under its own name')
    .option('-f, --force', 'replace existing files (the old versions go to the trash)')
    .option('-p, --parents', 'create missing folders')
    .action(async (source: string, vaultPath: string | undefined, opts: { force?: boolean; parents?: boolean }, cmd: Command) => {
      if (source === '-' && vaultPath === undefined) throw new ElohimError('INVALID_INPUT', 'give a vault path when reading standard input');
      const host = source === '-' ? null : resolve(source);
      const info = host === null ? null : await lstat(host).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') throw new ElohimError('HOST_FILE_NOT_FOUND', `${source} does not exist`);
        throw new ElohimError('HOST_IO', `cannot read ${source}: ${err.code ?? err.message}`);
      });
      if (info !== null && !info.isFile() && !info.isDirectory()) throw new ElohimError('INVALID_INPUT', `${source} is not a file or folder`);
      const { formatVaultPath, parseVaultPath } = await vaultModule();
      const { existingFolder, namesFolder } = await vaultPaths();
      await withVault(globals(cmd), async ({ vault, signal }) => {
        // A folder path (ending in "/" or naming a folder) receives the source under its own name.
        const intoFolder = (target: string) => namesFolder(vault, target);
        if (info?.isDirectory()) {
          const dest = vaultPath === undefined || intoFolder(vaultPath)
            ? formatVaultPath([...parseVaultPath(vaultPath ?? '/'), basename(host!)])
            : vaultPath;
          const { entries, folders, skipped } = await walk(host!);
          for (const s of skipped) process.stderr.write(`elohim: skipped ${s} (not a regular file)\n`);
          const totalBytes = entries.reduce((n, e) => n + e.size, 0);
          const bar = progressBar('put', totalBytes, 'bytes');
          const started = performance.now();
          let result;
          try {
            // Folders of `dest` that do not exist yet are created with the files (and the
            // empty source folders), after every name has been checked.
            const { id, missing } = existingFolder(vault, parseVaultPath(dest));
            result = await vault.putMany(id, entries.map((e) => ({ ...e, names: [...missing, ...e.names] })), {
              replace: opts.force,
              signal,
              folders: [...(missing.length > 0 ? [missing] : []), ...folders.map((f) => [...missing, ...f])],
              onProgress: (p) => bar.update(p.bytes, {}),
            });
          } finally {
            bar.stop();
          }
          const secs = (performance.now() - started) / 1000;
          process.stderr.write(`${result.files} files, ${formatBytes(result.bytes)} into ${dest} in ${secs.toFixed(2)} s (${Math.round(result.files / secs)} files/s)\n`);
          return;
        }
        let target = vaultPath ?? formatVaultPath([basename(host!)]);
        if (host !== null && intoFolder(target)) {
          target = formatVaultPath([...parseVaultPath(target), basename(host)]);
        }
        const stream = host === null ? process.stdin : createReadStream(host, { highWaterMark: 256 << 10 });
        const bar = progressBar('put', info?.size ?? 0, 'bytes');
        try {
          const names = parseVaultPath(target);
          if (names.length === 0) throw new ElohimError('INVALID_PATH', 'give the file a name, e.g. /notes.txt');
          // Missing folders (with -p) are created with the file, so a put that fails leaves none.
          const { id: parent, missing } = existingFolder(vault, names.slice(0, -1));
          if (missing.length > 0 && !opts.parents) throw new ElohimError('ITEM_NOT_FOUND', `no folder ${formatVaultPath(names.slice(0, names.length - missing.length))}`);
          const item = await vault.put(parent, names.at(-1)!, stream, {
            folders: missing,
            replace: opts.force,
            signal,
            sizeHint: info?.size,
            onProgress: (n) => bar.update(n),
          });
          bar.stop();
          process.stderr.write(`${item.path} (${formatBytes(item.size)})\n`);
        } finally {
          bar.stop();
        }
      });
    });
}

/** Passes bytes through, reporting the running count (as a pipeline stage, so no byte is missed). */
function counter(onCount: (n: number) => void): Transform {
  let n = 0;
  return new Transform({
    transform(chunk: Buffer, _enc, done) {
      onCount((n += chunk.length));
      done(null, chunk);
    },
  });
}

/** Writes `stream` to `out` through a temp file, so a failed check never leaves a partial file. */
async function writeOutput(stream: Readable, out: string, force: boolean, onCount: (n: number) => void = () => {}): Promise<void> {
  if (!force) {
    const exists = await lstat(out).then(() => true, () => false);
    if (exists) {
      stream.destroy(); // ours to close, though never read
      throw new ElohimError('ITEM_EXISTS', `${out} exists; use --force to overwrite`);
    }
  }
  const tmp = join(dirname(out), `.${basename(out)}.${randomBytes(4).toString('hex')}.partial`);
  try {
    await pipeline(stream, counter(onCount), createWriteStream(tmp, { flags: 'wx', mode: 0o600, highWaterMark: 1 << 20 }));
    await rename(tmp, out);
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw err;
  }
}

export function getCommand(): Command {
  return new Command('get')
    .description('decrypt a file from the vault to a host file or stdout (-); every chunk is authenticated')
    .argument('<vault_path>')
    .argument('[out]', 'host file, or - for standard output (default: its name in the current folder)')
    .option('-f, --force', 'overwrite an existing host file')
    .action(async (vaultPath: string, out: string | undefined, opts: { force?: boolean }, cmd: Command) => {
      await withVault(globals(cmd), async ({ vault, signal }) => {
        const { info, stream } = await vault.read((await vaultPaths()).fileAt(vault, vaultPath), { signal });
        if (out === '-') {
          await pipeline(stream, process.stdout);
          return;
        }
        const bar = progressBar('get', info.size, 'bytes');
        try {
          await writeOutput(stream, resolve(out ?? info.name), opts.force === true, (n) => bar.update(n));
        } finally {
          bar.stop();
        }
      });
    });
}

export function exportCommand(): Command {
  return new Command('export')
    .description('write a file as a standard age file for recipients (no re-encryption), or print the vault identity')
    .argument('[vault_path]')
    .option('-r, --recipient <age1…>', 'recipient (repeatable)', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('-a, --armor', 'ASCII-armored output')
    .option('-o, --output <file>', 'host file (default: standard output)')
    .addOption(new Option('--identity', "print this vault's age identity (AGE-SECRET-KEY-1…)").conflicts(['recipient']))
    .action(async (vaultPath: string | undefined, opts: { recipient: string[]; armor?: boolean; output?: string; identity?: boolean }, cmd: Command) => {
      if (opts.identity) {
        await withVault(globals(cmd), async ({ vault }) => {
          process.stderr.write(
            'WARNING: this key opens every file exported to this vault. Anyone who sees it can read them.\n' +
              'Keep it offline; never paste it into chats or cloud notes.\n',
          );
          process.stdout.write(`${vault.identity()}\n`);
        });
        return;
      }
      if (vaultPath === undefined) throw new ElohimError('INVALID_INPUT', 'give a vault path, or --identity');
      if (opts.recipient.length === 0) throw new ElohimError('INVALID_RECIPIENT', 'give at least one -r RECIPIENT');
      const { parseRecipient } = await import('../../crypto/age/index.ts');
      const recipients = opts.recipient.map(parseRecipient);
      if (opts.output === undefined && process.stdout.isTTY && !opts.armor) {
        throw new ElohimError('INVALID_INPUT', 'refusing to write binary age output to a terminal; use -o FILE or -a');
      }
      await withVault(globals(cmd), async ({ vault, signal }) => {
        const { stream } = await vault.export((await vaultPaths()).fileAt(vault, vaultPath), recipients, { armor: opts.armor, signal });
        if (opts.output === undefined) await pipeline(stream, process.stdout);
        else await writeOutput(stream, resolve(opts.output), true);
      });
    });
}
