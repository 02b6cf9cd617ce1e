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
import { objectKey } from './region.ts';
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
  let position = start;
  /** where `held` goes: everything before it is written */
  let written = start;
  let held: Buffer = Buffer.alloc(0);
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
  /** Writes `data` at `written` and moves it on. */
  function put(data: Buffer): void {
    let from = 0;
    for (const s of segments(region, draft.entry.extents, written, data.length)) {
      inFlight.push(writeFully(fh, data.subarray(from, from + s.length), s.at).catch(fail));
      from += s.length;
    }
    written += data.length;
  }
  async function drain(): Promise<void> {
    if (held.length > 0) {
      const rest = held;
      held = Buffer.alloc(0);
      put(rest);
    }
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
      const data = Buffer.concat([held, ...list], held.length + bytes);
      position += bytes;
      const whole = data.length - ((written + data.length) % BLOCK);
      held = Buffer.from(data.subarray(Math.max(0, whole)));
      if (whole > 0) put(data.subarray(0, whole));
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
      if (failure === null) await drain();
      else await Promise.all(inFlight.splice(0));
      await syncing;
    },
  };
}

async function writeFully(fh: StoreFile, data: Buffer, at: number): Promise<void> {
  let done = 0;
  while (done < data.length) {
    const { bytesWritten } = await fh.write(data, done, data.length - done, at + done);
    done += bytesWritten;
  }
}
