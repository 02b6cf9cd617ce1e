// The theme is a preference of this browser, not of the vault: it must apply before unlock.

export type Theme = 'light' | 'dark' | 'system';
const KEY = 'elohim.theme';

export function readTheme(): Theme {
  const value = localStorage.getItem(KEY);
  return value === 'light' || value === 'dark' ? value : 'system';
}

/** Saves the choice and applies it to the document (`data-theme` on <html>; "system" removes it). */
export function applyTheme(theme: Theme): void {
  if (theme === 'system') {
    localStorage.removeItem(KEY);
    delete document.documentElement.dataset.theme;
  } else {
    localStorage.setItem(KEY, theme);
    document.documentElement.dataset.theme = theme;
  }
}
