/**
 * The sync store's rows of things with a stable identity (a share, what was seen of it, a
 * device's card, a witness) are found by ids keyed by the vault's key, not by a plain hash of
 * the share's id, which any member could compute to find the share's rows in another device's
 * database, and which two vaults of one database holding the same share would both write.
 */
import assert from 'node:assert/strict';
import test from 'node:test';
import type { RecordId } from '../../db/index.ts';
import { putAt } from '../../vault/testing.ts';
import { openSyncStore, rowId } from './store.ts';
import type { SyncRecord } from './store.ts';
import { testDevices } from './testing.ts';

/** The unkeyed id an older build gave a row, or null for kinds that have none. */
function plainId(rec: SyncRecord): RecordId | null {
  if (rec.t === 'share') return rowId('share', rec.record.share);
  if (rec.t === 'seen') return rowId('seen', rec.share);
  if (rec.t === 'card') return rowId('card', rec.peer);
  if (rec.t === 'witness') return rowId('witness', rec.peer, rec.about);
  return null;
}

test('share, seen, card and witness rows have keyed ids; an older store\'s rows load and move to them when written again', async (t) => {
  const { devices: [a, b] } = await testDevices(t, ['Laptop', 'Phone']);
  await b.shares.sync({ only: 'Laptop' });
  await putAt(a.tv.vault, '/Team/a.txt', 'a');
  const { id } = await a.shares.share('/Team', ['Phone']);
  await b.shares.sync({ only: 'Laptop' });

  const kept = new Map<string, number>();
  for (const [rid, rec] of b.syncRecords.loadAll()) {
    const plain = plainId(rec);
    if (plain === null) continue;
    kept.set(rec.t, (kept.get(rec.t) ?? 0) + 1);
    assert.notEqual(rid, plain, `a ${rec.t} row under the id anyone knowing the share could compute`);
  }
  assert.ok(['share', 'seen', 'card'].every((k) => (kept.get(k) ?? 0) >= 1), JSON.stringify([...kept]));

  // An older build's rows: the same records under the plain ids.
  const put: [RecordId, SyncRecord][] = [];
  const remove: RecordId[] = [];
  for (const [rid, rec] of b.syncRecords.loadAll()) {
    const plain = plainId(rec);
    if (plain === null) continue;
    remove.push(rid);
    put.push([plain, rec]);
  }
  b.syncRecords.commit({ put, remove });
  const old = openSyncStore(b.syncRecords);
  const state = old.shares.get(id)!;
  assert.equal(state.name, 'Team');
  assert.equal(old.cards.size, 1);
  // Written again: under the keyed id, the plain one removed in the same commit.
  old.placeShare(state, state.folder, state.item, state.label);
  old.markPeerSeen(state, [...Object.keys(state.peerSeen)][0] ?? 'x', {});
  const rows = [...b.syncRecords.loadAll()];
  const shareRows = rows.filter(([, r]) => r.t === 'share');
  const seenRows = rows.filter(([, r]) => r.t === 'seen');
  assert.equal(shareRows.length, 1);
  assert.equal(seenRows.length, 1);
  assert.notEqual(shareRows[0]![0], rowId('share', id));
  assert.notEqual(seenRows[0]![0], rowId('seen', id));
  assert.equal(b.syncRecords.load().seal, 'ok');
  const again = openSyncStore(b.syncRecords);
  assert.equal(again.shares.get(id)!.name, 'Team');
  assert.equal(again.shares.get(id)!.folder, state.folder);

  // Versions read back from this vault's own sealed rows are not put through Ed25519 again (what
  // an unlock cost per version): one whose signature no longer verifies still loads from here.
  const [packId, pack] = [...b.syncRecords.loadAll()].find(([, r]) => r.t === 'versions')! as [RecordId, Extract<SyncRecord, { t: 'versions' }>];
  // (Signed in a batch, as a scan signs: its proof's root signature is the one broken.)
  const first = pack.wires[0]!;
  const sig = first.proof!.sig;
  const forged = { ...pack, wires: [{ ...first, proof: { ...first.proof!, sig: (sig[0] === 'A' ? 'B' : 'A') + sig.slice(1) } }, ...pack.wires.slice(1)] };
  b.syncRecords.commit({ put: [[packId, forged]] });
  assert.equal(openSyncStore(b.syncRecords).shares.get(id)!.wires.size, again.shares.get(id)!.wires.size);
});
