/**
 * A libp2p stream as a channel of whole messages, the shape every mesh protocol speaks and the
 * pool lends out. Frames (version 1 of the mesh framing):
 *
 *   type(1) ‖ length(4, big-endian) ‖ payload
 *   type: 0 message, 1 ping, 2 pong, 3 credit (payload: 4 bytes, a count of message bytes read)
 *
 * Ping and pong live in the same stream as the messages so the pool can check that a stream
 * that sat idle still carries data end to end (a libp2p connection-level ping proves only the
 * connection, and opens a stream of its own to do it). The side that receives a ping answers it
 * here; protocol handlers never see either.
 *
 * Flow control by credit: a sender has at most WINDOW bytes of messages in flight (sent, not yet
 * read by the other side's protocol); the reader grants credit as its protocol reads. Pausing the
 * libp2p stream is no substitute: a paused js-libp2p stream keeps buffering what arrives and
 * aborts past 4 MiB (StreamBufferError), so a reader slower than the network (one writing each
 * message to disk) lost its stream. With credit, what is unread stays under WINDOW here.
 *
 * Memory: every message is copied out of the pieces the transport delivered (Noise: ≤ 64 KiB each,
 * several small messages to a piece, a 1 MiB object chunk over many) into a buffer the channel
 * makes for it alone, and `release` frees that buffer at once (ArrayBuffer transfer(0)) when its
 * reader is done with it. The transport's pieces are then dropped as soon as they are read and
 * die young; handed on as views, each lived as long as the slowest message in it (a sync keeps
 * megabytes in flight), was promoted, and waited for V8's next full collection with the rest:
 * bench:sync's receiver had ~50 MiB of such buffers at the end of its 10,000 small files, and
 * 1 GiB of 1 MiB copies before. Only buffers the channel made are ever freed, never a piece of
 * the transport's (it may still hold the rest of the piece). Sending never frees anything, and a
 * freed (detached) buffer given to `send` is refused, not sent as nothing.
 *
 * Over ~300 lines as one module on purpose: framing, ping/pong, credit and buffer ownership act
 * on the same reader state (the transport's list, the credit owed, which buffers are ours), and
 * the ownership rule is only safe if one module both makes and frees.
 */
import { Uint8ArrayList } from 'uint8arraylist';
import type { Stream } from '@libp2p/interface';
import { ElohimError } from '../../errors.ts';

/** Largest message a channel carries; bigger transfers are cut into messages by the protocol. */
export const MAX_MESSAGE = 4 * 1024 * 1024;
const HEADER = 5;
const T_MESSAGE = 0;
const T_PING = 1;
const T_PONG = 2;
const T_CREDIT = 3;
/** Message bytes a sender may have unread at the other side: two messages of the largest size. */
export const WINDOW = 2 * MAX_MESSAGE;
/** The reader grants credit once it has read this much since its last grant. */
const GRANT_EVERY = WINDOW / 4;
const CLOSE_TIMEOUT_MS = 2_000;

/** What a protocol handler and a pool borrower use. */
export interface MeshChannel {
  /** the device id (peer id) of the other side */
  readonly peer: string;
  /** Sends one message (≤ MAX_MESSAGE), waiting for the stream to drain when it is full. Throws MESH_STREAM_CLOSED. */
  send(msg: Uint8Array, opts?: { signal?: AbortSignal }): Promise<void>;
  /** The next message; null when the other side closed its end. Throws MESH_STREAM_CLOSED on a reset, AbortError on the signal. */
  receive(opts?: { signal?: AbortSignal }): Promise<Uint8Array | null>;
  /** `send` of the parts joined, without joining them (the parts are the transport's from then on). */
  sendParts?(parts: readonly Uint8Array[], opts?: { signal?: AbortSignal }): Promise<void>;
  /** The reader is done with a received message (or a view into it): frees it if the channel made it. */
  release?(msg: Uint8Array): void;
}

/** The channel with what the pool needs besides. */
export interface FramedChannel extends MeshChannel {
  sendParts(parts: readonly Uint8Array[], opts?: { signal?: AbortSignal }): Promise<void>;
  release(msg: Uint8Array): void;
  /** Round trip of an in-stream ping in ms; throws MESH_STREAM_CLOSED, MESH_PEER_UNREACHABLE on timeout, the signal's reason on abort. */
  ping(timeoutMs: number, signal?: AbortSignal): Promise<number>;
  /** whether the stream can still carry messages both ways */
  usable(): boolean;
  /** messages received but not yet read (a lent stream returned with some is not clean) */
  unread(): number;
  close(): Promise<void>;
  abort(reason: string): void;
  readonly stream: Stream;
}

export function frameChannel(stream: Stream, peer: string): FramedChannel {
  const buffer = new Uint8ArrayList();
  const messages: Uint8Array[] = [];
  // messages copied out of several pieces into a buffer of their own (the only ones `release` frees)
  const owned = new WeakSet<ArrayBufferLike>();
  // credit: what we sent that the other side has not yet said it read; what we read and not yet granted
  let inFlight = 0;
  let readUngranted = 0;
  let creditWaiters: Array<() => void> = [];
  let ended = false;
  let failure: ElohimError | null = null;
  let waiter: { resolve: (m: Uint8Array | null) => void; reject: (e: unknown) => void } | null = null;
  let pong: { resolve: () => void } | null = null;

  const deliver = () => {
    if (waiter === null) return;
    const w = waiter;
    if (messages.length > 0) {
      waiter = null;
      const m = messages.shift()!;
      readUngranted += m.length;
      if (readUngranted >= GRANT_EVERY && stream.writeStatus === 'writable') {
        try {
          stream.send(creditFrame(readUngranted));
          readUngranted = 0;
        } catch {
          // closing: nothing more will be sent to us
        }
      }
      w.resolve(m);
    } else if (failure !== null) {
      waiter = null;
      w.reject(failure);
    } else if (ended) {
      waiter = null;
      w.resolve(null);
    }
  };

  const wakeSenders = () => {
    const waiting = creditWaiters;
    creditWaiters = [];
    for (const w of waiting) w();
  };

  const fail = (reason: string) => {
    if (failure === null) failure = new ElohimError('MESH_STREAM_CLOSED', reason);
    ended = true;
    deliver();
    wakeSenders();
  };

  stream.addEventListener('message', (evt) => {
    buffer.append(evt.data);
    while (buffer.byteLength >= HEADER) {
      const type = buffer.get(0);
      const length = buffer.getUint32(1);
      if (length > MAX_MESSAGE || type > T_CREDIT || (type === T_CREDIT && length !== 4)) {
        // A peer that breaks the framing is not to be trusted with the rest of the stream.
        stream.abort(new Error('mesh framing violated'));
        fail('the other device broke the mesh framing');
        return;
      }
      if (buffer.byteLength < HEADER + length) break;
      const payload = take(buffer, HEADER, length, type === T_MESSAGE ? owned : null);
      buffer.consume(HEADER + length);
      if (type === T_PING) {
        if (stream.writeStatus === 'writable') {
          try {
            stream.send(header(T_PONG, 0));
          } catch {
            // closing: the pinger will see the close
          }
        }
      } else if (type === T_PONG) {
        pong?.resolve();
        pong = null;
      } else if (type === T_CREDIT) {
        inFlight = Math.max(0, inFlight - new DataView(payload.buffer, payload.byteOffset, 4).getUint32(0));
        wakeSenders();
      } else {
        messages.push(payload);
      }
    }
    deliver();
  });
  stream.addEventListener('remoteCloseWrite', () => {
    ended = true;
    deliver();
    wakeSenders();
  });
  stream.addEventListener('close', (evt) => {
    if (evt.error !== undefined) fail(`stream ended: ${evt.error.name}`);
    ended = true;
    deliver();
    wakeSenders();
  });

  const channel: FramedChannel = {
    peer,
    stream,
    send(msg, opts) {
      return channel.sendParts([msg], opts);
    },
    async sendParts(parts, opts) {
      let length = 0;
      for (const p of parts) {
        // A freed buffer reads as empty: sending it would put a wrong message on the wire.
        if ((p.buffer as ArrayBuffer).detached) throw new ElohimError('INTERNAL', 'a freed buffer was given to a mesh channel to send');
        length += p.length;
      }
      if (length > MAX_MESSAGE) throw new ElohimError('INVALID_INPUT', `a mesh message is at most ${MAX_MESSAGE} bytes`);
      // Wait for credit: the other side has read enough of what we sent before.
      while (inFlight > 0 && inFlight + length > WINDOW && failure === null) {
        opts?.signal?.throwIfAborted();
        // the other side closed its end: no credit can come any more
        if (ended) throw new ElohimError('MESH_STREAM_CLOSED', 'the other device stopped reading');
        await new Promise<void>((resolve, reject) => {
          const signal = opts?.signal;
          const onAbort = () => {
            creditWaiters = creditWaiters.filter((w) => w !== wake);
            reject(signal!.reason);
          };
          const wake = () => {
            signal?.removeEventListener('abort', onAbort);
            resolve();
          };
          creditWaiters.push(wake);
          signal?.addEventListener('abort', onAbort, { once: true });
        });
      }
      if (failure !== null || stream.writeStatus !== 'writable') throw failure ?? new ElohimError('MESH_STREAM_CLOSED');
      inFlight += length;
      let ok: boolean;
      try {
        ok = stream.send(new Uint8ArrayList(header(T_MESSAGE, length), ...parts));
      } catch (err) {
        // closed under us (the other side went away between our check and the write)
        fail(`stream closed: ${(err as Error).name}`);
        throw failure ?? new ElohimError('MESH_STREAM_CLOSED');
      }
      if (!ok) {
        try {
          await stream.onDrain({ signal: opts?.signal });
        } catch (err) {
          opts?.signal?.throwIfAborted();
          fail(`stream closed while sending: ${(err as Error).name}`);
          throw failure ?? new ElohimError('MESH_STREAM_CLOSED');
        }
      }
    },
    receive(opts) {
      if (waiter !== null) return Promise.reject(new Error('one receive at a time on a mesh channel'));
      opts?.signal?.throwIfAborted();
      return new Promise<Uint8Array | null>((resolve, reject) => {
        const signal = opts?.signal;
        const onAbort = () => {
          waiter = null;
          reject(signal!.reason);
        };
        signal?.addEventListener('abort', onAbort, { once: true });
        waiter = {
          resolve: (m) => {
            signal?.removeEventListener('abort', onAbort);
            resolve(m);
          },
          reject: (e) => {
            signal?.removeEventListener('abort', onAbort);
            reject(e);
          },
        };
        deliver();
      });
    },
    ping(timeoutMs, signal) {
      if (!channel.usable()) return Promise.reject(failure ?? new ElohimError('MESH_STREAM_CLOSED'));
      if (signal?.aborted) return Promise.reject(signal.reason);
      const started = performance.now();
      return new Promise<number>((resolve, reject) => {
        const onAbort = () => {
          clearTimeout(timer);
          pong = null;
          reject(signal!.reason);
        };
        const timer = setTimeout(() => {
          pong = null;
          signal?.removeEventListener('abort', onAbort);
          reject(new ElohimError('MESH_PEER_UNREACHABLE', `no answer to a ping in ${timeoutMs} ms`));
        }, timeoutMs);
        signal?.addEventListener('abort', onAbort, { once: true });
        pong = {
          resolve: () => {
            clearTimeout(timer);
            signal?.removeEventListener('abort', onAbort);
            resolve(performance.now() - started);
          },
        };
        try {
          stream.send(header(T_PING, 0));
        } catch {
          clearTimeout(timer);
          pong = null;
          fail('stream closed');
          reject(new ElohimError('MESH_STREAM_CLOSED'));
        }
      });
    },
    release(msg) {
      const ab = msg.buffer;
      if (!owned.has(ab)) return;
      owned.delete(ab);
      (ab as ArrayBuffer).transfer(0);
    },
    usable: () => failure === null && !ended && stream.status === 'open' && stream.writeStatus === 'writable',
    unread: () => messages.length,
    async close() {
      // A graceful close waits for the other side to close too; one that never does is reset.
      await stream.close({ signal: AbortSignal.timeout(CLOSE_TIMEOUT_MS) }).catch(() => stream.abort(new Error('close timed out')));
    },
    abort(reason) {
      stream.abort(new Error(reason));
      fail(reason);
    },
  };
  return channel;
}

/**
 * The payload at `start` of `length` bytes. With `owned` (a message): copied into a buffer of its
 * own, recorded there so `release` may free it. Not Uint8ArrayList.subarray's copy: that may come
 * from Node's shared pool for a small message, whose memory is not this message's alone. Without
 * (the channel's own frames, read at once): a view when it lies in one piece.
 */
function take(list: Uint8ArrayList, start: number, length: number, owned: WeakSet<ArrayBufferLike> | null): Uint8Array {
  const parts = [...list.sublist(start, start + length)];
  if (owned === null && parts.length <= 1) return parts[0] ?? new Uint8Array(0);
  // Unpooled and uninitialised: every byte is written below.
  const out = Buffer.allocUnsafeSlow(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  owned?.add(out.buffer);
  return out;
}

function creditFrame(bytes: number): Uint8Array {
  const f = header(T_CREDIT, 4);
  const out = new Uint8Array(f.length + 4);
  out.set(f);
  new DataView(out.buffer).setUint32(f.length, bytes);
  return out;
}

function header(type: number, length: number): Uint8Array {
  const h = new Uint8Array(HEADER);
  h[0] = type;
  new DataView(h.buffer).setUint32(1, length);
  return h;
}
