import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { objectNames } from './objects.ts';

/** The permutation as a cipher made for this one id would give it (the reference). */
function once(key: Buffer, hex: string): string {
  const c = createCipheriv('aes-256-ecb', key, null).setAutoPadding(false);
  return Buffer.concat([c.update(Buffer.from(hex, 'hex')), c.final()]).toString('hex');
}

test('object names: the reused ciphers give every id the permutation a fresh cipher gives, both ways, in any order of calls', () => {
  const key = randomBytes(32);
  const names = objectNames(key);
  for (let i = 0; i < 2000; i++) {
    const wire = randomBytes(16).toString('hex');
    const local = names.localOf(wire);
    assert.equal(local, once(key, wire));
    // Calls interleaved both ways, and one way twice: no call may carry state into the next.
    assert.equal(names.localOf(wire), local);
    assert.equal(names.wireOf(local), wire);
    if (i % 3 === 0) assert.equal(names.wireOf(wire as never), names.wireOf(wire as never));
  }
  // Another vault's key gives other ids.
  const other = objectNames(randomBytes(32));
  const wire = randomBytes(16).toString('hex');
  assert.notEqual(other.localOf(wire), names.localOf(wire));
  assert.throws(() => names.localOf('not hex'), { code: 'INVALID_INPUT' });
  assert.throws(() => names.wireOf(('ab'.repeat(15)) as never), { code: 'INVALID_INPUT' });
});
