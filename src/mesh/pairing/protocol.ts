/**
 * The pairing handshake ('/elohim/pair/1'), run over a Noise-authenticated libp2p connection, so
 * each side already knows the other's peer id (its public key) for certain. What the handshake
 * adds is proof that the joiner holds the one-time secret of the code the shower made, and that
 * the shower is the device whose code it was, bound to both peer ids and to both hellos:
 *
 *   joiner → shower  hello   { codeId, nonce, name, recipients }
 *   shower → joiner  hello   { ok, nonce, name, recipients } | { ok: false, reason }
 *   joiner → shower  proof   { mac: HMAC(K, "joiner" ‖ T) }
 *   shower → joiner  done    { ok, mac: HMAC(K, "shower" ‖ T) } | { ok: false, reason }
 *
 *   K = HKDF-SHA256(secret, "elohim/v1 pair key"); codeId = HKDF(secret, "elohim/v1 pair code id")[0..8]
 *   T = SHA-256 over length-prefixed ("elohim/v1 pair", showerId, joinerId, both nonces, both hellos)
 *
 * A password-authenticated key exchange is not needed: the secret has 128 bits (no offline
 * guessing to fear) and the channel is already encrypted and authenticated by Noise; the MACs
 * only tie "who holds the code" to "whose key this is". The codeId lets the shower say whether a
 * code is unknown, expired or used without anyone learning the secret from it.
 *
 * Messages are JSON, each bounded; anything malformed ends the handshake with nothing paired.
 */
import { createHash, createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';
import { ElohimError } from '../../errors.ts';
import type { MeshChannel } from '../node/channel.ts';

export const PAIR_PROTOCOL = '/elohim/pair/1';
const MAX_PAIR_MESSAGE = 16 * 1024;
const MAX_RECIPIENTS = 4;
const MAX_NAME = 64;

export interface Hello {
  name: string;
  recipients: string[];
}

export type RefusalReason = 'invalid' | 'expired' | 'used';

export function codeIdOf(secret: Uint8Array): string {
  return Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), 'elohim/v1 pair code id', 8)).toString('hex');
}

function keyOf(secret: Uint8Array): Buffer {
  return Buffer.from(hkdfSync('sha256', secret, new Uint8Array(0), 'elohim/v1 pair key', 32));
}

function transcript(showerId: string, joinerId: string, showerNonce: string, joinerNonce: string, showerHello: string, joinerHello: string): Buffer {
  const h = createHash('sha256');
  for (const part of ['elohim/v1 pair', showerId, joinerId, showerNonce, joinerNonce, showerHello, joinerHello]) {
    const b = Buffer.from(part, 'utf8');
    const len = Buffer.alloc(4);
    len.writeUInt32BE(b.length);
    h.update(len).update(b);
  }
  return h.digest();
}

function macOf(key: Buffer, role: 'joiner' | 'shower', t: Buffer): Buffer {
  return createHmac('sha256', key).update(role).update(t).digest();
}

async function read(ch: MeshChannel, signal: AbortSignal): Promise<Record<string, unknown>> {
  const msg = await ch.receive({ signal });
  if (msg === null) throw new ElohimError('MESH_PAIRING_FAILED', 'the other device ended the pairing');
  if (msg.length > MAX_PAIR_MESSAGE) throw new ElohimError('MESH_PAIRING_FAILED', 'pairing message too large');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(msg).toString('utf8'));
  } catch {
    throw new ElohimError('MESH_PAIRING_FAILED', 'malformed pairing message');
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new ElohimError('MESH_PAIRING_FAILED', 'malformed pairing message');
  return value as Record<string, unknown>;
}

function write(ch: MeshChannel, value: unknown, signal: AbortSignal): Promise<void> {
  return ch.send(Buffer.from(JSON.stringify(value), 'utf8'), { signal });
}

function str(v: unknown, max: number, what: string): string {
  if (typeof v !== 'string' || v.length === 0 || v.length > max) throw new ElohimError('MESH_PAIRING_FAILED', `malformed pairing message (${what})`);
  return v;
}

function helloOf(m: Record<string, unknown>): Hello {
  const name = str(m.name, MAX_NAME, 'name');
  const r = m.recipients;
  if (!Array.isArray(r) || r.length > MAX_RECIPIENTS || !r.every((x) => typeof x === 'string' && /^age1[a-z0-9]{10,2100}$/.test(x))) {
    throw new ElohimError('MESH_PAIRING_FAILED', 'malformed pairing message (recipients)');
  }
  return { name, recipients: r as string[] };
}

/** The shower's open codes, as the handshake needs them. */
export interface CodeBook {
  /** The secret of the open code with this id, or why there is none. Does not consume it. */
  lookup(codeId: string): { secret: Uint8Array } | { refused: RefusalReason };
  /** A wrong proof for this code (the book burns a code after a few). */
  failed(codeId: string): void;
  /** Marks the code used; false if it was used meanwhile (two joiners racing). */
  consume(codeId: string): boolean;
}

/**
 * The shower's side, run by the protocol handler for an inbound stream. Returns the joiner's
 * hello once both proofs check out and the code is consumed; throws MESH_PAIRING_FAILED /
 * MESH_CODE_* otherwise (having told the joiner why).
 */
export async function showerHandshake(
  ch: MeshChannel,
  ids: { self: string; remote: string },
  own: Hello,
  codes: CodeBook,
  signal: AbortSignal,
): Promise<Hello> {
  const first = await read(ch, signal);
  const codeId = str(first.codeId, 16, 'code id');
  const joinerNonce = str(first.nonce, 64, 'nonce');
  const joinerHello = helloOf(first);
  const found = codes.lookup(codeId);
  if ('refused' in found) {
    await write(ch, { ok: false, reason: found.refused }, signal);
    throw refusal(found.refused);
  }
  const nonce = randomBytes(32).toString('base64');
  const helloJson = JSON.stringify(own);
  await write(ch, { ok: true, nonce, ...own }, signal);
  const t = transcript(ids.self, ids.remote, nonce, joinerNonce, helloJson, JSON.stringify(joinerHello));
  const key = keyOf(found.secret);
  const proof = await read(ch, signal);
  const mac = Buffer.from(str(proof.mac, 64, 'mac'), 'base64');
  const expected = macOf(key, 'joiner', t);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
    codes.failed(codeId);
    await write(ch, { ok: false, reason: 'invalid' }, signal);
    throw refusal('invalid');
  }
  if (!codes.consume(codeId)) {
    await write(ch, { ok: false, reason: 'used' }, signal);
    throw refusal('used');
  }
  await write(ch, { ok: true, mac: macOf(key, 'shower', t).toString('base64') }, signal);
  return joinerHello;
}

/** The joiner's side. Returns the shower's hello once its proof checks out. */
export async function joinerHandshake(
  ch: MeshChannel,
  ids: { self: string; remote: string },
  own: Hello,
  secret: Uint8Array,
  signal: AbortSignal,
): Promise<Hello> {
  const nonce = randomBytes(32).toString('base64');
  const ownForTranscript = { name: own.name, recipients: own.recipients };
  await write(ch, { codeId: codeIdOf(secret), nonce, ...ownForTranscript }, signal);
  const answer = await read(ch, signal);
  if (answer.ok !== true) throw refusal(reasonOf(answer.reason));
  const showerNonce = str(answer.nonce, 64, 'nonce');
  const showerHello = helloOf(answer);
  const t = transcript(ids.remote, ids.self, showerNonce, nonce, JSON.stringify(showerHello), JSON.stringify(ownForTranscript));
  const key = keyOf(secret);
  await write(ch, { mac: macOf(key, 'joiner', t).toString('base64') }, signal);
  const done = await read(ch, signal);
  if (done.ok !== true) throw refusal(reasonOf(done.reason));
  const mac = Buffer.from(str(done.mac, 64, 'mac'), 'base64');
  const expected = macOf(key, 'shower', t);
  if (mac.length !== expected.length || !timingSafeEqual(mac, expected)) {
    throw new ElohimError('MESH_PAIRING_FAILED', 'the other device could not prove it made this code: nothing was paired');
  }
  return showerHello;
}

function reasonOf(v: unknown): RefusalReason {
  return v === 'expired' || v === 'used' ? v : 'invalid';
}

function refusal(reason: RefusalReason): ElohimError {
  if (reason === 'expired') return new ElohimError('MESH_CODE_EXPIRED', 'the pairing code has expired: ask the other device for a new one; nothing was paired');
  if (reason === 'used') return new ElohimError('MESH_CODE_USED', 'the pairing code was already used: ask the other device for a new one; nothing was paired');
  return new ElohimError('MESH_CODE_INVALID', 'the other device does not know this pairing code (wrong, or replaced by a newer one): nothing was paired');
}
