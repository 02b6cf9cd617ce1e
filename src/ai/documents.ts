/**
 * Text out of any vault file the index reads: the text formats of extract.ts (pure), and PDF
 * (Mozilla's PDF.js, `pdfjs-dist`) and DOCX (`mammoth`), both loaded on first use so that a
 * vault without such files never pays for them.
 *
 * Bounds, since a vault file is whatever the user (or someone who sent it) put there: a text file
 * is read up to MAX_TEXT_BYTES (its start is indexed, and marked cut); a PDF or DOCX must be read
 * whole to be parsed, so one over MAX_PACKED_BYTES is not indexed at all. A file that claims a
 * format it does not have is an outcome, not an error: `{ ok: false, reason }`, which the indexer
 * shows in its status, and nothing else changes.
 */
import { ElohimError } from '../errors.ts';
import { extractText } from './extract.ts';
import { MAX_DOCUMENT_CHARS } from './store/records.ts';

/** Bytes of a text file read for the index: UTF-8 of MAX_DOCUMENT_CHARS is at least this. */
export const MAX_TEXT_BYTES = MAX_DOCUMENT_CHARS;
/** Largest PDF or DOCX parsed (they are parsed in memory). */
export const MAX_PACKED_BYTES = 64 * 1024 * 1024;

export type DocumentText = { ok: true; text: string; format: string; truncated: boolean } | { ok: false; reason: string };

const PACKED: Record<string, 'pdf' | 'docx'> = { pdf: 'pdf', docx: 'docx' };

/** How much of a file named `name` to read for the index: null when it is not indexed at all. */
export function bytesToRead(name: string, size: number): { bytes: number; truncated: boolean } | { skip: string } | null {
  const ext = extensionOf(name);
  if (ext !== undefined && PACKED[ext] !== undefined) {
    if (size > MAX_PACKED_BYTES) return { skip: `too large to index (over ${MAX_PACKED_BYTES / 1024 / 1024} MiB)` };
    return { bytes: size, truncated: false };
  }
  if (extractText(name, new Uint8Array(0)) === null) return null;
  return size > MAX_TEXT_BYTES ? { bytes: MAX_TEXT_BYTES, truncated: true } : { bytes: size, truncated: false };
}

const extensionOf = (name: string) => /\.([^./]+)$/.exec(name.toLowerCase())?.[1];

/**
 * The text of a file's bytes (the first `bytesToRead` of it). Null when the format is not one the
 * index reads or the bytes are not text; `ok: false` when a PDF or DOCX does not parse.
 */
export async function extractDocument(name: string, bytes: Uint8Array, opts: { truncated?: boolean; signal?: AbortSignal } = {}): Promise<DocumentText | null> {
  const ext = extensionOf(name);
  const packed = ext === undefined ? undefined : PACKED[ext];
  if (packed === 'pdf') return pdfText(bytes, opts.signal);
  if (packed === 'docx') return docxText(bytes);
  const cut = opts.truncated ? wholeUtf8(bytes) : bytes;
  const found = extractText(name, cut);
  return found === null ? null : { ok: true, text: found.text, format: found.format, truncated: opts.truncated === true };
}

/** `bytes` without a UTF-8 sequence cut at its end (a file read up to a limit). */
function wholeUtf8(bytes: Uint8Array): Uint8Array {
  let end = bytes.length;
  // step back over continuation bytes (10xxxxxx) to the lead byte of the last sequence
  let i = end - 1;
  while (i >= 0 && i > end - 4 && (bytes[i]! & 0xc0) === 0x80) i--;
  if (i < 0) return bytes;
  const lead = bytes[i]!;
  const need = lead >= 0xf0 ? 4 : lead >= 0xe0 ? 3 : lead >= 0xc0 ? 2 : 1;
  if (end - i < need) end = i;
  return bytes.subarray(0, end);
}

async function pdfText(bytes: Uint8Array, signal: AbortSignal | undefined): Promise<DocumentText> {
  if (!startsWith(bytes, '%PDF-') && !startsWith(bytes.subarray(0, 1024), '%PDF-', true)) return { ok: false, reason: 'not a valid PDF file' };
  const pdfjs = await import('pdfjs-dist/legacy/build/pdf.mjs');
  // PDF.js takes the buffer over; a copy keeps the caller's bytes intact. No eval, no fonts:
  // only the text layer is read.
  const task = pdfjs.getDocument({ data: new Uint8Array(bytes), isEvalSupported: false, disableFontFace: true, useSystemFonts: false, verbosity: 0 });
  let doc: Awaited<typeof task.promise>;
  try {
    doc = await task.promise;
  } catch (err) {
    if (err instanceof Error && /PasswordException/.test(err.name)) return { ok: false, reason: 'the PDF is password-protected' };
    if (err instanceof Error) return { ok: false, reason: `not a valid PDF file (${err.message})` };
    throw err;
  }
  try {
    const pages: string[] = [];
    let chars = 0;
    for (let n = 1; n <= doc.numPages; n++) {
      signal?.throwIfAborted();
      const content = await (await doc.getPage(n)).getTextContent();
      let page = '';
      for (const item of content.items) {
        if (!('str' in item)) continue;
        page += item.str + (item.hasEOL ? '\n' : ' ');
      }
      pages.push(page.replace(/[ \t]+/g, ' ').trim());
      chars += page.length;
      if (chars > MAX_DOCUMENT_CHARS) return { ok: true, text: pages.join('\n\n'), format: 'pdf', truncated: true };
    }
    return { ok: true, text: pages.join('\n\n'), format: 'pdf', truncated: false };
  } catch (err) {
    if (signal?.aborted) throw signal.reason;
    if (err instanceof Error) return { ok: false, reason: `the PDF could not be read (${err.message})` };
    throw err;
  } finally {
    await doc.destroy();
  }
}

async function docxText(bytes: Uint8Array): Promise<DocumentText> {
  // a DOCX is a ZIP: "PK\x03\x04"
  if (!startsWith(bytes, 'PK\u0003\u0004')) return { ok: false, reason: 'not a valid DOCX file' };
  const mammoth = await import('mammoth');
  try {
    const { value } = await mammoth.extractRawText({ buffer: Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    const truncated = value.length > MAX_DOCUMENT_CHARS;
    return { ok: true, text: truncated ? value.slice(0, MAX_DOCUMENT_CHARS) : value, format: 'docx', truncated };
  } catch (err) {
    if (err instanceof Error) return { ok: false, reason: `not a valid DOCX file (${err.message})` };
    throw new ElohimError('INTERNAL', 'DOCX extraction failed', { cause: err });
  }
}

function startsWith(bytes: Uint8Array, prefix: string, anywhere = false): boolean {
  const text = Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, anywhere ? 1024 : prefix.length)).toString('latin1');
  return anywhere ? text.includes(prefix) : text === prefix;
}
