import { ElohimError } from '../errors.ts';
import { checkName, formatVaultPath, parseVaultPath } from '../vault/index.ts';
import type { EntryInfo, Vault } from '../vault/index.ts';

/*
 * The CLI speaks in vault paths ("/reports/a.pdf"); the vault in ids. These turn one into the
 * other, with the messages the CLI has always printed.
 */

/** The root folder as an entry (it has no item of its own, so its id is empty). */
const ROOT: EntryInfo = { id: '' as EntryInfo['id'], kind: 'folder', name: '', parent: null, path: '/', size: 0, created: 0, modified: 0 };

/** The id to pass for a folder entry: null for the root. */
const folderId = (entry: EntryInfo): string | null => (entry.id === '' ? null : entry.id);

/** The entry at `path` (the root for "/"). Throws ITEM_NOT_FOUND. */
export function entryAt(vault: Vault, path: string): EntryInfo {
  const id = vault.resolve(path);
  return id === null ? ROOT : vault.item(id);
}

/** The entry at `path`, or undefined when there is none. */
export function findAt(vault: Vault, path: string): EntryInfo | undefined {
  try {
    return entryAt(vault, path);
  } catch (err) {
    if (err instanceof ElohimError && err.code === 'ITEM_NOT_FOUND') return undefined;
    throw err;
  }
}

/** The id of the file at `path`. Throws ITEM_NOT_FOUND, NOT_A_FILE. */
export function fileAt(vault: Vault, path: string): string {
  const entry = entryAt(vault, path);
  if (entry.kind !== 'file') throw new ElohimError('NOT_A_FILE', `${path} is not a file`);
  return entry.id;
}

/** The live children of the folder at `path`, or the file itself when `path` is a file. */
export function listAt(vault: Vault, path: string): EntryInfo[] {
  const entry = entryAt(vault, path);
  return entry.kind === 'file' ? [entry] : vault.children(folderId(entry));
}

/** The id of the item at `path`, which may not be the root (it cannot be moved or trashed). */
export function itemAt(vault: Vault, path: string, verb: string): string {
  const id = vault.resolve(path);
  if (id === null) throw new ElohimError('INVALID_PATH', `the root folder cannot be ${verb}`);
  return id;
}

/** True when `path` ends in "/" or names a folder (or the root). */
export function namesFolder(vault: Vault, path: string): boolean {
  return path.endsWith('/') || findAt(vault, path)?.kind === 'folder';
}

/**
 * The longest run of `names` that exists as folders from the root: the id of the last one
 * (null = root) and the names below it that do not exist yet. Throws NOT_A_FOLDER when a file
 * stands in the way.
 */
export function existingFolder(vault: Vault, names: readonly string[]): { id: string | null; missing: string[] } {
  let id: string | null = null;
  for (let i = 0; i < names.length; i++) {
    const next = findAt(vault, formatVaultPath(names.slice(0, i + 1)));
    if (next === undefined) return { id, missing: names.slice(i) };
    if (next.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${formatVaultPath(names.slice(0, i + 1))} is not a folder`);
    id = next.id;
  }
  return { id, missing: [] };
}

/** The id of the folder `names` (null = root), creating missing ones when `create`. Throws ITEM_NOT_FOUND, NOT_A_FOLDER. */
export function folderAt(vault: Vault, names: readonly string[], create: boolean): string | null {
  const found = existingFolder(vault, names);
  if (found.missing.length > 0 && !create) {
    throw new ElohimError('ITEM_NOT_FOUND', `no folder ${formatVaultPath(names.slice(0, names.length - found.missing.length + 1))}`);
  }
  // Every new name is checked before the first folder is made, so a refused one leaves none.
  found.missing.forEach((name) => checkName(name));
  let id = found.id;
  for (const name of found.missing) id = vault.mkdir(id, name).id;
  return id;
}

/** Creates the folder at `path`. Throws ITEM_EXISTS unless `parents` and it is already a folder. */
export function mkdirPath(vault: Vault, path: string, parents: boolean): void {
  const names = parseVaultPath(path);
  if (names.length === 0) throw new ElohimError('ITEM_EXISTS', 'the root folder always exists');
  const existing = findAt(vault, path);
  if (existing !== undefined) {
    if (parents && existing.kind === 'folder') return;
    throw new ElohimError('ITEM_EXISTS', `${formatVaultPath(names)} already exists`);
  }
  checkName(names.at(-1)!);
  vault.mkdir(folderAt(vault, names.slice(0, -1), parents), names.at(-1)!);
}

/** Moves or renames the item at `from`; a folder `to` receives it under its own name. */
export function movePath(vault: Vault, from: string, to: string): EntryInfo {
  const id = itemAt(vault, from, 'moved');
  const toNames = parseVaultPath(to);
  const target = findAt(vault, to);
  if (target?.kind === 'folder') return vault.update(id, { parent: folderId(target) });
  if (target !== undefined) throw new ElohimError('ITEM_EXISTS', `${formatVaultPath(toNames)} already exists`);
  const parentNames = toNames.slice(0, -1);
  const parent = findAt(vault, formatVaultPath(parentNames));
  if (parent === undefined) throw new ElohimError('ITEM_NOT_FOUND', `no folder ${formatVaultPath(parentNames)}`);
  if (parent.kind !== 'folder') throw new ElohimError('NOT_A_FOLDER', `${formatVaultPath(parentNames)} is not a folder`);
  return vault.update(id, { parent: folderId(parent), name: toNames.at(-1)! });
}
