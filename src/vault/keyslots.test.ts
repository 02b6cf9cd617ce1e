import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  createKeySlots,
  decodeKeySlots,
  encodeKeySlots,
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
  const v2 = Buffer.from(good);
  v2[8] = 2;
  assert.throws(() => decodeKeySlots(v2), (e) => isElohimError(e, 'VAULT_FORMAT_UNKNOWN'));
  const weak = Buffer.from(good);
  weak.writeUInt32BE(8, 12); // 8 KiB of memory would make brute force cheap
  assert.throws(() => decodeKeySlots(weak), (e) => isElohimError(e, 'VAULT_CORRUPT'));
  const huge = Buffer.from(good);
  huge.writeUInt32BE(0xffffffff, 16);
  assert.throws(() => decodeKeySlots(huge), (e) => isElohimError(e, 'VAULT_CORRUPT'));
});
