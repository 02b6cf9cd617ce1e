/**
 * The entries of a region's log (format.ts), as bytes: pure encoding and decoding.
 *
 *   SNAPSHOT  every row (records and quarantine tables) and every object: a chain's first entry
 *   ROWS      a SQLite changeset: the rows one transaction changed
 *   OBJECTS   objects (or partial objects) kept, with where their bytes are
 *   REMOVE    objects (or partial objects) removed
 */
import { ElohimError } from '../errors.ts';

export const ENTRY = { SNAPSHOT: 1, ROWS: 2, OBJECTS: 3, REMOVE: 4 } as const;

/** A run of `count` blocks from `start`. */
export type Extent = [start: number, count: number];

export interface ObjectEntry {
  /** 16 bytes as 32 hex characters */
  id: string;
  /** a resumable upload's partial object (or an object being written), not yet published */
  partial: boolean;
  /** stored bytes that are durable */
  size: number;
  /** when it was started (ms), for cleaning partials left by a crash */
  created: number;
  extents: Extent[];
}

export interface Row {
  table: 'records' | 'quarantine';
  id: Uint8Array;
  tag: Uint8Array;
  body: Uint8Array;
}

export type Entry =
  | { type: typeof ENTRY.SNAPSHOT; rows: Row[]; objects: ObjectEntry[] }
  | { type: typeof ENTRY.ROWS; changeset: Uint8Array }
  | { type: typeof ENTRY.OBJECTS; objects: ObjectEntry[] }
  | { type: typeof ENTRY.REMOVE; objects: { id: string; partial: boolean }[] };

class Out {
  parts: Buffer[] = [];
  u8(n: number) {
    this.parts.push(Buffer.from([n]));
  }
  u32(n: number) {
    const b = Buffer.alloc(4);
    b.writeUInt32BE(n);
    this.parts.push(b);
  }
  u48(n: number) {
    const b = Buffer.alloc(6);
    b.writeUIntBE(n, 0, 6);
    this.parts.push(b);
  }
  bytes(b: Uint8Array) {
    this.u32(b.length);
    this.parts.push(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
  }
  id(hex: string) {
    this.parts.push(Buffer.from(hex, 'hex'));
  }
}

class In {
  at = 0;
  readonly buf: Buffer;
  constructor(buf: Buffer) {
    this.buf = buf;
  }
  need(n: number) {
    if (this.at + n > this.buf.length) throw new ElohimError('VAULT_CORRUPT', 'a deniable store log entry is truncated');
  }
  u8() {
    this.need(1);
    return this.buf[this.at++]!;
  }
  u32() {
    this.need(4);
    const v = this.buf.readUInt32BE(this.at);
    this.at += 4;
    return v;
  }
  u48() {
    this.need(6);
    const v = this.buf.readUIntBE(this.at, 6);
    this.at += 6;
    return v;
  }
  bytes() {
    const n = this.u32();
    this.need(n);
    const b = this.buf.subarray(this.at, this.at + n);
    this.at += n;
    return b;
  }
  id() {
    this.need(16);
    const s = this.buf.toString('hex', this.at, this.at + 16);
    this.at += 16;
    return s;
  }
}

function putObject(out: Out, o: ObjectEntry) {
  out.id(o.id);
  out.u8(o.partial ? 1 : 0);
  out.u48(o.size);
  out.u48(o.created);
  out.u32(o.extents.length);
  for (const [start, count] of o.extents) {
    out.u32(start);
    out.u32(count);
  }
}

function getObject(inp: In): ObjectEntry {
  const id = inp.id();
  const partial = inp.u8() === 1;
  const size = inp.u48();
  const created = inp.u48();
  const n = inp.u32();
  const extents: Extent[] = [];
  for (let i = 0; i < n; i++) extents.push([inp.u32(), inp.u32()]);
  return { id, partial, size, created, extents };
}

export function encodeEntry(e: Entry): Buffer {
  const out = new Out();
  out.u8(e.type);
  if (e.type === ENTRY.SNAPSHOT) {
    out.u32(e.rows.length);
    for (const r of e.rows) {
      out.u8(r.table === 'records' ? 0 : 1);
      out.bytes(r.id);
      out.bytes(r.tag);
      out.bytes(r.body);
    }
    out.u32(e.objects.length);
    for (const o of e.objects) putObject(out, o);
  } else if (e.type === ENTRY.ROWS) {
    out.bytes(e.changeset);
  } else if (e.type === ENTRY.OBJECTS) {
    out.u32(e.objects.length);
    for (const o of e.objects) putObject(out, o);
  } else {
    out.u32(e.objects.length);
    for (const o of e.objects) {
      out.id(o.id);
      out.u8(o.partial ? 1 : 0);
    }
  }
  return Buffer.concat(out.parts);
}

/** Decodes an entry. Throws VAULT_CORRUPT for bytes that are not one (a bug, under a valid seal). */
export function decodeEntry(buf: Buffer): Entry {
  const inp = new In(buf);
  const type = inp.u8();
  let e: Entry;
  if (type === ENTRY.SNAPSHOT) {
    const rows: Row[] = [];
    for (let i = inp.u32(); i > 0; i--) {
      const table = inp.u8() === 0 ? 'records' : 'quarantine';
      rows.push({ table, id: inp.bytes(), tag: inp.bytes(), body: inp.bytes() });
    }
    const objects: ObjectEntry[] = [];
    for (let i = inp.u32(); i > 0; i--) objects.push(getObject(inp));
    e = { type, rows, objects };
  } else if (type === ENTRY.ROWS) {
    e = { type, changeset: inp.bytes() };
  } else if (type === ENTRY.OBJECTS) {
    const objects: ObjectEntry[] = [];
    for (let i = inp.u32(); i > 0; i--) objects.push(getObject(inp));
    e = { type, objects };
  } else if (type === ENTRY.REMOVE) {
    const objects: { id: string; partial: boolean }[] = [];
    for (let i = inp.u32(); i > 0; i--) objects.push({ id: inp.id(), partial: inp.u8() === 1 });
    e = { type, objects };
  } else {
    throw new ElohimError('VAULT_FORMAT_UNKNOWN', `deniable store entry ${type} is newer than this build knows`);
  }
  if (inp.at !== buf.length) throw new ElohimError('VAULT_CORRUPT', 'a deniable store log entry has trailing bytes');
  return e;
}
