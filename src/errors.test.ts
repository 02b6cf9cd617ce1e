import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ERROR_CODES, ElohimError, isElohimError } from './errors.ts';
import { EXIT, EXIT_CODE_OF } from './cli/exit-codes.ts';
import { HTTP_STATUS_OF } from './server/index.ts';

test('every error code is mapped to an exit code, and no mapping is stale', () => {
  assert.deepEqual(Object.keys(EXIT_CODE_OF).sort(), Object.keys(ERROR_CODES).sort());
  const allowed = new Set<number>(Object.values(EXIT));
  for (const [code, exit] of Object.entries(EXIT_CODE_OF)) {
    assert.ok(allowed.has(exit) && exit !== EXIT.OK, `${code} maps to a failure exit code`);
  }
});

test('codes are SCREAMING_SNAKE and messages are non-empty sentences without secrets', () => {
  for (const [code, message] of Object.entries(ERROR_CODES)) {
    assert.match(code, /^[A-Z][A-Z0-9_]+$/);
    assert.ok(message.length > 5);
  }
});

test('ElohimError is an Error with its code and the registry message by default', () => {
  const err = new ElohimError('ITEM_NOT_FOUND');
  assert.ok(err instanceof Error);
  assert.equal(err.code, 'ITEM_NOT_FOUND');
  assert.equal(err.message, ERROR_CODES.ITEM_NOT_FOUND);
  assert.ok(isElohimError(err, 'ITEM_NOT_FOUND'));
  assert.ok(!isElohimError(new Error('x')));
});

test('every error code maps to an HTTP error status, and no mapping is stale', () => {
  assert.deepEqual(Object.keys(HTTP_STATUS_OF).sort(), Object.keys(ERROR_CODES).sort());
  for (const [code, status] of Object.entries(HTTP_STATUS_OF)) {
    assert.ok(status >= 400 && status <= 599, `${code} maps to an error status`);
  }
});
