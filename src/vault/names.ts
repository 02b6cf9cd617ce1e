/**
 * Item names: what a vault accepts as the name of a file or folder.
 *
 * A name is shown to a person, who decides from it what to open, so a name must look like
 * what it is. The rule (INVALID_NAME otherwise; every way a name gets in goes through
 * `checkName`: mkdir, put, putMany, rename, resumable upload):
 *
 * 1. Well-formed Unicode: no lone surrogate (UTF-16 halves that encode no character). They
 *    cannot be written as UTF-8, so headers, exports and audit entries of such a name fail.
 * 2. Structure: not empty, not "." or "..", no "/" or "\", at most 255 UTF-8 bytes after NFC
 *    (the common file-system limit, so exports always fit). Names are stored in NFC, so
 *    "é" typed as one or as two code points is one name.
 * 3. No control characters: C0, C1, DEL, and the line and paragraph separators.
 * 4. No bidirectional controls (U+202A–202E, U+2066–2069, U+200E, U+200F, U+061C): they
 *    reorder what is displayed, so "invoice\u202Egpj.exe" shows as "invoiceexe.jpg".
 * 5. No invisible characters (Unicode's Default_Ignorable_Code_Point: zero-width space, soft
 *    hyphen, word joiner, U+FEFF byte-order mark, Hangul fillers, tag characters…): "ca\u200Bfe"
 *    would show as "cafe" beside a real "cafe". Allowed, because scripts and emoji need them,
 *    when they follow a visible character, one at a time: the zero-width non-joiner and joiner
 *    (U+200C, U+200D; Persian, Indic scripts, emoji sequences; these also need a visible
 *    character after them), variation selectors (U+FE00–FE0F, U+E0100–E01EF; emoji and
 *    ideograph variants), Mongolian free variation selectors (U+180B–180D, U+180F) and the
 *    combining grapheme joiner (U+034F); and tag characters only inside an emoji tag sequence
 *    (U+1F3F4, tags, U+E007F: subdivision flags).
 *    Runs of them are refused: they can carry hidden text (to a reader, or to a language model
 *    reading names) that no one sees.
 * 6. At least one visible character: a name of only spaces, invisible characters, Hangul
 *    fillers (U+3164, U+FFA0, U+115F, U+1160) or the blank Braille pattern (U+2800) is refused.
 * 7. No trailing dot or white space (a no-break space included): invisible at the end
 *    ("report.pdf " beside "report.pdf"), and Windows drops them, so an export or a sync to
 *    Windows would rename or collide.
 *
 * Not refused, and left to the faces: look-alike letters of other scripts (Cyrillic "а" for
 * Latin "a"), a no-break space for a space, a joiner between two Latin letters, a leading
 * space. The UI should show invisible and unusual characters in names; `showInvisible` below
 * writes them out as \u{…} (putMany's refusals use it).
 *
 * Names already stored by older builds are not re-checked: lookups by path (`parseVaultPath`)
 * check rules 1 to 3 only, so such items can still be found, renamed or trashed.
 */
import { ElohimError } from '../errors.ts';

/** Longest item name, in UTF-8 bytes (the common filesystem limit, so exports always fit). */
export const MAX_NAME_BYTES = 255;
/** Deepest folder nesting a vault path may name. */
export const MAX_DEPTH = 64;

const LONE_SURROGATE = /\p{Cs}/u;
// C0 and C1 controls, DEL, and the line/paragraph separators that break listings.
const CONTROL = /[\u0000-\u001f\u007f-\u009f\u2028\u2029]/u;
const BIDI_CONTROL = /[\u202a-\u202e\u2066-\u2069\u200e\u200f\u061c]/u;
/** Invisible characters that may follow a visible one (see rule 5). */
const JOINER_OR_SELECTOR = '\\u200c\\u200d\\u034f\\u180b-\\u180d\\u180f\\ufe00-\\ufe0f\\u{e0100}-\\u{e01ef}';
/** An emoji tag sequence: black flag, tag characters, cancel tag (Unicode TS #51, §2.8). */
const EMOJI_TAG_SEQUENCE = /\u{1f3f4}[\u{e0020}-\u{e007e}]+\u{e007f}/gu;
/** A joiner or selector with nothing visible before it: at the start, or after another invisible one. */
const STRAY_JOINER = new RegExp(`(?:^|[\\p{Default_Ignorable_Code_Point}\\p{White_Space}])[${JOINER_OR_SELECTOR}]`, 'u');
/** A zero-width joiner or non-joiner joins two visible characters: not last, not before an invisible one. */
const LOOSE_JOINER = /[\u200c\u200d](?:$|[\p{Default_Ignorable_Code_Point}\p{White_Space}])/u;
const INVISIBLE = new RegExp(`(?![${JOINER_OR_SELECTOR}])\\p{Default_Ignorable_Code_Point}`, 'u');
/** A character that shows: not white space, not invisible, not a blank Braille pattern. */
const VISIBLE = /[^\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]/u;
const TRAILING = /[.\p{White_Space}]$/u;

const invalid = (message: string) => new ElohimError('INVALID_NAME', message);

/**
 * Checks one new item name against the rule above and returns it in NFC form.
 * Throws INVALID_NAME with a message that says which rule failed (never echoing the name).
 */
export function checkName(name: string): string {
  const n = checkBasic(name);
  if (BIDI_CONTROL.test(n)) throw invalid('a name cannot contain characters that change the text direction');
  if (!VISIBLE.test(n)) throw invalid('a name needs at least one visible character');
  // A valid emoji tag sequence shows as one flag; outside one, tag characters are invisible.
  const rest = n.replace(EMOJI_TAG_SEQUENCE, '\u{1f3f4}');
  if (INVISIBLE.test(rest) || STRAY_JOINER.test(rest) || LOOSE_JOINER.test(rest)) throw invalid('a name cannot contain invisible characters');
  if (TRAILING.test(n)) throw invalid('a name cannot end with a dot or a space');
  return n;
}

/** NFC, and rules 1 to 3, which every stored name follows. */
function checkBasic(name: string): string {
  if (LONE_SURROGATE.test(name)) throw invalid('a name must be well-formed Unicode (it has a lone surrogate)');
  const n = name.normalize('NFC');
  if (n.trim().length === 0) throw invalid('a name cannot be empty or blank');
  if (n === '.' || n === '..') throw invalid('a name cannot be "." or ".."');
  if (n.includes('/') || n.includes('\\')) throw invalid('a name cannot contain "/" or "\\"');
  if (CONTROL.test(n)) throw invalid('a name cannot contain control characters');
  if (Buffer.byteLength(n, 'utf8') > MAX_NAME_BYTES) throw invalid(`a name can be at most ${MAX_NAME_BYTES} bytes long`);
  return n;
}

/**
 * Splits a vault path like "/reports/2026/a.pdf" into names, to look up what exists. The root
 * is "/" (no names). A missing leading slash is accepted ("reports/a.pdf"); empty segments
 * ("a//b") and a trailing slash are tolerated. Each name is put in NFC and checked against
 * rules 1 to 3 only, so items named before rules 4 to 7 stay reachable; new names are checked
 * in full where they are created. Throws INVALID_PATH / INVALID_NAME.
 */
export function parseVaultPath(path: string): string[] {
  if (typeof path !== 'string' || path.length === 0) throw new ElohimError('INVALID_PATH', 'a vault path cannot be empty');
  if (path.includes('\0')) throw new ElohimError('INVALID_PATH', 'a vault path cannot contain NUL');
  const names = path.split('/').filter((s) => s.length > 0);
  if (names.length > MAX_DEPTH) throw new ElohimError('INVALID_PATH', `a vault path can be at most ${MAX_DEPTH} levels deep`);
  return names.map(checkBasic);
}

/**
 * `text` with what would not show as itself written out as \u{…}: controls, format and
 * invisible characters, white space other than the plain space, lone surrogates. For messages
 * that must say which name was refused (a bidi control would reorder the message itself).
 */
export function showInvisible(text: string): string {
  return text.replace(/\p{Cs}|(?! )[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{White_Space}\p{Default_Ignorable_Code_Point}\u2800]/gu, (c) => `\\u{${c.codePointAt(0)!.toString(16)}}`);
}

export function formatVaultPath(names: readonly string[]): string {
  return '/' + names.join('/');
}
