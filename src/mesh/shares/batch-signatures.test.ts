/**
 * Versions signed in batches (keys.ts sealVersions: one Ed25519 signature over a Merkle root,
 * each version with its leaf index and path):
 * - each version is checked alone, and anything altered is refused: its content, its path, its
 *   leaf index or the tree's size, the root's signature, a path from another batch, a root signed
 *   by another device; also once the genuine root was verified (the process's cache of roots);
 * - between real vaults: a batch with any of those alterations is refused and nothing of it kept;
 *   versions forwarded by a third device still check (each carries its own proof);
 * - an older build (its hello has no `merkle`) is sent versions signed alone: this device's own
 *   re-signed, those that came signed alone as they came, and another author's batch-signed ones
 *   left out (no device can sign for another).
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import test from 'node:test';
import { generateX25519Identity } from '../../crypto/age/index.ts';
import { createRecordStore, openDatabase } from '../../db/index.ts';
import { putAt, readAt } from '../../vault/testing.ts';
import { createEngine } from '../sync/engine.ts';
import { decodeMessage, encodeMessage } from '../sync/frame.ts';
import { batchProofs, canonical, deviceSigner, newShareRecord, openVersion, openVersions, sealVersion, sealVersions, TREE_LEAVES, verifySignature } from './keys.ts';
import type { DeviceSigner, Member, WireVersion } from './keys.ts';
import { openSyncStore, SYNC_RECORD_KINDS } from './store.ts';
import type { SyncRecord } from './store.ts';
import { testDevices } from './testing.ts';
import type { TestDevice } from './testing.ts';

const hex = () => randomBytes(16).toString('hex');
const member = (s: DeviceSigner, peer: string, role: Member['role']): Member => ({ dev: s.tag, peer, name: peer, signPub: s.publicKey, recipients: [generateX25519Identity().recipient], role });
const content = (i: number) => ({ path: [`f${i}.txt`], size: i, sha256: 'a'.repeat(64), at: i, fileKey: randomBytes(16).toString('base64') });
const versionsOf = (s: DeviceSigner, from: number, count: number) =>
  Array.from({ length: count }, (_, k) => ({ entry: hex(), seq: from + k, vv: { [s.tag]: from + k }, deleted: false, obj: hex(), content: content(from + k) }));

/** The alterations a version must not survive, each from a genuine version (and the rest of its batch). */
function alterations(wires: WireVersion[], rogue: DeviceSigner): [string, WireVersion][] {
  const w = wires[5]!;
  const p = w.proof!;
  const flip = (b64: string, at: number) => {
    const b = Buffer.from(b64, 'base64');
    b[at]! ^= 1;
    return b.toString('base64');
  };
  const second = wires[TREE_LEAVES + 5]!; // the same place in the next batch
  // The same versions' unsigned fields, in a tree signed by another device.
  const forged = batchProofs(rogue, wires.slice(0, TREE_LEAVES).map(({ proof: _p, sig: _s, ...u }) => u));
  return [
    ['its content', { ...w, box: flip(w.box, 20) }],
    ['another field (seq)', { ...w, seq: w.seq + 1, vv: { [w.dev]: w.seq + 1 } }],
    ['its path', { ...w, proof: { ...p, path: flip(p.path, 3) } }],
    ['a hash less in its path', { ...w, proof: { ...p, path: Buffer.from(p.path, 'base64').subarray(32).toString('base64') } }],
    ['its leaf index', { ...w, proof: { ...p, i: p.i + 1 } }],
    ['the tree size', { ...w, proof: { ...p, n: p.n + 1 } }],
    ['the root signature', { ...w, proof: { ...p, sig: flip(p.sig, 10) } }],
    ['a path from another batch', { ...w, proof: second.proof! }],
    ['the proof of another version of its batch', { ...w, proof: wires[6]!.proof! }],
    ['a root signed by another device', { ...w, proof: forged[5]! }],
    ['both a lone signature and a proof', { ...w, sig: sealVersion(rogue, w.share, 1, randomBytes(32), versionsOf(rogue, 1, 1)[0]!).sig! }],
    ['no signature at all', { ...w, proof: undefined }],
    ['a tree over the limit', { ...w, proof: { ...p, n: 1 << 20 } }],
  ];
}

test('versions signed in batches: each checks alone; an altered one is refused, also after its root was verified', async () => {
  const owner = deviceSigner(randomBytes(32));
  const other = deviceSigner(randomBytes(32));
  const { record, key } = newShareRecord(owner, { share: hex(), name: 'T', epoch: 1, rev: 1, members: [member(owner, 'a', 'owner'), member(other, 'b', 'rw')], former: [], previous: {} });
  const keys = { 1: key };
  const wires = sealVersions(owner, record.share, 1, key, versionsOf(owner, 1, 2 * TREE_LEAVES + 44));
  assert.equal(wires.length, 2 * TREE_LEAVES + 44);
  assert.deepEqual(new Set(wires.map((w) => w.proof!.sig)).size, 3, 'one signature per tree of TREE_LEAVES');
  assert.ok(wires.every((w) => w.sig === undefined && w.proof!.n === (w.seq > 2 * TREE_LEAVES ? 44 : TREE_LEAVES)));
  // Alone, in any order, and as a batch: the same versions.
  for (const w of [wires[299]!, wires[0]!, wires[TREE_LEAVES - 1]!]) assert.equal(openVersion(w, record, keys).version.seq, w.seq);
  assert.deepEqual(await openVersions(wires, record, keys), wires.map((w) => openVersion(w, record, keys)));
  // A tree of one (a single version: settling a conflict) has an empty path.
  const [one] = sealVersions(owner, record.share, 1, key, versionsOf(owner, 1000, 1));
  assert.equal(one!.proof!.path, '');
  assert.equal(openVersion(one, record, keys).version.seq, 1000);

  // Every root above is verified (and cached) now: each alteration must still be refused.
  for (const [what, bad] of alterations(wires, other)) {
    assert.throws(() => openVersion(bad, record, keys), /refused/, `openVersion took a version with ${what} altered`);
    await assert.rejects(openVersions([wires[0], bad, wires[7]], record, keys), /refused/, `openVersions took a version with ${what} altered`);
  }
  // Signed by the member `other` itself, its own versions check; as the owner's, they do not.
  const own = sealVersions(other, record.share, 1, key, versionsOf(other, 1, 3));
  assert.equal(openVersion(own[2], record, keys).version.dev, other.tag);
  const posing = sealVersions({ ...other, tag: owner.tag }, record.share, 1, key, versionsOf(owner, 500, 3));
  await assert.rejects(openVersions(posing, record, keys), /the signature does not verify/);
  // The size is signed: leaf 0's path in a tree of 65 also fits a tree of 66 (the same root).
  const odd = sealVersions(owner, record.share, 1, key, versionsOf(owner, 2000, 65));
  assert.equal(openVersion(odd[0], record, keys).version.seq, 2000);
  assert.throws(() => openVersion({ ...odd[0]!, proof: { ...odd[0]!.proof!, n: 66 } }, record, keys), /the signature does not verify/);
  // A genuine version still checks after all those refusals (a refusal caches nothing).
  assert.equal(openVersion(wires[9], record, keys).version.seq, wires[9]!.seq);
});

/** Rows of versions a device keeps. */
const storedVersions = (d: TestDevice) => [...d.syncRecords.loadAll()].flatMap(([, r]) => (r.t === 'versions' ? r.wires : r.t === 'version' ? [r.wire] : []));

test('between vaults: a batch with an altered version is refused and nothing of it kept; forwarded versions still check', async (t) => {
  const { hub, devices } = await testDevices(t, ['Laptop', 'Phone', 'Tablet']);
  const [a, b, c] = devices;
  for (let i = 0; i < 140; i++) await putAt(a.tv.vault, `/Batch/f${i}.txt`, `file ${i}`);
  await a.shares.share('/Batch', ['Phone', 'Tablet']);
  const rogue = deviceSigner(randomBytes(32));
  for (const n of [0, 2, 4, 6, 7, 9]) {
    let what = '';
    hub.tap = (_from, to, msg) => {
      const m = decodeMessage(msg);
      if (m.head.t !== 'versions' || to !== b.id) return msg;
      const list = m.head.list as WireVersion[];
      const [label, bad] = alterations(list, rogue)[n]!;
      what = label;
      list[5] = bad;
      return encodeMessage(m);
    };
    await assert.rejects(a.shares.sync({ only: 'Phone' }), (err: Error & { code?: string }) => err.code === 'SYNC_REJECTED', `a version with ${n} altered`);
    assert.equal(storedVersions(b).length, 0, `nothing kept of a batch with ${what} altered`);
    assert.throws(() => b.tv.vault.resolve('/Shares/Batch/f0.txt'));
  }
  hub.tap = undefined;
  await a.shares.sync({ only: 'Phone' });
  assert.equal((await readAt(b.tv.vault, '/Shares/Batch/f139.txt')).toString(), 'file 139');
  // The tablet hears of the laptop's versions from the phone only: each still carries its proof.
  await c.shares.sync({ only: 'Phone' });
  assert.equal((await readAt(c.tv.vault, '/Shares/Batch/f77.txt')).toString(), 'file 77');
  const kept = storedVersions(c);
  assert.equal(kept.length, 140);
  assert.ok(kept.every((w) => w.proof !== undefined && w.sig === undefined), 'the tablet keeps the laptop’s versions with their proofs');
});

test('an older build is sent versions signed alone: its own re-signed, others as they came, another author’s batches left out', async (t) => {
  const db = openDatabase(':memory:');
  t.after(() => db.close());
  const records = createRecordStore<SyncRecord>({ db, keys: { seal: randomBytes(32) as never, tag: randomBytes(32) }, kinds: SYNC_RECORD_KINDS });
  const store = openSyncStore(records);
  const me = deviceSigner(randomBytes(32));
  const newer = deviceSigner(randomBytes(32));
  const older = deviceSigner(randomBytes(32));
  const peer = deviceSigner(randomBytes(32));
  const identity = generateX25519Identity();
  const mine = { ...member(me, 'me', 'owner'), recipients: [identity.recipient] };
  const { record, key } = newShareRecord(me, { share: hex(), name: 'S', epoch: 1, rev: 1, members: [mine, member(newer, 'newer', 'rw'), member(older, 'older', 'rw'), member(peer, 'peer', 'rw')], former: [], previous: {} });
  const state = store.putShare(record, { 1: key }, '/S');
  const keys = { 1: key };
  const batch = (s: DeviceSigner, n: number) => sealVersions(s, record.share, 1, key, versionsOf(s, 1, n)).map((w) => openVersion(w, record, keys));
  const alone = versionsOf(older, 1, 3).map((v) => openVersion(sealVersion(older, record.share, 1, key, v), record, keys));
  store.addVersions(state, [...batch(me, 5), ...batch(newer, 4), ...alone]);
  // Only versionsFor is called: the engine's object and folder parts are not reached.
  const engine = createEngine({ store, signer: me, deviceName: 'me', peerId: () => 'me', identities: () => [identity.identity], ciphertext: null as never, staging: null, folderForNewShare: () => '/S', clock: Date.now });
  const sent = (merkle: boolean) => [...engine.versionsFor({ dev: peer.tag, peer: 'peer', name: 'peer', shares: [record.share], left: [], merkle })].flatMap((m) => m.head.list as WireVersion[]);

  const toNew = sent(true);
  assert.equal(toNew.length, 12, 'a peer that takes batches gets every version as stored');
  assert.equal(toNew.filter((w) => w.proof !== undefined).length, 9);

  const toOld = sent(false);
  assert.deepEqual(toOld.map((w) => w.dev).sort(), [...Array(5).fill(me.tag), ...Array(3).fill(older.tag)].sort(), 'own and lone-signed versions go; the other author’s batches do not');
  for (const w of toOld) {
    // What an older build checks: a `sig` over every other field, and nothing it does not know.
    assert.equal('proof' in w, false);
    const { sig, ...unsigned } = w;
    assert.ok(verifySignature(w.dev === me.tag ? me.publicKey : older.publicKey, canonical(unsigned), sig!));
  }
  // Re-signed alone, the versions are the same versions (same fields, same content).
  for (const w of toOld.filter((x) => x.dev === me.tag)) assert.equal(openVersion(w, record, keys).version.content.path[0], `f${w.seq}.txt`);
  // The stored versions keep their proofs.
  assert.ok([...state.wires.values()].filter((w) => w.dev === me.tag).every((w) => w.proof !== undefined && w.sig === undefined));
});

test('a device remembers whether a peer takes batches (for bundles): from its hello, across restarts', async (t) => {
  const { devices } = await testDevices(t, ['Laptop', 'Phone']);
  const [a, b] = devices;
  await putAt(a.tv.vault, '/Cards/x.txt', 'x');
  await a.shares.share('/Cards', ['Phone']);
  await a.shares.sync();
  const cards = openSyncStore(a.syncRecords).cards;
  assert.equal(cards.get(b.id)?.merkle, true);
});
