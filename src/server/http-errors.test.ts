import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import { ElohimError, ERROR_CODES } from '../errors.ts';
import type { ErrorCode } from '../errors.ts';
import { HTTP_STATUS_OF, toHttpError } from './http-errors.ts';

test('every code of ours answers with the status and message the registry gives it', () => {
  for (const code of Object.keys(ERROR_CODES) as ErrorCode[]) {
    const { status, body } = toHttpError(new ElohimError(code));
    assert.equal(status, HTTP_STATUS_OF[code], code);
    assert.deepEqual(body, { error: { code, message: ERROR_CODES[code] } });
  }
});

test('an error nobody raised on purpose is 500 INTERNAL, with no detail of it', () => {
  const { status, body } = toHttpError(new TypeError('secret /home/alice/path undefined is not a function'));
  assert.equal(status, 500);
  assert.deepEqual(body, { error: { code: 'INTERNAL', message: ERROR_CODES.INTERNAL } });
});

test('a full device is 507 DISK_FULL, from the file system or from SQLite', () => {
  const enospc = Object.assign(new Error("ENOSPC: no space left on device, write '/secret/path'"), { code: 'ENOSPC', errno: -28 });
  assert.deepEqual(toHttpError(enospc), { status: 507, body: { error: { code: 'DISK_FULL', message: ERROR_CODES.DISK_FULL } } });
  const edquot = Object.assign(new Error('EDQUOT'), { code: 'EDQUOT' });
  assert.equal(toHttpError(edquot).status, 507);
  // SQLite's own error object, as node:sqlite throws it for SQLITE_FULL (13)
  const sqliteFull = Object.assign(new Error('database or disk is full'), { code: 'ERR_SQLITE_ERROR', errcode: 13, errstr: 'database or disk is full' });
  assert.equal(toHttpError(sqliteFull).status, 507);
  // …and another SQLite failure stays HOST_IO
  const db = new DatabaseSync(':memory:');
  let other: unknown;
  try {
    db.exec('not sql');
  } catch (err) {
    other = err;
  }
  assert.deepEqual(toHttpError(other).body.error.code, 'HOST_IO');
  const eacces = Object.assign(new Error("EACCES: permission denied, open '/x'"), { code: 'EACCES' });
  assert.deepEqual(toHttpError(eacces), { status: 500, body: { error: { code: 'HOST_IO', message: ERROR_CODES.HOST_IO } } });
});

test("Fastify's client errors map to our codes and take their status from the registry", () => {
  assert.equal(toHttpError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_BODY_TOO_LARGE', statusCode: 413 })).body.error.code, 'BODY_TOO_LARGE');
  assert.equal(toHttpError(Object.assign(new Error('x'), { code: 'FST_ERR_CTP_INVALID_MEDIA_TYPE', statusCode: 415 })).status, HTTP_STATUS_OF.UNSUPPORTED_MEDIA_TYPE);
  const validation = toHttpError(Object.assign(new Error("body must have required property 'name'"), { validation: [], statusCode: 400 }));
  assert.deepEqual(validation, { status: 400, body: { error: { code: 'INVALID_INPUT', message: "body must have required property 'name'" } } });
});
