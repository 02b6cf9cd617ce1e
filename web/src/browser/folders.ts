import { api } from '../api.ts';
import type { Item } from '../api.ts';

// The API addresses items by id and lists one folder at a time; these walk the tree for the two
// places that need more: the Move dialog (every folder) and the breadcrumbs of a search hit.

/** One step of the breadcrumbs below the root. */
export interface Crumb {
  id: string;
  name: string;
}

/** How many folder listings the walk keeps in flight at once. */
const PARALLEL = 6;

/** Every folder of the vault (not the root), sorted by path; stops early when `signal` aborts. */
export async function allFolders(signal: AbortSignal): Promise<Item[]> {
  const found: Item[] = [];
  let level: (string | null)[] = [null];
  while (level.length > 0 && !signal.aborted) {
    const next: string[] = [];
    for (let i = 0; i < level.length; i += PARALLEL) {
      const lists = await Promise.all(level.slice(i, i + PARALLEL).map((parent) => api.list(parent)));
      for (const { items } of lists) {
        for (const item of items) {
          if (item.kind !== 'folder') continue;
          found.push(item);
          next.push(item.id);
        }
      }
      if (signal.aborted) break;
    }
    level = next;
  }
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

/** The breadcrumbs down to the folder at `path` ("/a/b"), found by name from the root. */
export async function crumbsOf(path: string): Promise<Crumb[]> {
  const names = path.split('/').filter((name) => name !== '');
  const crumbs: Crumb[] = [];
  let parent: string | null = null;
  for (const name of names) {
    const { items }: { items: Item[] } = await api.list(parent);
    const folder = items.find((item) => item.kind === 'folder' && item.name === name);
    if (folder === undefined) break;
    crumbs.push({ id: folder.id, name: folder.name });
    parent = folder.id;
  }
  return crumbs;
}

/** Whether `path` is the folder at `folderPath` or lies below it (a folder cannot move into itself). */
export function isInside(path: string, folderPath: string): boolean {
  return path === folderPath || path.startsWith(folderPath + '/');
}
