import { ApiError } from '../api.ts';
import type { Item } from '../api.ts';
import { LOCALE } from '../i18n.ts';
import { t } from '../strings/browser.ts';

/** What to tell the user when an action on the item named `name` failed. */
export function errorText(err: unknown, name: string): string {
  if (!(err instanceof ApiError)) return t('error.other', { message: err instanceof Error ? err.message : String(err) });
  switch (err.code) {
    case 'ITEM_EXISTS':
      return t('error.exists', { name });
    case 'INVALID_NAME':
      return t('error.name', { message: err.message });
    case 'MOVE_INTO_SELF':
      return t('error.intoSelf');
    case 'ITEM_NOT_FOUND':
      return t('error.gone');
    default:
      return t('error.other', { message: err.message });
  }
}

/** Whether the error means the session is gone: the app is already on its way to Unlock. */
export function isSessionEnd(err: unknown): boolean {
  return err instanceof ApiError && err.code === 'SESSION_REQUIRED';
}

const collator = new Intl.Collator(LOCALE, { numeric: true, sensitivity: 'base' });

/** Folders first, then by name as people sort ("file 2" before "file 10"). */
export function sortItems(items: readonly Item[]): Item[] {
  return [...items].sort((a, b) => (a.kind === b.kind ? collator.compare(a.name, b.name) : a.kind === 'folder' ? -1 : 1));
}

/** "/a/b/c.txt" → "/a/b"; the root as the Vault's name. */
export function parentPath(path: string): string {
  const cut = path.lastIndexOf('/');
  return cut <= 0 ? t('root') : path.slice(0, cut);
}

/** A folder's path as the Move dialog and notices show it: "Vault" for the root. */
export function folderLabel(path: string | null): string {
  return path === null || path === '/' || path === '' ? t('root') : path;
}
