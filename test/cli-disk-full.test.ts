/**
 * The CLI on a completely full device (a tmpfs the test fills to its last byte). Every command
 * failed there with exit 7 before the space reserve (fs/reserve.ts), since even the folder's lock
 * file needs a block: the user could neither read their files nor free space through ElohimOS.
 * Now the first maintenance pass gives the reserve back, so reading works and moving files to
 * the trash and emptying it frees the space; the reserve is made again once there is room.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { CHEAP_KDF, describeRun, PASSPHRASE, runCli } from './helpers.ts';
import type { RunResult } from './helpers.ts';
import { fill, mountTmpfs, unmountTmpfs } from './helpers/tmpfs.ts';

// Room for set-up, whose cover objects (cover/) take up to 24 × 4 MiB, and a little work.
const mount = mountTmpfs(128 * 1024 * 1024);
after(() => {
  if ('dir' in mount) unmountTmpfs(mount.dir);
});
if ('skip' in mount) process.stderr.write(`cli-disk-full: SKIPPED: ${mount.skip}\n`);

describe('the CLI on a full device', { skip: 'skip' in mount ? mount.skip : false }, () => {
  test('reads, trashes and empties the trash at 0 bytes free, which frees the space; the reserve comes back', async () => {
    const dir = (mount as { dir: string }).dir;
    const home = join(dir, 'home');
    const run = (args: string[], stdin?: Buffer): Promise<RunResult> => runCli(args, { env: { ELOHIM_HOME: home, ELOHIM_PASSPHRASE: PASSPHRASE }, stdin });
    const ok = async (args: string[], stdin?: Buffer): Promise<RunResult> => {
      const r = await run(args, stdin);
      assert.equal(r.code, 0, `elohim ${args.join(' ')}: ${describeRun(r)}`);
      return r;
    };
    await ok(['init', ...CHEAP_KDF]);
    const reserve = join(home, 'reserve');
    assert.ok(existsSync(reserve), 'set-up makes the reserve');
    const contents = randomBytes(3 * 1024 * 1024);
    await ok(['put', '-', '/big.bin'], contents);

    const filler = fill(dir);

    const listed = await ok(['ls', '/']);
    assert.match(listed.stdout.toString(), /big\.bin/);
    assert.ok(!existsSync(reserve), 'the reserve was given back');
    const got = await ok(['get', '/big.bin', '-']);
    assert.ok(got.stdout.equals(contents), 'the file reads back whole');

    const before = statfsSync(dir).bavail;
    await ok(['rm', '/big.bin']);
    await ok(['trash', 'empty']);
    assert.ok(statfsSync(dir).bavail > before, 'emptying the trash freed space');
    await ok(['status']);

    // Once there is room again, a command's maintenance makes the reserve again.
    rmSync(filler);
    await ok(['ls', '/']);
    assert.ok(existsSync(reserve), 'the reserve is back');

    // Filled again without the reserve to give back (say another program took it all): the
    // command fails with the full-device exit code and a clear message, and changes nothing.
    writeFileSync(join(dir, 'other'), Buffer.alloc(statfsSync(dir).bavail * statfsSync(dir).bsize - 4096));
    rmSync(reserve);
    fill(dir, 'filler-2');
    const refused = await run(['put', '-', '/new.bin'], randomBytes(64 * 1024));
    assert.equal(refused.code, 7, describeRun(refused));
    assert.match(refused.stderr, /device is full/);
  });
});
