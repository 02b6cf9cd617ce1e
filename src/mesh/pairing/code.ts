/**
 * The pairing code: what one device shows (text to type or read out, and a QR) so another can
 * find it and prove it saw the code. Pure bytes in, bytes out.
 *
 * Layout (version 1), then Crockford base32 in groups of five behind `EM1-`:
 *
 *   version(1) = 1 ‖ expires(4, seconds since 1970, big-endian) ‖ secret(16)
 *   ‖ peerIdLen(1) ‖ peerId bytes ‖ addrCount(1) ‖ { addrLen(1) ‖ multiaddr bytes }*
 *   ‖ check(4) = SHA-256(everything before)[0..4]
 *
 * The check catches a mistyped code on the device that types it, before anything touches the
 * network (a typo would otherwise read as a wrong secret). Crockford base32 because it is read
 * aloud and typed: no I/L/O/U, case-insensitive, and `-` and spaces are ignored.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import { base32crockford } from '@scure/base';
import { ElohimError } from '../../errors.ts';

export const CODE_VERSION = 1;
export const CODE_PREFIX = 'EM1';
export const SECRET_BYTES = 16;
/** Bounds on what a code may carry: a code is typed by hand, and parsed from anyone. */
export const MAX_CODE_ADDRS = 8;
const MAX_ADDR_BYTES = 64;
const MAX_PEER_ID_BYTES = 64;
const MAX_CODE_CHARS = 1200;

export interface PairingCode {
  /** the showing device's peer id, as bytes (a multihash) */
  peerId: Uint8Array;
  /** where to reach it: multiaddr bytes */
  addrs: Uint8Array[];
  /** the one-time secret; never leaves either device except inside the code */
  secret: Uint8Array;
  /** ms since 1970 (whole seconds) */
  expires: number;
}

/** The code as text: `EM1-XXXXX-XXXXX-…`. */
export function encodeCode(code: PairingCode): string {
  if (code.secret.length !== SECRET_BYTES) throw new TypeError('pairing secret must be 16 bytes');
  if (code.addrs.length > MAX_CODE_ADDRS) throw new TypeError('too many addresses for a pairing code');
  const parts: Uint8Array[] = [];
  const head = Buffer.alloc(5);
  head[0] = CODE_VERSION;
  head.writeUInt32BE(Math.floor(code.expires / 1000), 1);
  parts.push(head, code.secret, Uint8Array.of(code.peerId.length), code.peerId, Uint8Array.of(code.addrs.length));
  for (const a of code.addrs) {
    if (a.length > MAX_ADDR_BYTES) throw new TypeError('address too long for a pairing code');
    parts.push(Uint8Array.of(a.length), a);
  }
  const body = Buffer.concat(parts);
  const bytes = Buffer.concat([body, checkOf(body)]);
  const text = base32crockford.encode(bytes);
  return [CODE_PREFIX, ...(text.match(/.{1,5}/g) ?? [])].join('-');
}

/**
 * Parses a code typed or scanned. Throws MESH_CODE_INVALID (with what is wrong: not a code, a
 * typo, a version this build does not know) and never returns a half-read code.
 */
export function decodeCode(text: string): PairingCode {
  if (typeof text !== 'string' || text.length > MAX_CODE_CHARS) throw invalid('that is not a pairing code');
  const compact = text.toUpperCase().replace(/[\s-]/g, '');
  if (!compact.startsWith(CODE_PREFIX)) throw invalid('that is not a pairing code (it starts with EM1-)');
  const body32 = compact.slice(CODE_PREFIX.length);
  if (!/^[0-9A-HJKMNP-TV-Z]+$/.test(body32)) throw invalid('the pairing code has a character that is not in codes (check it)');
  let bytes: Buffer;
  try {
    bytes = Buffer.from(base32crockford.decode(body32));
  } catch {
    throw invalid('the pairing code is mistyped (check it)');
  }
  if (bytes.length < 5 + SECRET_BYTES + 2 + 4) throw invalid('the pairing code is too short (check it)');
  const body = bytes.subarray(0, bytes.length - 4);
  if (!timingSafeEqual(checkOf(body), bytes.subarray(bytes.length - 4))) throw invalid('the pairing code is mistyped (check it)');
  if (body[0] !== CODE_VERSION) throw invalid('the pairing code comes from a newer version of ElohimOS');
  let at = 1;
  const expires = body.readUInt32BE(at) * 1000;
  at += 4;
  const secret = Uint8Array.from(body.subarray(at, at + SECRET_BYTES));
  at += SECRET_BYTES;
  const take = (max: number): Uint8Array => {
    const len = body[at];
    if (len === undefined || len === 0 || len > max || at + 1 + len > body.length) throw invalid('the pairing code is malformed');
    const out = Uint8Array.from(body.subarray(at + 1, at + 1 + len));
    at += 1 + len;
    return out;
  };
  const peerId = take(MAX_PEER_ID_BYTES);
  const count = body[at++];
  if (count === undefined || count > MAX_CODE_ADDRS) throw invalid('the pairing code is malformed');
  const addrs: Uint8Array[] = [];
  for (let i = 0; i < count; i++) addrs.push(take(MAX_ADDR_BYTES));
  if (at !== body.length) throw invalid('the pairing code is malformed');
  return { peerId, addrs, secret, expires };
}

function checkOf(body: Uint8Array): Buffer {
  return createHash('sha256').update(body).digest().subarray(0, 4);
}

function invalid(message: string): ElohimError {
  return new ElohimError('MESH_CODE_INVALID', message);
}
