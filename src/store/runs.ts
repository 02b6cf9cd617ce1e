/**
 * Objects as runs of blocks of a region: where an object's bytes are in the store file, reading
 * them, and appending to an object being written (the AppendFile the one object writer writes
 * through, taking blocks from the region as the object grows). objects.ts builds the store on it.
 */
import type { PositionalReader } from '../crypto/age/index.ts';
import { ElohimError } from '../errors.ts';
import type { AppendFile } from '../vault/index.ts';
import { ENTRY } from './entries.ts';
import type { Extent, ObjectEntry } from './entries.ts';
import { BLOCK } from './format.ts';
import { movingError, objectKey } from './region.ts';
import type { Region, StoreFile } from './region.ts';

export const missing = () => new ElohimError('OBJECT_DAMAGED', 'the stored object is missing');

/** Byte runs of the store file holding bytes [pos, pos + len) of an object laid out on `extents`. */
export function segments(region: Region, extents: Extent[], pos: number, len: number): { at: number; length: number }[] {
  const out: { at: number; length: number }[] = [];
  let skip = pos;
  let left = len;
  for (const [start, count] of extents) {
    const bytes = count * BLOCK;
    if (skip >= bytes) {
      skip -= bytes;
      continue;
    }
    const n = Math.min(bytes - skip, left);
    const at = region.io.base + start * BLOCK + skip;
    const last = out.at(-1);
    if (last !== undefined && last.at + last.length === at) last.length += n;
    else out.push({ at, length: n });
    left -= n;
    skip = 0;
    if (left === 0) break;
  }
  if (left > 0) throw missing();
  return out;
}

export const blocksOf = (extents: Extent[]) => extents.reduce((n, [, c]) => n + c, 0);

/** The first `blocks` blocks of `extents`, and the rest. */
export function split(extents: Extent[], blocks: number): [Extent[], Extent[]] {
  const keep: Extent[] = [];
  const rest: Extent[] = [];
  let left = blocks;
  for (const [start, count] of extents) {
    if (left >= count) keep.push([start, count]);
    else if (left > 0) {
      keep.push([start, left]);
      rest.push([start + left, count - left]);
    } else rest.push([start, count]);
    left = Math.max(0, left - count);
  }
  return [keep, rest];
}

/** An object being written: where its bytes go, and how many are durable. */
export interface Draft {
  entry: ObjectEntry;
  /** logs the durable size at each sync (a resumable upload's partial object) */
  logged: boolean;
}

/** A positional reader of an object's stored bytes. */
export function reader(region: Region, fh: StoreFile, entry: ObjectEntry): PositionalReader {
  return {
    async read(buffer, offset, length, position) {
      const n = Math.max(0, Math.min(length, entry.size - position));
      let done = 0;
      for (const s of n > 0 ? segments(region, entry.extents, position, n) : []) {
        const { bytesRead } = await fh.read(buffer, offset + done, s.length, s.at);
        done += bytesRead;
        if (bytesRead < s.length) break;
      }
      return { bytesRead: done };
    },
  };
}

/** Bytes written between background fdatasyncs of a large object (as file.ts, and why). */
const SYNC_EVERY = 64 << 20;

/**
 * Appends at `position` of the draft, taking blocks as it grows. Bytes reach the file in whole
 * blocks (the rest waits for the next write, or for sync): a write that covers part of a page
 * the kernel no longer caches makes it read the page first, which halved a put's speed here.
 */
export function appendFile(region: Region, fh: StoreFile, draft: Draft, start: number): AppendFile {
  if (region.moving) throw movingError();
  region.writers++;
  let closed = false;
  let position = start;
  /** where `held` goes: everything before it is written */
  let written = start;
  /** bytes short of a whole block, not yet written (the writer keeps them unchanged until sync) */
  let held: Buffer[] = [];
  let heldBytes = 0;
  let synced = start;
  let syncing: Promise<void> = Promise.resolve();
  let failure: unknown = null;
  const inFlight: Promise<void>[] = [];
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const check = () => {
    if (failure !== null) throw failure;
  };
  /** Writes `list` (`bytes` in all) at `written`, one writev per run of blocks, and moves on. */
  function put(list: Buffer[], bytes: number): void {
    let rest = list;
    for (const s of segments(region, draft.entry.extents, written, bytes)) {
      const [part, after] = take(rest, s.length);
      rest = after;
      inFlight.push(writevFully(fh, part, s.length, s.at).catch(fail));
    }
    written += bytes;
  }
  async function drain(): Promise<void> {
    if (heldBytes > 0) put(held, heldBytes);
    held = [];
    heldBytes = 0;
    await Promise.all(inFlight.splice(0));
  }
  return {
    get position() {
      return position;
    },
    async write(list, bytes) {
      check();
      const need = Math.ceil((position + bytes) / BLOCK) - blocksOf(draft.entry.extents);
      if (need > 0) {
        for (const [s, n] of region.allocate(need)) {
          const last = draft.entry.extents.at(-1);
          if (last !== undefined && last[0] + last[1] === s) last[1] += n;
          else draft.entry.extents.push([s, n]);
        }
      }
      position += bytes;
      const pieces = [...held, ...list];
      const total = heldBytes + bytes;
      const whole = total - ((written + total) % BLOCK);
      if (whole > 0) {
        const [now, later] = take(pieces, whole);
        // Copied (under a block): the tail outlives this call, and a caller may reuse its buffers.
        held = later.length === 0 ? [] : [Buffer.concat(later)];
        heldBytes = total - whole;
        put(now, whole);
      } else {
        held = [Buffer.concat(pieces, total)];
        heldBytes = total;
      }
      if (written - synced >= SYNC_EVERY) {
        synced = written;
        syncing = syncing.then(() => fh.datasync()).catch(fail);
      }
      while (inFlight.length > 2) await inFlight.shift();
      check();
    },
    async sync() {
      await drain();
      await syncing;
      check();
      await fh.datasync();
      draft.entry.size = position;
      if (draft.logged) {
        const copy: ObjectEntry = { ...draft.entry, extents: draft.entry.extents.map((e): Extent => [e[0], e[1]]) };
        region.append({ type: ENTRY.OBJECTS, objects: [copy] });
        region.objects.set(objectKey(copy.id, true), copy);
      }
    },
    async close() {
      try {
        if (failure === null) await drain();
        else await Promise.all(inFlight.splice(0));
        await syncing;
      } finally {
        if (!closed) region.writers--;
        closed = true;
      }
    },
  };
}

/** The first `n` bytes of `list` and the rest, as views (nothing copied). */
function take(list: Buffer[], n: number): [Buffer[], Buffer[]] {
  const first: Buffer[] = [];
  let left = n;
  let i = 0;
  for (; i < list.length && left > 0; i++) {
    const b = list[i]!;
    if (b.length <= left) {
      first.push(b);
      left -= b.length;
    } else {
      first.push(b.subarray(0, left));
      return [first, [b.subarray(left), ...list.slice(i + 1)]];
    }
  }
  return [first, list.slice(i)];
}

/** Writes all of `buffers` (`total` bytes) at `at`, looping over short writes (as file.ts). */
async function writevFully(fh: StoreFile, buffers: Buffer[], total: number, at: number): Promise<void> {
  let { bytesWritten } = await fh.writev(buffers, at);
  if (bytesWritten < total) await writeFully(fh, Buffer.concat(buffers, total).subarray(bytesWritten), at + bytesWritten);
}

async function writeFully(fh: StoreFile, data: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, at + done);
    done += bytesWritten;
  }
}
