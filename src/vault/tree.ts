import type { ObjectId } from './objects/index.ts';
import type { RecordId } from '../db/index.ts';

/** A folder or file as the vault keeps it (sealed, in one record per item). */
export interface Item {
  id: RecordId;
  kind: 'file' | 'folder';
  /** null = the vault's root folder */
  parent: RecordId | null;
  name: string;
  created: number;
  modified: number;
  /** Set on the item the user trashed (not on its contents, which go with it). */
  trashedAt?: number;
  /** files only */
  size?: number;
  sha256?: string;
  fileKey?: string;
  object?: ObjectId;
}

/**
 * The in-memory index of one vault's items: pure lookups over a snapshot, no I/O.
 * An item is live when neither it nor any ancestor is trashed; names are unique among the live
 * children of a folder. Trashed items keep their parent so restore can put them back.
 */
export class ItemTree {
  readonly #items = new Map<RecordId, Item>();
  readonly #children = new Map<RecordId | null, Set<RecordId>>();
  /**
   * Children by name (trashed ones keep theirs, so a name may have several): `childNamed` is
   * asked for every file a put, putMany or adopt places, and walking a folder of 10,000 files
   * for each made a batch into it quadratic.
   */
  readonly #named = new Map<RecordId | null, Map<string, Set<RecordId>>>();

  constructor(items: Iterable<Item> = []) {
    for (const item of items) this.#add(item);
  }

  get size(): number {
    return this.#items.size;
  }

  get(id: RecordId): Item | undefined {
    return this.#items.get(id);
  }

  all(): IterableIterator<Item> {
    return this.#items.values();
  }

  /** Children of a folder (null = root), trashed ones left out unless asked for. */
  children(parent: RecordId | null, opts: { includeTrashed?: boolean } = {}): Item[] {
    const ids = this.#children.get(parent);
    if (!ids) return [];
    const out: Item[] = [];
    for (const id of ids) {
      const item = this.#items.get(id)!;
      if (opts.includeTrashed || item.trashedAt === undefined) out.push(item);
    }
    return out.sort(compareItems);
  }

  /** The live child of `parent` named `name`, if any. */
  childNamed(parent: RecordId | null, name: string): Item | undefined {
    for (const id of this.#named.get(parent)?.get(name) ?? []) {
      const item = this.#items.get(id)!;
      if (item.trashedAt === undefined) return item;
    }
    return undefined;
  }

  /**
   * Walks `names` over live items from the folder `from` (null = the root): the item, null for
   * the root, undefined if absent.
   */
  resolve(names: readonly string[], from: RecordId | null = null): Item | null | undefined {
    let current: Item | null = null;
    if (from !== null) {
      const start = this.#items.get(from);
      if (start === undefined) return undefined;
      current = start;
    }
    for (const name of names) {
      if (current !== null && current.kind !== 'folder') return undefined;
      const next = this.childNamed(current?.id ?? null, name);
      if (next === undefined) return undefined;
      current = next;
    }
    return current;
  }

  /** Names from the root down to `id`, whether live or in the trash. */
  namesOf(id: RecordId): string[] {
    const names: string[] = [];
    let cur = this.#items.get(id);
    let guard = 0;
    while (cur !== undefined) {
      names.unshift(cur.name);
      if (cur.parent === null || ++guard > 10_000) break;
      cur = this.#items.get(cur.parent);
    }
    return names;
  }

  /** True when the item and all its ancestors are not trashed. */
  isLive(id: RecordId): boolean {
    let cur = this.#items.get(id);
    while (cur !== undefined) {
      if (cur.trashedAt !== undefined) return false;
      if (cur.parent === null) return true;
      cur = this.#items.get(cur.parent);
    }
    return false;
  }

  /** True when `id` is `ancestor` or lies below it. */
  isWithin(id: RecordId, ancestor: RecordId): boolean {
    let cur: RecordId | null = id;
    while (cur !== null) {
      if (cur === ancestor) return true;
      cur = this.#items.get(cur)?.parent ?? null;
    }
    return false;
  }

  /** `id` and everything below it, trashed or not, parents before children. */
  subtree(id: RecordId): Item[] {
    const root = this.#items.get(id);
    if (!root) return [];
    const out: Item[] = [root];
    for (let i = 0; i < out.length; i++) {
      for (const childId of this.#children.get(out[i]!.id) ?? []) out.push(this.#items.get(childId)!);
    }
    return out;
  }

  /**
   * The items the user put in the trash, oldest first. Their contents go with them; an item
   * trashed on its own before its folder was trashed stays a separate entry.
   */
  trashed(): Item[] {
    return [...this.#items.values()].filter((item) => item.trashedAt !== undefined).sort((a, b) => a.trashedAt! - b.trashedAt!);
  }

  /** Live items whose name contains `text`, ignoring case and accents' composition. */
  find(text: string): Item[] {
    const needle = text.normalize('NFC').toLocaleLowerCase();
    const out: Item[] = [];
    for (const item of this.#items.values()) {
      if (item.name.toLocaleLowerCase().includes(needle) && this.isLive(item.id)) out.push(item);
    }
    return out.sort((a, b) => collate(this.namesOf(a.id).join('/'), this.namesOf(b.id).join('/')));
  }

  /** Applies committed changes to the index (mutates). */
  apply(changes: { put?: Iterable<Item>; remove?: Iterable<RecordId> }): void {
    for (const id of changes.remove ?? []) this.#remove(id);
    for (const item of changes.put ?? []) {
      this.#remove(item.id);
      this.#add(item);
    }
  }

  #add(item: Item): void {
    this.#items.set(item.id, item);
    let set = this.#children.get(item.parent);
    if (!set) this.#children.set(item.parent, (set = new Set()));
    set.add(item.id);
    let names = this.#named.get(item.parent);
    if (!names) this.#named.set(item.parent, (names = new Map()));
    let same = names.get(item.name);
    if (!same) names.set(item.name, (same = new Set()));
    same.add(item.id);
  }

  #remove(id: RecordId): void {
    const old = this.#items.get(id);
    if (!old) return;
    this.#items.delete(id);
    this.#children.get(old.parent)?.delete(id);
    const names = this.#named.get(old.parent);
    const same = names?.get(old.name);
    same?.delete(id);
    if (same?.size === 0) names!.delete(old.name);
  }
}

// One collator for every comparison: String.prototype.localeCompare builds one per call, which
// was most of the time of listing a folder of 1,000 items. Same order as localeCompare's default.
// Made on first use: building it loads ICU's collation data (7-20 ms, H-STARTUP), which commands
// that never sort (status, put, get) should not pay.
let collator: Intl.Collator | undefined;
const collate = (a: string, b: string): number => (collator ??= new Intl.Collator()).compare(a, b);

function compareItems(a: Item, b: Item): number {
  if (a.kind !== b.kind) return a.kind === 'folder' ? -1 : 1;
  return collate(a.name, b.name);
}
