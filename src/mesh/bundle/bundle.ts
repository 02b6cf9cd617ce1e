/**
 * Sneakernet bundles: a sync carried in one file. A bundle is a standard age file encrypted to
 * the member's age recipient (its post-quantum one when it has one), whose plaintext is the
 * messages a network sync would send, each prefixed by its u32 length:
 *
 *   hello (signed, with the share records and what this device has seen)
 *   versions…   (those the member is not known to have seen)
 *   chunk…      (the objects those versions name, whole, from offset 0)
 *   end         (how many messages came before: a cut file is refused at its end)
 *
 * Import runs the same engine calls as a network session (acceptHello, applyVersions,
 * receiveChunk), so it merges exactly as a sync would: importing a bundle twice, or an older
 * one after a newer, changes nothing the second time (known versions are skipped, covered ones
 * dropped, stored objects skipped). "Known to have seen" is what the member said in its last
 * hello (a sync or a bundle from it); with none, everything goes.
 */
import { createReadStream, createWriteStream } from 'node:fs';
import { rename, rm, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createDecryptStream, createEncryptStream, parseIdentity, parseRecipient } from '../../crypto/age/index.ts';
import { ElohimError, isElohimError } from '../../errors.ts';
import { memberOf } from '../shares/store.ts';
import type { SyncStore } from '../shares/store.ts';
import type { Engine, PeerHello } from '../sync/engine.ts';
import { decodeMessage, encodeMessage, MAX_MESSAGE } from '../sync/frame.ts';
import type { Message } from '../sync/frame.ts';

/** The member a bundle is for, by peer id or name, with its tag and recipient. */
function memberNamed(store: SyncStore, device: string) {
  for (const state of store.shares.values()) {
    const m = state.record.members.find((x) => x.peer === device || x.name === device);
    if (m !== undefined) return m;
  }
  throw new ElohimError('MESH_PEER_UNKNOWN', `no member of a share on this device is called ${device}`);
}

export async function exportBundle(engine: Engine, store: SyncStore, device: string, path: string, opts: { signal?: AbortSignal } = {}): Promise<{ versions: number; objects: number; bytes: number }> {
  const member = memberNamed(store, device);
  const recipient = member.recipients.find((r) => r.startsWith('age1pq1')) ?? member.recipients[0];
  if (recipient === undefined) throw new ElohimError('INVALID_RECIPIENT', 'that device has no age recipient');
  // Not a share this device left: nothing of it is exchanged any more.
  const shares = [...store.shares.values()].filter((s) => memberOf(s, member.dev) !== undefined && s.left === null).map((s) => s.record.share);
  // Versions signed in batches only to a member whose last hello over the network said it takes
  // them; to any other, each signed alone (engine.versionsFor says what that leaves out).
  const peer: PeerHello = { dev: member.dev, peer: member.peer, name: member.name, shares, left: [], merkle: store.cards.get(member.peer)?.merkle === true };
  const counts = { versions: 0, objects: 0, bytes: 0 };

  async function* messages(): AsyncGenerator<Buffer> {
    let n = 0;
    const frame = (m: Message) => {
      n++;
      const body = encodeMessage(m);
      const len = Buffer.alloc(4);
      len.writeUInt32BE(body.length);
      return Buffer.concat([len, body]);
    };
    yield frame(engine.hello(member.peer));
    const objects = new Map<string, string>();
    for (const m of engine.versionsFor(peer)) {
      for (const w of m.head.list as { obj: string | null; share: string }[]) if (w.obj !== null) objects.set(w.obj, w.share);
      counts.versions += (m.head.list as unknown[]).length;
      yield frame(m);
    }
    for (const [obj, share] of objects) {
      opts.signal?.throwIfAborted();
      let sent = false;
      for await (const chunk of engine.serve({ share, obj, offset: 0 }, () => true)) {
        if (chunk.head.t !== 'chunk') break; // an object this device does not hold (yet)
        counts.bytes += chunk.bytes?.length ?? 0;
        sent = true;
        yield frame(chunk);
      }
      if (sent) counts.objects++;
    }
    yield frame({ head: { t: 'end', count: n } });
  }

  if (await stat(path).then(() => true, () => false)) throw new ElohimError('ITEM_EXISTS', 'a file already exists at that path: choose another');
  if (!(await stat(dirname(path)).then((d) => d.isDirectory(), () => false))) throw new ElohimError('HOST_FILE_NOT_FOUND', 'the folder to write the bundle in does not exist');
  const temp = `${path}.partial`;
  try {
    await pipeline(Readable.from(messages()), createEncryptStream({ recipients: [parseRecipient(recipient)] }), createWriteStream(temp, { mode: 0o600, flags: 'wx' }), { signal: opts.signal });
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  return counts;
}

/** Reads the length-prefixed messages of a decrypted bundle. */
async function* readMessages(source: AsyncIterable<Buffer>): AsyncGenerator<Message> {
  let buf: Buffer = Buffer.alloc(0);
  for await (const piece of source) {
    buf = buf.length === 0 ? piece : Buffer.concat([buf, piece]);
    while (buf.length >= 4) {
      const n = buf.readUInt32BE(0);
      if (n > MAX_MESSAGE) throw new ElohimError('BUNDLE_INVALID', 'a bundle message is too large');
      if (buf.length < 4 + n) break;
      yield decodeMessage(buf.subarray(4, 4 + n));
      buf = buf.subarray(4 + n);
    }
  }
  if (buf.length > 0) throw new ElohimError('BUNDLE_INVALID', 'the bundle ends in the middle of a message');
}

/**
 * Merges a bundle. Throws BUNDLE_INVALID when it is not a bundle for this device or is cut
 * short or damaged (age authenticates every 64 KiB of it: what came before the damage was
 * checked and may be kept, nothing after it), SYNC_REJECTED for content that fails verification.
 */
export async function importBundle(engine: Engine, identities: string[], path: string, opts: { signal?: AbortSignal; onHello?: (peer: PeerHello) => void } = {}): Promise<{ versions: number; objects: number; from: string }> {
  const info = await stat(path).catch(() => null);
  if (info === null || !info.isFile()) throw new ElohimError('HOST_FILE_NOT_FOUND', 'no bundle file at that path');
  const source = createReadStream(path);
  const decrypted = source.pipe(createDecryptStream({ identities: identities.map(parseIdentity) }));
  source.on('error', (err) => decrypted.destroy(new ElohimError('HOST_IO', 'the bundle file could not be read', { cause: err })));
  let peer: PeerHello | null = null;
  let wants: Map<string, { fileKey: string; size: number }> | null = null;
  let n = 0;
  let ended = false;
  const result = { versions: 0, objects: 0, from: '' };
  try {
    for await (const m of readMessages(decrypted as AsyncIterable<Buffer>)) {
      opts.signal?.throwIfAborted();
      if (ended) throw new ElohimError('BUNDLE_INVALID', 'the bundle goes on after its end');
      if (m.head.t === 'end') {
        if (m.head.count !== n) throw new ElohimError('BUNDLE_INVALID', 'the bundle is missing messages');
        ended = true;
        continue;
      }
      n++;
      if (peer === null) {
        if (m.head.t !== 'hello') throw new ElohimError('BUNDLE_INVALID', 'the bundle does not start with a hello');
        peer = engine.acceptHello(m, null);
        result.from = peer.name;
        opts.onHello?.(peer); // what it says it left, as a network hello (the service's takeLeaves)
      } else if (m.head.t === 'versions') {
        result.versions += (await engine.applyVersions(m, peer)).length;
      } else if (m.head.t === 'chunk') {
        wants ??= new Map((await engine.wanted(peer.shares)).map((w) => [w.obj, w]));
        const want = wants.get(String(m.head.obj));
        if (want === undefined) continue; // already stored, or no longer shown: skip it
        const { done } = await engine.receiveChunk(m, want);
        if (done) {
          result.objects++;
          wants.delete(String(m.head.obj));
        }
      } else throw new ElohimError('BUNDLE_INVALID', `unexpected ${m.head.t} in a bundle`);
    }
  } catch (err) {
    if (isElohimError(err, 'AGE_NO_MATCH')) throw new ElohimError('BUNDLE_INVALID', 'the bundle is not for this device (none of its identities opens it)', { cause: err });
    if (isElohimError(err) && err.code.startsWith('AGE_')) {
      throw new ElohimError('BUNDLE_INVALID', 'the bundle is damaged or cut short', { cause: err });
    }
    throw err;
  }
  if (!ended) throw new ElohimError('BUNDLE_INVALID', 'the bundle is cut short');
  return result;
}
