/**
 * The age payload (age-encryption.org/v1, "Payload"): STREAM (Hoang, Reyhanitabar, Rogaway,
 * Vizár 2015) over ChaCha20-Poly1305 with 64 KiB chunks. Chunk i is sealed with the nonce
 * i as an 11-byte big-endian counter ‖ 0x01 for the final chunk, 0x00 for all others.
 *
 * Over 300 lines on purpose: the sealer, the opener and the range decryptor are one construction
 * of the spec and share its chunk arithmetic (`chunkOffset`, sizes); apart, that arithmetic
 * would be written again, which is what the one-write-path work removed.
 */
import { createCipheriv, createDecipheriv, createSecretKey } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import { ElohimError } from '../../errors.ts';
import { hkdf32, isAuthFailure, TAG_SIZE } from './primitives.ts';
import type { FileKey } from './types.ts';

export const CHUNK_SIZE = 65536;
export const ENCRYPTED_CHUNK_SIZE = CHUNK_SIZE + TAG_SIZE;
export const PAYLOAD_NONCE_SIZE = 16;
/** The counter has 88 bits; a JS number counts 2^48 chunks (16 EiB) exactly, far beyond any file. */
const MAX_CHUNKS = 2 ** 48;

/** payload key = HKDF-SHA-256(ikm = file key, salt = nonce, info = "payload"). Throws INVALID_INPUT for a bad nonce. */
export function payloadKey(fileKey: FileKey, nonce: Uint8Array): Buffer {
  if (nonce.length !== PAYLOAD_NONCE_SIZE) throw new ElohimError('INVALID_INPUT', 'the payload nonce must be 16 bytes');
  return hkdf32(fileKey, nonce, 'payload');
}

/**
 * The payload key as a KeyObject: OpenSSL then skips re-importing raw key bytes for every chunk,
 * which measurably speeds up 64 KiB chunks.
 */
export function payloadKeyObject(key: Uint8Array): KeyObject {
  if (key.length !== 32) throw new ElohimError('INVALID_INPUT', 'a payload key must be 32 bytes');
  return createSecretKey(key);
}

export function chunkNonce(counter: number, final: boolean): Buffer {
  const nonce = Buffer.alloc(12);
  nonce.writeUIntBE(counter, 5, 6);
  nonce[11] = final ? 1 : 0;
  return nonce;
}

function payloadInvalid(message: string): ElohimError {
  return new ElohimError('AGE_PAYLOAD_INVALID', message);
}

/**
 * Decrypts one chunk (ciphertext ‖ tag). Returns null when it does not authenticate under this
 * counter and final flag; the plaintext never leaves before the tag is verified.
 */
export function openChunk(key: KeyObject, counter: number, final: boolean, chunk: Uint8Array): Buffer | null {
  if (chunk.length < TAG_SIZE) return null;
  const decipher = createDecipheriv('chacha20-poly1305', key, chunkNonce(counter, final), { authTagLength: TAG_SIZE });
  decipher.setAuthTag(chunk.subarray(chunk.length - TAG_SIZE));
  const plaintext = decipher.update(chunk.subarray(0, chunk.length - TAG_SIZE));
  try {
    decipher.final();
  } catch (err) {
    if (isAuthFailure(err)) return null;
    throw err;
  }
  return plaintext;
}

/** Where chunk `index` starts in a STREAM payload: the one place that multiplies it out. */
export function chunkOffset(index: number): number {
  return index * ENCRYPTED_CHUNK_SIZE;
}

/** Chunks in the payload of `plaintextSize` bytes; an empty plaintext has one, empty and final. */
export function chunkCount(plaintextSize: number): number {
  return Math.max(1, Math.ceil(plaintextSize / CHUNK_SIZE));
}

export interface SealerOptions {
  /**
   * Counter of the first chunk to seal, for a writer that resumes a payload whose first
   * `counter` chunks are already sealed (a resumable upload after a restart). Default 0.
   */
  counter?: number;
  /**
   * The plaintext's whole size, when it is declared up front (a resumable upload). Every full
   * chunk before the last is then sealed as soon as it is complete, and the final chunk as soon
   * as its last byte arrives, so nothing is held back waiting to learn which chunk is last;
   * bytes beyond it are refused.
   */
  length?: number;
}

/**
 * Push-style STREAM encryption: `write` plaintext, then `end`; sealed chunks go to `emit`.
 * Holds at most one chunk of plaintext. Without a declared length, a full chunk is only sealed
 * once more input shows it is not the last, because the final chunk may be full and must carry
 * the final flag; empty input becomes one empty final chunk, the only case where the final chunk
 * may be empty. Throws INVALID_INPUT for input past the declared length, or an `end` short of it.
 */
export class StreamSealer implements Codec {
  readonly #key: KeyObject;
  readonly #emit: Sink;
  readonly #length: number | undefined;
  readonly #staged = Buffer.allocUnsafe(CHUNK_SIZE);
  #staging = 0;
  #counter: number;
  /** plaintext bytes taken in, the resumed chunks included */
  #position: number;
  #done = false;

  constructor(key: Uint8Array, emit: Sink, opts: SealerOptions = {}) {
    this.#key = payloadKeyObject(key);
    this.#emit = emit;
    const counter = opts.counter ?? 0;
    const length = opts.length;
    if (!Number.isSafeInteger(counter) || counter < 0) throw new ElohimError('INVALID_INPUT', 'a chunk counter must be a non-negative integer');
    if (length !== undefined) {
      checkSize(length);
      // Resuming after the final chunk, or past the end, has nothing left to seal.
      if (counter >= chunkCount(length) || counter * CHUNK_SIZE > length) {
        throw new ElohimError('INVALID_INPUT', 'the payload has no chunk left to seal after this counter');
      }
    }
    this.#length = length;
    this.#counter = counter;
    this.#position = counter * CHUNK_SIZE;
  }

  /** Plaintext bytes taken in so far, counting the chunks sealed before a resume. */
  get position(): number {
    return this.#position;
  }

  write(data: Uint8Array): void {
    if (this.#done) throw new ElohimError('INVALID_INPUT', 'the payload is already complete');
    const length = this.#length;
    if (length !== undefined && this.#position + data.length > length) {
      throw new ElohimError('INVALID_INPUT', 'the plaintext is longer than its declared length');
    }
    let off = 0;
    while (off < data.length) {
      if (this.#staging === CHUNK_SIZE) {
        this.#seal(this.#staged, false);
        this.#staging = 0;
      }
      // A whole chunk in the input that is known not to be the last, or whose place is known
      // from the declared length: seal straight from the input, without copying.
      const rest = data.length - off;
      if (this.#staging === 0 && rest >= CHUNK_SIZE && (rest > CHUNK_SIZE || length !== undefined)) {
        this.#position += CHUNK_SIZE;
        this.#seal(data.subarray(off, off + CHUNK_SIZE), this.#position === length);
        off += CHUNK_SIZE;
        continue;
      }
      const n = Math.min(CHUNK_SIZE - this.#staging, rest);
      this.#staged.set(data.subarray(off, off + n), this.#staging);
      this.#staging += n;
      this.#position += n;
      off += n;
      if (length !== undefined && (this.#position === length || this.#staging === CHUNK_SIZE)) {
        this.#seal(this.#staged.subarray(0, this.#staging), this.#position === length);
        this.#staging = 0;
      }
    }
  }

  end(): void {
    if (this.#length !== undefined) {
      if (this.#position !== this.#length) throw new ElohimError('INVALID_INPUT', 'the plaintext is shorter than its declared length');
      // Only an empty payload gets here with its final chunk unsealed.
      if (!this.#done) this.#seal(this.#staged.subarray(0, 0), true);
      return;
    }
    if (this.#done) throw new ElohimError('INVALID_INPUT', 'the payload is already complete');
    this.#seal(this.#staged.subarray(0, this.#staging), true);
    this.#staging = 0;
  }

  #seal(plaintext: Uint8Array, final: boolean): void {
    const [ct, tag] = sealChunk(this.#key, this.#counter, final, plaintext);
    this.#counter++;
    this.#done = final;
    // Ciphertext and tag go out as two buffers: joining them would copy every chunk once more.
    this.#emit(ct);
    this.#emit(tag);
  }
}

/**
 * Seals chunk `counter` of a payload (at most CHUNK_SIZE bytes; only the final chunk may be
 * shorter). Returns ciphertext and tag as two buffers. StreamSealer is its only user outside
 * tests: every writer seals through it, resumed ones included (SealerOptions).
 */
export function sealChunk(key: KeyObject, counter: number, final: boolean, plaintext: Uint8Array): [Buffer, Buffer] {
  if (counter >= MAX_CHUNKS) throw new ElohimError('INVALID_INPUT', 'the plaintext is too large for one age file');
  if (plaintext.length > CHUNK_SIZE || (!final && plaintext.length !== CHUNK_SIZE)) {
    throw new RangeError('only the final chunk of a payload may be shorter than CHUNK_SIZE');
  }
  const cipher = createCipheriv('chacha20-poly1305', key, chunkNonce(counter, final), { authTagLength: TAG_SIZE });
  const ct = cipher.update(plaintext);
  cipher.final();
  return [ct, cipher.getAuthTag()];
}

/**
 * Push-style STREAM decryption: `write` ciphertext, then `end`; authenticated plaintext goes to
 * `emit`, one chunk at a time. Throws AGE_PAYLOAD_INVALID on a bad tag, truncation, reordering,
 * an empty final chunk or data after the final chunk. Every chunk is verified before its
 * plaintext is released, but chunks verified before the error are released, as a streaming
 * decryptor must (and as the CCTV vectors check).
 */
export class StreamOpener implements Codec {
  readonly #key: KeyObject;
  readonly #emit: Sink;
  /**
   * Ciphertext of the chunk being gathered: made at the size first needed, and a full chunk only
   * once a chunk spans writes. A small object's payload comes in one write, and a 64 KiB buffer
   * per opener was 625 MiB of garbage for bench:sync's 10,000 small files (H-MEM's probe).
   */
  #staged: Buffer | null = null;
  #staging = 0;
  #counter = 0;
  #done = false;

  constructor(key: Uint8Array, emit: Sink) {
    this.#key = payloadKeyObject(key);
    this.#emit = emit;
  }

  write(data: Uint8Array): void {
    let off = 0;
    while (off < data.length) {
      if (this.#done) throw payloadInvalid('the age payload has data after its final chunk');
      if (this.#staging === 0 && data.length - off >= ENCRYPTED_CHUNK_SIZE) {
        this.#openFull(data.subarray(off, off + ENCRYPTED_CHUNK_SIZE));
        off += ENCRYPTED_CHUNK_SIZE;
        continue;
      }
      const n = Math.min(ENCRYPTED_CHUNK_SIZE - this.#staging, data.length - off);
      const staged = this.#stage(this.#staging + n);
      staged.set(data.subarray(off, off + n), this.#staging);
      this.#staging += n;
      off += n;
      if (this.#staging === ENCRYPTED_CHUNK_SIZE) {
        this.#openFull(staged.subarray(0, ENCRYPTED_CHUNK_SIZE));
        this.#staging = 0;
      }
    }
  }

  end(): void {
    if (this.#done) return;
    const n = this.#staging;
    if (n === 0) {
      throw payloadInvalid(this.#counter === 0 ? 'the age payload is empty' : 'the age payload is truncated: no final chunk');
    }
    if (n < TAG_SIZE) throw payloadInvalid('the age payload ends with a truncated chunk');
    if (n === TAG_SIZE && this.#counter > 0) {
      throw payloadInvalid('the final chunk is empty, which only an empty payload may have');
    }
    const plaintext = openChunk(this.#key, this.#counter, true, this.#staged!.subarray(0, n));
    if (plaintext === null) throw payloadInvalid('an age payload chunk failed authentication');
    this.#done = true;
    this.#emit(plaintext);
  }

  /** The staging buffer, holding at least `need` bytes (≤ a full chunk), what it held kept. */
  #stage(need: number): Buffer {
    if (this.#staged !== null && this.#staged.length >= need) return this.#staged;
    const grown = Buffer.allocUnsafe(this.#staged === null ? need : ENCRYPTED_CHUNK_SIZE);
    this.#staged?.copy(grown, 0, 0, this.#staging);
    this.#staged = grown;
    return grown;
  }

  /**
   * A full-size chunk is usually not the last, but the final chunk may be full too. As in the
   * reference implementation, try it as non-final first, then as final; a final chunk ends the
   * stream, and anything after it is an error raised on the next write.
   */
  #openFull(chunk: Uint8Array): void {
    let plaintext = openChunk(this.#key, this.#counter, false, chunk);
    if (plaintext === null) {
      plaintext = openChunk(this.#key, this.#counter, true, chunk);
      if (plaintext === null) throw payloadInvalid('an age payload chunk failed authentication');
      this.#done = true;
    }
    this.#counter++;
    this.#emit(plaintext);
  }
}

/**
 * A push-style byte transformation: `write` input, then `end`; output goes to the sink given at
 * creation. Each call consumes its chunk before it settles, so the caller may reuse the chunk's
 * memory afterwards. A call returns a promise only when it must wait (e.g. for a passphrase);
 * the caller must let it settle before the next call.
 */
export interface Codec {
  write(chunk: Uint8Array): void | Promise<void>;
  end(): void | Promise<void>;
}

export type Sink = (bytes: Buffer) => void;

/**
 * Wraps a codec in a Transform; its errors become stream errors. What one input chunk produces
 * is pushed as one buffer: one copy here is cheaper than handing dozens of 64 KiB chunks and
 * 16-byte tags to the next stream (measured: about 1.4x faster into a file).
 */
export function transformOf(make: (sink: Sink) => Codec): Transform {
  const out: Buffer[] = [];
  const codec = make((b) => {
    if (b.length > 0) out.push(b);
  });
  const step = (t: Transform, run: () => void | Promise<void>, callback: (err?: Error | null) => void) => {
    const done = (err?: unknown) => {
      // Output produced before a failure was authenticated: release it, then report the error.
      if (out.length > 0) t.push(out.length === 1 ? out[0] : Buffer.concat(out));
      out.length = 0;
      callback(err as Error | undefined);
    };
    let pending: void | Promise<void>;
    try {
      pending = run();
    } catch (err) {
      done(err);
      return;
    }
    if (pending instanceof Promise) pending.then(() => done(), done);
    else done();
  };
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      step(this, () => codec.write(chunk), callback);
    },
    flush(callback) {
      step(this, () => codec.end(), callback);
    },
  });
}

/** Plaintext in, STREAM payload out (without the nonce). Constant memory: at most one chunk is held. */
export function createStreamEncryptor(payloadKey: Buffer): Transform {
  payloadKeyObject(payloadKey);
  return transformOf((emit) => new StreamSealer(payloadKey, emit));
}

/**
 * STREAM payload (without the nonce) in, plaintext out. Errors with AGE_PAYLOAD_INVALID on
 * truncation, tampering, reordering or trailing data; no plaintext is emitted before its chunk
 * is authenticated.
 */
export function createStreamDecryptor(payloadKey: Buffer): Transform {
  payloadKeyObject(payloadKey);
  return transformOf((emit) => new StreamOpener(payloadKey, emit));
}

function checkSize(n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new ElohimError('INVALID_INPUT', 'a size must be a non-negative integer');
}

/** Size of the STREAM payload (without the nonce) for `plaintextSize` bytes of plaintext. */
export function ciphertextSize(plaintextSize: number): number {
  checkSize(plaintextSize);
  return plaintextSize + chunkCount(plaintextSize) * TAG_SIZE;
}

/**
 * Plaintext size of a STREAM payload (without the nonce) of `ciphertextSize` bytes. Throws
 * AGE_PAYLOAD_INVALID for sizes no valid payload has (e.g. a truncated tag or an empty final chunk).
 */
export function plaintextSize(ciphertextSize: number): number {
  checkSize(ciphertextSize);
  const chunks = Math.max(1, Math.ceil(ciphertextSize / ENCRYPTED_CHUNK_SIZE));
  const last = ciphertextSize - chunkOffset(chunks - 1);
  if (last < TAG_SIZE || (last === TAG_SIZE && chunks > 1)) {
    throw payloadInvalid('no valid age payload has this size');
  }
  return ciphertextSize - chunks * TAG_SIZE;
}
