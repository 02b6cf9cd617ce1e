/**
 * Reads a WebDAV PROPFIND answer (RFC 4918 §9.1, §14.16 multistatus): for each <response>, its
 * href, whether it is a collection, and its getcontentlength. Pure text in, entries out.
 *
 * Not a general XML parser: servers write the DAV: elements under any prefix (Apache uses D: and
 * lp1:, rclone D:, others none), so elements are matched by local name whatever their prefix;
 * the answer is the server's and is treated as untrusted (size bounded by the caller, numbers
 * checked, names checked against the repository alphabet by the caller).
 */

export interface DavEntry {
  /** the href as sent, entities decoded (still percent-encoded) */
  href: string;
  collection: boolean;
  /** null when the server did not give a length (a collection) */
  size: number | null;
}

const NAME = '(?:[A-Za-z_][\\w.-]*:)?';

function elements(xml: string, local: string): string[] {
  const re = new RegExp(`<${NAME}${local}(?:\\s[^>]*)?>([\\s\\S]*?)</${NAME}${local}\\s*>`, 'g');
  return [...xml.matchAll(re)].map((m) => m[1]!);
}

function hasEmpty(xml: string, local: string): boolean {
  return new RegExp(`<${NAME}${local}(?:\\s[^>]*)?/?>`).test(xml);
}

function decodeEntities(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#\d+|amp|lt|gt|quot|apos);/g, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' ? parseInt(e.slice(2), 16) : parseInt(e.slice(1), 10));
    return ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" } as Record<string, string>)[e]!;
  });
}

/** The entries of a multistatus answer; throws when it is not one (a proxy's HTML page, say). */
export function parseMultistatus(xml: string): DavEntry[] {
  if (!new RegExp(`<${NAME}multistatus[\\s>]`).test(xml)) throw new Error('the answer is not a WebDAV multistatus');
  const out: DavEntry[] = [];
  for (const response of elements(xml, 'response')) {
    const href = elements(response, 'href')[0];
    if (href === undefined) continue;
    // Only the propstat whose status is 200 holds properties the resource has (§9.1.2).
    let collection = false;
    let size: number | null = null;
    for (const propstat of elements(response, 'propstat')) {
      const status = elements(propstat, 'status')[0] ?? '';
      if (!/^\s*HTTP\/\d(\.\d)? 200\b/.test(status)) continue;
      for (const type of elements(propstat, 'resourcetype')) if (hasEmpty(type, 'collection')) collection = true;
      const length = elements(propstat, 'getcontentlength')[0]?.trim();
      if (length !== undefined && /^\d{1,15}$/.test(length)) size = Number(length);
    }
    out.push({ href: decodeEntities(href.trim()), collection, size });
  }
  return out;
}
