/**
 * openVersion's `trusted` (a wire read back from this vault's own sealed store): only the
 * Ed25519 check is skipped; a bad signature is still refused from anywhere else, and the sealed
 * content, the author's membership and write right, and the shape are checked either way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { generateX25519Identity } from '../../crypto/age/index.ts';
import { deviceSigner, newShareRecord, openVersion, sealVersion } from './keys.ts';
import type { Member } from './keys.ts';

test('openVersion: trusted skips only the signature check', () => {
  const owner = deviceSigner(randomBytes(32));
  const reader = deviceSigner(randomBytes(32));
  const member = (s: typeof owner, peer: string, role: Member['role']): Member => ({ dev: s.tag, peer, name: peer, signPub: s.publicKey, recipients: [generateX25519Identity().recipient], role });
  const { record, key } = newShareRecord(owner, { share: randomBytes(16).toString('hex'), name: 'T', epoch: 1, rev: 1, members: [member(owner, 'a', 'owner'), member(reader, 'b', 'ro')], former: [], previous: {} });
  const content = { path: ['a.txt'], size: 1, sha256: 'x'.repeat(64), at: 1, fileKey: randomBytes(16).toString('base64') };
  const wire = sealVersion(owner, record.share, 1, key, { entry: randomBytes(16).toString('hex'), seq: 1, vv: { [owner.tag]: 1 }, deleted: false, obj: randomBytes(16).toString('hex'), content } as never);
  const keys = { 1: key };
  assert.deepEqual(openVersion(wire, record, keys).version.content, content);
  const forged = { ...wire, sig: owner.sign(Buffer.from('something else')) };
  assert.throws(() => openVersion(forged, record, keys), /the signature does not verify/);
  assert.deepEqual(openVersion(forged, record, keys, { trusted: true }).version.content, content);
  // Everything else is still checked when trusted.
  const box = Buffer.from(wire.box, 'base64');
  box[box.length - 1]! ^= 1;
  assert.throws(() => openVersion({ ...wire, box: box.toString('base64') }, record, keys, { trusted: true }), /failed authentication/);
  assert.throws(() => openVersion({ ...wire, dev: reader.tag, vv: { [reader.tag]: 1 } }, record, keys, { trusted: true }), /may only read/);
  assert.throws(() => openVersion({ ...wire, sig: undefined }, record, keys, { trusted: true }), /the signature does not verify/);
});
