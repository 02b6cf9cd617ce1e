import assert from 'node:assert/strict';
import { createHmac, hkdfSync, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { hkdfSha256Js32, hmacSha256Js } from './sha256-block.ts';

const lengths = [0, 1, 15, 16, 31, 32, 33, 55, 56, 57, 63, 64, 65, 100, 119, 120, 128, 200, 1000];

test('HMAC-SHA256 in JS gives node:crypto\'s bytes for keys and messages of every length around the block edges', () => {
  for (const kl of lengths) {
    for (const ml of lengths) {
      const key = randomBytes(kl);
      const a = randomBytes(ml);
      const b = randomBytes(ml % 7);
      assert.deepEqual(hmacSha256Js(key, a, b), createHmac('sha256', key).update(a).update(b).digest(), `key ${kl}, message ${ml}+${ml % 7}`);
    }
  }
});

test('HKDF-SHA256 (32 bytes) in JS gives hkdfSync\'s bytes, and RFC 5869\'s vectors', () => {
  for (const il of lengths) {
    for (const sl of [0, 16, 32, 64, 65, 80]) {
      const ikm = randomBytes(il);
      const salt = randomBytes(sl);
      const info = randomBytes((il + sl) % 40);
      assert.deepEqual(hkdfSha256Js32(ikm, salt, info), Buffer.from(hkdfSync('sha256', ikm, salt, info, 32)), `ikm ${il}, salt ${sl}`);
    }
  }
  // RFC 5869 A.1 and A.3 (SHA-256): the first 32 bytes of the OKM are T(1).
  const ikm = Buffer.alloc(22, 0x0b);
  const a1 = hkdfSha256Js32(ikm, Buffer.from('000102030405060708090a0b0c', 'hex'), Buffer.from('f0f1f2f3f4f5f6f7f8f9', 'hex'));
  assert.equal(a1.toString('hex'), '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf');
  const a3 = hkdfSha256Js32(ikm, new Uint8Array(0), new Uint8Array(0));
  assert.equal(a3.toString('hex'), '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d');
});
