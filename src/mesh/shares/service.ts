/**
 * Shares of one unlocked vault: create a share of a vault folder with paired devices, change
 * its members (removing one rotates the key), sync with members over the mesh, resolve
 * conflicts, and move a sync through a file (bundles). Built per workspace from the mesh node's
 * narrow face (`MeshForSync`), so it never constructs the node.
 *
 * Over 300 lines: share, members, sync, conflicts and bundles share two locks (one operation
 * at a time; scans apart from the network) and the audit helper; split, each part would take
 * the locks as parameters. The logic they call lives in crdt, keys, bridge, sync and bundle.
 */
import { randomBytes } from 'node:crypto';
import { ElohimError, isElohimError } from '../../errors.ts';
import type { ObjectStore, Vault } from '../../vault/index.ts';
import { checkName, formatVaultPath, parseVaultPath, SHARES_HOLDER } from '../../vault/index.ts';
import { conflictsOf, versionKey, viewOf } from './crdt.ts';
import { deviceSigner, newShareRecord, renameShareRecord, reviseShareRecord, tagOf } from './keys.ts';
import { newRecordId } from '../../db/index.ts';
import type { Member, Role } from './keys.ts';
import { memberOf } from './store.ts';
import type { ShareState, SyncStore } from './store.ts';
import { createBridge, folderSegment } from './bridge.ts';
import { createEngine } from '../sync/engine.ts';
import type { Engine, PeerHello, Progress } from '../sync/engine.ts';
import { runSession } from '../sync/session.ts';
import { SYNC_PROTOCOL } from '../sync/frame.ts';
import { exportBundle, importBundle } from '../bundle/bundle.ts';
import { createWitness, WITNESS_PROTOCOL } from '../witness/witness.ts';
import type { AuditLog } from '../../audit/index.ts';
import type { Channel } from '../sync/frame.ts';
import { objectNames, wireView } from './objects.ts';
import { sweepStaging } from '../sync/staging-sweep.ts';
import type { SweepResult } from '../sync/staging-sweep.ts';

/** What shares need of the mesh node (src/mesh's `Mesh` satisfies it). */
export interface MeshForSync {
  handle(protocol: string, handler: (channel: Channel & { peer: string }, peer: { deviceId: string }) => Promise<void>): void;
  unhandle(protocol: string): void;
  withChannel<T>(deviceId: string, protocol: string, fn: (ch: Channel) => Promise<T>, opts?: { signal?: AbortSignal }): Promise<T>;
  peers(): { deviceId: string; name: string; recipients: string[]; online: boolean }[];
  ageIdentities(): string[];
  recipients(): string[];
  readonly deviceId: string | null;
}

export interface ShareServiceDeps {
  mesh: MeshForSync;
  vault: Vault;
  objects: ObjectStore;
  store: SyncStore;
  /** this vault's audit log, whose head paired devices witness */
  audit: AuditLog;
  /** 32 bytes from the vault key (`elohim/v1 mesh-sync signing`): this device's signing seed */
  signingSeed: Buffer;
  /** 32 bytes from the vault key (`elohim/v1 mesh-sync object ids`): share objects' ids in the pool (objects.ts) */
  objectKey: Buffer;
  deviceName: () => string;
  /** see the sync engine's `staging`; null in a folder with a deniable store */
  staging: string | null;
  clock: () => number;
  signal: AbortSignal;
  /** see BridgeDeps.showHeapGrowth (tests) */
  showHeapGrowth?: number;
}

export interface ShareSummary {
  id: string;
  name: string;
  folder: string;
  role: Role;
  epoch: number;
  members: { deviceId: string; name: string; role: Role }[];
  files: number;
  conflicts: number;
  pending: number;
  /** its folder is in this vault's trash (or gone): nothing is scanned or shown here until it is back */
  paused: boolean;
  /** this device was removed from the share: it keeps what it had, and gets and sends nothing more */
  removed: boolean;
  /**
   * this device left the share (`leave`): it keeps what it had, and gets and sends nothing more;
   * `removed` is then false (it was not the owner's doing)
   */
  left: boolean;
  /** it left, and the owner has taken it out of the share since (it heard of the leave) */
  leaveSeen: boolean;
}

export type SyncEvent =
  | { type: 'progress'; peer: string; progress: Progress }
  | { type: 'peer-done'; peer: string; versions: number; objects: number; bytes: number }
  | { type: 'peer-failed'; peer: string; code: string; message: string }
  | { type: 'done'; changed: number; pending: number };

export function createShareService(deps: ShareServiceDeps) {
  const { mesh, vault, store } = deps;
  const signer = deviceSigner(deps.signingSeed);
  const names = objectNames(deps.objectKey);
  const wired = wireView(deps.objects.ciphertext, names);
  const peerId = () => {
    if (mesh.deviceId === null) throw new ElohimError('MESH_OFF');
    return mesh.deviceId;
  };
  const engine = createEngine({
    store,
    signer,
    deviceName: deps.deviceName(),
    peerId,
    identities: () => mesh.ageIdentities(),
    ciphertext: wired,
    staging: deps.staging,
    folderForNewShare: (name) => folderFor(name),
    clock: deps.clock,
  });
  /**
   * Runs one session (or bundle import) with a receiver of its own: in a folder with a deniable
   * store, an object that was streaming straight into the store when the session ended (cut, or
   * failed) is aborted then, and nothing of it is kept (../sync/receive.ts).
   */
  const receivingIn = async <T>(fn: (e: Engine) => Promise<T>): Promise<T> => {
    const receiver = engine.receiving();
    try {
      return await fn({ ...engine, receiveChunk: receiver.receiveChunk });
    } finally {
      await receiver.close();
    }
  };
  /**
   * Where a share received from another device is shown: /Shares/<its name>, the name checked by
   * the vault's rule (another device chose it) and made unique among the shares here.
   */
  function folderFor(name: string): string {
    const base = folderSegment(name);
    const taken = new Set([...store.shares.values()].map((s) => s.folder));
    for (let n = 1; ; n++) {
      const folder = formatVaultPath(['Shares', n === 1 ? base : `${base} ${n}`]);
      if (!taken.has(folder)) return folder;
    }
  }
  const bridge = createBridge({ vault, objects: deps.objects, store, signer, names, clock: deps.clock, signal: deps.signal, showHeapGrowth: deps.showHeapGrowth });

  // The shares hold the objects their indexes name (versions shown or not, conflict copies
  // included), whatever the vault's items do: vault/refs.ts asks before removing one. Objects
  // a share stops naming are released in the transaction that drops their versions.
  let named: { generation: number; objects: Set<string> } | null = null;
  const sharesNeed = (object: string): boolean => {
    if (named?.generation !== store.generation) {
      const objects = new Set<string>();
      for (const state of store.shares.values()) for (const v of state.index.versions()) if (v.obj !== null) objects.add(names.localOf(v.obj));
      named = { generation: store.generation, objects };
    }
    return named.objects.has(object);
  };
  // Objects released since the last sweep: a partial of one staged here is not worth resuming.
  const released = new Set<string>();
  store.onRelease = (wires) => {
    vault.release(wires.map((w) => names.localOf(w)));
    for (const w of wires) released.add(w);
  };
  // Sessions of this vault running now (synced, answered, bundles imported): the staging sweep
  // waits for none to run, as a session may be writing or taking a staged file.
  let sessions = 0;
  const counted = async <T>(fn: () => Promise<T>): Promise<T> => {
    sessions++;
    try {
      return await fn();
    } finally {
      sessions--;
    }
  };
  /**
   * Removes staged partial objects no session will resume (../sync/staging-sweep.ts): after
   * each sync's collection pass and when the service starts. A file-system error leaves them for
   * the next pass: a sync does not fail for its clean-up.
   */
  const sweep = async (): Promise<SweepResult | null> => {
    if (deps.staging === null || deps.signal.aborted) return null;
    try {
      return await sweepStaging({
        dir: deps.staging,
        busy: () => sessions > 0 || deps.signal.aborted,
        held: async (wire) => (await wired.size(wire as never)) !== null,
        named: (wire) => sharesNeed(names.localOf(wire)),
        released,
        now: deps.clock,
      });
    } catch (err) {
      if (err instanceof Error && 'syscall' in err) return null;
      throw err;
    }
  };
  let unretain: (() => void) | null = null;
  const peerName = (peer: string) => mesh.peers().find((p) => p.deviceId === peer)?.name ?? store.cards.get(peer)?.name ?? peer.slice(0, 12);
  const witness = createWitness({ audit: deps.audit, signer, store, clock: deps.clock, peerName });
  /**
   * Records a share operation in the audit log ('share' event). A log that fails verification
   * refuses appends and `audit verify` reports it; the operation itself goes on (as recordEvent).
   */
  const audited = (details: Record<string, string | number | boolean>) => {
    if (deps.signal.aborted) return;
    try {
      deps.audit.append('share', details);
    } catch (err) {
      if (!isElohimError(err, 'AUDIT_CHAIN_BROKEN')) throw err;
    }
  };
  const listeners = new Set<(e: SyncEvent) => void>();
  const emit = (e: SyncEvent) => {
    for (const l of listeners) l(e);
  };

  // One sync, scan or resolve at a time: each reads and writes the same index and folder.
  let queue: Promise<unknown> = Promise.resolve();
  const exclusive = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => {});
    return run;
  };

  // Scans have a lock of their own, never held while waiting on the network: a sync that a peer
  // starts scans first (so an edit made here before it is a version the peer receives, not
  // one it misses), and two devices syncing each other at once never wait on each other.
  let scanning: Promise<unknown> = Promise.resolve();
  const scanAll = (): Promise<void> => {
    const run = scanning.then(async () => {
      for (const state of store.shares.values()) {
        // A share this device left: what is written there is its own now, never sent.
        if (state.folder === '' || state.left !== null) continue;
        try {
          await bridge.scan(state);
        } catch (err) {
          // As in showAll: one share's folder in trouble does not stop the others' sync.
          if (deps.signal.aborted || !isElohimError(err) || err.code === 'INTERNAL' || err.code === 'DISK_FULL') throw err;
        }
      }
    });
    scanning = run.catch(() => {});
    return run;
  };

  const stateOf = (id: string): ShareState => {
    const state = [...store.shares.values()].find((s) => s.record.share === id || s.record.share.startsWith(id) && id.length >= 6);
    if (state === undefined) throw new ElohimError('SHARE_NOT_FOUND');
    return state;
  };

  function meAsMember(): Member {
    return { dev: signer.tag, peer: peerId(), name: deps.deviceName(), signPub: signer.publicKey, recipients: mesh.recipients(), role: 'owner' };
  }

  /** A paired device as a member: its signing key comes from a hello over its authenticated channel. */
  async function memberFor(device: string, role: Role): Promise<Member> {
    const peer = mesh.peers().find((p) => p.deviceId === device || p.name === device);
    if (peer === undefined) throw new ElohimError('MESH_PEER_UNKNOWN', `no paired device is called ${device}`);
    if (!store.cards.has(peer.deviceId)) await syncPeer(peer.deviceId); // the hello teaches us its key
    const card = store.cards.get(peer.deviceId);
    if (card === undefined) throw new ElohimError('MESH_PEER_UNREACHABLE', 'the device must be reached once before it can be added to a share');
    return { dev: tagOf(card.signPub), peer: peer.deviceId, name: peer.name || card.name, signPub: card.signPub, recipients: peer.recipients, role };
  }

  /** Shares a vault folder with devices (or adds them to the folder's share). */
  async function share(path: string, devices: string[], opts: { readOnly?: boolean } = {}): Promise<ShareSummary> {
    const names = parseVaultPath(path);
    const folderId = vault.resolve(path);
    if (folderId === null || vault.item(folderId).kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', 'only a folder can be shared');
    const folder = formatVaultPath(names);
    const added = await Promise.all(devices.map((d) => memberFor(d, opts.readOnly ? 'ro' : 'rw')));
    // The folder's share, found by its item (it may have moved since it was shared), else by path.
    const all = [...store.shares.values()];
    const existing = all.find((s) => s.item === folderId) ?? all.find((s) => s.folder === folder && bridge.folderOf(s) === folder);
    let state: ShareState;
    if (existing === undefined) {
      const members = dedupe([meAsMember(), ...added]);
      const { record, key } = newShareRecord(signer, { share: randomBytes(16).toString('hex'), name: names[names.length - 1] ?? 'share', epoch: 1, rev: 1, members, former: [], previous: {} });
      state = store.putShare(record, { 1: key }, folder);
      store.placeShare(state, folder, folderId);
    } else {
      if (existing.record.owner !== signer.tag) throw new ElohimError('SHARE_READ_ONLY', 'only the device that created the share changes its members');
      const members = dedupe([...existing.record.members.filter((m) => !added.some((a) => a.dev === m.dev)), ...added]);
      state = store.putShare(reviseShareRecord(signer, existing.record, existing.keys[existing.record.epoch]!, members), existing.keys, folder);
    }
    audited({ action: existing === undefined ? 'create' : 'add-members', folder, devices: added.map((m) => m.name).join(', '), readOnly: opts.readOnly === true });
    await scanAll();
    return summary(state);
  }

  /** Removes a member: a new epoch with a new key the removed device never gets. */
  function removeMember(id: string, device: string): ShareSummary {
    const state = stateOf(id);
    if (state.record.owner !== signer.tag) throw new ElohimError('SHARE_READ_ONLY', 'only the device that created the share changes its members');
    const gone = state.record.members.find((m) => (m.peer === device || m.name === device) && m.role !== 'owner');
    if (gone === undefined) throw new ElohimError('MESH_PEER_UNKNOWN', 'that device is not a member of the share');
    const epoch = takeOut(state, gone);
    audited({ action: 'remove-member', folder: state.folder, device: gone.name, epoch });
    return summary(state);
  }

  /** A member out of the share: a new epoch with a new key it never gets. Returns the epoch. */
  function takeOut(state: ShareState, gone: Member): number {
    const epoch = state.record.epoch + 1;
    const { record, key } = newShareRecord(signer, {
      share: state.record.share,
      name: state.name,
      epoch,
      rev: 1,
      members: state.record.members.filter((m) => m !== gone),
      former: [...state.record.former, { ...gone, until: epoch }],
      previous: state.keys,
    });
    store.putShare(record, { ...state.keys, [epoch]: key }, state.folder);
    return epoch;
  }

  /**
   * This device leaves a share it was added to: it keeps what it has (files, and the keys of
   * what it received: nothing can take those back), scans, shows and exchanges nothing of the
   * share from then on, and says so in its signed hello, so the owner takes it out (a new epoch
   * and key, as a removal) at their next sync. Throws SHARE_NOT_FOUND; INVALID_INPUT for the
   * owner's own share (it removes members or unshares instead) and for a share this device was
   * removed from; leaving twice changes nothing.
   */
  function leave(id: string): ShareSummary {
    const state = stateOf(id);
    if (state.record.owner === signer.tag) throw new ElohimError('INVALID_INPUT', 'this device created the share and cannot leave it: remove its members instead');
    if (state.left !== null) return summary(state);
    if (memberOf(state, signer.tag) === undefined) throw new ElohimError('INVALID_INPUT', 'this device was already removed from the share');
    store.markLeft(state, deps.clock());
    audited({ action: 'leave', folder: bridge.folderOf(state) });
    return summary(state);
  }

  /**
   * What a peer said it left, in its hello: the owner (this device) takes it out of the share,
   * as a removal would, and records it. A member that is not the owner only leaves the share out
   * of the exchange with it (acceptHello did).
   */
  function takeLeaves(peer: PeerHello) {
    for (const id of peer.left) {
      const state = store.shares.get(id);
      if (state === undefined || state.record.owner !== signer.tag) continue;
      const gone = state.record.members.find((m) => m.dev === peer.dev && m.role !== 'owner');
      if (gone === undefined) continue;
      const epoch = takeOut(state, gone);
      audited({ action: 'member-left', folder: state.folder, device: gone.name, epoch });
    }
  }

  /**
   * Renames a share (the owner only): a new revision of its signed record, which members take at
   * their next sync; on each of them the folder the share was given (`/Shares/<name>`) follows
   * while it still has that name. The owner's own folder keeps its name: it is the user's folder,
   * and renaming it in the vault is a move the share follows anyway. Throws SHARE_NOT_FOUND,
   * SHARE_READ_ONLY (not the owner), INVALID_NAME (the vault's name rule); nothing changes then.
   */
  function rename(id: string, name: string): ShareSummary {
    const state = stateOf(id);
    if (state.record.owner !== signer.tag) throw new ElohimError('SHARE_READ_ONLY', 'only the device that created the share renames it');
    const checked = checkName(typeof name === 'string' ? name : '');
    if (checked === state.name) return summary(state);
    const before = state.name;
    store.putShare(renameShareRecord(signer, state.record, state.keys[state.record.epoch]!, checked), state.keys, state.folder);
    audited({ action: 'rename', folder: bridge.folderOf(state), from: before, name: checked });
    return summary(state);
  }

  /**
   * One audit entry per completed sync session, on each side (`side`: which one started it):
   * counts only, no device, file or folder names.
   */
  const auditSync = (side: 'started' | 'answered', r: { versions: number; objects: number; bytes: number }) =>
    audited({ action: 'sync', side, versions: r.versions, objects: r.objects, bytes: r.bytes });

  async function syncPeer(device: string, signal?: AbortSignal) {
    const combined = signal ? AbortSignal.any([signal, deps.signal]) : deps.signal;
    const r = await counted(() => mesh.withChannel(device, SYNC_PROTOCOL, (ch) => receivingIn((e) => runSession(e, ch, device, { signal: combined, onHello: takeLeaves, onProgress: (progress) => emit({ type: 'progress', peer: device, progress }) })), { signal: combined }));
    auditSync('started', r);
    return r;
  }

  /** Scans every share's folder, syncs with every member reachable (or `only` one), and shows the result. */
  async function sync(opts: { only?: string; signal?: AbortSignal } = {}) {
    await scanAll();
    // Every paired device, share member or not, connected now or not (the pool dials it; one
    // that cannot be reached is reported, not fatal): the hello teaches each other's signing key
    // (needed to add a device to a share) and the witness exchange follows. Only connected ones
    // were tried at first, and a device idle for minutes had dropped its connection: nothing synced.
    const peers = new Set<string>(mesh.peers().map((p) => p.deviceId));
    for (const state of store.shares.values()) for (const m of state.record.members) if (m.dev !== signer.tag && mesh.peers().some((p) => p.deviceId === m.peer)) peers.add(m.peer);
    if (opts.only !== undefined) {
      const p = mesh.peers().find((x) => x.deviceId === opts.only || x.name === opts.only);
      if (p === undefined) throw new ElohimError('MESH_PEER_UNKNOWN');
      peers.clear();
      peers.add(p.deviceId);
    }
    const results: { peer: string; ok: boolean; versions?: number; objects?: number; bytes?: number; error?: string; message?: string }[] = [];
    // A refused sync (something a device sent failed its check, or it refused ours) does not hold
    // up the other devices: they sync, what arrived is shown, and then the sync fails with it.
    let rejected: unknown = null;
    for (const peer of peers) {
      try {
        const r = await syncPeer(peer, opts.signal);
        await mesh.withChannel(peer, WITNESS_PROTOCOL, (ch) => witness.exchange(ch, peer, true, opts.signal), { signal: opts.signal ?? deps.signal });
        results.push({ peer, ok: true, versions: r.versions, objects: r.objects, bytes: r.bytes });
        emit({ type: 'peer-done', peer, versions: r.versions, objects: r.objects, bytes: r.bytes });
      } catch (err) {
        if (opts.only !== undefined) throw err;
        if (isElohimError(err, 'SYNC_REJECTED')) rejected ??= err;
        // Our own errors say why in words written for the user; anything else may carry a path
        // or a library's detail, and says only that it failed.
        const code = isElohimError(err) ? err.code : 'INTERNAL';
        const message = isElohimError(err) && code !== 'INTERNAL' ? err.message : 'the sync failed';
        results.push({ peer, ok: false, error: code, message });
        emit({ type: 'peer-failed', peer, code, message });
      }
    }
    const shown = await showAll();
    if (rejected !== null) throw rejected;
    emit({ type: 'done', ...shown });
    return { peers: results, ...shown };
  }

  async function showAll() {
    let changed = 0;
    let pending = 0;
    // Publish local edits first, so showing what arrived never replaces an edit unseen.
    await scanAll();
    for (const state of store.shares.values()) {
      if (state.folder === '' || state.left !== null) continue;
      try {
        const r = await bridge.materialize(state);
        changed += r.changed;
        pending += r.pending;
      } catch (err) {
        // One share that cannot be shown (its folder's place taken by a file, say) does not
        // keep the others from being shown; it stays pending.
        if (deps.signal.aborted || !isElohimError(err) || err.code === 'INTERNAL' || err.code === 'DISK_FULL') throw err;
        pending++;
      }
    }
    // Objects of versions superseded meanwhile, and of files deleted for good, that nothing names;
    // then partial transfers of objects that are held or released now.
    await vault.collect();
    await sweep();
    return { changed, pending };
  }

  function summary(state: ShareState): ShareSummary {
    const view = viewOf(state.index, bridge.deviceName(state));
    return {
      id: state.record.share,
      name: state.name,
      folder: bridge.folderOf(state),
      role: memberOf(state, signer.tag)?.role ?? 'ro',
      epoch: state.record.epoch,
      members: state.record.members.map((m) => ({ deviceId: m.peer, name: m.name, role: m.role })),
      files: view.length,
      conflicts: conflictsOf(state.index).length,
      paused: bridge.paused(state),
      removed: state.left === null && memberOf(state, signer.tag) === undefined,
      left: state.left !== null,
      leaveSeen: state.left !== null && memberOf(state, signer.tag) === undefined,
      pending: ((shown) => view.filter((i) => !shown.has(versionKey(i.version))).length)(new Set([...state.local.values()].map((l) => l.version))),
    };
  }

  function conflicts(id: string) {
    const state = stateOf(id);
    return conflictsOf(state.index).map((c) => ({
      entry: c.entry,
      versions: c.versions.map((v) => ({ version: versionKey(v), device: bridge.deviceName(state)(v.dev), mine: v.dev === signer.tag, path: formatVaultPath(v.content.path), at: v.content.at, size: v.content.size, sha256: v.content.sha256 })),
    }));
  }

  /** Settles a conflict: keep both (the copy becomes a file of its own), keep mine, or keep theirs. */
  async function resolve(id: string, entry: string, choice: 'both' | 'mine' | 'theirs') {
    const state = stateOf(id);
    const me = memberOf(state, signer.tag);
    if (state.left !== null) throw new ElohimError('SHARE_READ_ONLY', 'this device left the share');
    if (me === undefined) throw new ElohimError('SHARE_READ_ONLY', 'this device was removed from the share');
    if (me.role === 'ro') throw new ElohimError('SHARE_READ_ONLY');
    const live = conflictsOf(state.index).find((c) => c.entry === entry)?.versions;
    if (live === undefined) throw new ElohimError('ITEM_NOT_FOUND', 'no conflict on that entry');
    const view = viewOf(state.index, bridge.deviceName(state));
    if (choice === 'both') {
      for (const copy of view.filter((i) => i.conflictOf === entry)) bridge.version(state, newRecordId(), false, { ...copy.version.content, path: copy.path }, copy.version.obj);
      bridge.settle(state, entry);
    } else {
      const mine = live.filter((v) => v.dev === signer.tag);
      const pick = choice === 'mine' ? mine[0] : live.find((v) => v.dev !== signer.tag);
      if (pick === undefined) throw new ElohimError('INVALID_INPUT', `there is no version of ${choice === 'mine' ? 'this device' : 'another device'} in that conflict`);
      bridge.version(state, entry, false, { ...pick.content, at: deps.clock() }, pick.obj);
    }
    audited({ action: 'resolve', folder: state.folder, choice });
    await bridge.materialize(state);
    return summary(state);
  }

  return {
    engine,
    signer,
    share: (path: string, devices: string[], opts?: { readOnly?: boolean }) => exclusive(() => share(path, devices, opts)),
    removeMember,
    leave,
    rename,
    sync: (opts?: { only?: string; signal?: AbortSignal }) => exclusive(() => sync(opts)),
    syncPeer,
    showAll,
    conflicts,
    resolve: (id: string, entry: string, choice: 'both' | 'mine' | 'theirs') => exclusive(() => resolve(id, entry, choice)),
    /** Writes what `device` is missing of the shares it is in to `path`, encrypted to it. */
    exportBundle: (device: string, path: string, opts: { signal?: AbortSignal } = {}) =>
      exclusive(async () => {
        await scanAll();
        const result = await exportBundle(engine, store, device, path, { signal: opts.signal ?? deps.signal });
        audited({ action: 'bundle-export', device, versions: result.versions, objects: result.objects });
        return result;
      }),
    /** Merges a bundle as a sync would, then shows the result in the shares' folders. */
    importBundle: (path: string, opts: { signal?: AbortSignal } = {}) =>
      exclusive(async () => {
        const result = await counted(() => receivingIn((e) => importBundle(e, mesh.ageIdentities(), path, { signal: opts.signal ?? deps.signal, onHello: takeLeaves })));
        audited({ action: 'bundle-import', device: result.from, versions: result.versions, objects: result.objects });
        return { ...result, ...(await showAll()) };
      }),
    list: () => [...store.shares.values()].map(summary),
    get: (id: string) => summary(stateOf(id)),
    subscribe(l: (e: SyncEvent) => void) {
      listeners.add(l);
      return () => listeners.delete(l);
    },
    /** Serves syncs that paired devices start (the mesh's gater has refused every other). */
    /** This log against what paired devices witnessed of it (for `audit verify`). */
    witnessCheck: () => witness.check(),
    /** One pass of the staging sweep now (null: nothing is staged in this data folder, or locked). */
    sweepStaging: sweep,
    start() {
      unretain = vault.retain(SHARES_HOLDER, sharesNeed);
      // What was released while this holder could not be asked (the vault opened before it).
      // Then partial transfers no session will resume (left by an earlier run).
      void vault.collect().then(sweep).catch(() => {});
      mesh.handle(WITNESS_PROTOCOL, (channel, peer) => witness.exchange(channel, peer.deviceId, false, deps.signal));
      mesh.handle(SYNC_PROTOCOL, async (channel, peer) => {
        // Not inside `exclusive`: two devices syncing each other at once would each hold their
        // own lock while waiting for the other's handler. Store changes are synchronous calls,
        // so a session interleaves safely with a scan; showing the result waits its turn.
        await scanAll();
        auditSync('answered', await counted(() => receivingIn((e) => runSession(e, channel, peer.deviceId, { signal: deps.signal, onHello: takeLeaves }))));
        await exclusive(showAll);
      });
    },
    stop() {
      unretain?.();
      unretain = null;
      mesh.unhandle(SYNC_PROTOCOL);
      mesh.unhandle(WITNESS_PROTOCOL);
      listeners.clear();
    },
  };
}

export type ShareService = ReturnType<typeof createShareService>;

function dedupe(members: Member[]): Member[] {
  const seen = new Set<string>();
  return members.filter((m) => (seen.has(m.dev) ? false : (seen.add(m.dev), true)));
}
