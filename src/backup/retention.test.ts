import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkPolicy, snapshotsToKeep } from './retention.ts';

const DAY = 86_400_000;
const at = (iso: string) => Date.parse(iso);
const snaps = (times: string[]) => times.map((t, i) => ({ name: `s${i}`, time: at(t) }));

test('keep-last keeps the newest N', () => {
  const s = snaps(['2026-01-01T10:00Z', '2026-01-02T10:00Z', '2026-01-03T10:00Z']);
  assert.deepEqual([...snapshotsToKeep(s, { last: 2 })].sort(), ['s1', 's2']);
});

test('keep-daily keeps the newest of each of the newest N days that have a snapshot', () => {
  const s = snaps(['2026-01-01T08:00Z', '2026-01-01T20:00Z', '2026-01-02T09:00Z', '2026-01-02T23:59Z', '2026-01-05T00:01Z']);
  assert.deepEqual([...snapshotsToKeep(s, { daily: 2 })].sort(), ['s3', 's4']);
  assert.deepEqual([...snapshotsToKeep(s, { daily: 3 })].sort(), ['s1', 's3', 's4']);
});

test('keep-weekly uses ISO weeks (Monday to Sunday, UTC); keep-monthly calendar months', () => {
  // 2026-01-04 is a Sunday, 2026-01-05 a Monday: two weeks.
  const s = snaps(['2026-01-03T12:00Z', '2026-01-04T12:00Z', '2026-01-05T12:00Z', '2026-02-10T12:00Z']);
  assert.deepEqual([...snapshotsToKeep(s, { weekly: 3 })].sort(), ['s1', 's2', 's3']);
  assert.deepEqual([...snapshotsToKeep(s, { monthly: 2 })].sort(), ['s2', 's3']);
  // Week 1 of 2027 starts on Monday 2027-01-04; 2027-01-02 is in 2026-W53.
  const y = snaps(['2027-01-02T12:00Z', '2027-01-03T12:00Z', '2027-01-04T12:00Z']);
  assert.deepEqual([...snapshotsToKeep(y, { weekly: 5 })].sort(), ['s1', 's2']);
});

test('rules add up, and the newest is always kept', () => {
  const s = Array.from({ length: 60 }, (_, i) => ({ name: `s${String(i).padStart(2, '0')}`, time: at('2026-03-01T12:00Z') + i * DAY }));
  const kept = snapshotsToKeep(s, { last: 3, monthly: 2 });
  assert.deepEqual([...kept].sort(), ['s30', 's57', 's58', 's59']);
  assert.deepEqual([...snapshotsToKeep(s, { daily: 0, weekly: 0 })], ['s59']);
});

test('policies from a face are checked', () => {
  assert.deepEqual(checkPolicy({ last: 3, daily: 0 }), { last: 3 });
  for (const bad of [{}, { last: 0 }, { last: -1 }, { daily: 1.5 }, { weekly: 1e9 }]) assert.throws(() => checkPolicy(bad), { code: 'INVALID_INPUT' });
});
