import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isElohimError } from '../errors.ts';
import { openTestVault, putAt } from '../vault/testing.ts';
import { entryAt, existingFolder, fileAt, itemAt, listAt, mkdirPath, movePath, namesFolder } from './vault-paths.ts';

test('paths resolve to entries and ids, with the messages the CLI prints', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault } = tv;
  const a = await putAt(vault, '/docs/a.txt', 'a');
  assert.equal(entryAt(vault, '/').path, '/');
  assert.equal(entryAt(vault, '/docs/a.txt').id, a.id);
  assert.equal(fileAt(vault, '/docs/a.txt'), a.id);
  assert.throws(() => fileAt(vault, '/docs'), (e) => isElohimError(e, 'NOT_A_FILE') && e.message === '/docs is not a file');
  assert.throws(() => entryAt(vault, '/nope'), (e) => isElohimError(e, 'ITEM_NOT_FOUND'));
  assert.throws(() => itemAt(vault, '/', 'trashed'), (e) => isElohimError(e, 'INVALID_PATH') && /cannot be trashed/.test(e.message));
  assert.deepEqual(listAt(vault, '/docs/a.txt').map((e) => e.id), [a.id], 'ls of a file lists the file');
  assert.deepEqual(listAt(vault, '/').map((e) => e.name), ['docs']);
  assert.equal(namesFolder(vault, '/docs'), true);
  assert.equal(namesFolder(vault, '/new/'), true, 'a trailing slash names a folder');
  assert.equal(namesFolder(vault, '/docs/a.txt'), false);
  assert.deepEqual(existingFolder(vault, ['docs', 'x', 'y']), { id: a.parent, missing: ['x', 'y'] });
  assert.throws(() => existingFolder(vault, ['docs', 'a.txt', 'y']), (e) => isElohimError(e, 'NOT_A_FOLDER') && e.message === '/docs/a.txt is not a folder');
});

test('mkdir -p and mv by path keep the rules and messages they had', async (t) => {
  const tv = await openTestVault();
  t.after(() => tv.close());
  const { vault } = tv;
  mkdirPath(vault, '/p/q/r', true);
  mkdirPath(vault, '/p/q', true);
  assert.throws(() => mkdirPath(vault, '/p/q', false), (e) => isElohimError(e, 'ITEM_EXISTS'));
  assert.throws(() => mkdirPath(vault, '/', true), (e) => isElohimError(e, 'ITEM_EXISTS'));
  assert.throws(() => mkdirPath(vault, '/nope/child', false), (e) => isElohimError(e, 'ITEM_NOT_FOUND') && e.message === 'no folder /nope');
  assert.throws(() => mkdirPath(vault, '/s/t\u200b', true), (e) => isElohimError(e, 'INVALID_NAME'));
  assert.equal(vault.children(null).some((e) => e.name === 's'), false, 'a refused mkdir -p makes no parent');

  const a = await putAt(vault, '/a.txt', 'a');
  assert.throws(() => movePath(vault, '/a.txt', '/a.txt/x'), (e) => isElohimError(e, 'NOT_A_FOLDER'));
  assert.equal(movePath(vault, '/a.txt', '/p').path, '/p/a.txt', 'a folder receives it under its own name');
  assert.equal(movePath(vault, '/p/a.txt', '/b.txt').path, '/b.txt', 'a new name renames');
  assert.equal(movePath(vault, '/b.txt', '/').path, '/b.txt', 'the root is a folder too');
  assert.throws(() => movePath(vault, '/p', '/p/q'), (e) => isElohimError(e, 'MOVE_INTO_SELF'));
  assert.throws(() => movePath(vault, '/b.txt', '/nope/x'), (e) => isElohimError(e, 'ITEM_NOT_FOUND') && e.message === 'no folder /nope');
  await putAt(vault, '/c.txt', 'c');
  assert.throws(() => movePath(vault, '/b.txt', '/c.txt'), (e) => isElohimError(e, 'ITEM_EXISTS'));
  assert.throws(() => movePath(vault, '/', '/p'), (e) => isElohimError(e, 'INVALID_PATH'));
  assert.equal(vault.item(a.id).path, '/b.txt');
});
