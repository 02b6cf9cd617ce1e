/**
 * The halves of a sync, shared by the network session (session.ts) and bundles (bundle/): a
 * sync is "each side sends what the other is missing". Nothing here knows whether messages go
 * over a socket or into a file.
 *
 * - `hello`: who I am (signing key, name, signed) and, per share the other is a member of, the
 *   share's record and which versions I have seen.
 * - `versions`: signed index versions the other has not seen, in batches; a batch with one bad
 *   version is refused whole (SYNC_REJECTED) and nothing of it is kept.
 * - objects: stored ciphertext by id, in chunks; what arrives is taken by receive.ts.
 *
 * Over 400 lines: the halves share the sync store, the share states and the index of object names
 * a want is checked against (`names`), which serving, wanting and warming all read; receiving,
 * which needs none of them, is apart (receive.ts).
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ElohimError } from '../../errors.ts';
import type { CiphertextView, ObjectId } from '../../vault/index.ts';
import { hasSeen, versionKey } from '../shares/crdt.ts';
import type { DeviceTag, SeenRanges, Version } from '../shares/crdt.ts';
import { canonical, openVersion, openVersions, previousKeys, shareName, signedAlone, tagOf, unwrapShareKey, verifyShareRecord, verifySignature } from '../shares/keys.ts';
import type { DeviceSigner, ShareRecord, WireVersion } from '../shares/keys.ts';
import { memberOf } from '../shares/store.ts';
import type { ShareState, SyncStore } from '../shares/store.ts';
import { CHUNK_BYTES } from './frame.ts';
import type { Message } from './frame.ts';
import { createReceiver } from './receive.ts';

const BATCH = 500;
/**
 * Small objects a sender reads ahead (serveAll), and the stored bytes they may hold at once: a
 * packed message (session.ts) takes a dozen or more of them at a time, and each read is four
 * file-system round trips on the libuv pool.
 */
const AHEAD = 64;
const AHEAD_BYTES = 4 * 1024 * 1024;
/**
 * Chunks of a big object read at once, each by position (its own ranged read): one fs read
 * stream is one read deep, so the sender waited on each next megabyte (1.3 s of a 1 GiB
 * transfer, timed in both processes) while the wire could have taken it.
 */
const READS_IN_FLIGHT = 4;
/**
 * Requested objects a sender's warmer reads into the page cache ahead of serveAll (warm.ts): a
 * few thousand small files, some MiB of page cache, well under a second of serving.
 */
const WARM_LEAD = 2048;
const HEX32 = /^[0-9a-f]{32}$/;

/** A session's warmer (engine.warmer): its wants added as they come, moved on and timed as served. */
export interface Warming {
  add(list: readonly Want[]): void;
  next(): void;
  /** runs a read of one of them, timed (reads that wait start the warmer's worker) */
  timed(read: () => Buffer): Buffer;
  close(): void;
}

export interface EngineDeps {
  store: SyncStore;
  signer: DeviceSigner;
  deviceName: string;
  /** this device's libp2p peer id (members are listed by it) */
  peerId: () => string;
  /** age identities that unwrap share keys wrapped to this device */
  identities: () => string[];
  ciphertext: CiphertextView;
  /**
   * A folder for objects in transit (ciphertext only); null where nothing may be staged outside
   * the vault's own storage (a folder with a deniable store): objects then stream straight into
   * the view's write, and a cut transfer starts again from 0 (receive.ts).
   */
  staging: string | null;
  /** where a newly received share is shown in the vault */
  folderForNewShare: (name: string) => string;
  clock: () => number;
}

export interface Progress {
  versions: number;
  objects: number;
  bytes: number;
  totalObjects: number;
  totalBytes: number;
}

/** What a peer said about itself in its hello, once checked. */
export interface PeerHello {
  dev: DeviceTag;
  peer: string;
  name: string;
  shares: string[];
  /** shares the peer says it left (member-signed in its hello), that it is still listed in here */
  left: string[];
  /**
   * The peer takes versions signed in batches (its hello says `merkle: 1`); an older build does
   * not, and is sent each version signed alone (versionsFor).
   */
  merkle?: boolean;
}

export interface Want {
  share: string;
  obj: string;
  offset: number;
}

export function createEngine(deps: EngineDeps) {
  const { store, signer } = deps;

  /** A state's members name a device by its peer id and its key. */
  const sharesWith = (peer: string, dev?: DeviceTag): ShareState[] =>
    [...store.shares.values()].filter((s) => s.record.members.some((m) => m.peer === peer && (dev === undefined || m.dev === dev)));

  function hello(peer: string | null): Message {
    // A share this device left is not offered (nothing of it is exchanged any more).
    const shares = (peer === null ? [...store.shares.values()] : sharesWith(peer)).filter((s) => s.left === null).map((s) => ({ record: s.record, seen: s.seen as SeenRanges | null }));
    // A device removed from a share is told: the record that shut it out goes too (the owner's
    // signature makes it news it can trust from any member), so its acceptHello keeps what it
    // had and stops asking for the share's objects. What we have seen is not its business now.
    // It learns the remaining members (names, peer ids, recipients) from it, not the share's
    // name or anything sealed under the new key.
    if (peer !== null) {
      for (const s of store.shares.values()) {
        if (s.record.former.some((m) => m.peer === peer) && !s.record.members.some((m) => m.peer === peer)) shares.push({ record: s.record, seen: null });
      }
    }
    // Shares this device left while their record still lists it: said under the hello's
    // signature, so the owner takes it out (a new epoch) at its next sync with this device, and
    // no member exchanges the share with it meanwhile.
    const left = [...store.shares.values()].filter((s) => s.left !== null && memberOf(s, signer.tag) !== undefined && (peer === null || s.record.members.some((m) => m.peer === peer))).map((s) => s.record.share);
    // `merkle: 1`: this build takes versions signed in batches (keys.ts sealVersions). An older
    // build checks the hello's signature over every field and ignores what it does not know.
    const body = { dev: signer.tag, signPub: signer.publicKey, name: deps.deviceName, peer: deps.peerId(), at: deps.clock(), shares, ...(left.length > 0 ? { left } : {}), merkle: 1 };
    return { head: { t: 'hello', v: 1, ...body, sig: signer.sign(canonical(body)) } };
  }

  /**
   * Checks a hello and takes what it says: share records newer than ours (or new shares this
   * device is a member of), and what the peer has seen. `channelPeer`: the authenticated peer id
   * of a network channel (null for a bundle, whose hello is checked by its signature alone).
   */
  function acceptHello(m: Message, channelPeer: string | null): PeerHello {
    const h = m.head as Record<string, unknown>;
    if (h.t !== 'hello' || h.v !== 1) throw new ElohimError('SYNC_REJECTED', 'the other device speaks another sync version');
    const { sig, t: _t, v: _v, ...body } = h;
    const signPub = String(body.signPub);
    if (typeof sig !== 'string' || !verifySignature(signPub, canonical(body), sig) || tagOf(signPub) !== body.dev) {
      throw new ElohimError('SYNC_REJECTED', 'the hello does not verify');
    }
    const peer = String(body.peer);
    if (channelPeer !== null && peer !== channelPeer) throw new ElohimError('SYNC_REJECTED', 'the hello names another device than the connection');
    const merkle = body.merkle === 1;
    if (channelPeer !== null) store.putCard(peer, signPub, String(body.name).slice(0, 100), merkle);
    else if (store.cards.get(peer)?.signPub !== undefined && store.cards.get(peer)!.signPub !== signPub) throw new ElohimError('SYNC_REJECTED', 'the bundle was signed by another key than that device has');
    const dev = body.dev as DeviceTag;
    const list = Array.isArray(body.shares) ? (body.shares as { record: ShareRecord; seen: SeenRanges }[]) : [];
    const leaving = new Set(Array.isArray(body.left) ? body.left.filter((x): x is string => typeof x === 'string' && HEX32.test(x)) : []);
    const shares: string[] = [];
    for (const item of list) {
      const known = store.shares.get(item.record?.share);
      const ownerKey = known?.record.members.find((x) => x.dev === known.record.owner)?.signPub;
      const record = verifyShareRecord(item.record, ownerKey);
      // Take a newer record (membership, key rotation); a device removed from it keeps what it had.
      if (known === undefined || record.epoch > known.record.epoch || (record.epoch === known.record.epoch && record.rev > known.record.rev)) {
        if (record.keys[signer.tag] !== undefined) {
          const key = unwrapShareKey(record, signer.tag, deps.identities());
          const keys = { ...(known?.keys ?? {}), ...previousKeys(record, key), [record.epoch]: key };
          store.putShare(record, keys, known?.folder ?? deps.folderForNewShare(shareName(record, key)));
        } else if (known !== undefined) {
          store.putShare(record, known.keys, known.folder); // we were removed: keep what we had
        }
      }
      const state = store.shares.get(record.share);
      // Nothing of a share this device is no longer in is exchanged: its objects are not asked
      // for (the members would answer `missing`), its versions not sent (they would be refused).
      if (state === undefined || memberOf(state, dev)?.signPub !== signPub || memberOf(state, signer.tag) === undefined || state.left !== null || leaving.has(state.record.share)) continue;
      if (item.seen !== null && typeof item.seen === 'object') store.markPeerSeen(state, dev, item.seen);
      shares.push(record.share);
    }
    // Shares the peer did not mention (it has not heard of them yet) but is a member of.
    for (const state of store.shares.values()) {
      if (!shares.includes(state.record.share) && memberOf(state, dev)?.signPub === signPub && memberOf(state, dev)?.peer === peer && memberOf(state, signer.tag) !== undefined && state.left === null && !leaving.has(state.record.share)) shares.push(state.record.share);
    }
    const left = [...leaving].filter((id) => {
      const state = store.shares.get(id);
      return state !== undefined && memberOf(state, dev)?.signPub === signPub;
    });
    return { dev, peer, name: String(body.name), shares, left, merkle };
  }

  /**
   * Version batches the peer has not seen, for the shares both hold. To a peer that does not take
   * versions signed in batches (an older build), each goes signed alone: as it came when it came
   * so, re-signed when this device wrote it, and left out when another device wrote it in a batch
   * (no device can sign for another): that peer gets it from its author, or once it is updated
   * (nothing marks it seen meanwhile).
   */
  function* versionsFor(peer: PeerHello): Generator<Message> {
    for (const id of peer.shares) {
      const state = store.shares.get(id)!;
      if (memberOf(state, peer.dev) === undefined) continue;
      const seen = state.peerSeen[peer.dev] ?? {};
      let batch: WireVersion[] = [];
      for (const stored of state.wires.values()) {
        if (hasSeen(seen, stored.dev, stored.seq)) continue;
        const wire = peer.merkle === true ? stored : signedAlone(signer, stored);
        if (wire === null) continue;
        batch.push(wire);
        if (batch.length === BATCH) {
          yield { head: { t: 'versions', share: id, list: batch } };
          batch = [];
        }
      }
      if (batch.length > 0) yield { head: { t: 'versions', share: id, list: batch } };
    }
  }

  /**
   * Verifies a batch whole, then keeps it; resolves to the versions that were new. Throws
   * (rejects) SYNC_REJECTED. The signatures are checked on the libuv pool (keys.ts openVersions):
   * the caller may read its next message meanwhile.
   */
  async function applyVersions(m: Message, from: PeerHello): Promise<Version[]> {
    const state = store.shares.get(String(m.head.share));
    // A share this device left: a member that has not heard yet (the owner added this device
    // back, say, before its hello said it left) sends its versions. Nothing of them is kept, and
    // the session goes on for the other shares; this device's next hello says it left again.
    if (state !== undefined && state.left !== null && !from.shares.includes(state.record.share)) return [];
    if (state === undefined || !from.shares.includes(state.record.share)) throw new ElohimError('SYNC_REJECTED', 'versions of a share the other device is not in');
    const list = m.head.list;
    if (!Array.isArray(list) || list.length > BATCH) throw new ElohimError('SYNC_REJECTED', 'a malformed batch of versions');
    const record = state.record;
    let verified = await openVersions(list, record, state.keys);
    // The share's record changed meanwhile (another session took a new one): checked again
    // under the record held now, as a version arriving now would be (rare; synchronous).
    if (state.record !== record) verified = list.map((w) => openVersion(w, state.record, state.keys));
    return store.addVersions(state, verified);
  }

  /**
   * The objects the index shows (conflict copies included) that are not stored here: those of
   * every live version (a file's shown version and its conflict copies are all the live ones;
   * the view's names and order are not needed, and building them was most of this call).
   * `only`: look at these versions of the share (just received) instead of the whole index,
   * those still live; `skip`: objects asked for already.
   */
  async function wanted(shares: string[], only?: { share: string; versions: readonly Version[] }, skip?: (obj: string) => boolean): Promise<(Want & { fileKey: string; size: number })[]> {
    const out: (Want & { fileKey: string; size: number })[] = [];
    const seen = new Set<string>();
    for (const id of only === undefined ? shares : shares.filter((s) => s === only.share)) {
      const state = store.shares.get(id);
      if (state === undefined) continue;
      // A version already shown in the vault folder had its object stored first: no need to
      // look for it on disk (a stat per file was most of a sync where nothing changed).
      const shown = new Set<string>();
      for (const link of state.local.values()) shown.add(link.version);
      const live = only === undefined ? [...state.index.entries()].map(([, siblings]) => siblings) : [...new Set(only.versions.map((v) => v.entry))].map((entry) => state.index.siblings(entry));
      let n = 0;
      for (const siblings of live) {
        for (const version of siblings) {
          const obj = version.obj;
          if (version.deleted || obj === null || seen.has(obj)) continue;
          seen.add(obj);
          if (skip?.(obj) === true || shown.has(versionKey(version))) continue;
          // Let the event loop turn now and then: thousands of awaits that resolve at once
          // never do, and a connection whose pings go unanswered for seconds is taken for dead.
          if (++n % 500 === 0) await new Promise(setImmediate);
          if ((await deps.ciphertext.size(obj as never)) !== null) continue;
          // Synchronous and without an error when missing, as size(): most objects have none.
          const staged = deps.staging === null ? 0 : (statSync(join(deps.staging, obj), { throwIfNoEntry: false })?.size ?? 0);
          out.push({ share: id, obj, offset: staged, fileKey: version.content.fileKey, size: version.content.size });
        }
      }
    }
    return out;
  }

  // The objects a share's index names, as a Set per share, rebuilt when an object is not in it
  // (the index may have changed since): asking one by one over the index was quadratic.
  const named = new WeakMap<ShareState, Set<string>>();
  function names(state: ShareState, obj: string): boolean {
    if (named.get(state)?.has(obj)) return true;
    const set = new Set<string>();
    for (const v of state.index.versions()) if (v.obj !== null) set.add(v.obj);
    named.set(state, set);
    return set.has(obj);
  }

  /** A requested object as chunk messages from `offset`; one `missing` message when it is not here. */
  async function* serve(want: Want, allowed: (share: string) => boolean, known?: number | null, warming?: Warming): AsyncGenerator<Message> {
    if (want === null || typeof want !== 'object' || !HEX32.test(String(want.obj)) || !HEX32.test(String(want.share)) || !Number.isSafeInteger(want.offset) || want.offset < 0) throw new ElohimError('SYNC_REJECTED', 'a malformed object request');
    // A share the asker is not in (a device removed from it that has not heard yet, say) is
    // answered as an object not held: nothing is served, and the sync goes on.
    const state = allowed(want.share) ? store.shares.get(want.share) : undefined;
    if (state === undefined) {
      yield { head: { t: 'missing', obj: want.obj } };
      return;
    }
    // Serve only objects this share's index names: a peer cannot read other objects of the pool.
    if (!names(state, want.obj)) {
      yield { head: { t: 'missing', obj: want.obj } };
      return;
    }
    // `known`: serveAll stat'ed it just before (objects never change size; one gone since fails its read).
    const size = known !== undefined ? known : await deps.ciphertext.size(want.obj as never);
    if (size === null || want.offset > size) {
      yield { head: { t: 'missing', obj: want.obj } };
      return;
    }
    if (want.offset === size) {
      yield { head: { t: 'chunk', obj: want.obj, offset: size, end: true } };
      return;
    }
    // Up to READS_IN_FLIGHT chunks read at once, each its own ranged read (by position), so the
    // next ones are read while this one waits for credit and goes out. A read left in flight when
    // the caller stops (a failed session) ends by itself and closes its file.
    const reading: Promise<Buffer>[] = [];
    let offset = want.offset;
    let next = offset;
    try {
      while (offset < size) {
        while (reading.length < READS_IN_FLIGHT && next < size) {
          const read = readRange(want.obj, next, Math.min(size, next + CHUNK_BYTES), warming);
          read.catch(() => {}); // awaited in its turn; this only keeps a failure from going unhandled meanwhile
          reading.push(read);
          next = Math.min(size, next + CHUNK_BYTES);
        }
        const chunk = await reading.shift()!;
        yield { head: { t: 'chunk', obj: want.obj, offset, end: offset + chunk.length === size }, bytes: chunk };
        offset += chunk.length;
      }
    } finally {
      reading.length = 0;
    }
  }

  /** Stored bytes [start, end) of an object, as one buffer. Throws OBJECT_DAMAGED when the object is shorter (or gone). */
  async function readRange(obj: string, start: number, end: number, warming?: Warming): Promise<Buffer> {
    // A small object (or a big one's last piece), read at once where the view can (readNow says
    // why), timed by the warmer where there is one.
    if (deps.ciphertext.readNow !== undefined && end - start < CHUNK_BYTES) {
      const read = () => deps.ciphertext.readNow!(obj as never, start, end);
      return warming !== undefined ? warming.timed(read) : read();
    }
    const stream = await deps.ciphertext.read(obj as never, { start, end });
    const pieces: Buffer[] = [];
    // A range of one chunk comes as one piece (highWaterMark): no copy of it then.
    for await (const piece of stream as AsyncIterable<Buffer>) pieces.push(piece);
    const all = pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
    if (all.length !== end - start) throw new ElohimError('OBJECT_DAMAGED', 'an object being sent is shorter than its size');
    return all;
  }

  /**
   * A warmer for one session's serving (warm.ts), or null where the view has none: `add` each
   * `want` list as it comes, before serveAll takes it (pass the warmer to serveAll, which moves
   * it on as it takes each want). A want serve would refuse is a place with nothing to read.
   */
  function warmer(allowed: (share: string) => boolean): Warming | null {
    const view = deps.ciphertext.warm?.({ lead: WARM_LEAD, maxBytes: CHUNK_BYTES });
    if (view === undefined) return null;
    return {
      add(list) {
        // Mapped as the warmer pulls them (a few thousand ahead), not all at once.
        view.add(
          (function* () {
            for (const w of list) {
              const obj = String(w?.obj);
              const state = HEX32.test(obj) && allowed(String(w.share)) ? store.shares.get(String(w.share)) : undefined;
              yield state !== undefined && names(state, obj) ? (obj as ObjectId) : null;
            }
          })(),
        );
      },
      next: () => view.next(),
      timed: (read) => view.timed(read),
      close: () => view.close(),
    };
  }

  /**
   * The requested objects in order, as `serve` gives each, with up to AHEAD small ones (one
   * message each) read ahead: served one after another, each small object was four file-system
   * round trips (open, stat, read, close) on the libuv pool while the wire waited, ~2.6 ms apiece
   * on a loaded machine. A big object streams in its turn (serve reads a few of its chunks
   * ahead). At most AHEAD_BYTES (+ one object) of small objects in memory. `warming` (the
   * session's warmer) is moved on as each want is taken.
   */
  async function* serveAll(list: readonly Want[], allowed: (share: string) => boolean, warming?: Warming): AsyncGenerator<Message> {
    const read = async (w: Want, size: number | null): Promise<Message[]> => {
      const out: Message[] = [];
      for await (const m of serve(w, allowed, size, warming)) out.push(m);
      return out;
    };
    // A small object's messages being read, or a big one (null: it streams in its turn, its own
    // chunks read ahead by serve).
    const ahead: { want: Want; size: number | null; bytes: number; messages: Promise<Message[]> | null }[] = [];
    let aheadBytes = 0;
    let next = 0;
    try {
      while (next < list.length || ahead.length > 0) {
        while (ahead.length < AHEAD && aheadBytes < AHEAD_BYTES && next < list.length) {
          const want = list[next++]!;
          warming?.next();
          const size = HEX32.test(String(want?.obj)) ? await deps.ciphertext.size(want.obj as never) : null;
          const rest = size === null ? 0 : Math.max(0, size - (Number.isSafeInteger(want.offset) ? want.offset : 0));
          if (rest > CHUNK_BYTES) {
            ahead.push({ want, size, bytes: 0, messages: null });
            continue;
          }
          const messages = read(want, size);
          messages.catch(() => {}); // awaited in its turn; this only keeps a failure from going unhandled meanwhile
          ahead.push({ want, size, bytes: rest, messages });
          aheadBytes += rest;
        }
        const { want, size, bytes, messages } = ahead.shift()!;
        aheadBytes -= bytes;
        if (messages !== null) yield* await messages;
        else yield* serve(want, allowed, size, warming);
      }
    } finally {
      ahead.length = 0;
    }
  }

  return { hello, acceptHello, versionsFor, applyVersions, wanted, serve, serveAll, warmer, ...createReceiver(deps), sharesWith };
}

export type Engine = ReturnType<typeof createEngine>;
