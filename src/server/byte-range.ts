/**
 * The one HTTP Range form we serve: a single byte range (RFC 9110 §14.1.2). Returns
 * `{ start, end }` (end exclusive), 'unsatisfiable', or null when the header is absent or not a
 * single range we understand, in which case the whole file is sent, as the RFC allows.
 */
export function parseByteRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const m = /^bytes=(\d{0,15})-(\d{0,15})$/.exec(header.trim());
  if (m === null) return null;
  const [, a, b] = m;
  if (a === '' && b === '') return null;
  if (a === '') {
    // suffix range: the last n bytes
    const n = Number(b);
    if (n === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - n), end: size };
  }
  const start = Number(a);
  const last = b === '' ? size - 1 : Math.min(Number(b), size - 1);
  if (b !== '' && Number(b) < start) return null; // syntactically invalid: ignore
  if (start >= size) return 'unsatisfiable';
  return { start, end: last + 1 };
}

/**
 * A Content-Disposition value that is safe whatever the name: an ASCII fallback without quotes,
 * backslashes or controls, and the exact name in RFC 8187 `filename*`.
 */
export function contentDisposition(name: string): string {
  const fallback = name.replace(/[^\x20-\x7e]|["\\%;]/g, '_').slice(0, 200) || 'download';
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
  return `attachment; filename="${fallback}"; filename*=UTF-8''${encoded}`;
}
