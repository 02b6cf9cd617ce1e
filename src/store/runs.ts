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

/** Appends at `position` of the draft, taking blocks as it grows. */
export function appendFile(region: Region, fh: StoreFile, draft: Draft, start: number): AppendFile {
  let position = start;
  let failure: unknown = null;
  const inFlight: Promise<void>[] = [];
  const fail = (err: unknown) => {
    failure ??= err;
  };
  const check = () => {
    if (failure !== null) throw failure;
  };
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
      const data = list.length === 1 ? list[0]! : Buffer.concat(list, bytes);
      let from = 0;
      for (const s of segments(region, draft.entry.extents, position, bytes)) {
        const piece = data.subarray(from, from + s.length);
        from += s.length;
        inFlight.push(writeFully(fh, piece, s.at).catch(fail));
      }
      position += bytes;
      while (inFlight.length > 2) await inFlight.shift();
      check();
    },
    async sync() {
      await Promise.all(inFlight.splice(0));
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
      await Promise.all(inFlight.splice(0));
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
