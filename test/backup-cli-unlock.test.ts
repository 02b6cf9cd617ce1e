/**
 * The unlock of a one-shot backup command (src/cli/context.ts), which derives the passphrase's
 * key before the app is loaded (keyring/prederive.ts): through the real `elohim` on a temp folder.
 * A wrong passphrase exits non-zero with the unlock's message and backs up nothing; the right one,
 * a recovery code, and a passphrase changed since the folder was set up all still open it.
 */
import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { describeRun, initHome, makeTempDir, PASSPHRASE, removeTempDirs } from './helpers.ts';
import type { TestHome } from './helpers.ts';

let t: TestHome;
let usb: string;
before(async () => {
  t = await initHome();
  usb = await makeTempDir('elohim-bk-unlock-usb-');
  const src = join(t.work, 'note.txt');
  await writeFile(src, 'a note about the garden');
  await t.ok(['put', src, '/']);
  await t.ok(['backup', 'target', 'add', 'usb', usb]);
});
after(removeTempDirs);

const snapshots = async () => (await readdir(join(usb, 'snapshots')).catch(() => [])).length;

test('backup run with a wrong passphrase: exit 3, "wrong passphrase", nothing backed up; the failure is counted', async () => {
  const slots = await readFile(join(t.home, 'keyslots.bin'));
  const wrong = await t.run(['backup', 'run'], { env: { ELOHIM_PASSPHRASE: 'not the passphrase' } });
  assert.equal(wrong.code, 3, describeRun(wrong));
  assert.match(wrong.stderr.toString(), /^elohim: wrong passphrase\n$/m, describeRun(wrong));
  assert.equal(await snapshots(), 0, 'no snapshot written');
  assert.deepEqual(await readdir(usb), [], 'nothing written to the target');
  assert.ok((await readFile(join(t.home, 'keyslots.bin'))).equals(slots), 'key slots unchanged');
  const run = await t.ok(['backup', 'run', '--json']);
  assert.ok(JSON.parse(run.stdout.toString()).proof.ok);
  assert.equal(await snapshots(), 1);
  // The next unlock learns of the failed attempt: it was counted, as without the early derivation.
  const audit = await t.ok(['audit', 'ls', '--event', 'unlock-failed']);
  assert.match(audit.stdout.toString(), /unlock-failed .*count=1/, describeRun(audit));
});

test('backup run with a recovery code, and with a passphrase changed since set-up', async () => {
  const byCode = await t.run(['--recovery', 'backup', 'run'], { env: { ELOHIM_PASSPHRASE: undefined, ELOHIM_RECOVERY_CODE: t.codes[2]! } });
  assert.equal(byCode.code, 0, describeRun(byCode));
  const changed = 'a passphrase chosen later';
  await t.ok(['passwd'], { env: { ELOHIM_NEW_PASSPHRASE: changed } });
  const old = await t.run(['backup', 'run'], { env: { ELOHIM_PASSPHRASE: PASSPHRASE } });
  assert.equal(old.code, 3, describeRun(old));
  const now = await t.run(['backup', 'run'], { env: { ELOHIM_PASSPHRASE: changed } });
  assert.equal(now.code, 0, describeRun(now));
  assert.equal(await snapshots(), 3);
});
