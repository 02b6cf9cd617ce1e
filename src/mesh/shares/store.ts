/**
 * The shares of one vault as kept on this device: sealed records under keys of their own
 * (`elohim/v1 mesh-sync seal/tag`), read once at start and changed in transactions.
 *
 * Record kinds: `share` (the signed record, the epoch keys this device unwrapped, the vault
 * folder it is bound to), `versions` (signed index versions as received, a few per row: see
 * packs.ts), `seen` (which versions this device and each peer are known to have seen), `links`
 * (which vault item shows which view item, for the bridge, a few per row), `card` (a paired
 * device's signing key, learnt over its authenticated channel), `witness` (audit heads, see
 * witness/). Before packs, `version` (one per row, id derived from its identity) and `local`
 * (one link per row): still read, moved into packs as they change.
 *
 * Over ~300 lines as one module on purpose: every kind is read in the one load at start and
 * changed in the same transactions (a sync's batch puts versions, links and `seen` together),
 * and the older kinds' migration rides on those writes; split by kind, each part would need the
 * others' rows and the transaction.
 */
import { createHash } from 'node:crypto';
import { asSealKey } from '../../crypto/index.ts';
import type { RecordId, RecordStore } from '../../db/index.ts';
import { ElohimError } from '../../errors.ts';
import { markSeen, ShareIndex, versionKey } from './crdt.ts';
import type { DeviceTag, SeenRanges, Version } from './crdt.ts';
import { openVersion, previousKeys, shareName } from './keys.ts';
import { newPacking, placeLoaded, repack } from './packs.ts';
import type { Packing } from './packs.ts';
import type { Member, ShareRecord, WireVersion } from './keys.ts';

export interface LocalLink {
  /** the vault item showing this view item */
  item: string;
  /** the version it shows (versionKey) and its vector: a local edit is based on exactly that */
  version: string;
  vv: Record<string, number>;
  /** the SHA-256 the vault recorded for it, to see a local edit */
  sha256: string;
  path: string[];
}

export type SyncRecord =
  | { t: 'share'; record: ShareRecord; keys: Record<string, string>; folder: string; item?: string; label?: ShareLabel; name?: string; left?: number }
  | { t: 'version'; wire: WireVersion }
  | { t: 'versions'; share: string; wires: WireVersion[] }
  | { t: 'seen'; share: string; mine: SeenRanges; peers: Record<DeviceTag, SeenRanges> }
  | { t: 'local'; share: string; key: string; link: LocalLink }
  | { t: 'links'; share: string; links: [string, LocalLink][] }
  | { t: 'card'; peer: string; signPub: string; name: string; merkle?: 1 }
  | { t: 'witness'; peer: string; head: unknown; about: 'theirs' | 'mine' };

export const SYNC_RECORD_KINDS = { own: { share: 1, version: 1, versions: 1, seen: 1, local: 1, links: 1, card: 1, witness: 1 } } as const;

/**
 * Versions and local links per row (packs.ts): a version row is ~0.7 KiB signed alone, ~1 KiB
 * signed in a batch (its Merkle path, keys.ts), and a link ~0.3 KiB, so a pack is ~30-45 KiB,
 * what a change to one of them rewrites.
 */
const VERSIONS_PER_PACK = 48;
const LINKS_PER_PACK = 96;

/** The versions a version row or a pack of them holds (what names objects: holder.ts reads it too). */
export function wiresOf(rec: SyncRecord): WireVersion[] {
  return rec.t === 'version' ? [rec.wire] : rec.t === 'versions' ? rec.wires : [];
}

/** The record keys of the sync store, from a vault key's derivation. */
export function syncRecordKeysOf(derive: (label: string) => Buffer) {
  return { seal: asSealKey(derive('elohim/v1 mesh-sync seal')), tag: derive('elohim/v1 mesh-sync tag') };
}

/**
 * The id rows had before ids were keyed (a plain hash of a thing's identity, which anyone knowing
 * a share's id could compute, and the same in every vault): still read, and what a row of an
 * older store is removed by when it is written again under its keyed id (`records.idOf`).
 */
export function rowId(...parts: string[]): RecordId {
  return createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32) as RecordId;
}

/**
 * On a device that received the share: the name of the folder the share was given here
 * (`/Shares/<segment>`) and the share name it was made from, so a rename of the share renames
 * the folder while it still has that name (one the user renamed or moved is left as it is).
 */
export interface ShareLabel {
  from: string;
  segment: string;
}

/** One share in memory. */
export interface ShareState {
  record: ShareRecord;
  name: string;
  keys: Record<number, Buffer>;
  /** the vault path it is shown at (as last seen: the folder may have moved since, see `item`) */
  folder: string;
  /**
   * The vault folder (item id) it is shown in, null until first shown: the share follows the
   * item, so a folder moved or renamed in the vault stays shared (bridge.ts `locate`).
   */
  item: string | null;
  label: ShareLabel | null;
  /**
   * When this device left the share (`mesh leave`), null while it takes part: it keeps what it
   * has and exchanges nothing of the share from then on, and tells its members in its hello.
   */
  left: number | null;
  index: ShareIndex;
  wires: Map<string, WireVersion>;
  seen: SeenRanges;
  peerSeen: Record<DeviceTag, SeenRanges>;
  local: Map<string, LocalLink>;
}

export function memberOf(state: ShareState, dev: DeviceTag): Member | undefined {
  return state.record.members.find((m) => m.dev === dev);
}

export interface SyncStore {
  readonly shares: Map<string, ShareState>;
  /**
   * Counts changes to the shares (records, indexes, links): a cache of the objects they name, or
   * of a scan's or a materialize's result, is stale when it moved.
   */
  readonly generation: number;
  /**
   * Told, inside the transaction that drops versions, of the objects (wire ids) that no version
   * of that share names any more: the service releases them to the vault (vault/refs.ts).
   */
  onRelease: ((objects: string[]) => void) | null;
  /** paired devices' signing keys and names; `merkle`: its last hello said it takes versions signed in batches */
  readonly cards: Map<string, { signPub: string; name: string; merkle?: boolean }>;
  witnesses(): Extract<SyncRecord, { t: 'witness' }>[];
  putShare(record: ShareRecord, keys: Record<number, Buffer>, folder: string): ShareState;
  /** Records where the share is shown now: its folder's path and item, and its label (undefined: unchanged). */
  placeShare(state: ShareState, folder: string, item: string | null, label?: ShareLabel | null): void;
  /** Records that this device left the share, at `at` (kept across restarts). */
  markLeft(state: ShareState, at: number): void;
  /**
   * Keeps verified versions and marks them seen, in one transaction; returns those that were
   * new and not covered. Versions they supersede are dropped.
   */
  addVersions(state: ShareState, verified: { wire: WireVersion; version: Version }[]): Version[];
  markPeerSeen(state: ShareState, dev: DeviceTag, seen: SeenRanges): void;
  setLocal(state: ShareState, changes: { key: string; link: LocalLink | null }[]): void;
  putCard(peer: string, signPub: string, name: string, merkle?: boolean): void;
  putWitness(peer: string, about: 'theirs' | 'mine', head: unknown): void;
}

export function openSyncStore(records: RecordStore<SyncRecord>): SyncStore {
  const shares = new Map<string, ShareState>();
  const cards = new Map<string, { signPub: string; name: string; merkle?: boolean }>();
  const witnessRows = new Map<RecordId, Extract<SyncRecord, { t: 'witness' }>>();
  /** The row id of a thing with a stable identity, keyed by this store's key (see RecordStore.idOf). */
  const keyed = (...parts: string[]): RecordId => records.idOf(['mesh-sync', ...parts].join('\u0000'));
  // Rows of an older store under their unkeyed id (rowId), by the keyed id they move to the next
  // time they are written (`write`): nothing is rewritten at start-up.
  const legacy = new Map<RecordId, RecordId>();
  const loaded = records.loadAll();
  const versions: [WireVersion, RecordId | null][] = [];
  const seenRows: Extract<SyncRecord, { t: 'seen' }>[] = [];
  const localRows: { share: string; key: string; link: LocalLink; pack: RecordId | null }[] = [];
  // Which row keeps each version and link, per share (packs.ts).
  const packings = new Map<string, { versions: Packing; links: Packing }>();
  const packingOf = (share: string) => {
    let p = packings.get(share);
    if (p === undefined) packings.set(share, (p = { versions: newPacking(), links: newPacking() }));
    return p;
  };
  for (const [id, rec] of loaded) {
    const own = rec.t === 'share' ? keyed('share', rec.record.share) : rec.t === 'seen' ? keyed('seen', rec.share) : rec.t === 'card' ? keyed('card', rec.peer) : rec.t === 'witness' ? keyed('witness', rec.peer, rec.about) : null;
    if (own !== null && own !== id) legacy.set(own, id);
    if (rec.t === 'share') {
      const keys: Record<number, Buffer> = {};
      for (const [e, k] of Object.entries(rec.keys)) keys[Number(e)] = Buffer.from(k, 'base64');
      const state = emptyState(rec.record, keys, rec.folder, rec.name);
      state.item = rec.item ?? null;
      state.label = rec.label ?? null;
      state.left = rec.left ?? null;
      shares.set(rec.record.share, state);
    } else if (rec.t === 'version') versions.push([rec.wire, null]);
    else if (rec.t === 'versions') for (const wire of rec.wires) versions.push([wire, id]);
    else if (rec.t === 'seen') seenRows.push(rec);
    else if (rec.t === 'local') localRows.push({ share: rec.share, key: rec.key, link: rec.link, pack: null });
    else if (rec.t === 'links') for (const [key, link] of rec.links) localRows.push({ share: rec.share, key, link, pack: id });
    else if (rec.t === 'card') cards.set(rec.peer, { signPub: rec.signPub, name: rec.name, ...(rec.merkle === 1 ? { merkle: true } : {}) });
    else if (rec.t === 'witness') witnessRows.set(own!, rec);
  }
  for (const [wire, pack] of versions) {
    const state = shares.get(wire.share);
    if (state === undefined) continue;
    // Stored versions were verified when received (or signed here), and the rows are sealed under
    // this vault's key with the set seal over them: the Ed25519 check is not done again (~0.1 ms
    // per version at every unlock, 1.1 s for a 10,000-file share). Opening them rebuilds the
    // content and checks everything else.
    const { version } = openVersion(wire, state.record, state.keys, { trusted: true });
    state.index.merge(version);
    const key = versionKey(version);
    state.wires.set(key, wire);
    placeLoaded(packingOf(wire.share).versions, key, pack);
  }
  for (const row of seenRows) {
    const state = shares.get(row.share);
    if (state) {
      state.seen = row.mine;
      state.peerSeen = row.peers;
    }
  }
  for (const row of localRows) {
    const state = shares.get(row.share);
    if (state === undefined) continue;
    state.local.set(row.key, row.link);
    placeLoaded(packingOf(row.share).links, row.key, row.pack);
  }

  const shareRow = (state: Pick<ShareState, 'record' | 'folder' | 'item' | 'label' | 'name'> & { left?: number | null }, keys: Record<number, Buffer>): [RecordId, SyncRecord] => {
    const encoded: Record<string, string> = {};
    for (const [e, k] of Object.entries(keys)) encoded[e] = k.toString('base64');
    const row: SyncRecord = { t: 'share', record: state.record, keys: encoded, folder: state.folder };
    if (state.item !== null) row.item = state.item;
    if (state.label !== null) row.label = state.label;
    if (state.left !== undefined && state.left !== null) row.left = state.left;
    // Held without its epoch's key (this device was removed): the name sealed in the record
    // cannot be read here, so the one read before is kept beside it.
    if (keys[state.record.epoch] === undefined) row.name = state.name;
    return [keyed('share', state.record.share), row];
  };
  // The keys as they were given to putShare (the epochs this device unwrapped), per share.
  const givenKeys = new Map<string, Record<number, Buffer>>();
  for (const [, rec] of loaded) {
    if (rec.t !== 'share') continue;
    const keys: Record<number, Buffer> = {};
    for (const [e, k] of Object.entries(rec.keys)) keys[Number(e)] = Buffer.from(k, 'base64');
    givenKeys.set(rec.record.share, keys);
  }

  const seenRecord = (state: ShareState): [RecordId, SyncRecord] => [keyed('seen', state.record.share), { t: 'seen', share: state.record.share, mine: state.seen, peers: state.peerSeen }];

  /** Commits, removing the older row of each record written under its keyed id for the first time. */
  const write = (changes: { put?: [RecordId, SyncRecord][]; remove?: RecordId[] }): void => {
    const put = changes.put ?? [];
    const moved = put.map(([id]) => id).filter((id) => legacy.has(id));
    records.commit({ put, remove: [...(changes.remove ?? []), ...moved.map((id) => legacy.get(id)!)] });
    const old = moved.map((id) => [id, legacy.get(id)!] as const);
    for (const id of moved) legacy.delete(id);
    records.onRollback(() => {
      for (const [id, was] of old) legacy.set(id, was); // an enclosing transaction rolled back
    });
  };

  let generation = 0;
  const store: SyncStore = {
    shares,
    cards,
    get generation() {
      return generation;
    },
    onRelease: null,
    witnesses: () => [...witnessRows.values()],

    putShare(record, keys, folder) {
      const old = shares.get(record.share);
      const key = keys[record.epoch];
      // A record without its epoch's key is taken only over one held before (acceptHello: this
      // device was removed), whose name it keeps.
      if (key === undefined && old === undefined) throw new ElohimError('SHARE_NOT_FOUND', 'this device is not a member of the share');
      const name = key !== undefined ? shareName(record, key) : old!.name;
      write({ put: [shareRow({ record, folder, item: old?.item ?? null, label: old?.label ?? null, name, left: old?.left ?? null }, keys)] });
      givenKeys.set(record.share, keys);
      generation++;
      if (old) {
        old.record = record;
        // Keys unwrapped before stay (the previous epochs' ones carried in the record included).
        old.keys = key !== undefined ? keys : { ...old.keys, ...keys };
        old.folder = folder;
        old.name = name;
        return old;
      }
      const state = emptyState(record, keys, folder);
      shares.set(record.share, state);
      return state;
    },

    placeShare(state, folder, item, label) {
      const next = { record: state.record, folder, item, label: label === undefined ? state.label : label, name: state.name, left: state.left };
      write({ put: [shareRow(next, givenKeys.get(state.record.share) ?? state.keys)] });
      generation++;
      state.folder = folder;
      state.item = item;
      state.label = next.label;
    },

    markLeft(state, at) {
      write({ put: [shareRow({ ...state, left: at }, givenKeys.get(state.record.share) ?? state.keys)] });
      generation++;
      state.left = at;
    },

    addVersions(state, verified) {
      const added: Version[] = [];
      const touched: string[] = [];
      const droppedObjects = new Set<string>();
      for (const { wire, version } of verified) {
        markSeen(state.seen, version.dev, version.seq);
        const { result, dropped } = state.index.merge(version);
        if (result !== 'added') continue;
        added.push(version);
        const key = versionKey(version);
        state.wires.set(key, wire);
        touched.push(key);
        for (const d of dropped) {
          if (d.obj !== null) droppedObjects.add(d.obj);
          const dk = versionKey(d);
          state.wires.delete(dk);
          touched.push(dk);
        }
      }
      if (droppedObjects.size > 0) {
        for (const v of state.index.versions()) if (v.obj !== null) droppedObjects.delete(v.obj);
      }
      generation++;
      // The release and the drop in one transaction (one database): a crash keeps both or neither.
      const share = state.record.share;
      records.transaction(() => {
        const packs = repack(packingOf(share).versions, touched, (k) => state.wires.has(k), VERSIONS_PER_PACK, (k) => rowId('version', k));
        records.onRollback(packs.undo);
        const put: [RecordId, SyncRecord][] = packs.put.map((id) => [id, { t: 'versions', share, wires: [...packingOf(share).versions.members.get(id)!].map((k) => state.wires.get(k)!) }]);
        put.push(seenRecord(state));
        if (droppedObjects.size > 0) store.onRelease?.([...droppedObjects]);
        write({ put, remove: packs.remove });
      });
      return added;
    },

    markPeerSeen(state, dev, seen) {
      state.peerSeen[dev] = seen;
      write({ put: [seenRecord(state)] });
    },

    setLocal(state, changes) {
      if (changes.length === 0) return;
      const share = state.record.share;
      records.transaction(() => {
        // The links as they will be, first (the packs are written from them), put back on rollback.
        const before = new Map<string, LocalLink | undefined>();
        for (const { key, link } of changes) {
          if (!before.has(key)) before.set(key, state.local.get(key));
          if (link === null) state.local.delete(key);
          else state.local.set(key, link);
        }
        const packs = repack(packingOf(share).links, before.keys(), (k) => state.local.has(k), LINKS_PER_PACK, (k) => rowId('local', share, k));
        records.onRollback(() => {
          packs.undo();
          for (const [key, link] of before) {
            if (link === undefined) state.local.delete(key);
            else state.local.set(key, link);
          }
        });
        const put: [RecordId, SyncRecord][] = packs.put.map((id) => [id, { t: 'links', share, links: [...packingOf(share).links.members.get(id)!].map((k) => [k, state.local.get(k)!]) }]);
        write({ put, remove: packs.remove });
      });
      generation++;
    },

    putCard(peer, signPub, name, merkle = false) {
      const known = cards.get(peer);
      if (known !== undefined && known.signPub !== signPub) {
        throw new ElohimError('SYNC_REJECTED', 'a paired device presented another signing key than before');
      }
      if (known?.name === name && (known.merkle === true) === merkle) return;
      write({ put: [[keyed('card', peer), { t: 'card', peer, signPub, name, ...(merkle ? { merkle: 1 as const } : {}) }]] });
      cards.set(peer, { signPub, name, ...(merkle ? { merkle: true } : {}) });
    },

    putWitness(peer, about, head) {
      const id = keyed('witness', peer, about);
      const rec = { t: 'witness' as const, peer, head, about };
      write({ put: [[id, rec]] });
      witnessRows.set(id, rec);
    },
  };
  return store;
}

/** `name`: kept for a record held without its epoch's key (this device was removed from the share). */
function emptyState(record: ShareRecord, keys: Record<number, Buffer>, folder: string, name?: string): ShareState {
  const key = keys[record.epoch];
  if (key === undefined && name === undefined) throw new ElohimError('VAULT_CORRUPT', 'a share is stored without its key');
  return { record, name: key !== undefined ? shareName(record, key) : name!, keys: key !== undefined ? { ...previousKeys(record, key), ...keys } : { ...keys }, folder, item: null, label: null, left: null, index: new ShareIndex(), wires: new Map(), seen: {}, peerSeen: {}, local: new Map() };
}

