/**
 * openVersions (a peer's batch, signatures on the libuv pool): the same checks and errors as
 * openVersion, off the main thread.
 *
 * openVersion's `trusted` (a wire read back from this vault's own sealed store): only the
 * Ed25519 check is skipped; a bad signature is still refused from anywhere else, and the sealed
 * content, the author's membership and write right, and the shape are checked either way.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { generateX25519Identity } from '../../crypto/age/index.ts';
import { deviceSigner, newShareRecord, openVersion, openVersions, sealVersion } from './keys.ts';
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

test('openVersions: a batch checked as openVersion checks each, its signatures off the main thread', async () => {
  const owner = deviceSigner(randomBytes(32));
  const reader = deviceSigner(randomBytes(32));
  const member = (s: typeof owner, peer: string, role: Member['role']): Member => ({ dev: s.tag, peer, name: peer, signPub: s.publicKey, recipients: [generateX25519Identity().recipient], role });
  const { record, key } = newShareRecord(owner, { share: randomBytes(16).toString('hex'), name: 'T', epoch: 1, rev: 1, members: [member(owner, 'a', 'owner'), member(reader, 'b', 'ro')], former: [], previous: {} });
  const keys = { 1: key };
  const wires = Array.from({ length: 200 }, (_, i) => {
    const content = { path: [`f${i}.txt`], size: i, sha256: 'x'.repeat(64), at: 1, fileKey: randomBytes(16).toString('base64') };
    return sealVersion(owner, record.share, 1, key, { entry: randomBytes(16).toString('hex'), seq: i + 1, vv: { [owner.tag]: i + 1 }, deleted: false, obj: randomBytes(16).toString('hex'), content } as never);
  });
  // The same result as one openVersion each.
  assert.deepEqual(await openVersions(wires, record, keys), wires.map((w) => openVersion(w, record, keys)));
  // Off the main thread: a turn of the event loop queued before the call runs before it resolves
  // (checked synchronously, everything would be done before any turn).
  let turned = false;
  setImmediate(() => (turned = true));
  const pending = openVersions(wires, record, keys);
  let turnedFirst: boolean | null = null;
  await pending.then(() => (turnedFirst = turned));
  assert.equal(turnedFirst, true, 'the signatures were checked on the main thread');
  // One bad version refuses the batch: a forged signature (reported first, even when its box is
  // damaged too), a damaged box, a read-only author, a missing signature.
  const forged = { ...wires[7]!, sig: owner.sign(Buffer.from('something else')) };
  await assert.rejects(openVersions([...wires.slice(0, 7), forged, ...wires.slice(8)], record, keys), /the signature does not verify/);
  const box = Buffer.from(wires[3]!.box, 'base64');
  box[box.length - 1]! ^= 1;
  await assert.rejects(openVersions([wires[0], { ...forged, box: box.toString('base64') }], record, keys), /the signature does not verify/);
  const signedBadBox = sealVersion(owner, record.share, 1, randomBytes(32), { entry: randomBytes(16).toString('hex'), seq: 999, vv: { [owner.tag]: 999 }, deleted: false, obj: randomBytes(16).toString('hex'), content: { path: ['x'], size: 1, sha256: 'x'.repeat(64), at: 1, fileKey: randomBytes(16).toString('base64') } } as never);
  await assert.rejects(openVersions([wires[0], signedBadBox], record, keys), /failed authentication/);
  await assert.rejects(openVersions([wires[0], { ...wires[1]!, dev: reader.tag, seq: 1, vv: { [reader.tag]: 1 } }], record, keys), /may only read/);
  await assert.rejects(openVersions([{ ...wires[1]!, sig: undefined }], record, keys), /the signature does not verify/);
  await assert.rejects(openVersions([{ ...wires[1]!, sig: 'AAAA' }], record, keys), /the signature does not verify/);
});
