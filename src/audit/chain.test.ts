import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import fc from 'fast-check';
import { encodeEntry, exportLine, GENESIS_HASH, hashEntry, nextEntry, planRetention, verifyChain } from './chain.ts';
import type { ChainEntry, ChainPointer, ChainState } from './chain.ts';
import { AUDIT_EVENTS, checkDetails, DETAIL_LIMITS } from './events.ts';
import { isElohimError } from '../errors.ts';

/** RFC 8785 for JSON without floats-as-keys subtleties: sorted keys, no whitespace, ES number/string forms. */
function jcs(v: unknown): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(jcs).join(',')}]`;
  const o = v as Record<string, unknown>;
  return `{${Object.keys(o).sort().map((k) => `${JSON.stringify(k)}:${jcs(o[k])}`).join(',')}}`;
}

const GENESIS: ChainPointer = { seq: 0, hash: GENESIS_HASH };

const T0 = 1_767_225_600_000;

/** Entries from the genesis at the times `ats`. */
function chainAt(ats: readonly number[]): { entries: ChainEntry[]; head: ChainPointer } {
  const entries: ChainEntry[] = [];
  let tip = GENESIS;
  ats.forEach((at, i) => {
    const e = nextEntry(tip, at, AUDIT_EVENTS[i % AUDIT_EVENTS.length]!, { i });
    entries.push(e);
    tip = { seq: e.seq, hash: hashEntry(e) };
  });
  return { entries, head: tip };
}

/** `n` entries one minute apart. */
const chain = (n: number) => chainAt(Array.from({ length: n }, (_, i) => T0 + i * 60_000));

const state = (entries: ChainEntry[], head: ChainPointer | null, anchor: ChainPointer | null = null): ChainState => ({
  entries,
  heads: head === null ? [] : [head],
  anchors: anchor === null ? [] : [anchor],
});

test('known answer: the canonical encoding and hash of version 1 are pinned', () => {
  const first: ChainEntry = { v: 1, seq: 1, at: 1_767_225_600_000, event: 'setup', details: { ok: true, n: 3, device: 'field laptop' }, prev: GENESIS_HASH };
  assert.equal(
    encodeEntry(first).toString('utf8'),
    `{"at":1767225600000,"details":{"device":"field laptop","n":3,"ok":true},"event":"setup","prev":"${GENESIS_HASH}","seq":1,"v":1}`,
  );
  // Computed independently: printf '%s' '<the line above>' | sha256sum
  assert.equal(hashEntry(first), '54566951af75390d9b45c7dc66d80588f8154aa05b967216c1ba6d78a9a84c6c');
  const second = nextEntry({ seq: 1, hash: hashEntry(first) }, 1_767_225_660_000, 'unlock', {});
  assert.equal(hashEntry(second), '9370a7443b6a093c871e2ac5133906395101744c77480dfc536f606f074ac1c2');
});

test('an unknown chain version is refused rather than hashed', () => {
  assert.throws(() => encodeEntry({ v: 2, seq: 1, at: 0, event: 'setup', details: {}, prev: GENESIS_HASH } as unknown as ChainEntry), RangeError);
});

const detailKey = fc.stringMatching(/^[a-z][A-Za-z0-9_]{0,31}$/);
const detailValue = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.boolean());
const details = fc.dictionary(detailKey, detailValue, { maxKeys: DETAIL_LIMITS.keys });

test('property: the encoding is RFC 8785 of the entry, and exports hash back to the same value', () => {
  fc.assert(
    fc.property(
      fc.nat(),
      fc.nat(),
      fc.constantFrom(...AUDIT_EVENTS),
      details,
      fc.stringMatching(/^[0-9a-f]{64}$/),
      (seq, at, event, d, prev) => {
        const e: ChainEntry = { v: 1, seq: seq + 1, at, event, details: checkDetails(d), prev };
        // What the record store does to a body: a JSON round trip.
        const stored = JSON.parse(JSON.stringify(e)) as ChainEntry;
        assert.equal(encodeEntry(e).toString('utf8'), jcs(e));
        assert.equal(hashEntry(stored), hashEntry(e));
        const line = JSON.parse(exportLine(e, hashEntry(e))) as Record<string, unknown>;
        assert.equal(exportLine(e, hashEntry(e)), jcs(line));
        const { hash, ...rest } = line;
        assert.equal(createHash('sha256').update(jcs(rest)).digest('hex'), hash);
      },
    ),
    { numRuns: 300 },
  );
});

test('details are checked: identifier keys, flat finite values, bounded sizes', () => {
  assert.deepEqual(checkDetails({ path: '/a.pdf', size: 3, ok: false }), { path: '/a.pdf', size: 3, ok: false });
  for (const bad of [
    null,
    [],
    'x',
    { '1': 1 },
    { __proto__x: 1 },
    { Path: 'x' },
    { 'a b': 1 },
    { a: NaN },
    { a: Infinity },
    { a: null },
    { a: { b: 1 } },
    { a: [1] },
    { a: '\ud800' },
    { a: 'x'.repeat(DETAIL_LIMITS.stringBytes + 1) },
    Object.fromEntries(Array.from({ length: DETAIL_LIMITS.keys + 1 }, (_, i) => [`k${i}`, i])),
    Object.fromEntries(Array.from({ length: 3 }, (_, i) => [`k${i}`, 'x'.repeat(DETAIL_LIMITS.stringBytes)])),
  ]) {
    assert.throws(() => checkDetails(bad), (e) => isElohimError(e, 'INVALID_INPUT'), JSON.stringify(bad));
  }
});

test('an intact chain verifies, from the genesis or from an anchor, and an empty log is fine', () => {
  const { entries, head } = chain(5);
  assert.deepEqual(verifyChain(state(entries, head)), { ok: true, entries: 5, head });
  assert.deepEqual(verifyChain(state([], null)), { ok: true, entries: 0 });
  // Entries 1..2 retired: the anchor is entry 2.
  const anchor = { seq: 2, hash: hashEntry(entries[1]!) };
  assert.deepEqual(verifyChain(state(entries.slice(2), head, anchor)), { ok: true, entries: 3, head });
  // Everything retired: anchor = head.
  assert.deepEqual(verifyChain(state([], head, head)), { ok: true, entries: 0, head });
  // Order of the input does not matter: seq inside the entry decides.
  assert.equal(verifyChain(state([...entries].reverse(), head)).ok, true);
});

test('every structural break is reported with the first bad entry', () => {
  const { entries, head } = chain(6);
  const anchor = { seq: 2, hash: hashEntry(entries[1]!) };
  const without = (i: number) => entries.filter((_, j) => j !== i);
  const cases: [string, ChainState, number | undefined, RegExp][] = [
    ['a middle entry removed', state(without(2), head), 3, /#3 is missing/],
    ['the first entry removed', state(without(0), head), 1, /#1 is missing/],
    ['the newest entry removed (head kept)', state(without(5), head), 6, /#6 and later are missing/],
    ['the head removed', state(entries, null), undefined, /head record is missing/],
    ['the anchor removed', state(entries.slice(2), head), 1, /#1 is missing/],
    ['an entry right after the anchor removed', state(entries.slice(3), head, anchor), 3, /#3 is missing/],
    ['a retired entry put back', state(entries.slice(1), head, anchor), 2, /removed by retention/],
    ['an older head put back', state(entries, { seq: 4, hash: hashEntry(entries[3]!) }), 5, /beyond the head/],
    ['an older anchor put back', state(entries.slice(4), head, anchor), 3, /#3 is missing/],
    ['two heads', { entries, heads: [head, { seq: 4, hash: hashEntry(entries[3]!) }], anchors: [] }, undefined, /2 head records/],
    ['two anchors', { entries: entries.slice(2), heads: [head], anchors: [anchor, { seq: 1, hash: hashEntry(entries[0]!) }] }, undefined, /2 anchor/],
    ['an edited entry', state(entries.map((e, i) => (i === 3 ? { ...e, details: { i: 99 } } : e)), head), 5, /#5 does not follow entry #4/],
    ['an edited newest entry', state(entries.map((e, i) => (i === 5 ? { ...e, at: e.at + 1 } : e)), head), 6, /#6 is not the one the head records/],
    ['two entries swapped in order', state(entries.map((e, i) => (i === 2 ? { ...entries[3]!, seq: 3 } : i === 3 ? { ...entries[2]!, seq: 4 } : e)), head), 3, /#3 does not follow/],
    ['a duplicated entry', state([...entries, { ...entries[2]!, details: { i: 7 } }], head), 3, /two entries claim #3/],
  ];
  for (const [name, s, firstBad, reason] of cases) {
    const v = verifyChain(s);
    assert.equal(v.ok, false, name);
    assert.equal(v.firstBadEntry, firstBad, name);
    assert.match(v.reason ?? '', reason, name);
    assert.equal(v.head, undefined, name);
  }
});

test('retention removes the old prefix only, and never past a break', () => {
  const { entries, head } = chain(6); // one minute apart
  const t = (i: number) => entries[i]!.at;
  const plan = planRetention(state(entries, head), t(3));
  assert.deepEqual(plan?.remove.map((e) => e.seq), [1, 2, 3]);
  assert.deepEqual(plan?.anchor, { seq: 3, hash: hashEntry(entries[2]!) });
  assert.equal(verifyChain(state(entries.slice(3), head, plan!.anchor)).ok, true);
  assert.equal(planRetention(state(entries, head), t(0)), null);
  assert.equal(planRetention(state(entries, head), t(5) + 1)?.remove.length, 6);

  // A clock set back: entries 3.. are "older" than entry 2, but removal stops at entry 2.
  const skewed = chainAt([T0, T0 + 10 * 60_000, T0 + 60_000, T0 + 2 * 60_000]);
  assert.deepEqual(planRetention(state(skewed.entries, skewed.head), T0 + 5 * 60_000)?.remove.map((e) => e.seq), [1]);

  // Entry 3 missing: only 1..2 may go, and the gap stays visible afterwards.
  const gap = entries.filter((e) => e.seq !== 3);
  const p2 = planRetention(state(gap, head), t(5) + 1);
  assert.deepEqual(p2?.remove.map((e) => e.seq), [1, 2]);
  const after = verifyChain(state(gap.filter((e) => e.seq > 2), head, p2!.anchor));
  assert.equal(after.ok, false);
  assert.equal(after.firstBadEntry, 3);
  // Ambiguous pointers: nothing is removed.
  assert.equal(planRetention({ entries, heads: [head, head], anchors: [] }, t(5) + 1), null);
});

test('property: any single structural tamper of a chain is detected', () => {
  const tamper = fc.oneof(
    fc.record({ kind: fc.constant('drop' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('edit' as const), at: fc.nat(), delta: fc.integer({ min: 1, max: 1000 }) }),
    fc.record({ kind: fc.constant('swap' as const), at: fc.nat(), other: fc.nat() }),
    fc.record({ kind: fc.constant('dup' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('drop-head' as const) }),
    fc.record({ kind: fc.constant('old-head' as const), at: fc.nat() }),
    fc.record({ kind: fc.constant('drop-anchor' as const) }),
  );
  fc.assert(
    fc.property(fc.integer({ min: 1, max: 12 }), fc.integer({ min: 0, max: 11 }), tamper, (n, retiredRaw, t) => {
      const full = chain(n);
      const retired = Math.min(retiredRaw, n); // entries 1..retired removed by retention
      const anchor = retired === 0 ? null : { seq: retired, hash: hashEntry(full.entries[retired - 1]!) };
      let entries = full.entries.slice(retired);
      let head: ChainPointer | null = full.head;
      let anchors = anchor === null ? [] : [anchor];
      const m = entries.length;
      switch (t.kind) {
        case 'drop':
          if (m === 0) return;
          entries = entries.filter((_, i) => i !== t.at % m);
          break;
        case 'edit': {
          if (m === 0) return;
          const i = t.at % m;
          entries = entries.map((e, j) => (j === i ? { ...e, at: e.at + t.delta } : e));
          break;
        }
        case 'swap': {
          if (m < 2) return;
          const i = t.at % m;
          const k = (i + 1 + (t.other % (m - 1))) % m;
          // The bodies trade places, each keeping its row's seq.
          entries = entries.map((e, j) => (j === i ? { ...entries[k]!, seq: e.seq } : j === k ? { ...entries[i]!, seq: e.seq } : e));
          break;
        }
        case 'dup':
          if (m === 0) return;
          entries = [...entries, { ...entries[t.at % m]!, details: { dup: true } }];
          break;
        case 'drop-head':
          head = null;
          break;
        case 'old-head': {
          if (n < 2) return;
          const i = t.at % (n - 1); // any entry but the newest
          head = { seq: i + 1, hash: hashEntry(full.entries[i]!) };
          break;
        }
        case 'drop-anchor':
          if (anchors.length === 0) return;
          anchors = [];
          break;
      }
      const v = verifyChain({ entries, heads: head === null ? [] : [head], anchors });
      assert.equal(v.ok, false, JSON.stringify({ n, retired, t }));
    }),
    { numRuns: 500 },
  );
});
