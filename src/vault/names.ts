import { ElohimError } from '../errors.ts';

/** Longest item name, in UTF-8 bytes (the common filesystem limit, so exports always fit). */
export const MAX_NAME_BYTES = 255;
/** Deepest folder nesting a vault path may name. */
export const MAX_DEPTH = 64;

/**
 * Checks one item name and returns it in NFC form. Names are names inside the vault, never host
 * paths: no slash, no NUL or other control characters, not "." or "..", not blank.
 * Throws INVALID_NAME with a message that says which rule failed.
 */
export function checkName(name: string): string {
  const n = name.normalize('NFC');
  if (n.trim().length === 0) throw new ElohimError('INVALID_NAME', 'a name cannot be empty or blank');
  if (n === '.' || n === '..') throw new ElohimError('INVALID_NAME', 'a name cannot be "." or ".."');
  if (n.includes('/') || n.includes('\\')) throw new ElohimError('INVALID_NAME', 'a name cannot contain "/" or "\\"');
  // C0 and C1 controls, DEL, and the line/paragraph separators that break listings.
  if (/[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u.test(n)) {
    throw new ElohimError('INVALID_NAME', 'a name cannot contain control characters');
  }
  if (Buffer.byteLength(n, 'utf8') > MAX_NAME_BYTES) {
    throw new ElohimError('INVALID_NAME', `a name can be at most ${MAX_NAME_BYTES} bytes long`);
  }
  return n;
}

/**
 * Splits a vault path like "/reports/2026/a.pdf" into checked names. The root is "/" (no names).
 * A missing leading slash is accepted ("reports/a.pdf"); empty segments ("a//b") and a trailing
 * slash are tolerated. Throws INVALID_PATH / INVALID_NAME.
 */
export function parseVaultPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new ElohimError('INVALID_PATH', 'a vault path cannot be empty');
  if (path.includes('\0')) throw new ElohimError('INVALID_PATH', 'a vault path cannot contain NUL');
  const names = path.split('/').filter((s) => s.length > 0);
  if (names.length > MAX_DEPTH) throw new ElohimError('INVALID_PATH', `a vault path can be at most ${MAX_DEPTH} levels deep`);
  return names.map(checkName);
}

export function formatVaultPath(names: readonly string[]): string {
  return '/' + names.join('/');
}
