/**
 * One sync session over a channel, the same code on both sides: each sends its hello, then the
 * versions the other has not seen and `index-done`; once the other's index is in, each asks for
 * the objects it lacks (`want`, with the offset already staged, so a cut transfer resumes), and
 * answers the other's `want` with chunks and `served`; a side that received `served` has all it
 * asked for and sends `fin` after its own `served`. A side is finished when it has received the
 * other's `fin` (nothing comes after it) and its own sends are done: the channel is then at a
 * message boundary, so a pooled stream can be reused. Chunks are acknowledged (`ack`: bytes taken,
 * several chunks' at once), and a sender keeps at most WINDOW bytes unacknowledged. A side that
 * fails (it refuses what came, or cannot go on: a read error while serving) sends `rejected` with
 * why and ends at once, whatever it was waiting for; the other side ends on reading it.
 *
 * Over ~300 lines as one module on purpose: the reading loop, the sending chain, the credit
 * window and the acknowledgements share one session's state and its one failure path (a failure
 * anywhere wakes the loop and ends both sides); the engine (engine.ts, receive.ts) holds what
 * can stand apart.
 */
import { ElohimError, isElohimError } from '../../errors.ts';
import { collectGarbage } from '../../gc.ts';
import { COLLECT_AFTER, smallObjectCollector } from './collect.ts';
import { decodeMessage, encodeMessage, encodeParts, packObjects, unpackObjects } from './frame.ts';
import type { Channel, Message } from './frame.ts';
import type { Engine, PeerHello, Progress, Want } from './engine.ts';
import type { ObjectBatch } from '../../vault/index.ts';

/** Bytes of object chunks a sender may have on the way before the receiver acknowledges them. */
const WINDOW = 4 * 1024 * 1024;
/**
 * Bytes a receiver takes before it acknowledges them in one `ack` (or ACK_MS after the first of
 * them): an ack per small object was 10,000 messages through Noise and Yamux each way for
 * bench:sync's small files (~1 s of the receiver's CPU in their sends), and one per 1 MiB chunk
 * of a big file still ~0.7 ms of the receiver's CPU each at full size. Half of WINDOW: a sender
 * with WINDOW in flight always has at least one whole ack coming (the receiver holds back less
 * than ACK_BYTES), so it keeps about ACK_BYTES ahead and never waits on the timer.
 */
const ACK_BYTES = 2 * 1024 * 1024;
const ACK_MS = 50;
/**
 * Small objects (each whole in one message) packed into one `objs` message, up to these stored
 * bytes and this many objects, for a receiver that asked so (`want` with `packed: 1`): each
 * message is a channel frame, a Yamux frame, a Noise frame and a JSON head on both sides, and a
 * 1-8 KiB object carried alone paid all of that for a few kilobytes. Under 64 KiB with its head,
 * so a pack is one Noise frame (at most 65,535 bytes).
 */
const PACK_BYTES = 60 * 1024;
const PACK_OBJECTS = 64;

/** A `want` head, saying that this side reads packed small objects (`objs`). */
export function wantHead(list: readonly Want[]): Message['head'] {
  return { t: 'want', list: list.map(({ share, obj, offset }) => ({ share, obj, offset })), packed: 1 };
}

/** Whole small objects written at once by a receiver. */
const WRITERS = 8;
/**
 * A receiver's batch is committed (made durable, put in place) at this many objects, or this
 * many bytes of objects that came whole, and at the end of the session: a crash loses at most
 * this much received work, which the next sync asks for again. Big objects taken from their
 * staged files do not count: a crash before their commit leaves the staged file complete, and
 * the next sync only takes it again, so committing each at once would stall the transfer on a
 * file-system sync per big file for nothing.
 */
const COMMIT_OBJECTS = 2000;
const COMMIT_BYTES = 64 * 1024 * 1024;

export interface SessionResult {
  peer: PeerHello;
  /** versions received that were new */
  versions: number;
  objects: number;
  bytes: number;
}

export interface SessionOptions {
  signal?: AbortSignal;
  onProgress?: (p: Progress) => void;
  /** after the peer's hello is accepted, before any version is sent (the witness exchange) */
  onHello?: (peer: PeerHello, send: (m: Message) => Promise<void>) => Promise<void> | void;
  /** messages of other protocols' halves carried in the session (the witness's) */
  onExtra?: (m: Message, peer: PeerHello) => Promise<void> | void;
}

export async function runSession(
  engine: Engine,
  channel: Channel,
  channelPeer: string,
  opts: SessionOptions = {},
): Promise<SessionResult> {
  const signal = opts.signal;
  let sentBytes = 0;
  const small = smallObjectCollector();
  // An object chunk's bytes go to a mesh channel as read, not copied into one message first.
  const send = async (m: Message) => {
    signal?.throwIfAborted();
    sentBytes += m.bytes?.length ?? 0;
    if ((m.head.t === 'chunk' && m.head.offset === 0 && m.head.end === true) || m.head.t === 'objs') small(m.bytes?.length ?? 0);
    if (channel.sendParts !== undefined) await channel.sendParts(encodeParts(m));
    else await channel.send(encodeMessage(m));
  };
  // A packed message's objects, handed out one at a time as the chunks they are; its buffer is
  // released once every one of them is (parts: how many are still out).
  const unpacked: Message[] = [];
  const parts = new WeakMap<ArrayBufferLike, number>();
  const receive = async (): Promise<Message> => {
    if (unpacked.length > 0) return unpacked.shift()!;
    const raw = await channel.receive({ signal });
    if (raw === null) throw new ElohimError('MESH_STREAM_CLOSED', 'the other device ended the sync before it finished');
    const m = decodeMessage(raw);
    // Its head is parsed (strings of its own): a message without bytes is read in full. One with
    // bytes (a chunk) is released once they are written.
    if (m.bytes === undefined) channel.release?.(raw);
    if (m.head.t !== 'objs') return m;
    const chunks = unpackObjects(m);
    parts.set(m.bytes!.buffer, chunks.length);
    unpacked.push(...chunks.slice(1));
    return chunks[0]!;
  };
  const release = (bytes: Uint8Array) => {
    const left = parts.get(bytes.buffer);
    if (left !== undefined && left > 1) return void parts.set(bytes.buffer, left - 1);
    parts.delete(bytes.buffer);
    channel.release?.(bytes);
  };

  // Objects that arrive whole go into one batch, made durable together: the session's callers
  // show received files (vault items pointing at these objects) only after it returns.
  const batch = engine.newBatch();
  let result: SessionResult;
  try {
    result = await exchange(engine, send, receive, channelPeer, opts, batch, release, small);
  } catch (err) {
    // What was received and checked is kept (the next sync need not ask for it again).
    await batch?.commit().catch(() => batch.abort().catch(() => {}));
    // Tell the other side why, so it does not report a mere closed connection (or wait on).
    const told = toldOf(err);
    if (told !== null) await send({ head: told }).catch(() => {});
    throw err;
  }
  try {
    await batch?.commit();
  } catch (err) {
    await batch?.abort().catch(() => {});
    throw err;
  }
  // The transfer's dead buffers go now, before the caller shows what came (collect.ts says why).
  if (result.bytes >= COLLECT_AFTER || sentBytes >= COLLECT_AFTER) collectGarbage();
  return result;
}

/**
 * What this side tells the other when it fails: `rejected` with the reason. A refusal
 * (SYNC_REJECTED) says what was refused; any other failure of ours (a read error while serving,
 * a full disk) is marked `failed`, so the other side reports that this one stopped, not that it
 * refused, and carries our own words only (a library's or the system's message may hold a
 * path). Nothing is said when the stream ended or the session was aborted: there is nobody to
 * tell, or the abort is the caller's own doing and closes the stream.
 */
function toldOf(err: unknown): Message['head'] | null {
  if (isElohimError(err, 'SYNC_REJECTED')) return { t: 'rejected', message: err.message };
  if (isElohimError(err, 'MESH_STREAM_CLOSED') || (err as Error | null)?.name === 'AbortError') return null;
  const words = isElohimError(err) && err.code !== 'INTERNAL' ? err.message : 'an error on that device';
  return { t: 'rejected', failed: true, message: words };
}

async function exchange(
  engine: Engine,
  send: (m: Message) => Promise<void>,
  receive: () => Promise<Message>,
  channelPeer: string,
  opts: SessionOptions,
  batch: ObjectBatch | null,
  /** a received chunk's bytes are written (or not needed): the channel may free them now */
  release: (bytes: Uint8Array) => void,
  /** bytes of an object that came whole were taken (smallObjectCollector) */
  small: (bytes: number) => void,
): Promise<SessionResult> {
  await send(engine.hello(channelPeer));
  const first = await receive();
  const peer = engine.acceptHello(first, channelPeer);
  await opts.onHello?.(peer, send);
  const progress: Progress = { versions: 0, objects: 0, bytes: 0, totalObjects: 0, totalBytes: 0 };
  const report = () => opts.onProgress?.({ ...progress });

  // Our versions, then our half of the objects, run beside the reading loop; sends are in order
  // because one task sends at a time (the versions first, then each served object in turn).
  let sending: Promise<void> = (async () => {
    for (const m of engine.versionsFor(peer)) await send(m);
    await send({ head: { t: 'index-done' } });
  })();
  const allowed = (share: string) => peer.shares.includes(share);
  // The objects the other side asks for, read into the page cache ahead of serving them (warm.ts).
  const warming = engine.warmer(allowed);

  // Flow control of our own: at most WINDOW bytes of chunks sent and not yet acknowledged. A receiver
  // that writes each chunk to disk reads slower than loopback delivers, and a libp2p stream that
  // is paused still buffers what arrives until it fails (StreamBufferError), so the sender must
  // wait rather than rely on the transport's backpressure.
  let inFlight = 0;
  let creditWaiter: (() => void) | null = null;
  /** Set when the session fails: a sender waiting for credit that will never come stops (below). */
  let stopped = false;
  const withCredit = async (m: Message) => {
    const n = m.bytes?.length ?? 0;
    while (inFlight > 0 && inFlight + n > WINDOW) {
      if (stopped) throw new ElohimError('MESH_STREAM_CLOSED', 'the sync ended before this object was sent');
      await new Promise<void>((resolve) => (creditWaiter = resolve));
    }
    inFlight += n;
    await send(m);
  };

  /**
   * Served objects' messages sent in order, chunks within the credit window; with `packed`,
   * small objects whole in one message each go several to a message (PACK_BYTES).
   */
  const sendObjects = async (source: AsyncIterable<Message>, packed: boolean) => {
    let pack: { obj: string; bytes: Uint8Array }[] = [];
    let packBytes = 0;
    const flush = async () => {
      if (pack.length === 0) return;
      const items = pack;
      pack = [];
      packBytes = 0;
      await withCredit(items.length === 1 ? { head: { t: 'chunk', obj: items[0]!.obj, offset: 0, end: true }, bytes: items[0]!.bytes } : packObjects(items));
    };
    for await (const m of source) {
      const n = m.bytes?.length ?? 0;
      if (packed && m.head.t === 'chunk' && m.head.offset === 0 && m.head.end === true && n > 0 && n <= PACK_BYTES) {
        if (packBytes + n > PACK_BYTES || pack.length === PACK_OBJECTS) await flush();
        pack.push({ obj: String(m.head.obj), bytes: m.bytes! });
        packBytes += n;
        continue;
      }
      await flush();
      await (m.head.t === 'chunk' ? withCredit(m) : send(m));
    }
    await flush();
  };

  // Acknowledgements held back until ACK_BYTES or ACK_MS (see ACK_BYTES).
  let unacked = 0;
  let ackTimer: NodeJS.Timeout | null = null;
  const flushAcks = () => {
    if (ackTimer !== null) clearTimeout(ackTimer);
    ackTimer = null;
    if (unacked === 0) return;
    const n = unacked;
    unacked = 0;
    send({ head: { t: 'ack', n } }).catch(keep);
  };
  const ack = (n: number) => {
    unacked += n;
    if (unacked >= ACK_BYTES) flushAcks();
    else ackTimer ??= setTimeout(flushAcks, ACK_MS);
  };

  const writing = new Set<Promise<void>>();
  // One commit at a time, in the background: receiving goes on meanwhile (what arrives lands in
  // the batch's next round); the session waits for it before its own last commit.
  let committing: Promise<void> | null = null;
  let wholeBytes = 0;
  const commitSoon = () => {
    if (committing !== null) return;
    wholeBytes = 0;
    committing = batch!.commit().then(
      () => void (committing = null),
      (err) => {
        committing = null;
        fail(err);
      },
    );
  };
  const wants = new Map<string, Want & { fileKey: string; size: number }>();
  /** objects of this session kept already */
  const received = new Set<string>();
  // The objects of each batch of versions are asked for as soon as it is kept, while the rest
  // of the index arrives, so the other side starts serving them (it answers each `want` with
  // its objects and a `served`, as it always did: an older device serves these wants the same
  // way, and an older asker sends one). Why: the receiver checked 10,000 versions (~2 s at full
  // size) before its one `want`, with the sender idle meanwhile. Versions a later batch covers
  // may have had their objects fetched for nothing (kept, then released as any unnamed object).
  let indexing: Promise<void> = Promise.resolve();
  let wantsSent = 0;
  let servedSeen = 0;
  /** our last `want` (at their `index-done`) is sent: the `served` answering it ends our half */
  let lastWant = false;
  const asked = (obj: string) => wants.has(obj) || received.has(obj);
  const ask = (list: (Want & { fileKey: string; size: number })[]): Promise<void> => {
    for (const w of list) wants.set(w.obj, w);
    progress.totalObjects += list.length;
    progress.totalBytes += list.reduce((n, w) => n + w.size, 0);
    report();
    wantsSent++;
    return send({ head: wantHead(list) });
  };
  let theirFin = false;
  let failure: unknown = null;
  // A failure outside the reading loop (the sending chain, a write, a commit) must end the
  // session at once: the loop may be waiting for a message that never comes (the other side
  // waits for our `served`, which the failed chain will not send), so it is woken, not left to
  // find the failure at its next message.
  // (One waiter per read, dropped when it settles: racing every read against one shared
  // promise would keep a reaction per message until the session ends.)
  let wake: ((err: unknown) => void) | null = null;
  const next = () =>
    new Promise<Message>((resolve, reject) => {
      wake = reject;
      receive().then(resolve, reject);
    }).finally(() => (wake = null));
  const fail = (err: unknown) => {
    failure ??= err;
    wake?.(failure);
  };
  // A send that failed because the stream closed shows up as the end of what we read, after
  // whatever the other side said before closing (it may have said why: `rejected`).
  const keep = (err: unknown) => {
    if (!isElohimError(err, 'MESH_STREAM_CLOSED')) fail(err);
  };
  sending.catch(keep);

  try {
    while (!theirFin) {
      if (failure !== null) throw failure;
      const m = await next();
      switch (m.head.t) {
        case 'versions': {
          // Checked (its signatures on the libuv pool: engine.applyVersions), kept, and its new
          // objects asked for, one batch after another in the order they came, while the loop
          // reads on. One at a time: every batch checked at once (10,000 signatures queued on
          // the pool) held the first batch's want back ~0.8 s in bench:sync's small files.
          const share = String(m.head.share);
          indexing = indexing.then(async () => {
            const added = await engine.applyVersions(m, peer);
            progress.versions += added.length;
            report();
            if (added.length === 0) return;
            const list = await engine.wanted(peer.shares, { share, versions: added }, asked);
            if (list.length > 0) await ask(list).catch(keep);
          });
          indexing.catch(fail);
          break;
        }
        case 'index-done': {
          await indexing;
          // What is still missing and not asked for yet (every want is answered by a `served`:
          // the last one, this, is always sent, so the other side's `served` ends our half).
          const list = await engine.wanted(peer.shares, undefined, asked);
          await sending.catch(keep);
          lastWant = true;
          await ask(list).catch(keep);
          break;
        }
        case 'want': {
          const list = m.head.list;
          if (!Array.isArray(list) || list.length > 1_000_000 || list.some((w) => w === null || typeof w !== 'object')) throw new ElohimError('SYNC_REJECTED', 'a malformed object request');
          const packed = m.head.packed === 1;
          warming?.add(list as Want[]);
          sending = sending.then(async () => {
            await sendObjects(engine.serveAll(list as Want[], allowed, warming ?? undefined), packed);
            await send({ head: { t: 'served' } });
          });
          sending.catch(keep);
          break;
        }
        case 'chunk': {
          const want = wants.get(String(m.head.obj));
          if (want === undefined && received.has(String(m.head.obj))) {
            // Sent again (asked twice, say): it is kept already; take nothing, keep the credit flowing.
            ack(m.bytes?.length ?? 0);
            if (m.bytes !== undefined) release(m.bytes);
            break;
          }
          if (want === undefined) throw new ElohimError('SYNC_REJECTED', 'an object nobody asked for');
          // (its length now: once released, the bytes read as empty)
          const length = m.bytes?.length ?? 0;
          const take = async () => {
            let taken: { bytes: number; done: boolean };
            try {
              taken = await engine.receiveChunk(m, want, batch);
            } finally {
              // Written to its staged file or its batch, or refused: nothing reads these bytes
              // again, and a 1 MiB chunk freed now is not left for V8's next full collection.
              if (m.bytes !== undefined) release(m.bytes);
            }
            const { bytes, done } = taken;
            if (m.head.offset === 0 && m.head.end === true) {
              wholeBytes += bytes;
              small(bytes);
            }
            if (batch !== null && (batch.size >= COMMIT_OBJECTS || wholeBytes >= COMMIT_BYTES)) commitSoon();
            ack(length);
            progress.bytes += bytes;
            if (done) {
              progress.objects++;
              wants.delete(want.obj);
              received.add(want.obj);
            }
            report();
          };
          if (m.head.offset === 0 && m.head.end === true) {
            // A whole object in one message: written beside the next ones (up to WRITERS at once),
            // so small files' fsyncs overlap instead of queueing one after another.
            while (writing.size >= WRITERS) await Promise.race(writing);
            const task: Promise<void> = take().then(
              () => void writing.delete(task),
              (err) => {
                writing.delete(task);
                fail(err);
              },
            );
            writing.add(task);
          } else await take();
          break;
        }
        case 'ack': {
          inFlight = Math.max(0, inFlight - (Number.isSafeInteger(m.head.n) ? (m.head.n as number) : 0));
          (creditWaiter as (() => void) | null)?.();
          creditWaiter = null;


          break;
        }
        case 'missing':
          wants.delete(String(m.head.obj));
          break;
        case 'served': {
          // One per `want` of ours, in order: more are coming while ours are not all answered.
          if (++servedSeen !== wantsSent || !lastWant) break;
          // We have all we asked for once the writes in flight end. `fin` goes after our own
          // `served` (the chain is in order, and their `want` came before their `served`), so it
          // is the last thing we send.
          const inFlightWrites = Promise.all(writing);
          sending = sending.then(async () => {
            await inFlightWrites;
            if (failure !== null) throw failure;
            await send({ head: { t: 'fin' } });
          });
          sending.catch(keep);
          break;
        }
        case 'fin':
          theirFin = true;
          break;
        case 'rejected':
          if (m.head.failed === true) throw new ElohimError('SYNC_REJECTED', `the other device stopped the sync: ${String(m.head.message).slice(0, 200)}`);
          throw new ElohimError('SYNC_REJECTED', `the other device refused what this device sent: ${String(m.head.message).slice(0, 200)}`);
        default:
          await opts.onExtra?.(m, peer);
      }
    }
  } catch (err) {
    // A sender waiting for credit is stopped: no ack will come, and left waiting it kept the
    // object's serve generator, and the file its read stream holds open, until a collection.
    stopped = true;
    (creditWaiter as (() => void) | null)?.();
    creditWaiter = null;
    // Writes in flight finish first, so that every object checked by now is in the batch the
    // caller commits (one written after that commit would stay claimed and never be kept).
    await Promise.allSettled(writing);
    await committing;
    // Nor is a batch of versions kept after the session ends.
    await indexing.catch(() => {});
    throw err;
  } finally {
    if (ackTimer !== null) clearTimeout(ackTimer);
    warming?.close();
  }
  await Promise.all(writing);
  await committing;
  await sending;
  if (failure !== null) throw failure;
  return { peer, versions: progress.versions, objects: progress.objects, bytes: progress.bytes };
}
