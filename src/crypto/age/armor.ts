/**
 * ASCII armor (age spec, "ASCII armor"): strict PEM as in RFC 7468, section 3 (Figure 3), with
 * the label "AGE ENCRYPTED FILE". The spec warns that armor is malleable unless parsed strictly,
 * so the decoder accepts only canonical armor: 64-column lines, a last line of 1 to 64 columns,
 * padding only at the very end, canonical base64, no headers. It tolerates what the spec and the
 * CCTV vectors allow: whitespace before and after the block, and LF or CRLF line ends.
 */
import type { Transform } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { transformOf } from './stream.ts';
import type { Codec, Sink } from './stream.ts';

const BEGIN = '-----BEGIN AGE ENCRYPTED FILE-----';
const END = '-----END AGE ENCRYPTED FILE-----';
const COLUMNS = 64;
/** Bytes per full line: 64 base64 characters carry 48 bytes. */
const LINE_BYTES = 48;
const WHITESPACE = /^[ \t\r\n]*$/;

function invalid(message: string): ElohimError {
  return new ElohimError('AGE_ARMOR_INVALID', message);
}

/** Push-style armor encoding: `write` bytes, then `end`; armored text goes to `emit`. */
export class ArmorEncoder implements Codec {
  readonly #emit: Sink;
  #carry: Buffer = Buffer.alloc(0);
  #started = false;

  constructor(emit: Sink) {
    this.#emit = emit;
  }

  write(data: Uint8Array): void {
    this.#begin();
    const all = this.#carry.length === 0 ? Buffer.from(data.buffer, data.byteOffset, data.byteLength) : Buffer.concat([this.#carry, data]);
    const whole = all.length - (all.length % LINE_BYTES);
    if (whole > 0) {
      // Whole lines only: every 48 bytes become exactly one 64-column line.
      this.#emit(Buffer.from(all.toString('base64', 0, whole).replace(/.{64}/g, '$&\n'), 'latin1'));
    }
    this.#carry = Buffer.from(all.subarray(whole));
  }

  end(): void {
    this.#begin();
    const last = this.#carry.length > 0 ? `${this.#carry.toString('base64')}\n` : '';
    this.#emit(Buffer.from(`${last}${END}\n`, 'latin1'));
  }

  #begin(): void {
    if (this.#started) return;
    this.#started = true;
    this.#emit(Buffer.from(`${BEGIN}\n`, 'latin1'));
  }
}

/** Armor for a whole buffer at once. */
export function armor(bytes: Uint8Array): Buffer {
  const out: Buffer[] = [];
  const encoder = new ArmorEncoder((b) => out.push(b));
  encoder.write(bytes);
  encoder.end();
  return Buffer.concat(out);
}

/**
 * Push-style strict armor decoding: `write` armored text, then `end`; decoded bytes go to
 * `emit` as each line is validated. Throws AGE_ARMOR_INVALID at the first deviation. Holds at
 * most one line of text, however long the input.
 */
export class ArmorDecoder implements Codec {
  readonly #emit: Sink;
  #state: 'before' | 'body' | 'after' = 'before';
  /** Text of the current incomplete line (or, before BEGIN, of the BEGIN line so far). */
  #partial = '';
  /** A short or padded line was seen: only the END line may follow. */
  #sawLastLine = false;

  constructor(emit: Sink) {
    this.#emit = emit;
  }

  write(data: Uint8Array): void {
    let text = Buffer.from(data.buffer, data.byteOffset, data.byteLength).toString('latin1');
    if (this.#state === 'before') {
      text = this.#skipLeadingWhitespace(text);
      if (text === '') return;
    }
    if (this.#state === 'after') {
      if (!WHITESPACE.test(text)) throw invalid('there is data after the end of the armor');
      return;
    }
    const lines = (this.#partial + text).split('\n');
    this.#partial = lines.pop() as string;
    // 64 columns and a CR; longer cannot become a valid line, so fail before buffering more.
    if (this.#partial.length > COLUMNS + 1) throw invalid('an armor line is too long');
    this.#lines(lines);
  }

  end(): void {
    if (this.#state === 'before' && this.#partial === '') throw invalid('the input is neither an age file nor ASCII-armored');
    if (this.#state !== 'after') {
      // The END line may lack a final line break (CCTV "armor_no_eol").
      const last = this.#partial;
      this.#partial = '';
      this.#lines([last]);
    }
    if (this.#state !== 'after') throw invalid('the armor has no END line');
  }

  #skipLeadingWhitespace(text: string): string {
    if (this.#partial !== '') return text;
    const start = text.search(/[^ \t\r\n]/);
    return start === -1 ? '' : text.slice(start);
  }

  #lines(rawLines: string[]): void {
    let batch: string[] = [];
    const flush = () => {
      if (batch.length === 0) return;
      this.#emit(decodeCanonical(batch.join('')));
      batch = [];
    };
    for (const raw of rawLines) {
      if (this.#state === 'after') {
        if (!WHITESPACE.test(raw)) throw invalid('there is data after the end of the armor');
        continue;
      }
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (this.#state === 'before') {
        if (line !== BEGIN) throw invalid('the input is neither an age file nor ASCII-armored');
        this.#state = 'body';
        continue;
      }
      if (line === END) {
        flush();
        this.#state = 'after';
        continue;
      }
      if (this.#sawLastLine) throw invalid('a short armor line is not the last one');
      if (line.length === 0 || line.length > COLUMNS) throw invalid('an armor line has the wrong length');
      if (line.length < COLUMNS || line.endsWith('=')) {
        // The last line: it may be short and carry the padding, and must be followed by END.
        if (line.length % 4 !== 0) throw invalid('the armor is missing base64 padding');
        this.#sawLastLine = true;
        flush();
        this.#emit(decodeCanonical(line));
        continue;
      }
      batch.push(line);
    }
    flush();
    if (this.#state === 'before' && !BEGIN.startsWith(this.#partial.replace(/\r$/, ''))) {
      throw invalid('the input is neither an age file nor ASCII-armored');
    }
    if (this.#state === 'after') {
      if (!WHITESPACE.test(this.#partial)) throw invalid('there is data after the end of the armor');
      this.#partial = '';
    }
  }
}

/** Decodes padded base64, rejecting anything that does not re-encode to the same text. */
function decodeCanonical(text: string): Buffer {
  const bytes = Buffer.from(text, 'base64');
  // Node's decoder skips invalid characters and accepts URL-safe ones and stray bits;
  // re-encoding shows all of those as a difference.
  if (bytes.toString('base64') !== text) throw invalid('the armor is not canonical base64');
  return bytes;
}

/** Dearmors a whole buffer at once. Throws AGE_ARMOR_INVALID. */
export function dearmor(text: Uint8Array): Buffer {
  const out: Buffer[] = [];
  const decoder = new ArmorDecoder((b) => out.push(b));
  decoder.write(text);
  decoder.end();
  return Buffer.concat(out);
}

/** Bytes in, ASCII armor out. */
export function createArmorEncoder(): Transform {
  return transformOf((emit) => new ArmorEncoder(emit));
}

/** ASCII armor in, bytes out; errors with AGE_ARMOR_INVALID on any non-canonical armor. */
export function createArmorDecoder(): Transform {
  return transformOf((emit) => new ArmorDecoder(emit));
}
