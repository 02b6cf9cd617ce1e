/**
 * Sync messages (version 1): one message is `u32 length of JSON ‖ JSON ‖ bytes`, the bytes being
 * an object chunk's stored ciphertext when there is one. The same messages travel over a mesh
 * channel (one message per channel message) and inside a bundle file (each prefixed by its u32
 * length), so a bundle import runs exactly the code a network sync runs.
 */
import { ElohimError } from '../../errors.ts';

export const SYNC_PROTOCOL = '/elohim/sync/1';
/** The largest message either side accepts: a 1 MiB object chunk and its header fit well inside. */
export const MAX_MESSAGE = 4 * 1024 * 1024;
/** Stored bytes per object chunk message. */
export const CHUNK_BYTES = 1024 * 1024;

export interface Message {
  head: { t: string } & Record<string, unknown>;
  bytes?: Uint8Array;
}

/** What sync needs of a transport: messages in order, both ways (a mesh channel satisfies it). */
export interface Channel {
  send(msg: Uint8Array): void | Promise<void>;
  receive(opts?: { signal?: AbortSignal }): Promise<Uint8Array | null>;
  /**
   * Sends the parts as one message without joining them first (a mesh channel): an object
   * chunk's 1 MiB goes to the transport as read, instead of through a 1 MiB copy per chunk.
   * The parts are the transport's from then on: the caller neither changes nor frees them.
   */
  sendParts?(parts: readonly Uint8Array[]): Promise<void>;
  /**
   * Says that a received message (or a view into it, e.g. a chunk's bytes) is no longer used
   * by anyone: the channel frees its memory at once when the channel made it (a message that
   * spanned the transport's pieces, copied into one buffer of its own), and does nothing
   * otherwise. After it the bytes read as empty.
   */
  release?(msg: Uint8Array): void;
}

/** A message as its two parts, the head (length and JSON) and the bytes, which are not copied. */
export function encodeParts(m: Message): Uint8Array[] {
  const json = Buffer.from(JSON.stringify(m.head));
  const head = Buffer.allocUnsafe(4 + json.length);
  head.writeUInt32BE(json.length, 0);
  json.copy(head, 4);
  if (head.length + (m.bytes?.length ?? 0) > MAX_MESSAGE) throw new RangeError('a sync message is too large');
  return m.bytes && m.bytes.length > 0 ? [head, m.bytes] : [head];
}

export function encodeMessage(m: Message): Buffer {
  const json = Buffer.from(JSON.stringify(m.head));
  const out = Buffer.allocUnsafe(4 + json.length + (m.bytes?.length ?? 0));
  out.writeUInt32BE(json.length, 0);
  json.copy(out, 4);
  if (m.bytes) out.set(m.bytes, 4 + json.length);
  if (out.length > MAX_MESSAGE) throw new RangeError('a sync message is too large');
  return out;
}

/** Whole objects in one packed message at most (`objs`). */
export const PACK_MAX_OBJECTS = 256;

/**
 * Several whole objects (each all of its stored bytes) as one `objs` message: head
 * `{ t: 'objs', objs: [id…], sizes: [n…] }`, bytes the objects' bytes one after another. Sent
 * only to a device that asked for it (its `want` says `packed: 1`); what it carries is exactly
 * what the `chunk` messages `{ obj, offset: 0, end: true }` of those objects would. The bytes
 * are copied into the message.
 */
export function packObjects(items: readonly { obj: string; bytes: Uint8Array }[]): Message {
  if (items.length === 0 || items.length > PACK_MAX_OBJECTS) throw new RangeError('a packed message holds 1 to 256 objects');
  return { head: { t: 'objs', objs: items.map((i) => i.obj), sizes: items.map((i) => i.bytes.length) }, bytes: Buffer.concat(items.map((i) => i.bytes)) };
}

/**
 * An `objs` message as the whole-object `chunk` messages it carries, in order; their bytes are
 * views into the message's. Throws SYNC_REJECTED unless the ids and sizes are well formed and
 * the sizes add up to exactly the bytes there are.
 */
export function unpackObjects(m: Message): Message[] {
  const { objs, sizes } = m.head as { objs?: unknown; sizes?: unknown };
  const bytes = m.bytes ?? new Uint8Array(0);
  if (!Array.isArray(objs) || !Array.isArray(sizes) || objs.length !== sizes.length || objs.length === 0 || objs.length > PACK_MAX_OBJECTS) {
    throw new ElohimError('SYNC_REJECTED', 'a malformed packed message');
  }
  const out: Message[] = [];
  let at = 0;
  for (let i = 0; i < objs.length; i++) {
    const obj = objs[i];
    const n = sizes[i];
    if (typeof obj !== 'string' || obj.length > 64 || !Number.isSafeInteger(n) || (n as number) < 1 || at + (n as number) > bytes.length) {
      throw new ElohimError('SYNC_REJECTED', 'a malformed packed message');
    }
    out.push({ head: { t: 'chunk', obj, offset: 0, end: true }, bytes: bytes.subarray(at, at + (n as number)) });
    at += n as number;
  }
  if (at !== bytes.length) throw new ElohimError('SYNC_REJECTED', 'a packed message has bytes no object claims');
  return out;
}

/** Throws SYNC_REJECTED for anything that is not a well-formed message. */
export function decodeMessage(raw: Uint8Array): Message {
  const buf = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
  if (buf.length < 4 || buf.length > MAX_MESSAGE) throw new ElohimError('SYNC_REJECTED', 'a sync message has a bad size');
  const n = buf.readUInt32BE(0);
  if (n + 4 > buf.length) throw new ElohimError('SYNC_REJECTED', 'a sync message is truncated');
  let head: unknown;
  try {
    head = JSON.parse(buf.subarray(4, 4 + n).toString('utf8'));
  } catch {
    throw new ElohimError('SYNC_REJECTED', 'a sync message is not valid JSON');
  }
  if (head === null || typeof head !== 'object' || typeof (head as { t?: unknown }).t !== 'string') throw new ElohimError('SYNC_REJECTED', 'a sync message has no type');
  const bytes = buf.subarray(4 + n);
  return { head: head as Message['head'], bytes: bytes.length > 0 ? bytes : undefined };
}
