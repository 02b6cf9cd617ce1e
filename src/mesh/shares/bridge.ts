/**
 * The bridge between a share's index and the vault folder it is shown in, on one device.
 *
 * `scan` turns what the user did in the folder since the last look into signed versions: a new
 * or changed file becomes a version whose object is the vault's own object, as it is stored
 * (`vault.objectOf`: no copy, no re-encryption; its file key goes sealed in the version); a
 * removed file becomes a deletion.
 *
 * `materialize` shows the index in the folder: a version this device has not shown yet becomes
 * a vault file over the object that travelled (`vault.adopt`: authenticated under the version's
 * file key, no re-seal, no second object); the previous contents go to the vault's trash, as
 * any replace does; a deletion moves the file to the trash; conflict copies appear beside the
 * file under their conflict names (another item over the same object).
 *
 * Objects are named by wire ids in the index and by this vault's ids in the pool (objects.ts).
 *
 * `locate` finds the folder by its vault item (moved, renamed, paused while in the trash).
 * Over 300 lines: scan, show and locate share the links, the change marks and the folder walk.
 */
import { fileKeyFromBytes } from '../../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { checkName } from '../../vault/index.ts';
import { heapGrowthCollector, scanCollector } from '../sync/collect.ts';
import type { AdoptEntry, EntryInfo, ObjectStore, Vault } from '../../vault/index.ts';
import { newRecordId } from '../../db/index.ts';
import type { ObjectNames } from './objects.ts';
import { joinVectors, maxSeen, versionKey, viewOf } from './crdt.ts';
import type { Version, ViewItem } from './crdt.ts';
import { openVersion, sealVersions, TREE_LEAVES } from './keys.ts';
import type { DeviceSigner } from './keys.ts';
import { memberOf } from './store.ts';
import type { LocalLink, ShareState, SyncStore } from './store.ts';

export interface BridgeDeps {
  vault: Vault;
  objects: ObjectStore;
  store: SyncStore;
  signer: DeviceSigner;
  names: ObjectNames;
  clock: () => number;
  signal?: AbortSignal;
  /** heap growth (bytes) while files are shown, or a scan keeps its versions, that runs a full collection (SHOW_HEAP_GROWTH unless said) */
  showHeapGrowth?: number;
}

/** Files adopted into the vault per call (one commit each). */
const ADOPT_BATCH = 500;
/** Heap growth (bytes) while files are shown after which a full collection runs (collect.ts heapGrowthCollector says why). */
const SHOW_HEAP_GROWTH = 8 * 1024 * 1024;
/** Versions a scan seals and keeps at a time: 4 of keys.ts's trees, so the trees are the same as one call's. */
const SCAN_PIECE = 4 * TREE_LEAVES;

const samePath = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((n, i) => n === b[i]);

/** The live files below a vault folder, by their path below it. */
function walk(vault: Vault, folder: string | null, prefix: string[] = [], out: { path: string[]; info: EntryInfo }[] = []) {
  for (const child of vault.children(folder)) {
    const path = [...prefix, child.name];
    if (child.kind === 'folder') walk(vault, child.id, path, out);
    else out.push({ path, info: child });
  }
  return out;
}

/** The vault folder at `path`, created with its parents where missing. */
function ensureFolder(vault: Vault, path: string[]): string | null {
  // Most calls find the folder there: resolved by name, without listing every child of each
  // folder on the way (a folder of 10,000 files listed per file shown was 10,000 entries each).
  const found = existingFolder(vault, path);
  if (found !== undefined) return found;
  let parent: string | null = null;
  for (const name of path) {
    const existing: EntryInfo | undefined = vault.children(parent).find((c) => c.name === name);
    if (existing?.kind === 'file') throw new ElohimError('ITEM_EXISTS', 'a file stands where a shared folder goes');
    parent = existing?.id ?? vault.mkdir(parent, name).id;
  }
  return parent;
}

/** The folder at `path` when there is one; undefined when not (missing, a file, a name refused). */
function existingFolder(vault: Vault, path: string[]): string | null | undefined {
  if (path.length === 0) return null;
  try {
    const id = vault.resolve(`/${path.join('/')}`);
    if (id === null || vault.item(id).kind === 'folder') return id;
  } catch (err) {
    if (!isElohimError(err)) throw err;
  }
  return undefined;
}

export const folderNames = (path: string) => path.split('/').filter((n) => n !== '');

/** The folder name a share's name gives on a receiving device: checked by the vault's rule (another device chose it). */
export function folderSegment(shareName: string): string {
  try {
    return checkName(shareName.replace(/[/\\]/g, '-'));
  } catch (err) {
    if (isElohimError(err, 'INVALID_NAME')) return 'Shared folder';
    throw err;
  }
}

export function createBridge(deps: BridgeDeps) {
  const { vault, objects, store, signer } = deps;
  const deviceName = (state: ShareState) => (dev: string) => memberOf(state, dev)?.name ?? state.record.former.find((m) => m.dev === dev)?.name ?? dev;

  /** The share's folder item when it is a live folder (not trashed, not gone). */
  function liveFolder(id: string | null): EntryInfo | undefined {
    if (id === null) return undefined;
    try {
      const info = vault.item(id);
      return info.kind === 'folder' ? info : undefined;
    } catch (err) {
      if (isElohimError(err, 'ITEM_NOT_FOUND')) return undefined;
      throw err;
    }
  }

  /**
   * The folder the share is shown in, found by its item: a folder moved or renamed in the vault
   * stays shared, and where it went is recorded. Undefined when the share is **paused** here:
   * its folder is in the trash (or was purged) and no folder stands at its last path; nothing is
   * scanned or shown then. Why not read a missing folder as every file deleted: one device's
   * trash (or a member's way of leaving) would have trashed the files on every device. Restored
   * from the trash, the folder resumes as it was; a folder made at its last path takes its place,
   * filled again from the index (its links to the old items are dropped, so nothing reads as
   * deleted). Made at its path when it has no folder yet (a share just received).
   */
  function locate(state: ShareState): string | null | undefined {
    const found = liveFolder(state.item);
    if (found !== undefined) {
      const renamed = followName(state, found);
      if (renamed.path !== state.folder || renamed.label !== state.label) store.placeShare(state, renamed.path, found.id, renamed.label);
      return found.id;
    }
    if (state.item !== null) {
      const there = existingFolder(vault, folderNames(state.folder));
      if (there === undefined || there === null) return undefined;
      store.setLocal(state, [...state.local.keys()].map((key) => ({ key, link: null })));
      store.placeShare(state, state.folder, there);
      return there;
    }
    const id = ensureFolder(vault, folderNames(state.folder));
    // On a receiving device the folder was named after the share (service.ts folderFor): its
    // name follows the share's while the user leaves it so.
    const first = state.item === null && state.record.owner !== signer.tag && id !== null;
    const label = first ? { from: state.name, segment: vault.item(id).name } : undefined;
    if (id !== state.item || label !== undefined) store.placeShare(state, state.folder, id, label);
    return id;
  }

  /**
   * Renames a received share's folder after the share, when the share's name changed and the
   * folder still has the name it was given; a folder the user renamed stops following.
   */
  function followName(state: ShareState, folder: EntryInfo): { path: string; label: ShareState['label'] } {
    const label = state.label;
    if (label === null) return { path: folder.path, label };
    if (folder.name !== label.segment) return { path: folder.path, label: null };
    if (label.from === state.name) return { path: folder.path, label };
    const base = folderSegment(state.name);
    const taken = new Set(vault.children(folder.parent).filter((c) => c.id !== folder.id).map((c) => c.name));
    for (const s of store.shares.values()) if (s !== state) taken.add(folderNames(s.folder).at(-1) ?? '');
    let segment = base;
    for (let n = 2; taken.has(segment); n++) segment = `${base} ${n}`;
    const info = segment === folder.name ? folder : vault.update(folder.id, { name: segment });
    return { path: info.path, label: { from: state.name, segment } };
  }

  /** Where the share is shown now, without changing anything (summaries). */
  const folderOf = (state: ShareState): string => liveFolder(state.item)?.path ?? state.folder;
  /** Whether the share is paused here (its folder in the trash or gone, none at its last path). */
  const paused = (state: ShareState): boolean => {
    if (state.item === null || liveFolder(state.item) !== undefined) return false;
    const there = existingFolder(vault, folderNames(state.folder));
    return there === undefined || there === null;
  };

  /** A vault file as a share object: the object it is stored as, under its wire id, and its file key. */
  function shareable(id: string): { obj: string; fileKey: string; size: number; sha256: string } {
    const stored = vault.objectOf(id);
    return { obj: deps.names.wireOf(stored.object), fileKey: Buffer.from(stored.fileKey).toString('base64'), size: stored.size, sha256: stored.sha256 };
  }

  /**
   * Signs a new version of `entry` by this device. `base`: the vectors it was made from: for a
   * local edit, the version the file showed (so an edit made while another device's version
   * arrived stays concurrent with it, a conflict, instead of silently covering it); when
   * absent, every version of the entry held here (settling a conflict).
   */
  function version(state: ShareState, entry: string, deleted: boolean, content: Version['content'], obj: string | null, base?: Version['vv'][]) {
    const seq = maxSeen(state.seen, signer.tag) + 1;
    const vv = { ...joinVectors(base ?? state.index.siblings(entry).map((s) => s.vv)), [signer.tag]: seq };
    const [wire] = sealVersions(signer, state.record.share, state.record.epoch, state.keys[state.record.epoch]!, [{ entry, seq, vv, deleted, obj, content }]);
    const opened = openVersion(wire, state.record, state.keys);
    store.addVersions(state, [opened]);
    return opened.version;
  }

  /**
   * The vault's and the shares' change counters after this device last scanned, or showed with
   * nothing left pending, each share: when neither moved since, the walk would find nothing (what
   * a scan reads is the vault's items and the share's links; what materialize reads is those and
   * the index), so it is skipped. A sync where nothing changed then costs the session alone.
   */
  const scanned = new Map<string, string>();
  const shown = new Map<string, string>();
  const mark = () => `${vault.generation}/${store.generation}`;

  /** Publishes what changed in the folder since the last scan; returns how many versions were written. */
  async function scan(state: ShareState): Promise<number> {
    if (scanned.get(state.record.share) === mark()) return 0;
    const written = scanFolder(state);
    scanned.set(state.record.share, mark());
    return written;
  }

  /** Synchronous, so nothing changes between its walk and the mark taken after it. */
  function scanFolder(state: ShareState): number {
    const me = memberOf(state, signer.tag);
    if (me === undefined || me.role === 'ro') return 0;
    const root = locate(state);
    if (root === undefined) return 0; // paused
    const files = walk(vault, root);
    const byItem = new Map<string, [string, LocalLink]>();
    for (const [key, link] of state.local) byItem.set(link.item, [key, link]);
    const links: { key: string; link: LocalLink | null }[] = [];
    const present = new Set<string>();
    // A replace gives the file a new vault item (the old one goes to the trash): a file at the
    // path of a linked item that is gone is that entry's new version, not a new entry.
    const ids = new Set<string>(files.map((f) => f.info.id));
    const orphanByPath = new Map<string, [string, LocalLink]>();
    for (const [key, link] of state.local) if (!ids.has(link.item)) orphanByPath.set(link.path.join('/'), [key, link]);

    // What changed, first; then the versions signed in order and kept in a few transactions.
    const changes: { path: string[]; info: EntryInfo; sha256: string; key: string | null; link: LocalLink | null; adopt: boolean }[] = [];
    for (const { path, info } of files) {
      present.add(info.id);
      const byPath = byItem.has(info.id) ? undefined : orphanByPath.get(path.join('/'));
      if (byPath !== undefined) present.add(byPath[1].item);
      const known = byItem.get(info.id) ?? byPath;
      const sha256 = vault.sha256Of(info.id);
      if (known !== undefined && known[1].sha256 === sha256 && samePath(known[1].path, path)) continue;
      const [key, link] = known ?? [null, null];
      changes.push({ path, info, sha256, key, link, adopt: known === undefined || known[1].sha256 !== sha256 || (key?.includes('#') ?? false) });
    }
    let seq = maxSeen(state.seen, signer.tag);
    // The scan's versions are signed together, in batches (keys.ts sealVersions), once all are made.
    const made: Version[] = [];
    const sign = (entry: string, deleted: boolean, content: Version['content'], obj: string | null, base: Version['vv'][]): Version => {
      seq++;
      const vv = { ...joinVectors(base), [signer.tag]: seq };
      const v: Version = { entry, dev: signer.tag, seq, vv, deleted, obj, content };
      made.push(v);
      return v;
    };
    const toSettle: string[] = [];
    for (const { path, info, sha256, key, link, adopt: isNew } of changes) {
      const conflictCopy = key?.includes('#') ?? false;
      const entry: string = key === null || conflictCopy ? newRecordId() : key;
      let obj: string | null;
      let content: Version['content'];
      if (isNew) {
        const a = shareable(info.id);
        obj = a.obj;
        content = { path, at: info.modified, size: a.size, sha256: a.sha256, fileKey: a.fileKey };
      } else {
        // Renamed or moved: the same object under a new path.
        const current = state.index.siblings(entry).find((x) => versionKey(x) === link!.version);
        if (current === undefined || current.obj === null) continue;
        obj = current.obj;
        content = { ...current.content, path, at: deps.clock() };
      }
      const v = sign(entry, false, content, obj, link === null || conflictCopy ? [] : [link.vv]);
      // An edited conflict copy becomes a file of its own, and the conflict is settled.
      if (conflictCopy) toSettle.push(key!.split('#')[0]!);
      if (key !== null) links.push({ key, link: null });
      links.push({ key: entry, link: { item: info.id, version: versionKey(v), vv: v.vv, sha256, path } });
    }
    for (const [key, link] of state.local) {
      if (present.has(link.item)) continue;
      links.push({ key, link: null });
      if (key.includes('#')) toSettle.push(key.split('#')[0]!); // a dismissed conflict copy
      else sign(key, true, { path: link.path, at: deps.clock(), size: 0, sha256: '', fileKey: '' }, null, [link.vv]);
    }
    // Sealed and kept SCAN_PIECE at a time (the same trees: a multiple of TREE_LEAVES), the garbage
    // collected as the heap grows and before the scan returns (collect.ts scanCollector says why).
    const heap = scanCollector(deps.showHeapGrowth ?? SHOW_HEAP_GROWTH);
    for (let at = 0; at < made.length; at += SCAN_PIECE) {
      const piece = made.slice(at, at + SCAN_PIECE);
      const wires = sealVersions(signer, state.record.share, state.record.epoch, state.keys[state.record.epoch]!, piece);
      store.addVersions(state, piece.map((version, i) => ({ wire: wires[i]!, version })));
      heap.check();
    }
    let written = made.length;
    for (const entry of toSettle) written += settle(state, entry);
    store.setLocal(state, links);
    heap.done(written);
    return written;
  }

  /** A version of `entry` covering all its siblings, with the contents shown under its name. */
  function settle(state: ShareState, entry: string): number {
    const view = viewOf(state.index, deviceName(state)).find((i) => i.key === entry);
    if (view === undefined || state.index.siblings(entry).length < 2) return 0;
    version(state, entry, false, { ...view.version.content, at: deps.clock() }, view.version.obj);
    return 1;
  }

  /** Shows the index in the folder; returns how many files were put, moved or trashed. */
  async function materialize(state: ShareState): Promise<{ changed: number; pending: number }> {
    if (shown.get(state.record.share) === mark()) return { changed: 0, pending: 0 };
    const { changed, pending, untouched } = await show(state);
    // Versions that arrived while it ran (a peer's session) were not shown: no mark then.
    if (pending === 0 && untouched) shown.set(state.record.share, mark());
    return { changed, pending };
  }

  async function show(state: ShareState): Promise<{ changed: number; pending: number; untouched: boolean }> {
    const root = locate(state); // before the mark below: a move found here is not a version arriving
    if (root === undefined) return { changed: 0, pending: 0, untouched: true }; // paused
    const before = store.generation;
    // The share folder's path as it is now, each time: the user may move it while files are shown.
    const base = () => (root === null ? [] : folderNames(vault.item(root).path));
    const view = viewOf(state.index, deviceName(state));
    const keys = new Set(view.map((i) => i.key));
    const links: { key: string; link: LocalLink | null }[] = [];
    let changed = 0;
    let pending = 0;
    const toPut: ViewItem[] = [];
    for (const [key, link] of state.local) {
      if (keys.has(key)) continue;
      links.push({ key, link: null });
      changed += trash(link.item);
    }
    for (const item of view) {
      deps.signal?.throwIfAborted();
      const link = state.local.get(item.key);
      const vkey = versionKey(item.version);
      if (link !== undefined && link.version === vkey && samePath(link.path, item.path) && live(link.item)) continue;
      const c = item.version.content;
      if (link !== undefined && live(link.item) && link.sha256 === c.sha256) {
        // Same contents, new name or place: move it.
        const parent = ensureFolder(vault, [...base(), ...item.path.slice(0, -1)]);
        const info = vault.update(link.item, { name: item.path[item.path.length - 1]!, parent });
        links.push({ key: item.key, link: { item: info.id, version: vkey, vv: item.version.vv, sha256: c.sha256, path: item.path } });
        changed++;
        continue;
      }
      if ((await objects.ciphertext.size(deps.names.localOf(item.version.obj!))) === null) {
        pending++;
        continue;
      }
      if (link !== undefined && live(link.item) && !samePath(link.path, item.path)) trash(link.item);
      toPut.push(item);
    }
    // Many files at once, one commit per batch; one at a time when a batch is refused (a folder
    // of that name in the way, an object that does not check out), so one such file does not
    // hold back the others.
    const entryOf = (item: ViewItem): AdoptEntry => {
      const c = item.version.content;
      return { names: item.path, object: deps.names.localOf(item.version.obj!), fileKey: fileKeyFromBytes(Buffer.from(c.fileKey, 'base64')), size: c.size, sha256: c.sha256 };
    };
    const refused = (err: unknown) => ['ITEM_EXISTS', 'NOT_A_FOLDER', 'OBJECT_DAMAGED', 'AGE_PAYLOAD_INVALID', 'INVALID_INPUT'].some((code) => isElohimError(err, code as never));
    const linked = (item: ViewItem, info: EntryInfo) => {
      links.push({ key: item.key, link: { item: info.id, version: versionKey(item.version), vv: item.version.vv, sha256: item.version.content.sha256, path: item.path } });
      changed++;
    };
    // The folders first, before any file: a commit that makes a folder has every follower of the
    // vault walk it whole (the assistant's indexer sweeps every live file when a folder changes),
    // so adopt batches that each made a few folders of a big first sync walked 10,000 files per
    // batch (bench:sync: most of the receiver's allocation after the session and its peak RSS).
    // Made now, while the folder is still nearly empty, those walks cost nothing. A folder that
    // cannot be made (a file in its place) is left to adopt, which refuses just its files.
    const parents = new Set<string>();
    for (const item of toPut) {
      const folder = item.path.slice(0, -1);
      const key = folder.join('\u0000');
      if (folder.length === 0 || parents.has(key)) continue;
      parents.add(key);
      try {
        ensureFolder(vault, [...base(), ...folder]);
      } catch (err) {
        if (!refused(err)) throw err;
      }
    }
    // The garbage of the adopt batches is collected as it grows, not left to V8's own limit,
    // which put this phase's heap on top of the transfer's high-water mark (the receiver's peak).
    const heap = heapGrowthCollector(deps.showHeapGrowth ?? SHOW_HEAP_GROWTH);
    for (let i = 0; i < toPut.length; i += ADOPT_BATCH) {
      if (i > 0) heap.check();
      const batch = toPut.slice(i, i + ADOPT_BATCH);
      let infos: EntryInfo[] | null = null;
      try {
        infos = await vault.adopt(root, batch.map(entryOf), { replace: true, signal: deps.signal });
      } catch (err) {
        if (!refused(err)) throw err;
      }
      if (infos !== null) {
        batch.forEach((item, n) => linked(item, infos[n]!));
        continue;
      }
      for (const item of batch) {
        try {
          const [info] = await vault.adopt(root, [entryOf(item)], { replace: true, signal: deps.signal });
          linked(item, info!);
        } catch (err) {
          if (!refused(err)) throw err;
          pending++; // in the way, or not stored right: shown once that changes
        }
      }
    }
    const untouched = store.generation === before;
    store.setLocal(state, links);
    return { changed, pending, untouched };
  }

  function live(id: string): boolean {
    try {
      vault.item(id);
      return true;
    } catch (err) {
      if (isElohimError(err, 'ITEM_NOT_FOUND')) return false;
      throw err;
    }
  }

  function trash(id: string): number {
    if (!live(id)) return 0;
    vault.trash(id);
    return 1;
  }

  return { scan, materialize, settle, version, deviceName, locate, folderOf, paused };
}

export type Bridge = ReturnType<typeof createBridge>;
