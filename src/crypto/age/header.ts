/**
 * The age v1 header (age-encryption.org/v1, "Header"): a version line, one or more recipient
 * stanzas, and an HMAC over all of it. Parsing is strict and canonical, as the spec and the
 * CCTV vectors require, and bounded, because the header is attacker-controlled.
 */
import { timingSafeEqual } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import { decodeBase64NoPad, encodeBase64NoPad } from './base64.ts';
import { hkdf32, hmacSha256 } from './primitives.ts';
import type { FileKey, Identity, Stanza } from './types.ts';

const VERSION_PREFIX = 'age-encryption.org/';
const VERSION_LINE = `${VERSION_PREFIX}v1`;
/** Largest header we read, MAC line included. A hybrid stanza is about 1.6 KiB, so this is ample. */
export const MAX_HEADER_SIZE = 1024 * 1024;
/** Most stanzas we accept: each may cost a key agreement per identity when unwrapping. */
export const MAX_STANZAS = 1024;
/** Stanza bodies are wrapped at 64 columns; a shorter (possibly empty) line ends the body. */
const COLUMNS = 64;
const MAC_SIZE = 32;
const EMPTY = Buffer.alloc(0);

/** `argument = 1*VCHAR` in the spec's ABNF. */
const ARGUMENT = /^[\x21-\x7e]+$/;
const BASE64_LINE = /^[A-Za-z0-9+/]*$/;

export interface ParsedHeader {
  stanzas: Stanza[];
  /** The 32-byte header MAC as found in the file. */
  mac: Buffer;
  /** Bytes from the start of the file through the LF that ends the MAC line; the payload nonce follows. */
  headerLength: number;
  /** The bytes the MAC covers: the header up to and including `---`, without the space after it. */
  headerNoMac: Buffer;
}

function invalid(message: string): ElohimError {
  return new ElohimError('AGE_HEADER_INVALID', message);
}

interface OpenStanza {
  type: string;
  args: string[];
  lines: string[];
}

/**
 * Incremental header parser for streams: feed it bytes as they arrive. Each line is checked as
 * soon as it is complete, so malformed input fails early, and the work is linear in the input.
 */
export class HeaderParser {
  #buf: Buffer = Buffer.allocUnsafe(0);
  #len = 0;
  /** Start of the first line not parsed yet. */
  #pos = 0;
  #sawVersion = false;
  #stanzas: Stanza[] = [];
  #open: OpenStanza | null = null;

  /**
   * Adds bytes. Returns the header and whatever followed it in the input once the MAC line is
   * complete, or null if more input is needed. Throws AGE_HEADER_INVALID (or AGE_UNSUPPORTED
   * for another format version) as soon as the input cannot be a valid header.
   */
  push(data: Uint8Array): { header: ParsedHeader; rest: Buffer } | null {
    this.#append(data);
    for (;;) {
      const nl = this.#buf.subarray(0, this.#len).indexOf(0x0a, this.#pos);
      if (nl === -1) {
        if (this.#len > MAX_HEADER_SIZE) throw invalid('the age header is too large');
        if (!this.#sawVersion) this.#checkVersionPrefix();
        return null;
      }
      if (nl >= MAX_HEADER_SIZE) throw invalid('the age header is too large');
      const lineStart = this.#pos;
      const line = this.#buf.toString('latin1', lineStart, nl);
      this.#pos = nl + 1;
      const header = this.#parseLine(line, lineStart);
      if (header !== null) return { header, rest: this.#buf.subarray(header.headerLength, this.#len) };
    }
  }

  #append(data: Uint8Array): void {
    if (this.#len + data.length > this.#buf.length) {
      const grown = Buffer.allocUnsafe(Math.max(this.#buf.length * 2, this.#len + data.length, 4096));
      this.#buf.copy(grown, 0, 0, this.#len);
      this.#buf = grown;
    }
    this.#buf.set(data, this.#len);
    this.#len += data.length;
  }

  /** Rejects input that is not an age file before its first line is even complete. */
  #checkVersionPrefix(): void {
    const n = Math.min(this.#len, VERSION_PREFIX.length);
    if (this.#buf.toString('latin1', 0, n) !== VERSION_PREFIX.slice(0, n)) {
      throw invalid('the input is not an age file');
    }
  }

  #parseLine(line: string, lineStart: number): ParsedHeader | null {
    if (!this.#sawVersion) {
      this.#sawVersion = true;
      if (line === VERSION_LINE) return null;
      const version = line.startsWith(VERSION_PREFIX) ? line.slice(VERSION_PREFIX.length) : '';
      if (ARGUMENT.test(version)) {
        throw new ElohimError('AGE_UNSUPPORTED', 'the age file uses a format version this build does not know');
      }
      throw invalid('the input is not an age file');
    }
    const open = this.#open;
    if (open !== null) {
      if (line.length > COLUMNS || !BASE64_LINE.test(line)) throw invalid('a stanza body line is malformed');
      open.lines.push(line);
      if (line.length < COLUMNS) this.#closeStanza(open);
      return null;
    }
    if (line.startsWith('-> ')) {
      const args = line.slice(3).split(' ');
      // Splitting on single spaces turns doubled, leading or trailing spaces into empty
      // arguments, which `1*VCHAR` forbids.
      if (!args.every((a) => ARGUMENT.test(a))) throw invalid('a stanza has malformed arguments');
      if (this.#stanzas.length >= MAX_STANZAS) throw invalid('the age header has too many stanzas');
      this.#open = { type: args[0] as string, args: args.slice(1), lines: [] };
      return null;
    }
    if (line.startsWith('---')) {
      if (this.#stanzas.length === 0) throw invalid('the age header has no recipient stanza');
      const mac = line.startsWith('--- ') ? decodeBase64NoPad(line.slice(4)) : null;
      if (mac === null || mac.length !== MAC_SIZE) throw invalid('the header MAC line is malformed');
      return {
        stanzas: this.#stanzas,
        mac,
        headerLength: this.#pos,
        headerNoMac: Buffer.from(this.#buf.subarray(0, lineStart + 3)),
      };
    }
    throw invalid('the age header has an unexpected line');
  }

  #closeStanza(open: OpenStanza): void {
    const body = decodeBase64NoPad(open.lines.join(''));
    if (body === null) throw invalid('a stanza body is not canonical base64');
    this.#stanzas.push({ type: open.type, args: open.args, body });
    this.#open = null;
  }
}

/**
 * Parses a header at the start of `bytes` (which may continue with the payload). Throws
 * AGE_HEADER_INVALID if it is malformed, too large or incomplete, AGE_UNSUPPORTED for another
 * version. For streams use {@link HeaderParser}, which needs no upper bound on the bytes read.
 */
export function parseHeader(bytes: Uint8Array): ParsedHeader {
  const parsed = new HeaderParser().push(bytes);
  if (parsed === null) throw invalid('the age header is truncated');
  return parsed.header;
}

function headerMac(fileKey: FileKey, headerNoMac: Uint8Array): Buffer {
  const macKey = hkdf32(fileKey, EMPTY, 'header');
  return hmacSha256(macKey, headerNoMac);
}

/**
 * Encodes a complete header for `stanzas`, MAC included: "age-encryption.org/v1\n" … "--- mac\n".
 * Throws INVALID_RECIPIENT when there are no stanzas or an scrypt stanza is not alone (the spec
 * forbids mixing passphrases with anything), INVALID_INPUT for a stanza that cannot be encoded.
 */
export function encodeHeader(stanzas: Stanza[], fileKey: FileKey): Buffer {
  if (stanzas.length === 0) throw new ElohimError('INVALID_RECIPIENT', 'an age file needs at least one recipient');
  if (stanzas.length > 1 && stanzas.some((s) => s.type === 'scrypt')) {
    throw new ElohimError('INVALID_RECIPIENT', 'a passphrase cannot be combined with other recipients');
  }
  const lines = [VERSION_LINE];
  for (const s of stanzas) {
    if (![s.type, ...s.args].every((a) => ARGUMENT.test(a))) {
      throw new ElohimError('INVALID_INPUT', 'a recipient produced a stanza with malformed arguments');
    }
    lines.push(['->', s.type, ...s.args].join(' '));
    const body = encodeBase64NoPad(s.body);
    for (let i = 0; i < body.length; i += COLUMNS) lines.push(body.slice(i, i + COLUMNS));
    // The body must end with a line shorter than 64 columns, so a full last line needs an empty one.
    if (body.length % COLUMNS === 0) lines.push('');
  }
  const headerNoMac = Buffer.from(`${lines.join('\n')}\n---`, 'latin1');
  const macLine = Buffer.from(` ${encodeBase64NoPad(headerMac(fileKey, headerNoMac))}\n`, 'latin1');
  return Buffer.concat([headerNoMac, macLine]);
}

/**
 * Finds the file key with the first identity that unwraps a stanza, then checks the header MAC
 * with it in constant time. Throws AGE_NO_MATCH when no identity matches, AGE_HMAC_MISMATCH when
 * the MAC is wrong, and passes on AGE_HEADER_INVALID from identities that found a malformed stanza.
 */
export function unwrapHeader(parsed: Pick<ParsedHeader, 'stanzas' | 'mac' | 'headerNoMac'>, identities: Identity[]): FileKey {
  for (const identity of identities) {
    const fileKey = identity.unwrapFileKey(parsed.stanzas);
    if (fileKey === null) continue;
    const mac = headerMac(fileKey, parsed.headerNoMac);
    if (mac.length !== parsed.mac.length || !timingSafeEqual(mac, parsed.mac)) {
      throw new ElohimError('AGE_HMAC_MISMATCH', 'the age header MAC does not match: the header was modified');
    }
    return fileKey;
  }
  throw new ElohimError('AGE_NO_MATCH', 'no identity matches any recipient of the age file');
}
