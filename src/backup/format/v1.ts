/**
 * Backup repository format, version 1: pure bytes in, bytes out (no I/O here). A later version
 * is a v2.ts beside this one, chosen by the version byte of `config`; this one refuses any other.
 * Over 300 lines because the reasoning behind the repository key sits here, where it is decided.
 *
 * ## What a repository holds
 *
 * A backup copies the WHOLE data folder, whichever vault starts it: keyslots.bin as it is,
 * every row of db.sqlite's `records` table as raw bytes (id, tag, sealed body), every object as
 * its stored bytes (the ciphertext view), and config.json. Nothing is decrypted or re-encrypted:
 * rows and objects are already ciphertext under their vaults' keys, and a vault cannot tell its
 * rows from another's without trying keys anyway. Names on the target (all flat):
 *
 *   config                 clear: "ELOHIMBK" ‖ version(1) ‖ repository id(16) ‖ key check(32)
 *   keyslots               clear: the newest keyslots.bin, byte for byte (overwritten)
 *   keyslots.mac           sealed: HMAC of `keyslots` (overwritten with it)
 *   data/<pack>            objects' stored bytes, concatenated, no framing
 *   rows/<pack>            rows, framed in the clear: (id 16 ‖ tag 16 ‖ length u32 ‖ body)*
 *   index/<kind>-<pack>    sealed: what a pack holds (id, offset, length, SHA-256 of its bytes)
 *   snapshots/<name>       sealed manifest: which rows and objects a snapshot holds, config.json
 *
 * A pack's index is written after the pack: an index names only a complete pack, so a backup
 * killed halfway leaves packs whose objects the next run finds (resume) and the packs it was
 * uploading without an index (orphans), which every reader ignores and prune removes. Deduplication is by object id (objects never change under
 * an id) and by row id plus a hash of the row's bytes. A manifest lists only what changed since
 * its parent, with a full one every MAX_DEPTH snapshots, so the metadata of a backup is in
 * proportion to what changed. Pack names start with the time, so later packs sort after earlier.
 *
 * ## The repository key, and why the decoy stays deniable
 *
 * Sealed files are ChaCha20-Poly1305 under subkeys of one repository key K, with the file's
 * name as associated data (a manifest cannot be moved or swapped for another); their content is
 * version(1) ‖ length(4) ‖ deflated JSON ‖ zero padding to 256-byte buckets. Who can get K?
 *
 * Whatever a vault can reach, an examiner who holds that vault's passphrase (and our source)
 * reaches too. So K must be reachable equally by every vault of the folder, or a backup started
 * from the decoy would differ from one started from the real vault, and the decoy's repository
 * would either lack the hidden vault's data (the folder does not come back whole) or name it.
 * The one secret every vault of a folder reaches is the FRONT vault's master key (position 1 in
 * keyslots.bin): the front vault holds it, and a vault standing behind it keeps it in its own
 * bookkeeping (the decoy's key, kept to remove it). So
 *
 *   K = HKDF(front master key, "elohim/v1 backup repository")
 *
 * The keyring derives it (keyring.backupKey(key) for an open vault, backupKeyFromImage for a
 * restore on a fresh device: keyring/backup-key.ts); this format only receives it.
 *
 * A folder without a decoy has its only vault at the front. Consequences:
 * - A backup from the decoy and one from the real vault are the same bytes in the same shape:
 *   K is the same, the content is the whole folder either way, and nothing in a manifest says
 *   which vault ran it. Against the decoy-holder, K protects nothing (they have it); the
 *   repository shows them, per snapshot, exactly what an image of the device at that moment
 *   shows (the same rows, objects, keyslots.bin and config.json), already opaque where the
 *   device is. What it adds is several images over time: see "Limits" below.
 * - Against a holder of the repository with no passphrase (a cloud provider, a found USB
 *   drive), K hides the manifests (what each snapshot holds, when it was made, config.json)
 *   and authenticates everything sealed, so `verify` finds a tampered or swapped file.
 * - Restore on a fresh device needs only the target and one secret: `keyslots` is clear (as
 *   on the device, and needed to unlock before K is known), so a passphrase or recovery code
 *   opens its vault's slot. The front vault then derives K. A vault behind the front needs its
 *   bookkeeping row, which is why rows are framed in the clear in `rows/` (they are exactly
 *   the opaque rows of db.sqlite): it takes the rows carrying its own tag, reads the front key
 *   from its bookkeeping, and derives K. No key is stored for any particular vault, so the
 *   repository has the same shape whatever vaults exist. The key check in `config` tells a
 *   wrong K (wrong folder) from damage.
 * - Only the newest keyslots.bin is kept, not one per snapshot: a history of key slots would
 *   show which slot positions changed between snapshots (a passphrase change at position 0),
 *   which no single image of the device shows. Restoring an old snapshot uses today's slots
 *   (master keys never change, so today's passphrases open it).
 *
 * Limits (for the README's threat model): a repository is several images over time. Rows and
 * objects that appear between two snapshots and that the decoy cannot account for can only be
 * explained by chaff (which maintenance adds in every folder, see cover/); a hidden vault that
 * writes much between backups leaves more than chaff explains. The repository also keeps rows
 * and objects the device has since deleted (SQLite's secure_delete wiped them there) until
 * forget and prune drop every snapshot that held them. Snapshot times are seen by the
 * decoy-holder: the app should record every backup in the front vault's audit log (every vault
 * can: the vault behind holds the front key), so no snapshot lacks an entry there. If the front
 * changes (a decoy added later, or removed), K changes: the existing repository no longer opens
 * with the new K and a new repository must be started (the vault behind could re-key it: it
 * holds both keys; not done in version 1). A restored folder's files all carry the time of the
 * restore, the same for every vault in it.
 */
import { createHash, createHmac, hash, timingSafeEqual } from 'node:crypto';
import { deflateRawSync, inflateRawSync } from 'node:zlib';
import { asSealKey, hkdf, openOrNull, seal } from '../../crypto/index.ts';
import { ElohimError } from '../../errors.ts';

export const VERSION = 1;
const MAGIC = Buffer.from('ELOHIMBK', 'latin1');
export const CONFIG_SIZE = MAGIC.length + 1 + 16 + 32;
/** A full manifest after this many deltas, so a restore reads at most this many manifests. */
export const MAX_DEPTH = 16;
/** Objects up to this size are packed together; larger ones get a pack of their own. */
export const SMALL_OBJECT = 4 * 1024 * 1024;
/** Packs are closed once they reach this size. */
export const PACK_TARGET = 16 * 1024 * 1024;
/** Bounds on what a sealed file may decompress to, so a forged length cannot exhaust memory. */
const MAX_SEALED_PLAIN = 256 * 1024 * 1024;

/** The repository key (32 bytes); branded so that no other key is passed by mistake. */
export type RepositoryKey = Buffer & { readonly __brand: 'RepositoryKey' };

export function asRepositoryKey(bytes: Buffer): RepositoryKey {
  if (bytes.length !== 32) throw new RangeError('a repository key is 32 bytes');
  return bytes as RepositoryKey;
}

type SealedKind = 'manifest' | 'index' | 'keyslots-mac';

/**
 * Each subkey derived once per repository key: a backup opens every index and manifest under
 * them, and a fresh Buffer per file was also a fresh KeyObject each (crypto/seal.ts caches those
 * by Buffer).
 */
const subkeys = new WeakMap<RepositoryKey, Map<string, Buffer>>();

function subkey(key: RepositoryKey, purpose: SealedKind | 'check' | 'mac'): Buffer {
  let mine = subkeys.get(key);
  if (mine === undefined) subkeys.set(key, (mine = new Map()));
  let k = mine.get(purpose);
  if (k === undefined) mine.set(purpose, (k = hkdf(key, Buffer.alloc(0), `elohim/backup/v1 ${purpose}`)));
  return k;
}

// ---------------------------------------------------------------------------------------------
// config (clear)

export interface RepositoryConfig {
  version: number;
  id: Buffer;
  check: Buffer;
}

function keyCheck(key: RepositoryKey, id: Buffer): Buffer {
  return createHmac('sha256', subkey(key, 'check')).update(MAGIC).update(id).digest();
}

export function encodeConfig(key: RepositoryKey, id: Buffer): Buffer {
  return Buffer.concat([MAGIC, Buffer.from([VERSION]), id, keyCheck(key, id)]);
}

/** Reads `config`; throws VAULT_CORRUPT when it is not one, VAULT_FORMAT_UNKNOWN for a newer version. */
export function decodeConfig(buf: Uint8Array): RepositoryConfig {
  const b = Buffer.from(buf);
  if (b.length < MAGIC.length + 1 || !b.subarray(0, MAGIC.length).equals(MAGIC)) {
    throw new ElohimError('VAULT_CORRUPT', 'this is not an ElohimOS backup repository');
  }
  const version = b[MAGIC.length]!;
  if (version !== VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `backup repository version ${version} is not known to this build`);
  if (b.length !== CONFIG_SIZE) throw new ElohimError('VAULT_CORRUPT', 'the backup repository header is damaged');
  return { version, id: b.subarray(9, 25), check: b.subarray(25, 57) };
}

/** Whether `key` is this repository's key (constant time). */
export function keyMatches(config: RepositoryConfig, key: RepositoryKey): boolean {
  return timingSafeEqual(keyCheck(key, config.id), config.check);
}

// ---------------------------------------------------------------------------------------------
// sealed files: seal(subkey(kind), version ‖ deflate(JSON)), the target name as associated data

/** Sealed files pad to this bucket, so their sizes say little more than their order of size. */
const SEALED_BUCKET = 256;

export function sealFile(key: RepositoryKey, kind: SealedKind, name: string, value: unknown): Buffer {
  // Level 1: an index's hex ids and digests barely compress past it (2% larger than level 6)
  // at a third of the CPU (34 ms instead of 105 for 5,000 entries); any level inflates the same.
  const packed = deflateRawSync(Buffer.from(JSON.stringify(value), 'utf8'), { level: 1 });
  const plain = Buffer.alloc(Math.ceil((5 + packed.length) / SEALED_BUCKET) * SEALED_BUCKET);
  plain[0] = VERSION;
  plain.writeUInt32BE(packed.length, 1);
  packed.copy(plain, 5);
  return seal(asSealKey(subkey(key, kind)), plain, Buffer.from(`${kind}:${name}`, 'utf8'));
}

/** Opens a sealed file. Throws OBJECT_DAMAGED when it does not authenticate (altered, moved, or another repository's). */
export function openFile(key: RepositoryKey, kind: SealedKind, name: string, sealed: Uint8Array): unknown {
  if (sealed.length < 29) throw new ElohimError('OBJECT_DAMAGED', `backup file ${name} is truncated`);
  const plain = openOrNull(asSealKey(subkey(key, kind)), sealed, Buffer.from(`${kind}:${name}`, 'utf8'));
  if (plain === null) throw new ElohimError('OBJECT_DAMAGED', `backup file ${name} failed authentication`);
  if (plain[0] !== VERSION) throw new ElohimError('VAULT_FORMAT_UNKNOWN', `backup file ${name} has version ${plain[0]}`);
  const length = plain.length >= 5 ? plain.readUInt32BE(1) : -1;
  if (length < 0 || 5 + length > plain.length) throw new ElohimError('VAULT_CORRUPT', `backup file ${name} is malformed`);
  const json = inflateRawSync(plain.subarray(5, 5 + length), { maxOutputLength: MAX_SEALED_PLAIN });
  return JSON.parse(json.toString('utf8'));
}

/** MAC of the clear `keyslots` copy, so verify finds it altered. */
export function keyslotsMac(key: RepositoryKey, keyslots: Uint8Array): string {
  return createHmac('sha256', subkey(key, 'mac')).update(keyslots).digest('hex');
}

// ---------------------------------------------------------------------------------------------
// packs and their indexes

export type PackKind = 'data' | 'rows';

/** One entry of a pack: what (object id, or row key), where, and the SHA-256 of its bytes. */
export interface PackEntry {
  /** object id, or `rowKey` of a row */
  id: string;
  offset: number;
  length: number;
  sha256: string;
}

export interface PackIndex {
  kind: PackKind;
  pack: string;
  size: number;
  entries: PackEntry[];
}

export const packPath = (kind: PackKind, pack: string) => `${kind}/${pack}`;
export const indexPath = (kind: PackKind, pack: string) => `index/${kind}-${pack}`;

/** A new pack or snapshot name: the time (so names sort by age), then 8 random bytes. */
export function newName(now: number, random: Buffer): string {
  return `${Math.floor(now).toString(36).padStart(10, '0')}-${random.toString('hex')}`;
}

export function isName(s: string): boolean {
  return /^[0-9a-z]{10}-[0-9a-f]{16}$/.test(s);
}

export function encodeIndex(key: RepositoryKey, index: PackIndex): Buffer {
  const entries = index.entries.map((e) => [e.id, e.offset, e.length, e.sha256]);
  return sealFile(key, 'index', indexPath(index.kind, index.pack), { v: 1, kind: index.kind, pack: index.pack, size: index.size, entries });
}

/** An entry that also says which pack it is in (how an opened index gives its entries). */
export interface PlacedEntry extends PackEntry {
  kind: PackKind;
  pack: string;
}

/** An opened index: its entries say their pack, so a reader's map of ids can hold them as they are. */
export interface PlacedIndex extends PackIndex {
  entries: PlacedEntry[];
}

export function decodeIndex(key: RepositoryKey, kind: PackKind, pack: string, sealed: Uint8Array): PlacedIndex {
  const body = openFile(key, 'index', indexPath(kind, pack), sealed) as { v: number; kind: string; pack: string; size: number; entries: [string, number, number, string][] };
  if (body.v !== 1 || body.kind !== kind || body.pack !== pack || !Array.isArray(body.entries)) {
    throw new ElohimError('VAULT_CORRUPT', `backup index ${pack} is malformed`);
  }
  let end = 0;
  const entries = body.entries.map(([id, offset, length, sha256]) => {
    if (typeof id !== 'string' || !Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < end || length < 0) {
      throw new ElohimError('VAULT_CORRUPT', `backup index ${pack} is malformed`);
    }
    end = offset + length;
    return { id, offset, length, sha256, kind, pack };
  });
  if (end > body.size) throw new ElohimError('VAULT_CORRUPT', `backup index ${pack} points past its pack`);
  return { kind, pack, size: body.size, entries };
}

// ---------------------------------------------------------------------------------------------
// rows

/** A row of the records table, as bytes. */
export interface Row {
  id: Buffer;
  tag: Buffer;
  body: Buffer;
}

/** A row's identity in the repository: its id and a hash of its bytes (a changed row is a new key). */
export function rowKey(row: Row): string {
  return rowKeyOfJoined(Buffer.concat([row.id, row.tag, row.body]));
}

/**
 * rowKey of a row given as one buffer, id(16) ‖ tag(16) ‖ body: how the backup reads every row
 * (engine.ts eachKeyedRow), hashed in one call with no copy. An unchanged backup computes this
 * for every row of the folder.
 */
export function rowKeyOfJoined(joined: Buffer): string {
  return `${joined.toString('hex', 0, 16)}.${hash('sha256', joined, 'hex').slice(0, 32)}`;
}

export const rowIdOfKey = (key: string) => key.slice(0, 32);

/** One row in a rows pack: id ‖ tag ‖ length(u32 BE) ‖ body. */
export function encodeRow(row: Row): Buffer {
  if (row.id.length !== 16 || row.tag.length !== 16) throw new ElohimError('VAULT_CORRUPT', 'a records row has a bad id or tag');
  const len = Buffer.alloc(4);
  len.writeUInt32BE(row.body.length);
  return Buffer.concat([row.id, row.tag, len, row.body]);
}

/**
 * A framed row's parts: copies (so a row does not keep its whole pack in memory), or with
 * `copy` false views into `buf` (for rows used at once and dropped, as the restore's bootstrap).
 */
export function decodeRow(buf: Uint8Array, copy = true): Row {
  const b = Buffer.from(buf.buffer, buf.byteOffset, buf.byteLength);
  if (b.length < 36 || b.readUInt32BE(32) !== b.length - 36) throw new ElohimError('OBJECT_DAMAGED', 'a backed-up row is malformed');
  const part = copy ? (start: number, end?: number) => Buffer.from(b.subarray(start, end)) : (start: number, end?: number) => b.subarray(start, end);
  return { id: part(0, 16), tag: part(16, 32), body: part(36) };
}

/** Every row framed in a rows pack, in order (the bootstrap reads packs without their index); `copy` as decodeRow. */
export function* framedRows(pack: Uint8Array, copy = true): Generator<Row> {
  const b = Buffer.from(pack.buffer, pack.byteOffset, pack.byteLength);
  let at = 0;
  while (at < b.length) {
    if (b.length - at < 36) throw new ElohimError('OBJECT_DAMAGED', 'a rows pack is truncated');
    const len = b.readUInt32BE(at + 32);
    if (b.length - at - 36 < len) throw new ElohimError('OBJECT_DAMAGED', 'a rows pack is truncated');
    yield decodeRow(b.subarray(at, at + 36 + len), copy);
    at += 36 + len;
  }
}

// ---------------------------------------------------------------------------------------------
// manifests

/** A snapshot's content: row keys and object ids, and config.json (base64, null when absent). */
export interface SnapshotState {
  rows: Set<string>;
  objects: Set<string>;
  config: string | null;
}

export interface Manifest {
  time: number;
  parent: string | null;
  depth: number;
  /** full: `put` is the whole snapshot and `del` is empty */
  full: boolean;
  rows: { put: string[]; del: string[] };
  objects: { put: string[]; del: string[] };
  config: string | null;
}

/** The manifest of `next` after `prev` (a delta, or a full one when the chain is long or prev is null). */
export function manifestOf(next: SnapshotState, prev: { name: string; state: SnapshotState; depth: number } | null, time: number): Manifest {
  if (prev === null || prev.depth + 1 >= MAX_DEPTH) {
    return { time, parent: null, depth: 0, full: true, rows: { put: [...next.rows].sort(), del: [] }, objects: { put: [...next.objects].sort(), del: [] }, config: next.config };
  }
  const diff = (a: Set<string>, b: Set<string>) => [...a].filter((x) => !b.has(x)).sort();
  return {
    time,
    parent: prev.name,
    depth: prev.depth + 1,
    full: false,
    rows: { put: diff(next.rows, prev.state.rows), del: diff(prev.state.rows, next.rows) },
    objects: { put: diff(next.objects, prev.state.objects), del: diff(prev.state.objects, next.objects) },
    config: next.config,
  };
}

/** `state` after applying `m` (its parent's state, or nothing for a full manifest). Returns a new state. */
export function applyManifest(parent: SnapshotState | null, m: Manifest): SnapshotState {
  const rows = new Set(m.full || parent === null ? [] : parent.rows);
  const objects = new Set(m.full || parent === null ? [] : parent.objects);
  for (const k of m.rows.del) rows.delete(k);
  for (const k of m.rows.put) rows.add(k);
  for (const k of m.objects.del) objects.delete(k);
  for (const k of m.objects.put) objects.add(k);
  return { rows, objects, config: m.config };
}

/**
 * The state a chain of manifests gives, oldest (a full one) first: one pair of sets updated in
 * place, where applying each in turn with applyManifest copied every set once per link (an
 * unchanged backup reads a chain of up to MAX_DEPTH manifests of ~20,000 names each).
 */
export function applyChain(chain: readonly Manifest[]): SnapshotState {
  const state: SnapshotState = { rows: new Set(), objects: new Set(), config: null };
  for (const m of chain) {
    if (m.full) {
      state.rows.clear();
      state.objects.clear();
    }
    for (const k of m.rows.del) state.rows.delete(k);
    for (const k of m.rows.put) state.rows.add(k);
    for (const k of m.objects.del) state.objects.delete(k);
    for (const k of m.objects.put) state.objects.add(k);
    state.config = m.config;
  }
  return state;
}

export const snapshotPath = (name: string) => `snapshots/${name}`;

export function encodeManifest(key: RepositoryKey, name: string, m: Manifest): Buffer {
  return sealFile(key, 'manifest', snapshotPath(name), { v: 1, ...m });
}

const isStrings = (x: unknown): x is string[] => Array.isArray(x) && x.every((s) => typeof s === 'string');

export function decodeManifest(key: RepositoryKey, name: string, sealed: Uint8Array): Manifest {
  const m = openFile(key, 'manifest', snapshotPath(name), sealed) as Manifest & { v: number };
  const ok =
    m.v === 1 &&
    Number.isSafeInteger(m.time) &&
    Number.isSafeInteger(m.depth) &&
    m.depth >= 0 &&
    m.depth < MAX_DEPTH &&
    typeof m.full === 'boolean' &&
    (m.parent === null || (typeof m.parent === 'string' && isName(m.parent))) &&
    m.full === (m.parent === null) &&
    isStrings(m.rows?.put) &&
    isStrings(m.rows?.del) &&
    isStrings(m.objects?.put) &&
    isStrings(m.objects?.del) &&
    (m.config === null || typeof m.config === 'string');
  if (!ok) throw new ElohimError('VAULT_CORRUPT', `backup snapshot ${name} is malformed`);
  return { time: m.time, parent: m.parent, depth: m.depth, full: m.full, rows: m.rows, objects: m.objects, config: m.config };
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}
