import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { isElohimError } from '../errors.ts';
import { describeTarget, parseTarget } from './target-spec.ts';
import type { TargetInput } from './target-spec.ts';

const RCLONE_CONFIG = '[office]\ntype = webdav\nurl = https://nas.example/dav\nuser = me\npass = x\n';

test('addresses: each kind, and what it needs', () => {
  assert.deepEqual(parseTarget({ address: '/media/usb/../usb/elohim' }), { kind: 'local', path: '/media/usb/elohim' });
  assert.deepEqual(parseTarget({ address: 'file:///media/my%20usb' }), { kind: 'local', path: '/media/my usb' });
  assert.deepEqual(parseTarget({ address: 's3://office/laptop', endpoint: 'http://127.0.0.1:9000', pathStyle: true, accessKeyId: 'AK', secretAccessKey: 'SK' }), {
    kind: 's3', bucket: 'office', prefix: 'laptop/', endpoint: 'http://127.0.0.1:9000', region: undefined, pathStyle: true, accessKeyId: 'AK', secretAccessKey: 'SK',
  });
  assert.equal(parseTarget({ address: 'webdav+https://nas.example/dav', username: 'me', password: 'pw' }).kind, 'webdav');
  assert.equal(parseTarget({ address: 'rclone:office:backups', rcloneConfig: RCLONE_CONFIG }).kind, 'rclone');
  for (const bad of [
    { address: 'relative/path' },
    { address: 's3://Bad_Bucket/x', accessKeyId: 'a', secretAccessKey: 'b' },
    { address: 's3://bucket/x' },
    { address: 's3://bucket/a//b', accessKeyId: 'a', secretAccessKey: 'b' },
    { address: 's3://bucket/x', endpoint: 'ftp://x', accessKeyId: 'a', secretAccessKey: 'b' },
    { address: 'webdav+http://nas.example/dav' },
    { address: 'webdav+https://user:pw@nas.example/dav' },
    { address: 'webdav+https://nas.example/dav', password: 'pw' },
    { address: 'rclone:office:backups' },
    { address: 'rclone:other:backups', rcloneConfig: RCLONE_CONFIG },
    { address: 'file://%zz' },
  ] as TargetInput[]) {
    assert.throws(() => parseTarget(bad), { code: 'INVALID_INPUT' }, JSON.stringify(bad));
  }
});

test('what is shown of a target never carries a secret', () => {
  const shown = JSON.stringify([
    describeTarget(parseTarget({ address: 's3://office/x', accessKeyId: 'AKIAEXAMPLE1234', secretAccessKey: 'SECRET-S3' })),
    describeTarget(parseTarget({ address: 'webdav+https://nas.example/dav', username: 'me', password: 'SECRET-DAV' })),
    describeTarget(parseTarget({ address: 'rclone:office:x', rcloneConfig: RCLONE_CONFIG.replace('pass = x', 'pass = SECRET-RCLONE') })),
  ]);
  for (const secret of ['SECRET-S3', 'SECRET-DAV', 'SECRET-RCLONE', 'AKIAEXAMPLE']) assert.equal(shown.includes(secret), false, secret);
});

test('hostile input: any address and options either parse or are refused with INVALID_INPUT, nothing else', () => {
  const text = fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.constantFrom('s3://', 'webdav+', 'rclone:', 'file://', '/', 'webdav+http://127.0.0.1/'));
  fc.assert(
    fc.property(
      fc.record({ address: fc.oneof(text, fc.tuple(fc.constantFrom('s3://', 'webdav+https://', 'rclone:', 'file://', '/'), fc.string()).map(([a, b]) => a + b)) }, { requiredKeys: ['address'] }),
      fc.record({ endpoint: text, region: text, pathStyle: fc.boolean(), accessKeyId: text, secretAccessKey: text, username: text, password: text, rcloneConfig: text }, { requiredKeys: [] }),
      (a, o) => {
        try {
          parseTarget({ ...o, ...a });
        } catch (err) {
          if (!isElohimError(err, 'INVALID_INPUT')) throw err;
        }
      },
    ),
    { numRuns: 2000 },
  );
});
