/**
 * Whole age files as streams: header ‖ 16-byte nonce ‖ STREAM payload (age-encryption.org/v1,
 * "Encrypted file format"), optionally ASCII-armored.
 */
import { randomBytes } from 'node:crypto';
import type { Transform } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { ArmorDecoder, ArmorEncoder } from './armor.ts';
import { generateFileKey } from './filekey.ts';
import { encodeHeader, HeaderParser, unwrapHeader } from './header.ts';
import type { ParsedHeader } from './header.ts';
import { HybridRecipient } from './mlkem.ts';
import { ScryptRecipient } from './scrypt.ts';
import { PAYLOAD_NONCE_SIZE, payloadKey, StreamOpener, StreamSealer, transformOf } from './stream.ts';
import type { Codec, Sink } from './stream.ts';
import type { FileKey, Identity, Recipient, Stanza } from './types.ts';

/**
 * Wraps `fileKey` for every recipient. Throws INVALID_RECIPIENT for combinations age refuses:
 * none at all, a passphrase with anything else (age spec, scrypt stanza), or post-quantum with
 * classic recipients, which would leave the file only as strong as the classic one (age spec,
 * MLKEM768-X25519: "SHOULD NOT be encrypted to both"; age 1.3 refuses too).
 */
export function wrapFileKeyForRecipients(recipients: Recipient[], fileKey: FileKey): Stanza[] {
  if (recipients.length === 0) throw new ElohimError('INVALID_RECIPIENT', 'an age file needs at least one recipient');
  if (recipients.length > 1 && recipients.some((r) => r instanceof ScryptRecipient)) {
    throw new ElohimError('INVALID_RECIPIENT', 'a passphrase cannot be combined with other recipients');
  }
  const hybrid = recipients.filter((r) => r instanceof HybridRecipient).length;
  if (hybrid > 0 && hybrid < recipients.length) {
    throw new ElohimError('INVALID_RECIPIENT', 'post-quantum recipients cannot be mixed with classic ones');
  }
  return recipients.flatMap((r) => r.wrapFileKey(fileKey));
}

export interface EncryptOptions {
  recipients: Recipient[];
  /** Write ASCII armor instead of binary. */
  armor?: boolean;
}

/**
 * Push-style encryption of a whole file (see {@link Codec}) for tight I/O loops, such as the
 * CLI's file-to-file path. The file key is wrapped here, so recipient errors (INVALID_RECIPIENT)
 * throw before any input is read.
 */
export function createEncryptor(opts: EncryptOptions, sink: Sink): Codec {
  const fileKey = generateFileKey();
  const header = encodeHeader(wrapFileKeyForRecipients(opts.recipients, fileKey), fileKey);
  const nonce = randomBytes(PAYLOAD_NONCE_SIZE);
  const armor = opts.armor === true ? new ArmorEncoder(sink) : null;
  const out: Sink = armor === null ? sink : (b) => armor.write(b);
  const sealer = new StreamSealer(payloadKey(fileKey, nonce), out);
  let started = false;
  const start = () => {
    if (started) return;
    started = true;
    out(header);
    out(nonce);
  };
  return {
    write(chunk) {
      start();
      sealer.write(chunk);
    },
    end() {
      start();
      sealer.end();
      armor?.end();
    },
  };
}

/** Plaintext in, a whole age file out. Throws INVALID_RECIPIENT on creation (see {@link createEncryptor}). */
export function createEncryptStream(opts: EncryptOptions): Transform {
  return transformOf((sink) => createEncryptor(opts, sink));
}

/**
 * Identities to try, or a function that picks them once the header's stanzas are known (the
 * CLI uses it to ask for a passphrase only for passphrase-encrypted files).
 */
export type IdentitySource = Identity[] | ((stanzas: Stanza[]) => Identity[] | Promise<Identity[]>);

export interface DecryptOptions {
  identities: IdentitySource;
}

const INTRO = 'age-encryption.org/';

/** Push-style decryption of a whole age file, binary or armored (see {@link createDecryptor}). */
class AgeDecryptor implements Codec {
  readonly #identities: IdentitySource;
  readonly #emit: Sink;
  #mode: 'detect' | 'binary' | 'armor' = 'detect';
  #head: Buffer[] = [];
  #headLength = 0;
  #armor: ArmorDecoder | null = null;
  #parser: HeaderParser | null = new HeaderParser();
  #header: ParsedHeader | null = null;
  #fileKey: FileKey | null = null;
  #waiting: Promise<void> | null = null;
  #queued: Buffer[] = [];
  #nonce: Buffer[] = [];
  #nonceLength = 0;
  #opener: StreamOpener | null = null;

  constructor(identities: IdentitySource, emit: Sink) {
    this.#identities = identities;
    this.#emit = emit;
  }

  write(data: Uint8Array): void | Promise<void> {
    const chunk = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    if (this.#mode === 'detect') {
      // Copied: the caller may reuse its buffer once this returns.
      this.#head.push(Buffer.from(chunk));
      this.#headLength += data.length;
      if (this.#headLength < INTRO.length) return;
      this.#detect();
    } else {
      this.#input(chunk);
    }
    return this.#waiting ?? undefined;
  }

  end(): void | Promise<void> {
    if (this.#mode === 'detect') this.#detect();
    this.#armor?.end();
    const waiting = this.#waiting;
    if (waiting !== null) return waiting.then(() => this.#finish());
    this.#finish();
  }

  /**
   * A binary age file starts with "age-encryption.org/"; anything else is read as armor, whose
   * decoder tolerates leading whitespace and reports garbage as an armor error.
   */
  #detect(): void {
    const head = Buffer.concat(this.#head);
    this.#head = [];
    const n = Math.min(head.length, INTRO.length);
    const binary = head.toString('latin1', 0, n) === INTRO.slice(0, n);
    this.#mode = binary ? 'binary' : 'armor';
    if (!binary) this.#armor = new ArmorDecoder((b) => this.#binary(b));
    this.#input(head);
  }

  #input(data: Buffer): void {
    if (this.#armor !== null) this.#armor.write(data);
    else this.#binary(data);
  }

  #binary(data: Buffer): void {
    if (this.#opener !== null) {
      this.#opener.write(data);
      return;
    }
    if (this.#waiting !== null) {
      this.#queued.push(Buffer.from(data));
      return;
    }
    if (this.#header === null) {
      const parsed = (this.#parser as HeaderParser).push(data);
      if (parsed === null) return;
      this.#parser = null;
      const header = parsed.header;
      this.#header = header;
      const source = this.#identities;
      const identities = Array.isArray(source) ? source : source(header.stanzas);
      if (Array.isArray(identities)) {
        this.#fileKey = unwrapHeader(header, identities);
      } else {
        this.#queued.push(parsed.rest);
        this.#waiting = identities.then((list) => {
          this.#fileKey = unwrapHeader(header, list);
          this.#waiting = null;
          const queued = this.#queued;
          this.#queued = [];
          for (const b of queued) this.#binary(b);
        });
        return;
      }
      data = parsed.rest;
    }
    this.#payloadStart(data);
  }

  /** Collects the 16-byte payload nonce, then hands everything after it to STREAM. */
  #payloadStart(data: Buffer): void {
    const need = PAYLOAD_NONCE_SIZE - this.#nonceLength;
    this.#nonce.push(Buffer.from(data.subarray(0, need)));
    this.#nonceLength += Math.min(need, data.length);
    if (this.#nonceLength < PAYLOAD_NONCE_SIZE) return;
    const key = payloadKey(this.#fileKey as FileKey, Buffer.concat(this.#nonce));
    this.#opener = new StreamOpener(key, this.#emit);
    this.#opener.write(data.subarray(need));
  }

  #finish(): void {
    if (this.#header === null) throw new ElohimError('AGE_HEADER_INVALID', 'the age header is truncated');
    // The reference implementation reads the nonce with the header, so a missing or short nonce
    // is a header failure (CCTV "stream_no_nonce", "stream_short_nonce").
    if (this.#opener === null) throw new ElohimError('AGE_HEADER_INVALID', 'the age file ends before its payload nonce');
    this.#opener.end();
  }
}

/**
 * Push-style decryption of a whole age file, binary or ASCII-armored (detected automatically),
 * for tight I/O loops (see {@link Codec}). Throws, or rejects, with AGE_HEADER_INVALID /
 * AGE_UNSUPPORTED / AGE_NO_MATCH / AGE_HMAC_MISMATCH before any output, and AGE_PAYLOAD_INVALID
 * or AGE_ARMOR_INVALID possibly after authenticated chunks went to the sink.
 */
export function createDecryptor(opts: DecryptOptions, sink: Sink): Codec {
  return new AgeDecryptor(opts.identities, sink);
}

/** A whole age file in, plaintext out; errors as {@link createDecryptor} throws them. */
export function createDecryptStream(opts: DecryptOptions): Transform {
  return transformOf((sink) => createDecryptor(opts, sink));
}
