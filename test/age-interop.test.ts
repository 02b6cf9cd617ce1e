/**
 * Interoperability of `elohim age` (the real CLI, as a child process) with the reference age
 * tool installed at /usr/bin/age, in both directions: X25519 keys from either keygen, binary and
 * ASCII armor, files from empty to several MiB, recipients by flag, file or identity file.
 *
 * Passphrases: age reads them only from a terminal, so those runs go through `script` (util-linux,
 * always on Debian), which gives age a pseudo-terminal we type into. That makes both directions
 * feasible: our -p file decrypted by `age -d`, and `age -p` decrypted by us with ELOHIM_PASSPHRASE.
 *
 * Not covered here: hybrid post-quantum keys, because Debian's age (1.1) predates them; the CCTV
 * vectors in src/crypto/age/cctv.test.ts cover those files from the reference implementation.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CLI, NODE, cliEnv, describeRun, makeTempDir, removeTempDirs, requireTool, runCli, runTool, sha256 } from './helpers.ts';
import type { RunResult } from './helpers.ts';

after(removeTempDirs);

let AGE = '';
let AGE_KEYGEN = '';
let dir = '';
/** Plaintexts around the 64 KiB chunk size, and one of several MiB. */
const inputs: Record<string, Buffer> = {
  empty: Buffer.alloc(0),
  one: Buffer.from('x'),
  chunk: randomBytes(64 * 1024),
  chunkPlusOne: randomBytes(64 * 1024 + 1),
  multiMiB: randomBytes(5 * 1024 * 1024 + 12345),
};

before(async () => {
  // Fails (never skips) when age is missing: .ci/run installs it.
  AGE = requireTool('age');
  AGE_KEYGEN = requireTool('age-keygen');
  dir = await makeTempDir('elohim-age-interop-');
  for (const [name, data] of Object.entries(inputs)) await writeFile(join(dir, name), data);
});

function ok(r: RunResult, what: string): void {
  assert.equal(r.code, 0, `${what}: ${describeRun(r)}`);
}

function ageKeygen(name: string): { path: string; recipient: string } {
  const path = join(dir, name);
  const r = runTool(AGE_KEYGEN, ['-o', path]);
  assert.equal(r.code, 0, r.stderr);
  const recipient = /public key: (age1\S+)/i.exec(r.stderr)?.[1];
  assert.ok(recipient, r.stderr);
  return { path, recipient };
}

test('age decrypts what elohim age encrypts: -r, -R and -i, binary and armored', async () => {
  const key = ageKeygen('age-key-1.txt');
  const recipientsFile = join(dir, 'recipients.txt');
  await writeFile(recipientsFile, `# a comment\n\n${key.recipient}\n`);
  for (const [name, data] of Object.entries(inputs)) {
    const ways = [
      ['-r', ['-r', key.recipient]],
      ['-R', ['-R', recipientsFile]],
      ['-i', ['-e', '-i', key.path]],
    ] as const;
    // Every size with -r; the other ways of naming recipients on two sizes are enough.
    for (const [how, args] of name === 'multiMiB' || name === 'one' ? ways : ways.slice(0, 1)) {
      for (const armor of [false, true]) {
        const out = join(dir, `${name}${how}${armor ? '.asc' : ''}.age`);
        ok(await runCli(['age', ...args, ...(armor ? ['-a'] : []), '-o', out, join(dir, name)]), `elohim encrypts ${name} ${how}`);
        const r = runTool(AGE, ['-d', '-i', key.path, out]);
        assert.equal(r.code, 0, `age -d ${name} ${how}: ${r.stderr}`);
        assert.equal(sha256(r.stdout), sha256(data), `age decrypts ${name} (${how}, armor ${armor})`);
      }
    }
  }
});

test('elohim age decrypts what age encrypts, from a file or standard input, binary and armored', async () => {
  const key = ageKeygen('age-key-2.txt');
  for (const [name, data] of Object.entries(inputs)) {
    for (const armor of [false, true]) {
      const file = join(dir, `${name}.by-age${armor ? '.asc' : ''}`);
      const r = runTool(AGE, ['-r', key.recipient, ...(armor ? ['-a'] : []), '-o', file, join(dir, name)]);
      assert.equal(r.code, 0, r.stderr);
      const out = join(dir, `${name}.decrypted`);
      ok(await runCli(['age', '-d', '-i', key.path, '-o', out, file]), `elohim decrypts ${name}`);
      assert.equal(sha256(await readFile(out)), sha256(data), `${name} via -o`);
      const piped = await runCli(['age', '--decrypt', '--identity', key.path], { stdin: await readFile(file) });
      ok(piped, `elohim decrypts ${name} from stdin`);
      assert.equal(sha256(piped.stdout), sha256(data), `${name} via stdin/stdout`);
    }
  }
});

test('elohim age keygen writes identity files age reads, and both derive the same recipients', async () => {
  const path = join(dir, 'our-key.txt');
  const gen = await runCli(['age', 'keygen', '-o', path]);
  ok(gen, 'keygen');
  assert.equal((await stat(path)).mode & 0o777, 0o600, 'the key file is private');
  const text = await readFile(path, 'utf8');
  assert.match(text, /^# created: \d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)\n# public key: age1[0-9a-z]{58}\nAGE-SECRET-KEY-1[0-9A-Z]{58}\n$/);
  const recipient = /# public key: (\S+)/.exec(text)?.[1] as string;
  assert.equal(gen.stderr.trim(), `Public key: ${recipient}`);
  assert.equal(runTool(AGE_KEYGEN, ['-y', path]).stdout.toString().trim(), recipient, 'age-keygen -y agrees');
  const theirs = ageKeygen('age-key-3.txt');
  const y = await runCli(['age', 'keygen', '-y', theirs.path]);
  ok(y, 'keygen -y');
  assert.equal(y.stdout.toString().trim(), theirs.recipient, 'elohim age keygen -y agrees');
  // age encrypts to our recipient; we decrypt, and age decrypts with our identity file.
  const file = join(dir, 'to-our-key.age');
  assert.equal(runTool(AGE, ['-r', recipient, '-o', file, join(dir, 'multiMiB')]).code, 0);
  assert.equal(sha256(runTool(AGE, ['-d', '-i', path, file]).stdout), sha256(inputs.multiMiB as Buffer));
  // keygen never overwrites.
  const again = await runCli(['age', 'keygen', '-o', path]);
  assert.equal(again.code, 5, describeRun(again));
  assert.equal(await readFile(path, 'utf8'), text);
});

/** Runs `command` (a shell command line) under `script`, typing `passphrase` at each prompt. */
function withTerminal(command: string, passphrase: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { env: cliEnv(), stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let answered = 0;
    const onData = (c: Buffer) => {
      output += c.toString('utf8');
      const prompts = (output.match(/passphrase/gi) ?? []).length;
      for (; answered < prompts; answered++) child.stdin.write(`${passphrase}\n`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => {});
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`timed out: ${command}\n${output}`));
    }, 60_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output });
    });
  });
}

test('passphrases both ways (age reads them from a terminal, so it runs under script)', async () => {
  const data = inputs.multiMiB as Buffer;
  const ours = join(dir, 'ours-pass.age');
  ok(await runCli(['age', '-p', '-o', ours, join(dir, 'multiMiB')], { env: { ELOHIM_PASSPHRASE: 'correct horse' } }), 'elohim -p');
  const out = join(dir, 'ours-pass.out');
  const dec = await withTerminal(`${AGE} -d -o ${out} ${ours}`, 'correct horse');
  assert.equal(dec.code, 0, dec.output);
  assert.equal(sha256(await readFile(out)), sha256(data), 'age decrypts our passphrase file');

  const theirs = join(dir, 'theirs-pass.age');
  const enc = await withTerminal(`${AGE} -p -a -o ${theirs} ${join(dir, 'multiMiB')}`, 'battery staple');
  assert.equal(enc.code, 0, enc.output);
  // No -i and no -p: the scrypt stanza makes us ask for the passphrase, as age does.
  const r = await runCli(['age', '-d', theirs], { env: { ELOHIM_PASSPHRASE: 'battery staple' } });
  ok(r, 'elohim decrypts age -p');
  assert.equal(sha256(r.stdout), sha256(data));
  const wrong = await runCli(['age', '-d', theirs], { env: { ELOHIM_PASSPHRASE: 'wrong' } });
  assert.equal(wrong.code, 3, describeRun(wrong));
});

test('failures: typed exit codes, and -o leaves no partial output behind', async () => {
  const key = ageKeygen('age-key-4.txt');
  const file = join(dir, 'tamper.age');
  assert.equal(runTool(AGE, ['-r', key.recipient, '-o', file, join(dir, 'multiMiB')]).code, 0);
  const bytes = await readFile(file);
  const target = join(dir, 'tamper.out');
  const otherKey = ageKeygen('age-key-5.txt');
  const before = new Set(await readdir(dir));

  const flipped = Buffer.from(bytes);
  const at = flipped.length - 100_000;
  flipped.writeUInt8(flipped.readUInt8(at) ^ 1, at);
  await writeFile(file, flipped);
  const tampered = await runCli(['age', '-d', '-i', key.path, '-o', target, file]);
  assert.equal(tampered.code, 6, describeRun(tampered));
  assert.match(tampered.stderr, /^elohim: /);

  await writeFile(file, bytes.subarray(0, bytes.length - 70_000));
  const truncated = await runCli(['age', '-d', '-i', key.path, '-o', target, file]);
  assert.equal(truncated.code, 6, describeRun(truncated));

  const wrongKey = await runCli(['age', '-d', '-i', otherKey.path, '-o', target, file]);
  assert.equal(wrongKey.code, 3, describeRun(wrongKey));

  assert.equal(existsSync(target), false, 'no output file');
  assert.deepEqual(new Set(await readdir(dir)), before, 'no temp files left either');

  // Devices are written in place, never replaced by a renamed temp file.
  ok(await runCli(['age', '-r', key.recipient, '-o', '/dev/null', join(dir, 'one')]), 'encrypt to /dev/null');
  await writeFile(file, bytes);
  ok(await runCli(['age', '-d', '-i', key.path, '-o', '/dev/null', file]), 'decrypt to /dev/null');
  assert.ok((await stat('/dev/null')).isCharacterDevice(), '/dev/null is still a device');

  const badRecipient = await runCli(['age', '-r', 'age1notarecipient', '-o', target, join(dir, 'one')]);
  assert.equal(badRecipient.code, 2, describeRun(badRecipient));
  assert.equal(existsSync(target), false);
  const usage = await runCli(['age', '-d', '-r', key.recipient, file]);
  assert.equal(usage.code, 2, describeRun(usage));
});

test('ciphertext is not written to a terminal unless armored, like age', async () => {
  const key = ageKeygen('age-key-6.txt');
  const input = join(dir, 'one');
  const binary = await withTerminal(`${NODE} ${CLI} age -r ${key.recipient} ${input}`, 'unused');
  assert.equal(binary.code, 2, binary.output);
  assert.match(binary.output, /refusing to write binary ciphertext to the terminal/);
  const armored = await withTerminal(`${NODE} ${CLI} age -a -r ${key.recipient} ${input}`, 'unused');
  assert.equal(armored.code, 0, armored.output);
  assert.match(armored.output, /-----BEGIN AGE ENCRYPTED FILE-----/);
});
