/**
 * The share index as a CRDT: pure logic, no I/O, no crypto (versions arrive here already
 * verified and opened).
 *
 * A share's index is a set of entries (files; folders are implied by paths). Each entry is a
 * multi-value register: every edit of it is a *version* carrying a version vector over the
 * devices that wrote it (`vv`), with the author's own counter set to a new value. A version
 * that another's vector covers is superseded and dropped; versions neither of which covers the
 * other are concurrent and are all kept ("siblings"). Merging is set union followed by dropping
 * superseded versions, so it is commutative, associative and idempotent: devices that have seen
 * the same versions hold the same index whatever the order they saw them in (crdt.test.ts checks
 * this with fast-check). Nothing is ever chosen by arrival order or by the local clock.
 *
 * What a person sees is `viewOf(index)`, a pure function of the index, hence the same on every
 * device that holds the same versions:
 * - one sibling: that version (a deletion means the entry is gone);
 * - several: a modification beats a deletion (the deletion is dropped, never the edit); among
 *   live siblings the newest by author time (then device, then counter) keeps the name and
 *   every other becomes a conflict copy named after its device and time, in its own folder;
 * - two different entries that end at one path (created apart on two devices): the older keeps
 *   the name, the other is shown under a conflict name, so neither hides the other.
 */

/** A short device id: 16 hex digits (of the SHA-256 of its signing key, see keys.ts). */
export type DeviceTag = string;

export type VersionVector = Readonly<Record<DeviceTag, number>>;

/** What a version says about its file, once opened (sealed on the wire). */
export interface VersionContent {
  /** names from the share's root down to the file */
  path: string[];
  /** ms since the epoch, by the author's clock: only for ordering siblings and naming copies */
  at: number;
  size: number;
  sha256: string;
  /** base64 of the file's age file key; '' for a deletion */
  fileKey: string;
}

/** One version of one entry, verified and opened. */
export interface Version {
  entry: string;
  dev: DeviceTag;
  seq: number;
  vv: VersionVector;
  deleted: boolean;
  /** the object holding the contents (null for a deletion) */
  obj: string | null;
  content: VersionContent;
}

/** A version's identity across devices. */
export function versionKey(v: Pick<Version, 'entry' | 'dev' | 'seq'>): string {
  return `${v.entry}/${v.dev}/${v.seq}`;
}

/** True when `a` covers `b` (every counter of b's is at most a's) and they are different versions. */
export function covers(a: VersionVector, b: VersionVector): boolean {
  let strictly = false;
  for (const [dev, n] of Object.entries(b)) {
    const mine = a[dev] ?? 0;
    if (mine < n) return false;
    if (mine > n) strictly = true;
  }
  if (!strictly) for (const [dev, n] of Object.entries(a)) if (n > 0 && !(dev in b)) strictly = true;
  return strictly;
}

/** The least vector covering all of `vvs`. */
export function joinVectors(vvs: Iterable<VersionVector>): Record<DeviceTag, number> {
  const out: Record<DeviceTag, number> = {};
  for (const vv of vvs) for (const [dev, n] of Object.entries(vv)) if ((out[dev] ?? 0) < n) out[dev] = n;
  return out;
}

/** The index: for each entry, its siblings (versions no other version covers). */
export class ShareIndex {
  readonly #entries = new Map<string, Version[]>();

  constructor(versions: Iterable<Version> = []) {
    for (const v of versions) this.merge(v);
  }

  /**
   * Merges one version (mutates). Returns 'added' when it is new and not covered, 'covered'
   * when a version already here covers it, 'known' when it is already here.
   * Returns also the versions it superseded, for the caller's storage to drop.
   */
  merge(v: Version): { result: 'added' | 'covered' | 'known'; dropped: Version[] } {
    const siblings = this.#entries.get(v.entry) ?? [];
    const key = versionKey(v);
    if (siblings.some((s) => versionKey(s) === key)) return { result: 'known', dropped: [] };
    if (siblings.some((s) => covers(s.vv, v.vv))) return { result: 'covered', dropped: [] };
    const dropped = siblings.filter((s) => covers(v.vv, s.vv));
    this.#entries.set(v.entry, [...siblings.filter((s) => !dropped.includes(s)), v]);
    return { result: 'added', dropped };
  }

  siblings(entry: string): readonly Version[] {
    return this.#entries.get(entry) ?? [];
  }

  entries(): IterableIterator<[string, readonly Version[]]> {
    return this.#entries.entries();
  }

  /** Every version kept. */
  *versions(): Generator<Version> {
    for (const list of this.#entries.values()) yield* list;
  }

  get size(): number {
    return this.#entries.size;
  }
}

/** One file as the index shows it. */
export interface ViewItem {
  /** stable across devices: the entry id, or `entry#dev/seq` for a conflict copy */
  key: string;
  entry: string;
  path: string[];
  version: Version;
  /** set on a conflict copy: the entry whose other version kept the name */
  conflictOf?: string;
}

/** How siblings are ordered: live before deleted, then newest author time, then device, then counter. */
function preferred(a: Version, b: Version): number {
  if (a.deleted !== b.deleted) return a.deleted ? 1 : -1;
  if (a.content.at !== b.content.at) return b.content.at - a.content.at;
  if (a.dev !== b.dev) return a.dev < b.dev ? 1 : -1;
  return b.seq - a.seq;
}

/** "report (conflict Laptop 2026-12-06 231500).pdf": the file's name with the device and UTC time. */
export function conflictName(name: string, deviceName: string, at: number): string {
  const iso = new Date(at).toISOString();
  const stamp = `${iso.slice(0, 10)} ${iso.slice(11, 19).replaceAll(':', '')}`;
  const label = deviceName.replace(/[\u0000-\u001f\u007f/\\]/g, '').trim().slice(0, 40) || 'device';
  const dot = name.lastIndexOf('.');
  const [stem, ext] = dot > 0 ? [name.slice(0, dot), name.slice(dot)] : [name, ''];
  return `${stem} (conflict ${label} ${stamp})${ext}`;
}

const pathKey = (path: readonly string[]) => path.join('\u0000');

/**
 * What the index shows: every live file once, with a unique path. `deviceName` names a device
 * tag for conflict copies (from the share's member list, the same on every device).
 */
export function viewOf(index: ShareIndex, deviceName: (dev: DeviceTag) => string): ViewItem[] {
  const items: ViewItem[] = [];
  for (const [entry, siblings] of index.entries()) {
    const sorted = [...siblings].sort(preferred);
    const winner = sorted[0];
    if (winner === undefined || winner.deleted) continue;
    items.push({ key: entry, entry, path: winner.content.path, version: winner });
    for (const loser of sorted.slice(1)) {
      if (loser.deleted) continue; // a modification beats a deletion
      const path = loser.content.path;
      const name = conflictName(path[path.length - 1] ?? 'file', deviceName(loser.dev), loser.content.at);
      items.push({ key: `${entry}#${loser.dev}/${loser.seq}`, entry, path: [...path.slice(0, -1), name], version: loser, conflictOf: entry });
    }
  }
  // Two items at one path: the earliest (then by key) keeps it, the others get conflict names.
  items.sort((a, b) => a.version.content.at - b.version.content.at || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const taken = new Set<string>();
  // Each item's path key once (joined inside the comparator, it was most of a no-change sync's view).
  const keyed: { item: ViewItem; key: string }[] = [];
  for (const item of items) {
    let path = item.path;
    for (let n = 1; taken.has(pathKey(path)); n++) {
      const base = conflictName(item.path[item.path.length - 1]!, deviceName(item.version.dev), item.version.content.at);
      path = [...item.path.slice(0, -1), n === 1 ? base : base.replace(/\)(\.[^.]*)?$/, ` ${n})$1`)];
    }
    item.path = path;
    const key = pathKey(path);
    taken.add(key);
    keyed.push({ item, key });
  }
  keyed.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  return keyed.map((k) => k.item);
}

/** Entries with more than one live sibling: conflicts for the user to resolve. */
export function conflictsOf(index: ShareIndex): { entry: string; versions: Version[] }[] {
  const out: { entry: string; versions: Version[] }[] = [];
  for (const [entry, siblings] of index.entries()) {
    const live = siblings.filter((s) => !s.deleted);
    if (live.length > 1) out.push({ entry, versions: [...live].sort(preferred) });
  }
  return out;
}

/**
 * Which (device, counter) pairs a device has seen, as sorted disjoint ranges per device: what
 * it tells a peer so the peer sends only what it lacks. Superseded versions stay counted, so
 * they are not sent again.
 */
export type SeenRanges = Record<DeviceTag, [number, number][]>;

export function hasSeen(seen: SeenRanges, dev: DeviceTag, seq: number): boolean {
  for (const [lo, hi] of seen[dev] ?? []) if (lo <= seq && seq <= hi) return true;
  return false;
}

/** Adds (dev, seq) to `seen` (mutates). */
export function markSeen(seen: SeenRanges, dev: DeviceTag, seq: number): void {
  const ranges = seen[dev] ?? [];
  ranges.push([seq, seq]);
  ranges.sort((a, b) => a[0] - b[0]);
  const merged: [number, number][] = [];
  for (const r of ranges) {
    const last = merged[merged.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else merged.push([r[0], r[1]]);
  }
  seen[dev] = merged;
}

/** The highest counter of `dev` in `seen` (0 when none). */
export function maxSeen(seen: SeenRanges, dev: DeviceTag): number {
  const ranges = seen[dev];
  return ranges && ranges.length > 0 ? ranges[ranges.length - 1]![1] : 0;
}
