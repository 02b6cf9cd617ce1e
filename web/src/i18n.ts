// Every user-visible string goes through a table like `en` below, one table per area of the UI
// (web/src/strings/*.ts), so a translation is a new table, not a hunt through components.

export type Table = Record<string, string>;

/** The language the page is shown in; English is the only table so far. */
export const LOCALE = 'en';

/**
 * Returns a lookup over `table`: `t('key', { n: 3 })` replaces `{n}` in the string.
 * A missing key shows the key itself, so a gap is visible rather than blank.
 */
export function makeT<T extends Table>(table: T): (key: keyof T & string, vars?: Record<string, string | number>) => string {
  return (key, vars) => {
    let text = table[key] ?? key;
    if (vars !== undefined) for (const [name, value] of Object.entries(vars)) text = text.replaceAll('{' + name + '}', String(value));
    return text;
  };
}

const sizeUnits = ['B', 'KB', 'MB', 'GB', 'TB'];

/** 1536 → "1.5 KB" (decimal units, as file managers show them). */
export function formatSize(bytes: number): string {
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < sizeUnits.length - 1) {
    value /= 1000;
    unit += 1;
  }
  return (unit === 0 ? String(value) : value.toFixed(value < 10 ? 1 : 0)) + ' ' + sizeUnits[unit];
}

const dateFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: 'medium', timeStyle: 'short' });

export function formatDate(ms: number): string {
  return dateFormat.format(new Date(ms));
}
