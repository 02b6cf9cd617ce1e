import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import {
  applyChain,
  applyManifest,
  asRepositoryKey,
  CONFIG_SIZE,
  decodeConfig,
  decodeIndex,
  decodeManifest,
  encodeConfig,
  encodeIndex,
  encodeManifest,
  encodeRow,
  framedRows,
  keyMatches,
  manifestOf,
  MAX_DEPTH,
  newName,
  rowKey,
} from './v1.ts';
import type { Manifest, SnapshotState } from './v1.ts';

const key = asRepositoryKey(randomBytes(32));
const other = asRepositoryKey(randomBytes(32));

test('config: the key check tells this repository key from another; a newer version is refused', () => {
  const buf = encodeConfig(key, randomBytes(16));
  assert.equal(buf.length, CONFIG_SIZE);
  const config = decodeConfig(buf);
  assert.ok(keyMatches(config, key));
  assert.equal(keyMatches(config, other), false);
  const newer = Buffer.from(buf);
  newer[8] = 2;
  assert.throws(() => decodeConfig(newer), { code: 'VAULT_FORMAT_UNKNOWN' });
  assert.throws(() => decodeConfig(randomBytes(CONFIG_SIZE)), { code: 'VAULT_CORRUPT' });
});

test('sealed files: bound to their name and key; any flipped byte fails; sizes pad to 256-byte buckets', () => {
  const name = newName(1_700_000_000_000, randomBytes(8));
  const m = manifestOf({ rows: new Set(['a']), objects: new Set(['b']), config: null }, null, 5);
  const sealed = encodeManifest(key, name, m);
  assert.equal((sealed.length - 28) % 256, 0);
  assert.deepEqual(decodeManifest(key, name, sealed), m);
  assert.throws(() => decodeManifest(other, name, sealed), { code: 'OBJECT_DAMAGED' });
  assert.throws(() => decodeManifest(key, newName(1, randomBytes(8)), sealed), { code: 'OBJECT_DAMAGED' });
  for (const at of [0, 12, sealed.length - 1]) {
    const bad = Buffer.from(sealed);
    bad.writeUInt8(bad[at]! ^ 0x40, at);
    assert.throws(() => decodeManifest(key, name, bad), { code: 'OBJECT_DAMAGED' });
  }
  // An index sealed for one pack does not open as another's.
  const index = encodeIndex(key, { kind: 'data', pack: name, size: 10, entries: [{ id: 'x', offset: 0, length: 10, sha256: 'h' }] });
  assert.equal(decodeIndex(key, 'data', name, index).entries.length, 1);
  assert.throws(() => decodeIndex(key, 'rows', name, index), { code: 'OBJECT_DAMAGED' });
});

test('rows: framed back to the same bytes; a torn pack is refused; a changed row is a new key', () => {
  const rows = Array.from({ length: 5 }, (_, i) => ({ id: randomBytes(16), tag: randomBytes(16), body: randomBytes(64 * (i + 1)) }));
  const pack = Buffer.concat(rows.map(encodeRow));
  assert.deepEqual([...framedRows(pack)], rows);
  assert.throws(() => [...framedRows(pack.subarray(0, pack.length - 1))], { code: 'OBJECT_DAMAGED' });
  // One bit flipped (setting a byte to 1 left it unchanged when it was 1 already: 1 run in 256).
  const changed = { ...rows[0]!, body: Buffer.from(rows[0]!.body) };
  changed.body[0] = changed.body[0]! ^ 1;
  assert.notEqual(rowKey(changed), rowKey(rows[0]!));
  assert.equal(rowKey(changed).slice(0, 32), rows[0]!.id.toString('hex'));
});

test('manifests (property): a chain of deltas applied in order gives back every state; a full one every MAX_DEPTH', () => {
  const state = fc.record({
    rows: fc.uniqueArray(fc.constantFrom(...'abcdefghij'), { maxLength: 10 }),
    objects: fc.uniqueArray(fc.constantFrom(...'klmnopqrst'), { maxLength: 10 }),
    config: fc.option(fc.string(), { nil: null }),
  });
  fc.assert(
    fc.property(fc.array(state, { minLength: 1, maxLength: 40 }), (states) => {
      let prev: { name: string; state: SnapshotState; depth: number } | null = null;
      let applied: SnapshotState | null = null;
      let chain: Manifest[] = [];
      states.forEach((s, i) => {
        const next: SnapshotState = { rows: new Set(s.rows), objects: new Set(s.objects), config: s.config };
        const m = manifestOf(next, prev, i);
        assert.ok(m.depth < MAX_DEPTH);
        assert.equal(m.full, m.depth === 0);
        applied = applyManifest(m.full ? null : applied, m);
        assert.deepEqual(applied, next);
        // The chain from its last full manifest, applied in place as snapshotState does.
        chain = m.full ? [m] : [...chain, m];
        assert.deepEqual(applyChain(chain), next);
        // What a delta carries is what changed, not the whole state.
        if (!m.full) assert.ok(m.rows.put.length + m.rows.del.length <= next.rows.size + prev!.state.rows.size);
        prev = { name: `s${i}`, state: next, depth: m.depth };
      });
    }),
  );
});
