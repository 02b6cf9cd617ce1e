/**
 * Share keys, signatures and the wire form of share records and index versions. Pure
 * bytes-in/bytes-out; nothing here touches storage.
 *
 * - Each device (per vault) signs what it writes with an Ed25519 key derived from its vault key
 *   (`elohim/v1 mesh-sync signing`): it never leaves the device, and a decoy vault has its own.
 *   Its tag (`DeviceTag`) is 16 hex digits of the SHA-256 of the public key.
 * - A share has a key per epoch (32 random bytes), sealed under HKDF of a 16-byte age file key
 *   that is wrapped to each member's age recipient in a standard age header (hybrid mlkem768x25519
 *   when the member has a post-quantum recipient, else X25519): no vault key ever leaves its
 *   device, and a member's key is only as strong as age's wrapping. Removing a member starts a
 *   new epoch whose key the removed device never gets; each new epoch carries the older keys
 *   sealed under the new one, so a member added later reads the history.
 * - An index version is signed by its author (every field, the sealed content included); its
 *   content (path, size, SHA-256, file key, time) is sealed under the epoch's key, bound to the
 *   share, entry, author, counter and epoch, so names never cross the wire in the clear. The
 *   versions a device makes together (a scan) are signed in batches: one signature over the
 *   root of a Merkle tree of up to TREE_LEAVES of them (merkle.ts), each version carrying that
 *   signature, its leaf index and its path (`proof`), so it is still checked alone (forwarded,
 *   bundled, stored) and a receiver checks one signature per root instead of one per version.
 *   Versions signed one by one (`sig`, older builds) are still taken.
 * - The share record (name, members, roles, wrapped keys) is signed by the share's owner; only
 *   the owner changes it, and a record is accepted only over the one already held (epoch, then
 *   rev).
 *
 * Over ~300 lines as one module: the records, versions and their checks share the wire shapes,
 * the canonical bytes and the signing keys; a split would pass those between files. (The tree
 * itself, pure hashing, is merkle.ts.)
 */
import { createHash, randomBytes, createPrivateKey, createPublicKey, sign as edSign, verify as edVerify } from 'node:crypto';
import type { KeyObject } from 'node:crypto';
import { encodeHeader, fileKeyFromBytes, generateFileKey, parseHeader, parseIdentity, parseRecipient, unwrapHeader, wrapFileKeyForRecipients } from '../../crypto/age/index.ts';
import { asSealKey, hkdf, openOrNull, seal } from '../../crypto/index.ts';
import type { SealKey } from '../../crypto/index.ts';
import { ElohimError } from '../../errors.ts';
import type { DeviceTag, Version, VersionContent } from './crdt.ts';
import { leafHash, merkleTree, rootFromPath } from './merkle.ts';

const PKCS8_ED25519 = Buffer.from('302e020100300506032b657004220420', 'hex');
const SPKI_ED25519 = Buffer.from('302a300506032b6570032100', 'hex');

/** This device's signer: the private key stays inside. */
export interface DeviceSigner {
  readonly tag: DeviceTag;
  /** raw 32-byte public key, base64 */
  readonly publicKey: string;
  sign(bytes: Uint8Array): string;
}

export function deviceSigner(seed: Buffer): DeviceSigner {
  if (seed.length !== 32) throw new RangeError('a signing seed is 32 bytes');
  const key = createPrivateKey({ key: Buffer.concat([PKCS8_ED25519, seed]), format: 'der', type: 'pkcs8' });
  const raw = createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(SPKI_ED25519.length);
  const publicKey = Buffer.from(raw).toString('base64');
  return { tag: tagOf(publicKey), publicKey, sign: (bytes) => edSign(null, bytes, key).toString('base64') };
}

export function tagOf(publicKey: string): DeviceTag {
  return createHash('sha256').update(Buffer.from(publicKey, 'base64')).digest('hex').slice(0, 16);
}

const publicKeys = new Map<string, KeyObject>();
function publicKeyObject(publicKey: string): KeyObject {
  let key = publicKeys.get(publicKey);
  if (key === undefined) {
    const raw = Buffer.from(publicKey, 'base64');
    if (raw.length !== 32) throw new ElohimError('SYNC_REJECTED', 'a signing key is not 32 bytes');
    key = createPublicKey({ key: Buffer.concat([SPKI_ED25519, raw]), format: 'der', type: 'spki' });
    if (publicKeys.size > 1000) publicKeys.clear();
    publicKeys.set(publicKey, key);
  }
  return key;
}

export function verifySignature(publicKey: string, bytes: Uint8Array, sig: string): boolean {
  const s = Buffer.from(sig, 'base64');
  return s.length === 64 && edVerify(null, bytes, publicKeyObject(publicKey), s);
}

/**
 * verifySignature on the libuv pool (crypto.verify with a callback): the same check, off the
 * main thread. Resolves false, never rejects, for anything that does not verify.
 */
export function verifySignatureOnPool(publicKey: string, bytes: Uint8Array, sig: string): Promise<boolean> {
  const s = Buffer.from(sig, 'base64');
  if (s.length !== 64) return Promise.resolve(false);
  const key = publicKeyObject(publicKey);
  return new Promise((resolve) => edVerify(null, bytes, key, s, (err, ok) => resolve(err === null && ok === true)));
}

/** Canonical bytes of a JSON value: object keys sorted, so both sides sign and check the same bytes. */
export function canonical(value: unknown): Buffer {
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v !== null && typeof v === 'object') {
      const out: Record<string, unknown> = {};
      for (const k of Object.keys(v).sort()) out[k] = walk((v as Record<string, unknown>)[k]);
      return out;
    }
    return v;
  };
  return Buffer.from(JSON.stringify(walk(value)));
}

// ---------------------------------------------------------------------------------------------
// Share records

export type Role = 'owner' | 'rw' | 'ro';

export interface Member {
  dev: DeviceTag;
  /** the libp2p peer id the device speaks from */
  peer: string;
  name: string;
  signPub: string;
  recipients: string[];
  role: Role;
  /** on a former member: the epoch that shut it out (its versions sealed before it stay valid) */
  until?: number;
}

/** A share's record as it travels: signed by the owner. */
export interface ShareRecord {
  v: 1;
  share: string;
  epoch: number;
  rev: number;
  owner: DeviceTag;
  members: Member[];
  /** removed members, kept so the versions they wrote while members stay valid */
  former: Member[];
  /** per member tag: base64 of an age header wrapping this epoch's key to that member */
  keys: Record<DeviceTag, string>;
  /** earlier epochs' keys (JSON {epoch: base64}) sealed under this epoch's key; '' at epoch 1 */
  prev: string;
  /** the share's name, sealed under this epoch's key */
  name: string;
  sig: string;
}

const recordAad = (share: string, epoch: number, what: string) => Buffer.from(`elohim/v1 share ${what}|${share}|${epoch}`);

function epochKeyOf(fileKey: Uint8Array): SealKey {
  return asSealKey(hkdf(Buffer.from(fileKey), Buffer.alloc(0), 'elohim/v1 mesh share key'));
}

/** The recipient a member's share key is wrapped to: its post-quantum one when it has one. */
function wrapRecipient(member: Member) {
  const pq = member.recipients.find((r) => r.startsWith('age1pq1'));
  const chosen = pq ?? member.recipients.find((r) => r.startsWith('age1'));
  if (chosen === undefined) throw new ElohimError('INVALID_RECIPIENT', `device ${member.name} has no age recipient`);
  return parseRecipient(chosen);
}

/**
 * A new share record for `members` (the owner among them) at `epoch`, with a new epoch key;
 * `previous` are the earlier epochs' keys, carried sealed. Returns the record and the new key.
 */
export function newShareRecord(
  signer: DeviceSigner,
  opts: { share: string; name: string; epoch: number; rev: number; members: Member[]; former: Member[]; previous: Record<number, Buffer> },
): { record: ShareRecord; key: Buffer } {
  const key = randomBytes(32);
  const keys: Record<DeviceTag, string> = {};
  for (const m of opts.members) keys[m.dev] = wrapEpochKey(key, m);
  const prevJson: Record<string, string> = {};
  for (const [epoch, k] of Object.entries(opts.previous)) prevJson[epoch] = k.toString('base64');
  const prev = opts.epoch > 1 ? seal(asSealKey(key), canonical(prevJson), recordAad(opts.share, opts.epoch, 'prev')).toString('base64') : '';
  const unsigned = {
    v: 1 as const,
    share: opts.share,
    epoch: opts.epoch,
    rev: opts.rev,
    owner: signer.tag,
    members: opts.members,
    former: opts.former,
    keys,
    prev,
    name: seal(asSealKey(key), Buffer.from(opts.name), recordAad(opts.share, opts.epoch, 'name')).toString('base64'),
  };
  return { record: { ...unsigned, sig: signer.sign(canonical(unsigned)) }, key };
}

/** The same record with new members/roles but the same epoch key (adding a member, changing a role). */
export function reviseShareRecord(signer: DeviceSigner, record: ShareRecord, key: Buffer, members: Member[]): ShareRecord {
  const keys: Record<DeviceTag, string> = {};
  for (const m of members) {
    if (record.keys[m.dev] !== undefined) keys[m.dev] = record.keys[m.dev]!;
    else keys[m.dev] = wrapEpochKey(key, m);
  }
  const { sig: _sig, ...rest } = record;
  const unsigned = { ...rest, rev: record.rev + 1, members, keys };
  return { ...unsigned, sig: signer.sign(canonical(unsigned)) };
}

/**
 * The same record under a new name (sealed under the epoch key, as at creation), one revision
 * later and signed again: members take it as any newer record of the owner's.
 */
export function renameShareRecord(signer: DeviceSigner, record: ShareRecord, key: Buffer, name: string): ShareRecord {
  const { sig: _sig, ...rest } = record;
  const unsigned = { ...rest, rev: record.rev + 1, name: seal(asSealKey(key), Buffer.from(name), recordAad(record.share, record.epoch, 'name')).toString('base64') };
  return { ...unsigned, sig: signer.sign(canonical(unsigned)) };
}

/**
 * Wraps an epoch key (32 random bytes) to one member: a standard age header for a new 16-byte
 * file key, followed by the epoch key sealed under HKDF of that file key (age wraps only 16-byte
 * file keys). Stored as base64 of `header ‖ sealed`.
 */
function wrapEpochKey(key: Buffer, member: Member): string {
  const fileKey = generateFileKey();
  const header = encodeHeader(wrapFileKeyForRecipients([wrapRecipient(member)], fileKey), fileKey);
  const boxed = seal(epochKeyOf(fileKey), key, Buffer.from('elohim/v1 share rewrap'));
  return Buffer.concat([header, boxed]).toString('base64');
}

/**
 * Checks a share record's signature and shape. `knownOwnerKey`: the owner's signing key already
 * held for this share (a record signed by anyone else is refused). Throws SYNC_REJECTED.
 */
export function verifyShareRecord(record: unknown, knownOwnerKey?: string): ShareRecord {
  const r = record as ShareRecord;
  const bad = (why: string) => new ElohimError('SYNC_REJECTED', `a share record was refused: ${why}`);
  if (r === null || typeof r !== 'object' || r.v !== 1) throw bad('unknown version');
  if (!/^[0-9a-f]{32}$/.test(r.share) || !Number.isSafeInteger(r.epoch) || r.epoch < 1 || !Number.isSafeInteger(r.rev) || r.rev < 1) throw bad('malformed');
  if (!Array.isArray(r.members) || r.members.length === 0 || r.members.length > 256 || !Array.isArray(r.former) || r.former.length > 1024) throw bad('malformed member list');
  for (const m of [...r.members, ...r.former]) {
    if (typeof m.dev !== 'string' || typeof m.peer !== 'string' || typeof m.name !== 'string' || typeof m.signPub !== 'string' || !Array.isArray(m.recipients)) throw bad('malformed member');
    if (!['owner', 'rw', 'ro'].includes(m.role) || tagOf(m.signPub) !== m.dev) throw bad('a member tag does not match its key');
  }
  const owner = r.members.find((m) => m.dev === r.owner && m.role === 'owner');
  if (owner === undefined) throw bad('the owner is not a member');
  if (knownOwnerKey !== undefined && owner.signPub !== knownOwnerKey) throw bad('signed by another owner');
  const { sig, ...unsigned } = r;
  if (typeof sig !== 'string' || !verifySignature(owner.signPub, canonical(unsigned), sig)) throw bad('the signature does not verify');
  return r;
}

/** This member's key of the record's epoch, with the age identities of this device. Throws AGE_NO_MATCH when it is not for us. */
export function unwrapShareKey(record: ShareRecord, dev: DeviceTag, identities: string[]): Buffer {
  const wrapped = record.keys[dev];
  if (wrapped === undefined) throw new ElohimError('SHARE_NOT_FOUND', 'this device is not a member of the share');
  const bytes = Buffer.from(wrapped, 'base64');
  const parsed = parseHeader(bytes);
  const fileKey = unwrapHeader(parsed, identities.map(parseIdentity));
  const headerLength = parsed.headerNoMac.length + bytes.subarray(parsed.headerNoMac.length).indexOf(0x0a) + 1;
  const key = openOrNull(epochKeyOf(fileKey), bytes.subarray(headerLength), Buffer.from('elohim/v1 share rewrap'));
  if (key === null) throw new ElohimError('SYNC_REJECTED', 'a wrapped share key failed authentication');
  return key;
}

/** The earlier epochs' keys a record carries. */
export function previousKeys(record: ShareRecord, key: Buffer): Record<number, Buffer> {
  if (record.prev === '') return {};
  const opened = openOrNull(asSealKey(key), Buffer.from(record.prev, 'base64'), recordAad(record.share, record.epoch, 'prev'));
  if (opened === null) throw new ElohimError('SYNC_REJECTED', 'the earlier share keys failed authentication');
  const out: Record<number, Buffer> = {};
  for (const [epoch, k] of Object.entries(JSON.parse(opened.toString()) as Record<string, string>)) out[Number(epoch)] = Buffer.from(k, 'base64');
  return out;
}

export function shareName(record: ShareRecord, key: Buffer): string {
  const opened = openOrNull(asSealKey(key), Buffer.from(record.name, 'base64'), recordAad(record.share, record.epoch, 'name'));
  if (opened === null) throw new ElohimError('SYNC_REJECTED', 'the share name failed authentication');
  return opened.toString();
}

// ---------------------------------------------------------------------------------------------
// Versions on the wire

/**
 * A version as it travels and is stored: content sealed, everything signed by the author, either
 * alone (`sig`, over its canonical bytes: older builds, and what an older peer is sent) or in a
 * batch (`proof`): exactly one of the two.
 */
export interface WireVersion {
  share: string;
  entry: string;
  dev: DeviceTag;
  seq: number;
  vv: Record<DeviceTag, number>;
  deleted: boolean;
  obj: string | null;
  epoch: number;
  box: string;
  sig?: string;
  proof?: VersionProof;
}

/**
 * Where a version sits in the batch its author signed: the tree's size `n`, its leaf index `i`,
 * its path (the sibling hashes from the leaf up, 32 bytes each, as one base64 string) and the
 * author's Ed25519 signature of rootMessage(n, root). The leaf is the version's canonical bytes
 * without `proof` (the bytes a lone signature covers).
 */
export interface VersionProof {
  n: number;
  i: number;
  path: string;
  sig: string;
}

/**
 * Versions per signed tree. 128: a path of 7 hashes (~300 bytes of base64 per version) and one
 * signature check per 128 versions (~1 ms per 10,000 against ~1 s one by one); a bigger tree
 * saves little more and lengthens every version's path.
 */
export const TREE_LEAVES = 128;
/** The largest tree a receiver takes (its paths are at most 16 hashes): a bound on what a peer makes it hash. */
const MAX_TREE = 1 << 16;
const ROOT_DOMAIN = Buffer.from('elohim/v1 mesh-sync versions root\u0000');

/**
 * What the author signs for a batch: a domain, the tree's size and its root. The size is signed
 * because a path does not fix it (leaf 0's path in 65 leaves also fits 66); the domain keeps the
 * signature apart from everything else the device key signs (canonical JSON: records, versions,
 * hellos, which all start with `{`).
 */
function rootMessage(n: number, root: Buffer): Buffer {
  const size = Buffer.alloc(4);
  size.writeUInt32BE(n);
  return Buffer.concat([ROOT_DOMAIN, size, root]);
}

/**
 * Roots whose signature this process verified, by author key, signature and signed message: a
 * batch of 128 versions arrives over several messages (or sessions) and is checked once. Only a
 * verified triple is kept, so a version whose signature was altered misses it and is checked
 * (and refused); a root verified under one author key counts for no other.
 */
const verifiedRoots = new Set<string>();
const rootKey = (publicKey: string, message: Buffer, sig: string) => `${publicKey}|${sig}|${message.toString('base64')}`;
function rememberRoot(key: string): void {
  if (verifiedRoots.size >= 4096) verifiedRoots.clear();
  verifiedRoots.add(key);
}

const versionAad = (w: Pick<WireVersion, 'share' | 'entry' | 'dev' | 'seq' | 'epoch'>) =>
  Buffer.from(`elohim/v1 share version|${w.share}|${w.entry}|${w.dev}|${w.seq}|${w.epoch}`);

function sealedVersion(signer: DeviceSigner, share: string, epoch: number, key: Buffer, v: Omit<Version, 'dev'>): Omit<WireVersion, 'sig' | 'proof'> {
  const base = { share, entry: v.entry, dev: signer.tag, seq: v.seq, vv: { ...v.vv }, deleted: v.deleted, obj: v.obj, epoch };
  const box = seal(asSealKey(key), canonical(v.content), versionAad(base)).toString('base64');
  return { ...base, box };
}

/** One version signed alone (the form older builds make and take). */
export function sealVersion(signer: DeviceSigner, share: string, epoch: number, key: Buffer, v: Omit<Version, 'dev'>): WireVersion {
  const unsigned = sealedVersion(signer, share, epoch, key, v);
  return { ...unsigned, sig: signer.sign(canonical(unsigned)) };
}

/**
 * Versions made together, signed in trees of up to TREE_LEAVES (one Ed25519 signature each, the
 * versions in order); each carries its proof. Why batches: checking a signature is ~0.1 ms of a
 * receiver's CPU per version (OpenSSL has no batch verification), ~1 s per 10,000 files.
 */
export function sealVersions(signer: DeviceSigner, share: string, epoch: number, key: Buffer, list: readonly Omit<Version, 'dev'>[]): WireVersion[] {
  const out: WireVersion[] = [];
  for (let at = 0; at < list.length; at += TREE_LEAVES) {
    const unsigned = list.slice(at, at + TREE_LEAVES).map((v) => sealedVersion(signer, share, epoch, key, v));
    const proofs = batchProofs(signer, unsigned);
    unsigned.forEach((u, i) => out.push({ ...u, proof: proofs[i]! }));
  }
  return out;
}

/** The proofs of one signed tree over versions' unsigned fields (in order), signed by `signer`. */
export function batchProofs(signer: Pick<DeviceSigner, 'sign'>, unsigned: readonly Omit<WireVersion, 'sig' | 'proof'>[]): VersionProof[] {
  const { root, paths } = merkleTree(unsigned.map((u) => leafHash(canonical(u))));
  const sig = signer.sign(rootMessage(unsigned.length, root));
  return paths.map((path, i) => ({ n: unsigned.length, i, path: Buffer.concat(path).toString('base64'), sig }));
}

/**
 * A version of this device's in the form signed alone, for a peer that does not take batches (an
 * older build: its hello does not say `merkle`); null for another author's version, which this
 * device cannot sign. The signed fields are the same, so it is the version an older build made.
 */
export function signedAlone(signer: DeviceSigner, wire: WireVersion): WireVersion | null {
  if (typeof wire.sig === 'string') return wire;
  if (wire.dev !== signer.tag) return null;
  const { proof: _proof, sig: _sig, ...unsigned } = wire;
  return { ...unsigned, sig: signer.sign(canonical(unsigned)) };
}

const HEX32 = /^[0-9a-f]{32}$/;

/**
 * Checks and opens a version: its shape, the author's membership and write right, the
 * signature, and the sealed content under the epoch's key. Throws SYNC_REJECTED for anything
 * wrong (the caller then keeps nothing of the batch).
 *
 * `trusted`: the wire comes from this vault's own sealed share store, where only versions whose
 * signature verified when they arrived (or that this device signed) are put, and the record
 * seal covers the set: the Ed25519 check is skipped there (~0.1 ms each, 1 s per 10,000 versions
 * at every unlock), everything else is checked as ever. A wire from a peer or a bundle is never
 * trusted; the signature stays on the wire for the members it is forwarded to.
 */
export function openVersion(w: unknown, record: ShareRecord, keys: Record<number, Buffer>, opts: { trusted?: boolean } = {}): { wire: WireVersion; version: Version } {
  const shape = versionShape(w, record);
  if (opts.trusted !== true) {
    const { publicKey, bytes, sig, cached } = signedBytes(shape);
    if (cached === null || !verifiedRoots.has(cached)) {
      if (!verifySignature(publicKey, bytes, sig)) throw refused('the signature does not verify');
      if (cached !== null) rememberRoot(cached);
    }
  }
  return versionContent(shape.v, keys);
}

/**
 * openVersion for a peer's batch, with every Ed25519 check on the libuv pool: ~0.1 ms of CPU
 * each, which held the receiver's main thread ~1.1 s per 10,000 versions signed alone while the
 * other core (the sender, its index sent) sat idle; the pool's threads run on both cores, and the
 * main thread opens the sealed contents meanwhile. One check per version signed alone, one per
 * root not verified before for versions signed in a batch (their leaves and paths hashed here).
 * The same checks as openVersion, all of them, and the same errors: a bad signature is reported
 * before a bad content (the box is signed). Throws SYNC_REJECTED when any version of the batch
 * is wrong.
 */
export async function openVersions(list: readonly unknown[], record: ShareRecord, keys: Record<number, Buffer>): Promise<{ wire: WireVersion; version: Version }[]> {
  const shapes = list.map((w) => versionShape(w, record));
  // One check per signature: per version signed alone, per root (not verified before) of a batch.
  const signatures: Promise<boolean>[] = [];
  const roots = new Map<string, Promise<boolean>>();
  for (const shape of shapes) {
    const { publicKey, bytes, sig, cached } = signedBytes(shape);
    if (cached === null) signatures.push(verifySignatureOnPool(publicKey, bytes, sig));
    else if (!verifiedRoots.has(cached) && !roots.has(cached)) roots.set(cached, verifySignatureOnPool(publicKey, bytes, sig));
  }
  for (const [key, check] of roots) {
    signatures.push(
      check.then((ok) => {
        if (ok) rememberRoot(key);
        return ok;
      }),
    );
  }
  let opened: { wire: WireVersion; version: Version }[] | null = null;
  let failure: unknown = null;
  try {
    opened = shapes.map(({ v }) => versionContent(v, keys));
  } catch (err) {
    failure = err;
  }
  const verified = await Promise.all(signatures);
  if (verified.includes(false)) throw refused('the signature does not verify');
  if (opened === null) throw failure;
  return opened;
}

const refused = (why: string) => new ElohimError('SYNC_REJECTED', `an index entry was refused: ${why}`);

/**
 * What a version's signature is checked over: its canonical bytes (signed alone), or the root
 * message its leaf and path lead to (signed in a batch; `cached` is then its key among the
 * verified roots). A proof whose path does not fit its index and size is refused here.
 */
function signedBytes({ v, author, unsigned }: VersionShape): { publicKey: string; bytes: Buffer; sig: string; cached: string | null } {
  const bytes = canonical(unsigned);
  const proof = v.proof;
  if (proof === undefined) return { publicKey: author.signPub, bytes, sig: v.sig!, cached: null };
  const path = Buffer.from(proof.path, 'base64');
  const hashes: Buffer[] = [];
  for (let at = 0; at < path.length; at += 32) hashes.push(path.subarray(at, at + 32));
  const root = rootFromPath(leafHash(bytes), proof.i, proof.n, hashes);
  if (root === null) throw refused('the signature does not verify');
  const message = rootMessage(proof.n, root);
  return { publicKey: author.signPub, bytes: message, sig: proof.sig, cached: rootKey(author.signPub, message, proof.sig) };
}

interface VersionShape {
  v: WireVersion;
  author: Member;
  unsigned: Omit<WireVersion, 'sig' | 'proof'>;
}

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
/** 16 hashes of 32 bytes in base64 (the deepest path of a MAX_TREE tree). */
const MAX_PATH_BASE64 = Math.ceil((16 * 32) / 3) * 4;

/** A version's shape, its author's membership and write right, and the shape of its signature or proof. */
function versionShape(w: unknown, record: ShareRecord): VersionShape {
  const v = w as WireVersion;
  const bad = refused;
  if (v === null || typeof v !== 'object' || v.share !== record.share) throw bad('another share');
  if (!HEX32.test(v.entry) || typeof v.dev !== 'string' || !Number.isSafeInteger(v.seq) || v.seq < 1) throw bad('malformed');
  if (typeof v.deleted !== 'boolean' || (v.obj !== null && !HEX32.test(String(v.obj))) || (v.obj === null) !== v.deleted) throw bad('malformed object');
  if (v.vv === null || typeof v.vv !== 'object' || v.vv[v.dev] !== v.seq || Object.values(v.vv).some((n) => !Number.isSafeInteger(n) || n < 1)) throw bad('malformed version vector');
  const author = record.members.find((m) => m.dev === v.dev) ?? record.former.find((m) => m.dev === v.dev && v.epoch < (m.until ?? 0));
  if (author === undefined) throw bad('the author is not a member');
  if (author.role === 'ro') throw bad('the author may only read this share');
  const { sig, proof, ...unsigned } = v;
  if (proof === undefined) {
    if (typeof sig !== 'string') throw bad('the signature does not verify');
  } else {
    // Bounded before anything is hashed: at most MAX_TREE leaves, so at most 16 path hashes.
    const p = proof as Partial<VersionProof> | null;
    if (sig !== undefined || p === null || typeof p !== 'object' || typeof p.sig !== 'string' || typeof p.path !== 'string') throw bad('the signature does not verify');
    if (!Number.isSafeInteger(p.n) || p.n! < 1 || p.n! > MAX_TREE || !Number.isSafeInteger(p.i) || p.i! < 0 || p.i! >= p.n!) throw bad('the signature does not verify');
    if (p.path.length > MAX_PATH_BASE64 || !BASE64.test(p.path)) throw bad('the signature does not verify');
    const path = Buffer.from(p.path, 'base64');
    if (path.length % 32 !== 0 || path.toString('base64') !== p.path) throw bad('the signature does not verify');
  }
  return { v, author, unsigned };
}

/** A version's sealed content, opened under its epoch's key and checked. */
function versionContent(v: WireVersion, keys: Record<number, Buffer>): { wire: WireVersion; version: Version } {
  const bad = refused;
  const key = keys[v.epoch];
  if (key === undefined) throw bad('sealed under a key this device does not hold');
  const opened = openOrNull(asSealKey(key), Buffer.from(String(v.box), 'base64'), versionAad(v));
  if (opened === null) throw bad('its content failed authentication');
  const c = JSON.parse(opened.toString()) as VersionContent;
  if (!Array.isArray(c.path) || c.path.length === 0 || c.path.length > 64 || !c.path.every((n) => typeof n === 'string' && n !== '' && n !== '.' && n !== '..' && !n.includes('/'))) throw bad('malformed path');
  if (!Number.isSafeInteger(c.size) || c.size < 0 || typeof c.sha256 !== 'string' || !Number.isFinite(c.at)) throw bad('malformed content');
  if (!v.deleted) fileKeyFromBytes(Buffer.from(c.fileKey, 'base64'));
  return { wire: v, version: { entry: v.entry, dev: v.dev, seq: v.seq, vv: v.vv, deleted: v.deleted, obj: v.obj, content: c } };
}
