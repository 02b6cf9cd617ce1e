/**
 * `elohim age`: a drop-in for the common flags of the age tool (age-encryption.org), on our own
 * implementation, so files made here open with `age` and the other way round. No vault needed.
 *
 * Over 300 lines because it is one command mirroring one tool's flag set (-e/-d/-r/-R/-i/-p/-a/
 * keygen) and the file handling they share; each piece is small and read with its neighbours.
 */
import { randomBytes } from 'node:crypto';
import { open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import type { FileHandle } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { Command } from 'commander';
import type { Codec, Identity, Recipient, Sink, Stanza } from '../../crypto/age/index.ts';
import { ElohimError } from '../../errors.ts';
import { readSecret } from '../prompt.ts';

// The age implementation is imported when `age` runs, not when the command tree is built for
// every command and for --help.
const ageModule = () => import('../../crypto/age/index.ts');

interface AgeFlags {
  encrypt?: boolean;
  decrypt?: boolean;
  output?: string;
  armor?: boolean;
  passphrase?: boolean;
  recipient: string[];
  recipientsFile: string[];
  identity: string[];
}

/** Reads of 1 MiB keep syscalls rare; the codecs still hold at most one 64 KiB chunk. */
const READ_SIZE = 1024 * 1024;
const PASSPHRASE = { env: 'ELOHIM_PASSPHRASE', message: 'Passphrase' } as const;

const collect = (value: string, previous: string[]): string[] => [...previous, value];

export function ageCommand(): Command {
  return new Command('age')
    .description('encrypt and decrypt age files (age-encryption.org/v1), compatible with the age tool')
    .argument('[input]', 'file to read; standard input when absent or -')
    .option('-e, --encrypt', 'encrypt the input (the default)')
    .option('-d, --decrypt', 'decrypt the input (binary or ASCII-armored, detected automatically)')
    .option('-o, --output <path>', 'write the result to this file, replaced only on success (default: standard output)')
    .option('-a, --armor', 'encrypt to a PEM-encoded ASCII format')
    .option('-p, --passphrase', 'encrypt with a passphrase, read from ELOHIM_PASSPHRASE or prompted')
    .option('-r, --recipient <recipient>', 'encrypt to an age1… or age1pq1… recipient; repeatable', collect, [])
    .option('-R, --recipients-file <path>', 'encrypt to the recipients listed in a file; repeatable', collect, [])
    .option('-i, --identity <path>', 'identity file to decrypt with (or encrypt to its recipients); repeatable', collect, [])
    .addHelpText(
      'after',
      `
Passphrase-encrypted files are detected when decrypting; the passphrase comes from
ELOHIM_PASSPHRASE or a prompt. Hybrid post-quantum keys (age1pq1…) work as in age 1.3.

Examples:
  elohim age keygen -o key.txt
  elohim age -r age1ql3z7hjy54pw3hyww5ayyfg7zqgvc7w3j2elw8zmrj2kg5sfn9aqmcac8p -o report.pdf.age report.pdf
  elohim age -d -i key.txt -o report.pdf report.pdf.age
  tar cz notes | elohim age -p -a > notes.tar.gz.age`,
    )
    .addCommand(keygenCommand())
    .action(async (input: string | undefined, flags: AgeFlags) => {
      await runAge(input, flags);
    });
}

async function runAge(input: string | undefined, flags: AgeFlags): Promise<void> {
  if (flags.encrypt === true && flags.decrypt === true) usage('-e/--encrypt cannot be used with -d/--decrypt');
  const toStdout = flags.output === undefined || flags.output === '-';
  if (toStdout && flags.decrypt !== true && flags.armor !== true && process.stdout.isTTY === true) {
    usage('refusing to write binary ciphertext to the terminal; use -a/--armor or -o');
  }
  const produced: Buffer[] = [];
  const sink: Sink = (b) => produced.push(b);
  // The codec is built before any output is opened, so bad recipients leave nothing behind.
  const codec = flags.decrypt === true ? await decryptor(flags, sink) : await encryptor(flags, sink);
  const output = toStdout ? stdoutOutput() : await fileOutput(flags.output as string, flags.decrypt === true ? 0o600 : 0o666);
  try {
    await pump(readInput(input), codec, produced, output);
  } catch (err) {
    await output.abort();
    throw err;
  }
  await output.commit();
}

function usage(message: string): never {
  throw new ElohimError('INVALID_INPUT', message);
}

async function encryptor(flags: AgeFlags, sink: Sink): Promise<Codec> {
  const { createEncryptor, identityLines, parseRecipient, recipientOfIdentity, scryptRecipient } = await ageModule();
  const { recipient, recipientsFile, identity } = flags;
  if (flags.passphrase === true) {
    if (recipient.length + recipientsFile.length + identity.length > 0) {
      usage('-p/--passphrase cannot be combined with -r, -R or -i');
    }
    const passphrase = await readSecret({ ...PASSPHRASE, confirm: true });
    return createEncryptor({ recipients: [scryptRecipient(passphrase)], armor: flags.armor === true }, sink);
  }
  const recipients: Recipient[] = recipient.map(parseRecipient);
  for (const file of recipientsFile) recipients.push(...parseRecipientsFile(await readText(file), file, parseRecipient));
  for (const file of identity) recipients.push(...identityLines(await readText(file)).map((id) => parseRecipient(recipientOfIdentity(id))));
  if (recipients.length === 0) usage('no recipients: use -r, -R, -i or -p (see elohim age --help)');
  return createEncryptor({ recipients, armor: flags.armor === true }, sink);
}

/** A recipients file: one recipient per line; `#` comments and blank lines are ignored (as in age). */
function parseRecipientsFile(text: string, file: string, parseRecipient: (line: string) => Recipient): Recipient[] {
  const recipients: Recipient[] = [];
  for (const [i, raw] of text.split('\n').entries()) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    try {
      recipients.push(parseRecipient(line));
    } catch (err) {
      if (err instanceof ElohimError) throw new ElohimError(err.code, `${file}, line ${i + 1}: ${err.message}`);
      throw err;
    }
  }
  if (recipients.length === 0) throw new ElohimError('INVALID_RECIPIENT', `${file} lists no recipients`);
  return recipients;
}

async function decryptor(flags: AgeFlags, sink: Sink): Promise<Codec> {
  const { createDecryptor, parseIdentityFile, scryptIdentity } = await ageModule();
  if (flags.recipient.length + flags.recipientsFile.length > 0) usage('-r/-R cannot be used with -d/--decrypt');
  if (flags.armor === true) usage('-a/--armor cannot be used with -d/--decrypt: armored input is detected automatically');
  const identities: Identity[] = [];
  for (const file of flags.identity) identities.push(...parseIdentityFile(await readText(file)));
  if (flags.passphrase === true) identities.push(scryptIdentity(await readSecret(PASSPHRASE)));
  const askPassphrase = flags.passphrase !== true;
  // The passphrase is asked for only once the header shows the file needs one, as age does.
  const pick = async (stanzas: Stanza[]): Promise<Identity[]> => {
    if (askPassphrase && stanzas.some((s) => s.type === 'scrypt')) {
      return [...identities, scryptIdentity(await readSecret(PASSPHRASE))];
    }
    if (identities.length === 0) usage('no identities: use -i to name an identity file (see elohim age --help)');
    return identities;
  };
  return createDecryptor({ identities: pick }, sink);
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    throw new ElohimError('HOST_IO', `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? 'error'}`, { cause: err });
  }
}

/**
 * The input in pieces of up to 1 MiB. A file is read into two reused buffers, the next read in
 * flight while the consumer works on the current piece; each piece is valid until the next one
 * is requested, which the codecs allow (they consume a chunk before their call settles).
 */
async function* readInput(input: string | undefined): AsyncGenerator<Buffer> {
  if (input === undefined || input === '-') {
    for await (const chunk of process.stdin) yield chunk as Buffer;
    return;
  }
  const fh = await open(input, 'r');
  const buffers = [Buffer.allocUnsafe(READ_SIZE), Buffer.allocUnsafe(READ_SIZE)];
  let current = 0;
  let next = fh.read(buffers[0] as Buffer, 0, READ_SIZE, null);
  try {
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) return;
      const piece = (buffers[current] as Buffer).subarray(0, bytesRead);
      current ^= 1;
      next = fh.read(buffers[current] as Buffer, 0, READ_SIZE, null);
      // Handled now so that a failure while the consumer is busy is not an unhandled rejection;
      // the consumer still sees it when it awaits this read.
      next.catch(() => undefined);
      yield piece;
    }
  } finally {
    // A prefetch may still be in flight if the consumer stopped early; its outcome no longer matters.
    await next.then(
      () => undefined,
      () => undefined,
    );
    await fh.close();
  }
}

interface Output {
  write(pieces: Buffer[]): Promise<void>;
  /** Makes the output final (for a file: fsync, then rename over the target). */
  commit(): Promise<void>;
  /** Drops the output after a failure (for a file: removes the temp file). */
  abort(): Promise<void>;
}

/**
 * Runs input through the codec into the output. Each batch is written while the next is being
 * processed; this overlap of I/O and crypto is what makes the loop as fast as the age tool.
 */
async function pump(input: AsyncIterable<Buffer>, codec: Codec, produced: Buffer[], output: Output): Promise<void> {
  let writing: Promise<void> = Promise.resolve();
  const flush = async () => {
    await writing;
    if (produced.length === 0) return;
    writing = output.write(produced.splice(0));
    writing.catch(() => undefined); // awaited at the next flush
  };
  try {
    for await (const chunk of input) {
      await codec.write(chunk);
      await flush();
    }
    await codec.end();
  } catch (err) {
    // What the codec released before failing is authenticated and age writes it out too (to a
    // file it is dropped by abort anyway); the codec's error is the one worth reporting.
    await flush().catch(() => undefined);
    await writing.catch(() => undefined);
    throw err;
  }
  await flush();
  await writing;
}

function stdoutOutput(): Output {
  // A failed write (EPIPE when the reader went away) reaches its callback below; without a
  // listener the same error would also crash the process as an unhandled 'error' event.
  process.stdout.on('error', () => undefined);
  return {
    write: (pieces) =>
      new Promise((resolve, reject) => {
        process.stdout.write(pieces.length === 1 ? (pieces[0] as Buffer) : Buffer.concat(pieces), (err) => (err ? reject(err) : resolve()));
      }),
    commit: async () => undefined,
    abort: async () => undefined,
  };
}

/**
 * Writes a regular file by way of a temp file in its folder, fsynced and renamed over the target
 * only on success, so the target never holds partial output (a failed decryption leaves nothing).
 * Anything else that exists (/dev/null, a FIFO) is written in place, as age does: renaming over
 * it would replace the device with a file.
 */
async function fileOutput(path: string, mode: number): Promise<Output> {
  const existing = await stat(path).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'ENOENT') return null;
    throw err;
  });
  if (existing?.isDirectory() === true) throw new ElohimError('HOST_IO', `cannot write ${path}: it is a folder`);
  if (existing !== null && !existing.isFile()) return inPlaceOutput(await open(path, 'w'));
  // Through a symlink, replace the file it points to rather than the link.
  const target = existing === null ? resolve(path) : await realpath(path);
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  const fh = await open(temp, 'wx', mode);
  const output = inPlaceOutput(fh);
  return {
    write: output.write,
    commit: async () => {
      await fh.sync();
      await output.commit();
      await rename(temp, target);
    },
    abort: async () => {
      await output.abort();
      // Best effort: failing to clean up must not hide why the command failed.
      await unlink(temp).catch(() => undefined);
    },
  };
}

function inPlaceOutput(fh: FileHandle): Output {
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    await fh.close();
  };
  return {
    write: async (pieces) => {
      await fh.writev(pieces);
    },
    commit: close,
    abort: async () => {
      await close().catch(() => undefined);
    },
  };
}

function keygenCommand(): Command {
  return new Command('keygen')
    .description('generate an age identity file, like age-keygen')
    .argument('[input]', 'with -y: identity file to read; standard input when absent or -')
    .option('-o, --output <path>', 'write to this new file (mode 0600; never overwritten) instead of standard output')
    .option('--pq', 'generate a hybrid post-quantum identity (ML-KEM-768 + X25519, age1pq1…), as age-keygen -pq')
    .option('-y', 'print the recipients of the identities in INPUT instead, as age-keygen -y')
    .action(async (input: string | undefined, own: { output?: string; pq?: boolean; y?: boolean }, cmd: Command) => {
      // Unless the root program uses positional options, commander hands `-o` after `keygen`
      // to the parent `age` command, which has an -o of its own; accept it from either.
      const flags = { ...own, output: own.output ?? (cmd.parent?.opts() as AgeFlags | undefined)?.output };
      const { generateHybridIdentity, generateX25519Identity, identityLines, recipientOfIdentity } = await ageModule();
      if (flags.y === true) {
        const text = input === undefined || input === '-' ? await readStdin() : await readText(input);
        const recipients = identityLines(text).map(recipientOfIdentity);
        await writeNew(flags.output, `${recipients.join('\n')}\n`, 0o666);
        return;
      }
      const { identity, recipient } = flags.pq === true ? generateHybridIdentity() : generateX25519Identity();
      const text = `# created: ${rfc3339(new Date())}\n# public key: ${recipient}\n${identity}\n`;
      await writeNew(flags.output, text, 0o600);
      // Like age-keygen: when the key does not land on a terminal, show the public key there.
      if (flags.output !== undefined || process.stdout.isTTY !== true) process.stderr.write(`Public key: ${recipient}\n`);
    });
}

async function writeNew(output: string | undefined, text: string, mode: number): Promise<void> {
  if (output === undefined || output === '-') {
    process.stdout.write(text);
    return;
  }
  const fh = await open(output, 'wx', mode).catch((err: NodeJS.ErrnoException) => {
    if (err.code === 'EEXIST') throw new ElohimError('ITEM_EXISTS', `${output} already exists; it is never overwritten`, { cause: err });
    throw err;
  });
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

/** Local time as RFC 3339 with the UTC offset, as age-keygen's "# created:" line has it. */
function rfc3339(d: Date): string {
  const pad = (n: number) => String(Math.abs(n)).padStart(2, '0');
  const offset = -d.getTimezoneOffset();
  const zone = offset === 0 ? 'Z' : `${offset > 0 ? '+' : '-'}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`;
  return (
    `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}` +
    `T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}${zone}`
  );
}
