import assert from 'node:assert/strict';
import test from 'node:test';
import fc from 'fast-check';
import { conflictsOf, covers, joinVectors, markSeen, hasSeen, ShareIndex, versionKey, viewOf } from './crdt.ts';
import type { Version } from './crdt.ts';

const name = (dev: string) => `dev-${dev}`;

function version(entry: string, dev: string, seq: number, vv: Record<string, number>, opts: { deleted?: boolean; at?: number; path?: string[] } = {}): Version {
  return {
    entry,
    dev,
    seq,
    vv: { ...vv, [dev]: seq },
    deleted: opts.deleted ?? false,
    obj: opts.deleted ? null : `${entry}${dev}${seq}`.padEnd(32, '0').slice(0, 32),
    content: { path: opts.path ?? ['docs', `${entry}.txt`], at: opts.at ?? seq, size: 1, sha256: `${dev}${seq}`, fileKey: opts.deleted ? '' : 'k' },
  };
}

test('covers: a later version of the same history covers the earlier; concurrent ones neither', () => {
  assert.equal(covers({ a: 2 }, { a: 1 }), true);
  assert.equal(covers({ a: 1 }, { a: 1 }), false);
  assert.equal(covers({ a: 1, b: 1 }, { a: 1 }), true);
  assert.equal(covers({ a: 2 }, { b: 1 }), false);
  assert.deepEqual(joinVectors([{ a: 2 }, { a: 1, b: 3 }]), { a: 2, b: 3 });
});

test('concurrent edits of one file keep both: the other becomes a conflict copy named after device and time', () => {
  const base = version('e1', 'aa', 1, {}, { at: 1000 });
  const mine = version('e1', 'aa', 2, base.vv, { at: Date.UTC(2026, 11, 6, 23, 15, 0) });
  const theirs = version('e1', 'bb', 1, base.vv, { at: Date.UTC(2026, 11, 6, 23, 16, 0) });
  const index = new ShareIndex([base, mine, theirs]);
  assert.equal(index.siblings('e1').length, 2, 'the base is superseded, the two edits are kept');
  const view = viewOf(index, name);
  assert.deepEqual(view.map((v) => v.path.join('/')), ['docs/e1 (conflict dev-aa 2026-12-06 231500).txt', 'docs/e1.txt']);
  assert.equal(view.find((v) => v.path.join('/') === 'docs/e1.txt')!.version.dev, 'bb', 'the newer edit keeps the name');
  assert.equal(conflictsOf(index).length, 1);
});

test('a modification beats a concurrent deletion, whichever is newer', () => {
  const base = version('e1', 'aa', 1, {}, { at: 1 });
  const deletion = version('e1', 'aa', 2, base.vv, { deleted: true, at: 50 });
  const edit = version('e1', 'bb', 1, base.vv, { at: 10 });
  for (const order of [[base, deletion, edit], [edit, deletion, base]]) {
    const view = viewOf(new ShareIndex(order), name);
    assert.equal(view.length, 1);
    assert.equal(view[0]!.version.dev, 'bb');
  }
  // A deletion that saw the edit removes it.
  const later = version('e1', 'aa', 3, joinVectors([deletion.vv, edit.vv]), { deleted: true, at: 60 });
  assert.equal(viewOf(new ShareIndex([base, deletion, edit, later]), name).length, 0);
});

test('two entries created apart at one path: both shown, the later under a conflict name', () => {
  const a = version('e1', 'aa', 1, {}, { at: 5, path: ['x.txt'] });
  const b = version('e2', 'bb', 1, {}, { at: 9, path: ['x.txt'] });
  const view = viewOf(new ShareIndex([b, a]), name);
  assert.equal(view.length, 2);
  assert.equal(view.find((v) => v.path[0] === 'x.txt')!.entry, 'e1');
});

test('seen ranges merge and answer membership', () => {
  const seen: Record<string, [number, number][]> = {};
  for (const n of [1, 2, 5, 3, 4, 9]) markSeen(seen, 'aa', n);
  assert.deepEqual(seen, { aa: [[1, 5], [9, 9]] });
  assert.equal(hasSeen(seen, 'aa', 4), true);
  assert.equal(hasSeen(seen, 'aa', 6), false);
});

/**
 * Property: devices that edit apart and exchange versions in any order converge to the same
 * view, and no edit is silently lost: every live version that no other version covers is shown.
 */
test('property: any delivery order converges, and no uncovered edit is lost', () => {
  const devs = ['aa', 'bb', 'cc'];
  const op = fc.record({ dev: fc.integer({ min: 0, max: 2 }), entry: fc.integer({ min: 0, max: 3 }), del: fc.boolean(), sync: fc.boolean(), at: fc.integer({ min: 0, max: 100 }) });
  fc.assert(
    fc.property(fc.array(op, { minLength: 1, maxLength: 40 }), fc.array(fc.nat(), { minLength: 3, maxLength: 3 }), (ops, seeds) => {
      const replicas = devs.map(() => new ShareIndex());
      const counters = devs.map(() => 0);
      const all: Version[] = [];
      for (const o of ops) {
        const replica = replicas[o.dev]!;
        const entry = `e${o.entry}`;
        const seen = joinVectors(replica.siblings(entry).map((s) => s.vv));
        const v = version(entry, devs[o.dev]!, ++counters[o.dev]!, seen, { deleted: o.del, at: o.at });
        replica.merge(v);
        all.push(v);
        if (o.sync) for (const r of replicas) for (const x of replica.versions()) r.merge(x);
      }
      // Deliver everything to each replica in a different order.
      const views = replicas.map((r, i) => {
        const order = [...all].sort((a, b) => ((versionKey(a).length * 31 + seeds[i]!) % 7) - ((versionKey(b).length * 31 + seeds[i]!) % 7) || (seeds[i]! % 2 ? 1 : -1) * (a.seq - b.seq));
        for (const v of order) r.merge(v);
        for (const v of all) r.merge(v); // twice changes nothing
        return JSON.stringify(viewOf(r, name).map((x) => [x.key, x.path, versionKey(x.version)]));
      });
      assert.equal(views[1], views[0]);
      assert.equal(views[2], views[0]);
      const shown = new Set(viewOf(replicas[0]!, name).map((x) => versionKey(x.version)));
      for (const v of all) {
        if (v.deleted || all.some((w) => covers(w.vv, v.vv))) continue;
        assert.ok(shown.has(versionKey(v)), `uncovered edit ${versionKey(v)} is shown`);
      }
    }),
    { numRuns: 300 },
  );
});
