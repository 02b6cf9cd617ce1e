import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ItemTree } from './tree.ts';
import type { Item } from './tree.ts';
import type { RecordId } from '../db/index.ts';

const id = (n: number) => n.toString(16).padStart(32, '0') as RecordId;
const folder = (n: number, parent: number | null, name: string, trashedAt?: number): Item => ({
  id: id(n), kind: 'folder', parent: parent === null ? null : id(parent), name, created: 0, modified: 0, ...(trashedAt ? { trashedAt } : {}),
});
const file = (n: number, parent: number | null, name: string, trashedAt?: number): Item => ({
  ...folder(n, parent, name, trashedAt), kind: 'file', size: 1,
});

test('resolve walks live names; trashed items and their contents are out of the live tree', () => {
  const t = new ItemTree([folder(1, null, 'docs'), file(2, 1, 'a.txt'), folder(3, null, 'old', 5), file(4, 3, 'b.txt')]);
  assert.equal(t.resolve([]), null);
  assert.equal(t.resolve(['docs', 'a.txt'])?.id, id(2));
  assert.equal(t.resolve(['old']), undefined);
  assert.equal(t.resolve(['docs', 'a.txt', 'x']), undefined);
  assert.equal(t.isLive(id(4)), false);
  assert.deepEqual(t.trashed().map((i) => i.id), [id(3)]);
  assert.deepEqual(t.subtree(id(3)).map((i) => i.id), [id(3), id(4)]);
});

test('listing puts folders first, then names in order; find skips the trash', () => {
  const t = new ItemTree([file(1, null, 'b'), folder(2, null, 'z'), file(3, null, 'a'), file(4, 2, 'ab', 9)]);
  assert.deepEqual(t.children(null).map((i) => i.name), ['z', 'a', 'b']);
  assert.deepEqual(t.find('A').map((i) => i.name), ['a']);
});

test('apply replaces and removes items, keeping the child index right', () => {
  const t = new ItemTree([folder(1, null, 'x'), file(2, null, 'f')]);
  t.apply({ put: [{ ...file(2, null, 'f'), parent: id(1) }], remove: [] });
  assert.deepEqual(t.children(null).map((i) => i.name), ['x']);
  assert.deepEqual(t.children(id(1)).map((i) => i.name), ['f']);
  t.apply({ remove: [id(2)] });
  assert.deepEqual(t.children(id(1)), []);
  assert.ok(t.isWithin(id(1), id(1)));
});

test('resolve can start below the root: from a folder, and nowhere from an unknown id', () => {
  const t = new ItemTree([folder(1, null, 'docs'), folder(2, 1, 'sub'), file(3, 2, 'a.txt')]);
  assert.equal(t.resolve(['sub', 'a.txt'], id(1))?.id, id(3));
  assert.equal(t.resolve([], id(2))?.id, id(2), 'no names: the folder itself');
  assert.equal(t.resolve(['a.txt'], id(1)), undefined);
  assert.equal(t.resolve(['docs'], id(99)), undefined, 'not the root when the start is unknown');
});
