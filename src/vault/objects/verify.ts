/**
 * Codecs for objects received as stored bytes (from a peer or a backup): the bytes are kept as
 * they are, and checked on the way in, so that nothing unverified is ever published.
 */
import { PAYLOAD_NONCE_SIZE as NONCE, payloadKey, StreamOpener } from '../../crypto/age/index.ts';
import type { FileKey } from '../../crypto/age/index.ts';
import { ElohimError } from '../../errors.ts';
import type { WriterCodec } from './writer.ts';

const tooLong = () => new ElohimError('OBJECT_DAMAGED', 'the received object is longer than expected');
const wrongSize = () => new ElohimError('OBJECT_DAMAGED', 'the received object has the wrong size');

/** Stored bytes in, the same bytes out; refuses more than `stored` bytes and fewer at the end. */
export function passing(stored: number): (emit: (b: Buffer) => void) => WriterCodec {
  return (emit) => {
    let position = 0;
    return {
      get position() {
        return position;
      },
      write(data) {
        if (position + data.length > stored) throw tooLong();
        position += data.length;
        emit(Buffer.from(data.buffer, data.byteOffset, data.byteLength));
      },
      end() {
        if (position !== stored) throw wrongSize();
      },
    };
  };
}

/**
 * Stored bytes in, the same bytes out, every STREAM chunk authenticated under `fileKey` as it
 * passes (its plaintext is dropped at once): a wrong key, a flipped bit, a truncation, a reordering
 * or trailing bytes fail with AGE_PAYLOAD_INVALID, and a size other than that of `size` bytes of
 * plaintext with OBJECT_DAMAGED. `plain`, when given, sees each chunk's plaintext once it has
 * authenticated (to hash it); it must not keep it: the plaintext is freed as soon as it returns.
 *
 * Freed, not dropped: each chunk's plaintext is a buffer of its own that the opener made for this
 * check alone (decipher output), and left to V8 it outlived the young generation under a big
 * transfer's load and waited for a full collection: bench:sync's receiver checks 1 GiB this way,
 * and had ~12 MiB of such plaintext uncollected at once in its small files alone (a probe of the
 * decipher's outputs). Detached (ArrayBuffer transfer(0)), its memory goes back at once, and
 * the plaintext does not linger in the process either.
 */
export function authenticating(fileKey: FileKey, stored: number, plain?: (b: Buffer) => void): (emit: (b: Buffer) => void) => WriterCodec {
  return (emit) => {
    const pass = passing(stored)(emit);
    const nonce = Buffer.alloc(NONCE);
    let opener: StreamOpener | null = null;
    const drop = (b: Buffer) => {
      plain?.(b);
      if (b.length > 0) (b.buffer as ArrayBuffer).transfer(0);
    };
    return {
      get position() {
        return pass.position;
      },
      write(data) {
        const before = pass.position;
        pass.write(data);
        let rest = data;
        if (opener === null) {
          const n = Math.min(NONCE - before, data.length);
          nonce.set(data.subarray(0, n), before);
          rest = data.subarray(n);
          if (before + n < NONCE) return;
          opener = new StreamOpener(payloadKey(fileKey, nonce), drop);
        }
        opener.write(rest);
      },
      end() {
        pass.end();
        if (opener === null) throw wrongSize();
        opener.end();
      },
    };
  };
}
