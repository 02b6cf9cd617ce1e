/**
 * Text out of a vault file, for the index: plain text, Markdown, CSV, JSON and HTML here (pure,
 * bytes in, text out); PDF and DOCX need well-kept libraries and come with the indexer.
 *
 * Returns null for a file it does not read (an unknown extension, or bytes that are not text: a
 * NUL in the first 8 KiB, or invalid UTF-8), which the indexer skips: "not for me", not an error.
 * Nothing here throws on a malformed file: a .json that does not parse is indexed as its text.
 */
export interface Extracted {
  text: string;
  /** how it was read */
  format: 'text' | 'markdown' | 'csv' | 'json' | 'html';
}

const FORMATS: Record<string, Extracted['format']> = {
  txt: 'text', text: 'text', log: 'text', md: 'markdown', markdown: 'markdown', csv: 'csv', tsv: 'csv',
  json: 'json', html: 'html', htm: 'html', xhtml: 'html',
};

const decoder = new TextDecoder('utf-8', { fatal: true, ignoreBOM: false });

export function extractText(name: string, bytes: Uint8Array): Extracted | null {
  const ext = /\.([^./]+)$/.exec(name.toLowerCase())?.[1];
  const format = ext === undefined ? undefined : FORMATS[ext];
  if (format === undefined) return null;
  if (bytes.subarray(0, 8192).includes(0)) return null;
  let text: string;
  try {
    text = decoder.decode(bytes);
  } catch (err) {
    // not UTF-8 (a legacy code page, or binary under a text name): skipped rather than indexed as mojibake
    if (err instanceof TypeError) return null;
    throw err;
  }
  if (format === 'json') return { text: jsonText(text), format };
  if (format === 'html') return { text: htmlText(text), format };
  if (format === 'csv') return { text: text.replace(/[,\t;]/g, ' '), format };
  return { text, format };
}

/** The strings of a JSON document, keys included ("name: value" reads as text), one a line. */
function jsonText(text: string): string {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    if (err instanceof SyntaxError) return text;
    throw err;
  }
  const out: string[] = [];
  const walk = (v: unknown, key?: string) => {
    if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') out.push(key === undefined ? String(v) : `${key}: ${String(v)}`);
    else if (Array.isArray(v)) for (const x of v) walk(x, key);
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) walk(x, k);
  };
  walk(value);
  return out.join('\n');
}

const ENTITIES: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", nbsp: ' ', mdash: '—', ndash: '–', hellip: '…', copy: '©', deg: '°' };

/** Visible text of an HTML page: scripts, styles and comments dropped, blocks on their own lines, entities decoded. */
function htmlText(html: string): string {
  return html
    .replace(/<!--[\s\S]*?-->/g, ' ')
    .replace(/<(script|style|noscript|template)\b[\s\S]*?<\/\1\s*>/gi, ' ')
    .replace(/<\/?(p|div|br|li|ul|ol|h[1-6]|tr|table|section|article|header|footer|blockquote|pre|hr)\b[^>]*>/gi, '\n')
    .replace(/<[^>]*>/g, ' ')
    .replace(/&(#x[0-9a-f]+|#\d+|[a-z]+);/gi, (whole, e: string) => {
      if (e[0] === '#') {
        const code = e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10);
        return code > 0 && code <= 0x10ffff ? String.fromCodePoint(code) : whole;
      }
      return ENTITIES[e.toLowerCase()] ?? whole;
    })
    .replace(/[ \t\r\f\v]+/g, ' ')
    .replace(/ *\n[\n ]*/g, '\n\n')
    .trim();
}
