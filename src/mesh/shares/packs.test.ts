/**
 * Versions and local links kept a few per row (packs.ts): the bookkeeping against a model, and
 * the sync store over real vaults: a sync writes packs, rows written one per record before packs
 * still load and move into packs as they change, and a commit that fails leaves the rows and the
 * memory as they were.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { setCommitHooks } from '../../db/index.ts';
import type { RecordId } from '../../db/index.ts';
import { putAt } from '../../vault/testing.ts';
import { versionKey } from './crdt.ts';
import { openVersion } from './keys.ts';
import { newPacking, placeLoaded, repack } from './packs.ts';
import { openSyncStore, rowId } from './store.ts';
import type { LocalLink, ShareState, SyncRecord, SyncStore } from './store.ts';
import { testDevices } from './testing.ts';
import type { TestDevice } from './testing.ts';

test('packs: after any changes (and any rolled back), the rows hold each kept key exactly once, none over the limit, and undo restores the bookkeeping', () => {
  const LIMIT = 3;
  const op = fc.record({ keys: fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 8 }), keep: fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }), fail: fc.boolean() });
  fc.assert(
    fc.property(fc.array(fc.integer({ min: 0, max: 11 }), { maxLength: 5 }), fc.array(op, { maxLength: 12 }), (legacy, ops) => {
      const p = newPacking();
      const kept = new Set<string>();
      // The rows as stored: a key's own row (before packs), or a pack's key set.
      const rows = new Map<string, Set<string>>();
      for (const n of legacy) {
        const key = `k${n}`;
        kept.add(key);
        rows.set(`own:${key}`, new Set([key]));
        placeLoaded(p, key, null);
      }
      for (const { keys, keep, fail } of ops) {
        const touched = keys.map((n) => `k${n}`);
        const before = structuredClone({ where: p.where, members: p.members, open: p.open, kept });
        touched.forEach((key, i) => (keep[i] ? kept.add(key) : kept.delete(key)));
        const r = repack(p, touched, (k) => kept.has(k), LIMIT, (k) => `own:${k}` as RecordId);
        if (fail) {
          r.undo();
          assert.deepEqual({ where: p.where, members: p.members, open: p.open }, { where: before.where, members: before.members, open: before.open });
          kept.clear();
          for (const k of before.kept) kept.add(k);
          continue;
        }
        for (const id of r.remove) assert.ok(rows.delete(id), `removes a row that is there (${id})`);
        for (const id of r.put) rows.set(id, new Set(p.members.get(id)));
        const seen = new Map<string, number>();
        for (const [, set] of rows) {
          assert.ok(set.size > 0 && set.size <= LIMIT);
          for (const k of set) seen.set(k, (seen.get(k) ?? 0) + 1);
        }
        assert.deepEqual([...seen.keys()].sort(), [...kept].sort());
        assert.ok([...seen.values()].every((n) => n === 1), 'each key in one row');
        for (const k of kept) assert.ok(rows.get(p.where.get(k) ?? `own:${k}`)?.has(k));
      }
    }),
    { numRuns: 300 },
  );
});

/** The rows of a device's sync store, by kind. */
function kinds(d: TestDevice): Map<string, number> {
  const out = new Map<string, number>();
  for (const rec of d.syncRecords.loadAll().values()) out.set(rec.t, (out.get(rec.t) ?? 0) + 1);
  return out;
}

/** What a store holds of a share, comparable. */
function snapshot(state: ShareState) {
  return { wires: [...state.wires.keys()].sort(), local: [...state.local.entries()].sort(([a], [b]) => (a < b ? -1 : 1)) };
}

function reread(d: TestDevice, share: string): { store: SyncStore; state: ShareState } {
  const store = openSyncStore(d.syncRecords);
  return { store, state: store.shares.get(share)! };
}

test('a sync keeps versions and local links in packs; an older store (a row each) loads and moves into packs as it changes; a failed commit changes nothing', async (t) => {
  const { hub, devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  await b.shares.sync({ only: 'Laptop' });
  for (let i = 0; i < 150; i++) await putAt(a.tv.vault, `/Team/f${i}.txt`, `file ${i}`);
  const { id } = await a.shares.share('/Team', ['Phone']);
  await b.shares.sync({ only: 'Laptop' });
  await putAt(a.tv.vault, '/Team/f0.txt', 'edited', { replace: true });
  await b.shares.sync({ only: 'Laptop' });

  // Packed: no row per version or link, and few rows for 150 files (48 versions, 96 links a pack).
  for (const d of [a, b]) {
    const k = kinds(d);
    assert.equal(k.get('version') ?? 0, 0);
    assert.equal(k.get('local') ?? 0, 0);
    assert.ok((k.get('versions') ?? 0) >= 4 && (k.get('versions') ?? 0) <= 8, `version packs: ${k.get('versions')}`);
    assert.ok((k.get('links') ?? 0) >= 2 && (k.get('links') ?? 0) <= 5, `link packs: ${k.get('links')}`);
    assert.equal(d.syncRecords.load().seal, 'ok');
  }
  const { state } = reread(b, id);
  assert.equal(state.wires.size, 150, 'the edited file\'s older version was dropped from its pack');
  assert.equal(state.local.size, 150);
  const want = snapshot(state);

  // An older build's store: the same records, one row each.
  const put: [RecordId, SyncRecord][] = [];
  const remove: RecordId[] = [];
  for (const [rid, rec] of b.syncRecords.loadAll()) {
    if (rec.t === 'versions') {
      remove.push(rid);
      for (const wire of rec.wires) put.push([rowId('version', versionKey(wire)), { t: 'version', wire }]);
    } else if (rec.t === 'links') {
      remove.push(rid);
      for (const [key, link] of rec.links) put.push([rowId('local', rec.share, key), { t: 'local', share: rec.share, key, link }]);
    }
  }
  b.syncRecords.commit({ put, remove });
  assert.equal(kinds(b).get('version'), 150);
  const old = reread(b, id);
  assert.deepEqual(snapshot(old.state), want, 'rows of one record each load as before');
  // A change moves what it touches into a pack (its own row removed in the same commit).
  const [key, link] = [...old.state.local.entries()][0]!;
  old.store.setLocal(old.state, [{ key, link: { ...link, path: ['moved.txt'] } }]);
  // A newer version of f1 (signed by the laptop, its phone away), kept by this store: the one it
  // supersedes goes with its own row.
  hub.devices.get(b.id)!.online = false;
  await putAt(a.tv.vault, '/Team/f1.txt', 'edited too', { replace: true });
  await assert.rejects(a.shares.sync({ only: 'Phone' }));
  const fromA = reread(a, id).state;
  const newer = [...fromA.index.versions()].filter((v) => v.content.path.join('/') === 'f1.txt').sort((x, y) => y.seq - x.seq)[0]!;
  assert.equal(old.store.addVersions(old.state, [openVersion(fromA.wires.get(versionKey(newer))!, old.state.record, old.state.keys)]).length, 1);
  const k = kinds(b);
  assert.equal(k.get('local'), 149);
  assert.equal(k.get('links'), 1);
  assert.equal(k.get('version'), 149, 'the superseded version\'s own row is removed');
  assert.equal(k.get('versions'), 1);
  assert.equal(b.syncRecords.load().seal, 'ok');
  const moved = snapshot(old.state);
  assert.deepEqual(snapshot(reread(b, id).state), moved, 'memory and rows agree');
  assert.equal(reread(b, id).state.local.get(key)!.path[0], 'moved.txt');

  // A batch that fails half-way through its rows (the packs written, then a row's removal
  // refused), or at its commit (a full disk): neither the rows nor the store's memory change.
  const links: { key: string; link: LocalLink | null }[] = [...old.state.local.keys()].slice(0, 120).map((key) => ({ key, link: null }));
  links.push({ key, link: { ...link, path: ['moved again.txt'] } });
  b.db.exec("CREATE TEMP TRIGGER half BEFORE DELETE ON main.records BEGIN SELECT RAISE(ABORT, 'power cut'); END");
  assert.throws(() => old.store.setLocal(old.state, links), /power cut/);
  b.db.exec('DROP TRIGGER temp.half');
  assert.deepEqual(snapshot(reread(b, id).state), moved, 'nothing of the batch was kept');
  assert.deepEqual(snapshot(old.state), moved, 'memory put back');
  assert.equal(b.syncRecords.load().seal, 'ok');
  setCommitHooks(b.db, {
    begin() {},
    commit() {
      throw new Error('disk full');
    },
  });
  assert.throws(() => old.store.setLocal(old.state, links), /disk full/);
  setCommitHooks(b.db, { begin() {}, commit() {} });
  assert.deepEqual(snapshot(old.state), moved, 'memory put back');
  assert.deepEqual(snapshot(reread(b, id).state), moved, 'nothing of the batch was kept');
  // The same store goes on from there: the bookkeeping was put back too.
  old.store.setLocal(old.state, links);
  const after = reread(b, id);
  assert.equal(after.state.local.size, 31);
  assert.equal(after.state.local.get(key)!.path[0], 'moved again.txt');
  assert.deepEqual(snapshot(after.state), snapshot(old.state));
  assert.equal(b.syncRecords.load().seal, 'ok');
});
