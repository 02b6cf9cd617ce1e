import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  argon2ForCost,
  createKeySlots,
  decodeKeySlots,
  encodeKeySlots,
  findPassphraseSlot,
  findSlot,
  generateRecoveryCode,
  KEYSLOTS_FILE_SIZE,
  passphraseKey,
  recoveryKey,
  sealSlot,
  SLOT_COUNT,
} from './keyslots.ts';
import { isElohimError } from '../errors.ts';
import { randomBytes } from 'node:crypto';

const CHEAP = { memory: 19 * 1024, passes: 2, parallelism: 1 };

test('a key-slot file always has the same size, used or not', async () => {
  const empty = createKeySlots(CHEAP);
  const used = decodeKeySlots(encodeKeySlots(empty));
  used.slots[5] = sealSlot(await passphraseKey(used, 'pass'), 5, { kind: 'passphrase', master: randomBytes(32) });
  assert.equal(encodeKeySlots(empty).length, KEYSLOTS_FILE_SIZE);
  assert.equal(encodeKeySlots(used).length, KEYSLOTS_FILE_SIZE);
  assert.equal(used.slots.length, SLOT_COUNT);
});

test('the right passphrase finds its slot, a wrong one finds none', async () => {
  const ks = createKeySlots(CHEAP);
  const master = randomBytes(32);
  ks.slots[17] = sealSlot(await passphraseKey(ks, 'correct horse'), 17, { kind: 'passphrase', master });
  const round = decodeKeySlots(encodeKeySlots(ks));
  const found = findSlot(round, await passphraseKey(round, 'correct horse'));
  assert.equal(found?.index, 17);
  assert.deepEqual(found?.content.master, master);
  assert.equal(findSlot(round, await passphraseKey(round, 'wrong horse')), null);
});

test('a slot sealed for one index does not open at another (no slot swapping)', async () => {
  const ks = createKeySlots(CHEAP);
  const key = await passphraseKey(ks, 'p');
  const sealed = sealSlot(key, 3, { kind: 'passphrase', master: randomBytes(32) });
  ks.slots[4] = sealed;
  assert.equal(findSlot(ks, key), null);
});

test('recovery codes are 24 Crockford characters and tolerate case, dashes and look-alikes', () => {
  const ks = createKeySlots(CHEAP);
  const code = generateRecoveryCode();
  assert.match(code, /^[0-9A-HJKMNP-TV-Z]{4}(-[0-9A-HJKMNP-TV-Z]{4}){5}$/);
  const master = randomBytes(32);
  ks.slots[9] = sealSlot(recoveryKey(ks, code), 9, { kind: 'recovery', master });
  const typed = code.toLowerCase().replace(/-/g, ' ');
  assert.equal(findSlot(ks, recoveryKey(ks, typed))?.index, 9);
  assert.throws(() => recoveryKey(ks, 'not-a-code'), (e) => isElohimError(e, 'INVALID_INPUT'));
});

test('decoding rejects other files, wrong sizes, unknown versions and out-of-bounds Argon2 costs', () => {
  const good = encodeKeySlots(createKeySlots(CHEAP));
  assert.throws(() => decodeKeySlots(Buffer.from('hello')), (e) => isElohimError(e, 'VAULT_CORRUPT'));
  assert.throws(() => decodeKeySlots(good.subarray(0, good.length - 1)), (e) => isElohimError(e, 'VAULT_CORRUPT'));
  const v3 = Buffer.from(good);
  v3[8] = 3;
  assert.throws(() => decodeKeySlots(v3), (e) => isElohimError(e, 'VAULT_FORMAT_UNKNOWN'));
  for (const [cost, mask] of [[3, 0b1000], [1, 0b001], [0, 0b1001], [0, 0]]) {
    const bad = Buffer.from(good);
    bad[9] = cost!;
    bad[10] = mask!;
    assert.throws(() => decodeKeySlots(bad), (e) => isElohimError(e, 'VAULT_CORRUPT'), `cost ${cost} mask ${mask}`);
  }
  const weak = Buffer.from(good);
  weak.writeUInt32BE(8, 12); // 8 KiB of memory would make brute force cheap
  assert.throws(() => decodeKeySlots(weak), (e) => isElohimError(e, 'VAULT_CORRUPT'));
  const huge = Buffer.from(good);
  huge.writeUInt32BE(0xffffffff, 16);
  assert.throws(() => decodeKeySlots(huge), (e) => isElohimError(e, 'VAULT_CORRUPT'));
});

test('cost levels: version 1 reads as standard; a slot sealed at an older cost is still found, a new one uses the chosen cost', async () => {
  const v1 = encodeKeySlots(createKeySlots(CHEAP));
  v1[8] = 1;
  v1[9] = 0;
  v1[10] = 0;
  const old = decodeKeySlots(v1);
  assert.equal(old.cost, 'standard');
  assert.deepEqual([...old.costsUsed], ['standard']);
  assert.equal(encodeKeySlots(old)[8], 2, 'written back as version 2');

  const master = randomBytes(32);
  old.slots[7] = sealSlot(await passphraseKey(old, 'pass', 'standard'), 7, { kind: 'passphrase', master });
  old.cost = 'strong';
  old.costsUsed.add('strong');
  const ks = decodeKeySlots(encodeKeySlots(old));
  assert.equal(ks.cost, 'strong');
  assert.deepEqual([...ks.costsUsed].sort(), ['standard', 'strong']);
  const search = await findPassphraseSlot(ks, 'pass');
  assert.equal(search.found?.index, 7);
  assert.equal(search.cost, 'standard', 'opened at the cost it was sealed with');
  assert.equal(findSlot(ks, search.key), null, 'the returned key is the strong one, which the old slot does not open');
  assert.equal((await findPassphraseSlot(ks, 'wrong')).found, null);

  // A cost never chosen on this device is never tried, so a forged slot there stays closed.
  ks.slots[9] = sealSlot(await passphraseKey(ks, 'max', 'maximum'), 9, { kind: 'passphrase', master });
  assert.equal((await findPassphraseSlot(ks, 'max')).found, null);
});

test('cost levels multiply the base cost and stay within the bounds a file may carry', () => {
  const base = { memory: 64 * 1024, passes: 3, parallelism: 4 };
  assert.deepEqual(argon2ForCost(base, 'standard'), base);
  assert.deepEqual(argon2ForCost(base, 'strong'), { memory: 256 * 1024, passes: 3, parallelism: 4 });
  assert.deepEqual(argon2ForCost(base, 'maximum'), { memory: 1024 * 1024, passes: 4, parallelism: 4 });
  assert.equal(argon2ForCost({ ...base, memory: 1024 * 1024 }, 'maximum').memory, 4 * 1024 * 1024);
});
