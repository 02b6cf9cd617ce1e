import assert from 'node:assert/strict';
import { test } from 'node:test';
import { checkName, checkPrefix, TargetError, withRetry } from './target.ts';

const policy = { attempts: 4, baseMs: 5, maxMs: 20 };

test('withRetry: transient and unreachable failures are retried until one succeeds', async () => {
  let calls = 0;
  const result = await withRetry(async () => {
    calls++;
    if (calls === 1) throw new TargetError('unreachable', 'down');
    if (calls === 2) throw new TargetError('transient', '503');
    return 'ok';
  }, { policy });
  assert.equal(result, 'ok');
  assert.equal(calls, 3);
});

test('withRetry: gives up after the last attempt with the last failure', async () => {
  let calls = 0;
  await assert.rejects(
    withRetry(async () => {
      calls++;
      throw new TargetError('transient', `503 #${calls}`);
    }, { policy }),
    /503 #4/,
  );
  assert.equal(calls, 4);
});

test('withRetry: missing, auth, full and bugs are thrown at once', async () => {
  for (const err of [new TargetError('missing', 'm'), new TargetError('auth', 'a'), new TargetError('full', 'f'), new TypeError('bug')]) {
    let calls = 0;
    await assert.rejects(withRetry(async () => {
      calls++;
      throw err;
    }, { policy }), (e) => e === err);
    assert.equal(calls, 1);
  }
});

test('withRetry: an abort during the backoff stops at once with the signal\'s reason', async () => {
  const ac = new AbortController();
  const reason = new Error('stop');
  let calls = 0;
  const started = performance.now();
  await assert.rejects(
    withRetry(async () => {
      calls++;
      setTimeout(() => ac.abort(reason), 5);
      throw new TargetError('transient', 'again');
    }, { signal: ac.signal, policy: { attempts: 10, baseMs: 2000, maxMs: 2000 } }),
    (e) => e === reason,
  );
  assert.ok(calls <= 2 && performance.now() - started < 1500);
});

test('names: the repository alphabet, one folder deep', () => {
  for (const ok of ['config', 'keyslots.mac', 'data/0abc-12', 'index/rows-0abc-12']) checkName(ok);
  for (const bad of ['', '/x', 'x/', 'a/b/c', '../x', 'X', 'data/.tmp', 'a b']) assert.throws(() => checkName(bad), { code: 'INVALID_INPUT' }, bad);
});

test('list prefixes: a folder and the start of a name, never a way out', () => {
  for (const ok of ['', 'index/', 'data/', 'snapshots/00a', 'config']) checkPrefix(ok);
  for (const bad of ['../', '../../', 'a/../', '/x', 'a/b/', '.', 'data/.t', 'X']) assert.throws(() => checkPrefix(bad), { code: 'INVALID_INPUT' }, bad);
});
